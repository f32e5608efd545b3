#!/usr/bin/env python3
"""Density smoke test: COUNT (default 50) idle domains at once.

Runs bench/vmm/density.py --check: every domain must print "idle: up" on
its PV console, and after SIGTERM to all of them every VMM must have exited
with status 2, with no process, file or descriptor of the run left behind
(and no error or sanitizer report in any VMM log). No timing is asserted.
    density.py VMM IDLE_GUEST [COUNT]
"""
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.environ.get("XENON_SOURCE_ROOT", os.path.join(here, "..", ".."))


def main():
    vmm, guest = sys.argv[1], sys.argv[2]
    count = sys.argv[3] if len(sys.argv) > 3 else "50"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skipped: /dev/kvm is missing or not accessible")
        sys.exit(77)
    p = subprocess.run([sys.executable, os.path.join(root, "bench", "vmm", "density.py"),
                        "--check", "--count", count, "--vmm", vmm, "--guest", guest,
                        "--memory", "8"])
    sys.exit(p.returncode)


if __name__ == "__main__":
    main()
