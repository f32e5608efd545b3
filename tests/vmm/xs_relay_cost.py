#!/usr/bin/env python3
"""A guest that leaves xenstore replies unread costs the host no CPU.

The stress guest in mode "xs-unread" fills its xenstore ring with requests
and never reads a reply, then sleeps. The relay in the VMM must hold what
it cannot deliver without spinning its I/O thread: over MEASURE_S seconds
the VMM may use at most MAX_TICKS clock ticks (a spinning thread uses about
one per 10 ms). A resource bound, not a timing assertion.
    xs_relay_cost.py VMM XENSTORED STRESS_GUEST
"""
import os
import subprocess
import sys
import tempfile
import time

from xsenv import Xenstored, wait_for

DOMID = 1
MEASURE_S = 3.0
MAX_TICKS = 10


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def main():
    vmm, xenstored, guest = sys.argv[1:4]
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skipped: /dev/kvm is missing or not accessible")
        sys.exit(77)
    with tempfile.TemporaryDirectory() as tmp:
        xs = Xenstored(xenstored, tmp)
        vm = None
        try:
            xs.introduce(DOMID, "xsunread")
            console = os.path.join(tmp, "console")
            vm = subprocess.Popen([vmm, "--kernel", guest, "--domid", str(DOMID),
                                   "--name", "xsunread", "--xenstore-socket", xs.sock,
                                   "--cmdline", "xs-unread", "--console-log", console,
                                   "--log-file", os.path.join(tmp, "vmm.log")],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            read = lambda: open(console, errors="replace").read() if os.path.exists(console) else ""
            if not wait_for(lambda: "none read" in read() or vm.poll() is not None, 120) \
                    or vm.poll() is not None:
                print(read())
                sys.exit(f"FAILED: the guest never filled its ring (exit {vm.poll()})")
            print(read().strip())
            time.sleep(0.5)
            t0 = cpu_ticks(vm.pid)
            time.sleep(MEASURE_S)
            used = cpu_ticks(vm.pid) - t0
            print(f"VMM CPU over {MEASURE_S:g} s with replies unread: {used} ticks")
            if used > MAX_TICKS:
                sys.exit(f"FAILED: the VMM used {used} ticks (at most {MAX_TICKS})")
        finally:
            if vm:
                vm.terminate()
                vm.wait(timeout=30)
            xs.stop()


if __name__ == "__main__":
    main()
