#!/usr/bin/env python3
"""xenon-vmm's start handshake with a toolstack, over the control channel
(--control-fd, --hold):
- the BUILT notice comes on a handed-over connection once the domain is
  built, and no guest code runs (nothing on its console) until GO arrives;
- after GO the guest runs to its end;
- handed-over connections all closed without GO destroy the domain unrun
  (status 2, no console output), and so does SIGTERM while it waits;
- a build that fails closes the connection without BUILT (status 1);
- a descriptor that is not a connected socket is refused (status 1), and so
  is --hold with no channel to send GO on.
    ready_go.py VMM HELLO_GUEST
"""
import os
import select
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import xenonctl as ctl  # noqa: E402

failures = []


def check(name, ok, detail=""):
    print(f"{'ok' if ok else 'FAIL'}: {name}{': ' + detail if detail and not ok else ''}")
    if not ok:
        failures.append(name)


def start(vmm, guest, what, extra=()):
    """A held VMM with two handed-over connections (as the monitor and xl
    create have), once BUILT came: (process, monitor's end, go end)."""
    mon, mon_vmm = socket.socketpair()
    go, go_vmm = socket.socketpair()
    vm = subprocess.Popen([vmm, "--kernel", guest, "--memory", "16", "--console-stdio",
                           "--log-file", "/dev/null", "--hold",
                           "--control-fd", str(mon_vmm.fileno()),
                           "--control-fd", str(go_vmm.fileno()), *extra],
                          stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                          pass_fds=(mon_vmm.fileno(), go_vmm.fileno()))
    mon_vmm.close()
    go_vmm.close()
    mon.settimeout(60)
    typ, _, _ = ctl.read_message(mon)
    check(f"BUILT once built ({what})", typ == ctl.NOTICE_BUILT, hex(typ))
    return vm, mon, go


def main():
    vmm, guest = sys.argv[1], sys.argv[2]
    p = subprocess.run([vmm, "--kernel", guest, "--control-fd", "999"],
                       capture_output=True, text=True, timeout=60)
    check("a control descriptor that is not open is refused",
          p.returncode == 1 and "--control-fd" in p.stderr, p.stderr)
    r, w = os.pipe()
    p = subprocess.run([vmm, "--kernel", guest, "--control-fd", str(r)], pass_fds=(r,),
                       capture_output=True, text=True, timeout=60)
    os.close(r)
    os.close(w)
    check("a pipe is not a control connection",
          p.returncode == 1 and "--control-fd" in p.stderr, p.stderr)
    p = subprocess.run([vmm, "--kernel", guest, "--hold"],
                       capture_output=True, text=True, timeout=60)
    check("--hold without a control channel is refused",
          p.returncode == 1 and "--hold" in p.stderr, p.stderr)

    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skipped: /dev/kvm is missing or not accessible")
        sys.exit(1 if failures else 77)

    # A build that fails: end of file, no BUILT.
    a, b = socket.socketpair()
    vm = subprocess.Popen([vmm, "--kernel", "/dev/null", "--control-fd", str(b.fileno()),
                           "--log-file", "/dev/null"], pass_fds=(b.fileno(),))
    b.close()
    a.settimeout(60)
    try:
        ctl.read_message(a)
        check("a failed build sends no BUILT", False)
    except EOFError:
        check("a failed build: end of file instead of BUILT", True)
    check("a failed build: status 1", vm.wait(timeout=60) == 1)
    a.close()

    # GO after BUILT: the guest waits, then runs. The monitor's connection
    # closes first, as libxenon's does.
    vm, mon, go = start(vmm, guest, "first domain")
    mon.close()
    # Whatever a guest run early would print is on stdout within this
    # wait; an empty pipe after it shows the guest held.
    early, _, _ = select.select([vm.stdout], [], [], 0.5)
    check("no guest output before go", not early)
    go.sendall(ctl.encode(ctl.GO, id=9))
    go.close()
    out = vm.stdout.read().decode(errors="replace")
    rc = vm.wait(timeout=60)
    check("the guest runs after go", "RESULT hello: PASS" in out and rc == 100,
          f"status {rc}, output {out!r}")

    # No go: destroyed before it ran.
    vm, mon, go = start(vmm, guest, "second domain")
    mon.close()
    go.close()
    out = vm.stdout.read()
    rc = vm.wait(timeout=60)
    check("no go: destroyed unrun", rc == 2 and out == b"", f"status {rc}, output {out!r}")

    # Destroyed (SIGTERM) while it waits for its go: it ends unrun, without
    # waiting for the go socket to close.
    vm, mon, go = start(vmm, guest, "third domain")
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
    mon.close()
    go.close()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
