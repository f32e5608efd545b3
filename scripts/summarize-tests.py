#!/usr/bin/env python3
"""Sum up meson's test logs of several build directories.

Prints every skipped test with the reason it gave (its last output line),
every failure, and ends with the line "N passed, N failed, N skipped".
Exit status 1 when anything failed or no test ran at all.
"""
import json
import os
import sys

PASS = {"OK", "EXPECTEDFAIL"}
SKIP = {"SKIP"}

passed = failed = skipped = 0
for build in sys.argv[1:]:
    log = os.path.join(build, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        print(f"{build}: no test log", file=sys.stderr)
        failed += 1
        continue
    with open(log) as f:
        for line in f:
            t = json.loads(line)
            name = f"{build}: {t['name']}"
            if t["result"] in PASS:
                passed += 1
            elif t["result"] in SKIP:
                skipped += 1
                out = (t.get("stdout") or "").strip().splitlines()
                print(f"SKIP {name}: {out[-1] if out else 'no reason given'}")
            else:
                failed += 1
                print(f"FAIL {name}: {t['result']}")

print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
