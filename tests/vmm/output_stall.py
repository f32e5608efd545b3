#!/usr/bin/env python3
"""A vCPU never waits for host I/O: a guest that prints 64 KiB each to
console_io and the PV console, then powers off, must end (status 100) even
though nobody reads the VMM's stdout (a full pipe). Before the fix, the
vCPU blocked in write() to the full pipe, under the domain lock, forever.
The 60 s limit only catches that hang; it is not a timing assertion.
    output_stall.py VMM STRESS_GUEST
"""
import os
import subprocess
import sys
import tempfile


def main():
    vmm, guest = sys.argv[1:3]
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skipped: /dev/kvm is missing or not accessible")
        sys.exit(77)
    with tempfile.TemporaryDirectory() as tmp:
        r, w = os.pipe()        # we never read r: the pipe fills at 64 KiB
        p = subprocess.Popen([vmm, "--kernel", guest, "--cmdline", "flood-then-off",
                              "--console-stdio", "--serial-stdio",
                              "--log-file", os.path.join(tmp, "log")],
                             stdin=subprocess.DEVNULL, stdout=w)
        os.close(w)
        try:
            rc = p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            sys.exit("FAILED: the VMM hung behind its full stdout (killed after 60 s)")
        finally:
            os.close(r)
        print(open(os.path.join(tmp, "log")).read())
        if rc != 100:
            sys.exit(f"FAILED: exit status {rc}, expected 100 (poweroff)")
        print("the domain powered off with its stdout full and unread")


if __name__ == "__main__":
    main()
