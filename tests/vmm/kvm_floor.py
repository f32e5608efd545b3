#!/usr/bin/env python3
"""The launch floor program (bench/floor/kvm_floor.c) does what the
benchmarks divide by: its real-mode guest's one port write reaches stdout
as exactly "F", and it exits 0.
    kvm_floor.py KVM_FLOOR
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_guest import kvm_or_skip  # noqa: E402


def main():
    kvm_or_skip()
    p = subprocess.run([sys.argv[1]], capture_output=True, timeout=60)
    if p.returncode != 0 or p.stdout != b"F":
        print(f"FAIL: kvm-floor exited {p.returncode}, stdout {p.stdout!r}, "
              f"stderr {p.stderr.decode(errors='replace').strip()!r}")
        sys.exit(1)
    print("PASS: kvm-floor wrote its guest's byte and exited")


if __name__ == "__main__":
    main()
