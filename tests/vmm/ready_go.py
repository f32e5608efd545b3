#!/usr/bin/env python3
"""xenon-vmm's start handshake with a toolstack (--ready-fd, --go-fd):
- "R" comes on the ready descriptor once the domain is built, and no guest
  code runs (nothing on its console) until "G" arrives on the go one;
- after "G" the guest runs to its end;
- a go descriptor closed without "G" destroys the domain unrun (status 2,
  no console output), and so does SIGTERM while it waits;
- descriptors that are not open are refused (status 1).
    ready_go.py VMM HELLO_GUEST
"""
import os
import select
import signal
import subprocess
import sys

failures = []


def check(name, ok, detail=""):
    print(f"{'ok' if ok else 'FAIL'}: {name}{': ' + detail if detail and not ok else ''}")
    if not ok:
        failures.append(name)


def start(vmm, guest, what):
    """A VMM with ready and go pipes, once it said R: (process, go writer)."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    vm = subprocess.Popen([vmm, "--kernel", guest, "--memory", "16", "--console-stdio",
                           "--log-file", "/dev/null", "--ready-fd", str(ready_w),
                           "--go-fd", str(go_r)],
                          stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                          pass_fds=(ready_w, go_r))
    os.close(ready_w)
    os.close(go_r)
    check(f"R once built ({what})", os.read(ready_r, 1) == b"R")
    os.close(ready_r)
    return vm, go_w


def main():
    vmm, guest = sys.argv[1], sys.argv[2]
    p = subprocess.run([vmm, "--kernel", guest, "--ready-fd", "999"],
                       capture_output=True, text=True, timeout=60)
    check("a ready descriptor that is not open is refused",
          p.returncode == 1 and "--ready-fd" in p.stderr, p.stderr)
    p = subprocess.run([vmm, "--kernel", guest, "--go-fd", "x"],
                       capture_output=True, text=True, timeout=60)
    check("a go descriptor that is not a number is refused",
          p.returncode == 1 and "--go-fd" in p.stderr, p.stderr)

    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skipped: /dev/kvm is missing or not accessible")
        sys.exit(1 if failures else 77)

    # Go after ready: the guest waits, then runs.
    vm, go_w = start(vmm, guest, "first domain")
    # Whatever a guest run early would print is on stdout within this
    # wait; an empty pipe after it shows the guest held.
    early, _, _ = select.select([vm.stdout], [], [], 0.5)
    check("no guest output before go", not early)
    os.write(go_w, b"G")
    os.close(go_w)
    out = vm.stdout.read().decode(errors="replace")
    rc = vm.wait(timeout=60)
    check("the guest runs after go", "RESULT hello: PASS" in out and rc == 100,
          f"status {rc}, output {out!r}")

    # No go: destroyed before it ran.
    vm, go_w = start(vmm, guest, "second domain")
    os.close(go_w)
    out = vm.stdout.read()
    rc = vm.wait(timeout=60)
    check("no go: destroyed unrun", rc == 2 and out == b"", f"status {rc}, output {out!r}")

    # Destroyed (SIGTERM) while it waits for its go: it ends unrun, without
    # waiting for the go socket to close.
    vm, go_w = start(vmm, guest, "third domain")
    vm.send_signal(signal.SIGTERM)
    try:
        rc = vm.wait(timeout=30)
        out = vm.stdout.read()
        check("SIGTERM before go: destroyed unrun", rc == 2 and out == b"",
              f"status {rc}, output {out!r}")
    except subprocess.TimeoutExpired:
        check("SIGTERM before go: the VMM ends", False, "still waiting for its go")
        vm.kill()
        vm.wait()
    os.close(go_w)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
