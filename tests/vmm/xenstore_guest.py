#!/usr/bin/env python3
"""The xenstore guest talks to xenon-xenstored through its ring (relayed by
the VMM); while it watches data/from-host, Debian's xenstore-write changes
that key from the host side, and the guest must see the event and value."""
import os
import subprocess
import sys
import tempfile

from xsenv import Xenstored, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import oracles  # noqa: E402

DOMID = 1


def main():
    vmm, xenstored, guest, name = sys.argv[1:5]
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skipped: /dev/kvm is missing or not accessible")
        sys.exit(77)
    write = oracles.xen_tool("xenstore-write")
    print(f"oracle: {write}")
    with tempfile.TemporaryDirectory() as tmp:
        xs = Xenstored(xenstored, tmp)
        try:
            xs.introduce(DOMID, name)
            console = os.path.join(tmp, "console")
            vm = subprocess.Popen([vmm, "--kernel", guest, "--domid", str(DOMID),
                                   "--name", name, "--xenstore-socket", xs.sock,
                                   "--console-log", console,
                                   "--serial-log", os.path.join(tmp, "serial"),
                                   "--log-file", os.path.join(tmp, "vmm.log")])
            read = lambda: open(console, errors="replace").read() if os.path.exists(console) else ""
            ready = wait_for(lambda: "waiting for the host" in read() or vm.poll() is not None, 120)
            if ready and vm.poll() is None:
                env = dict(oracles.env(), XENSTORED_PATH=xs.sock)
                subprocess.run([write, "-s", f"/local/domain/{DOMID}/data/from-host",
                                "written by the host"], env=env, check=True)
            rc = vm.wait(timeout=120)
            text = read()
            print(text)
            if rc != 100 or "RESULT xenstore: PASS" not in text or ": FAIL" in text:
                print(open(os.path.join(tmp, "vmm.log")).read())
                print(open(os.path.join(tmp, "xs.log")).read()[-3000:])
                print(f"FAILED: exit {rc}")
                sys.exit(1)
        finally:
            xs.stop()


if __name__ == "__main__":
    main()
