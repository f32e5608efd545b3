#!/usr/bin/env python3
"""xenon-xenstored restarted and misused under a running guest.

`xs_restart.py VMM XENSTORED restart GUEST`: the xsrestart guest keeps
doing xenstore requests while xenstored is SIGKILLed and restarted (same
data dir) five times (first while it holds a transaction open); the VMM
reattaches its ring, so the guest sees no wrong answer, its transaction ends
with EAGAIN, and its watch fires for the host's write made after the
restarts.

`xs_restart.py VMM XENSTORED proto GUEST`: the xsproto guest sends an
oversized request header; xenstored drops it and the VMM sets the ring's
error field to XENSTORE_ERROR_PROTO (the guest checks it)."""
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

from xsenv import Xenstored, wait_for

DOMID = 1
RESTARTS = 4
XS_WRITE = 11


def main():
    vmm, xenstored, mode, guest = sys.argv[1:5]
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skipped: /dev/kvm is missing or not accessible")
        sys.exit(77)
    name = f"xs{mode}"
    with tempfile.TemporaryDirectory() as tmp:
        xs = Xenstored(xenstored, tmp)
        vm = None
        try:
            xs.introduce(DOMID, name)
            console = os.path.join(tmp, "console")
            vm = subprocess.Popen([vmm, "--kernel", guest, "--domid", str(DOMID),
                                   "--name", name, "--xenstore-socket", xs.sock,
                                   "--console-log", console,
                                   "--serial-log", os.path.join(tmp, "serial"),
                                   "--log-file", os.path.join(tmp, "vmm.log")])
            read = lambda: open(console, errors="replace").read() if os.path.exists(console) else ""
            if mode == "restart":
                # First a restart while the guest holds a transaction open.
                wait_for(lambda: "in a transaction" in read() or vm.poll() is not None, 120)
                xs.proc.send_signal(signal.SIGKILL)
                xs.proc.wait(timeout=30)
                os.unlink(xs.sock)
                xs = Xenstored(xenstored, tmp)
                xs.call(XS_WRITE, f"/local/domain/{DOMID}/data/restarted\0yes".encode())
                ready = wait_for(lambda: "looping" in read() or vm.poll() is not None, 120)
                for n in range(RESTARTS):
                    time.sleep(random.uniform(0.2, 0.6))    # mid-request, likely
                    xs.proc.send_signal(signal.SIGKILL)
                    xs.proc.wait(timeout=30)
                    os.unlink(xs.sock)
                    xs = Xenstored(xenstored, tmp)
                    print(f"xenstored restarted ({n + 1})")
                time.sleep(0.5)
                if ready and vm.poll() is None:
                    xs.call(XS_WRITE, f"/local/domain/{DOMID}/data/go\0go".encode())
            try:
                rc = vm.wait(timeout=120)
            except subprocess.TimeoutExpired:
                vm.kill()
                rc = vm.wait()
            text = read()
            print(text)
            if rc != 100 or f"RESULT {name}: PASS" not in text or ": FAIL" in text:
                print(open(os.path.join(tmp, "vmm.log")).read()[-3000:])
                print(open(os.path.join(tmp, "xs.log")).read()[-3000:])
                print(f"FAILED: exit {rc}")
                sys.exit(1)
            if mode == "restart":
                log = open(os.path.join(tmp, "vmm.log")).read()
                print(log)
                if log.count("reattached") < RESTARTS + 1:
                    print(f"FAILED: the VMM did not log {RESTARTS + 1} reattachments")
                    sys.exit(1)
        finally:
            if vm and vm.poll() is None:
                vm.kill()
            xs.stop()


if __name__ == "__main__":
    main()
