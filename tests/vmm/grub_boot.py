#!/usr/bin/env python3
"""Boot Debian's GRUB for Xen PVH (grub-xen-host) under Xenon.

Starts xenon-xenstored, creates the domain's xenstore home as a toolstack
would (/local/domain/1, owned by the domain) and introduces the domain,
then boots grub-i386-xen_pvh.bin (from the oracle cache) with its xenstore ring
relayed to that daemon and its PV console on a unix socket. The test waits
for GRUB's banner and prompt, types a command at the prompt and expects
GRUB's answer: both directions of the PV console. Skips without /dev/kvm
or the cached grub-xen-host (scripts/oracles.py grub).
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

from xsenv import Xenstored, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import oracles  # noqa: E402

DOMID = 1


def skip(why):
    print(f"skipped: {why}")
    sys.exit(77)


def main():
    vmm, xenstored = sys.argv[1], sys.argv[2]
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        skip("/dev/kvm is missing or not accessible")
    GRUB = oracles.grub_pvh()
    print(f"oracle: {GRUB}")
    with tempfile.TemporaryDirectory() as tmp:
        xs = Xenstored(xenstored, tmp)
        sock = xs.sock
        vm = None
        try:
            xs.introduce(DOMID, "grub")

            console_sock = os.path.join(tmp, "console.sock")
            console_log = os.path.join(tmp, "console.log")
            vm = subprocess.Popen([vmm, "--kernel", GRUB, "--memory", "128",
                                   "--domid", str(DOMID), "--name", "grub",
                                   "--xenstore-socket", sock,
                                   "--console-socket", console_sock,
                                   "--console-log", console_log,
                                   "--serial-log", os.path.join(tmp, "serial"),
                                   "--log-file", os.path.join(tmp, "vmm.log")])
            if not wait_for(lambda: os.path.exists(console_sock), 30):
                raise SystemExit("no console socket")
            con = socket.socket(socket.AF_UNIX)
            con.connect(console_sock)
            con.settimeout(0.2)
            seen = b""

            def read_until(marker, secs):
                nonlocal seen
                end = time.time() + secs
                while marker not in seen and time.time() < end:
                    try:
                        seen += con.recv(4096)
                    except socket.timeout:
                        pass
                return marker in seen

            log = lambda: open(console_log, "rb").read()
            ok_banner = wait_for(lambda: b"GNU GRUB" in log() and b"grub>" in log(), 300)
            con.sendall(b"echo xenon console input works\r")
            # GRUB echoes each typed key wrapped in cursor movements, so the
            # phrase only appears whole in the command's output.
            ok_echo = read_until(b"xenon console input works", 60)
            text = log().decode(errors="replace")
            print(text[-2000:])
            problems = []
            if not ok_banner:
                problems.append("no GRUB banner and prompt on the PV console")
            if not ok_echo:
                problems.append("GRUB did not answer a command typed on the console socket")
            if vm.poll() is not None:
                problems.append(f"the VMM exited with {vm.returncode}")
            if problems:
                print(open(os.path.join(tmp, "vmm.log")).read())
                print("FAILED: " + "; ".join(problems))
                sys.exit(1)
            print("GRUB booted, showed its prompt and answered console input")
        finally:
            if vm and vm.poll() is None:
                vm.send_signal(signal.SIGTERM)
                vm.wait(timeout=30)
            xs.stop()


if __name__ == "__main__":
    main()
