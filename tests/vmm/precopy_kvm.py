#!/usr/bin/env python3
"""Live migration's memory part on a real KVM guest: the dirtier guest
(guests/dirtier) writes pages at a fixed rate from ring 3 while xenon-vmm's
--test-precopy runs the pre-copy rounds (KVM's dirty log and the VMM's own,
vmm/state/precopy.c) into a file, pauses the domain for the final round,
reads the file back with the strict reader and compares every page with
guest memory. Checks: the result line says PASS with no page differing,
the guest dirtied pages while the rounds ran (more than one round was
needed), and it runs on after the unpause (heartbeats go on).
    precopy_kvm.py VMM DIRTIER_GUEST
"""
import os
import re
import subprocess
import sys
import tempfile
import time

failures = []


def check(name, ok, detail=""):
    print(f"{'ok' if ok else 'FAIL'}: {name}{': ' + detail if detail and not ok else ''}")
    if not ok:
        failures.append(name)


def main():
    vmm, guest = sys.argv[1], sys.argv[2]
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skipped: /dev/kvm is missing or not accessible")
        sys.exit(77)
    with tempfile.TemporaryDirectory() as tmp:
        image = os.path.join(tmp, "image")
        log = os.path.join(tmp, "vmm.log")
        serial = os.path.join(tmp, "serial.log")
        # 256 MiB with 64 MiB touched, 20 pages/ms: the bench's guest.
        vm = subprocess.Popen([vmm, "--kernel", guest, "--memory", "256",
                               "--cmdline", "touch=64 rate=20",
                               "--serial-log", serial, "--log-file", log,
                               "--test-precopy", f"3000:{image}"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        result, beats_after = None, 0
        deadline = time.monotonic() + 240
        try:
            while time.monotonic() < deadline and vm.poll() is None:
                time.sleep(0.5)
                text = open(log).read() if os.path.exists(log) else ""
                m = re.search(r"precopy-check: (PASS|FAIL) (.*)", text)
                if m and result is None:
                    result = m
                    beats_at = open(serial).read().count("DIRTIER beat=")
                if result:
                    beats_after = open(serial).read().count("DIRTIER beat=") - beats_at
                    if beats_after >= 2:
                        break
        finally:
            vm.kill()
            vm.wait()
        text = open(log).read() if os.path.exists(log) else ""
        print("".join(line + "\n" for line in text.splitlines() if "precopy-check" in line), end="")
        check("the check ran", result is not None, "no result line; VMM log:\n" + text[-2000:])
        if result:
            fields = dict(kv.split("=", 1) for kv in result.group(2).split())
            check("the destination image equals guest memory",
                  result.group(1) == "PASS" and fields.get("differ") == "0",
                  result.group(0))
            check("every page of 256 MiB was carried",
                  int(fields.get("pages", 0)) >= 65536, fields.get("pages", ""))
            check("the guest dirtied pages during the rounds (more than round 0 and the final)",
                  int(fields.get("rounds", 0)) >= 3, fields.get("rounds", ""))
            check("the guest runs on after the check", beats_after >= 2, str(beats_after))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
