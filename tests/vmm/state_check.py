#!/usr/bin/env python3
"""Saved state on real KVM vCPUs: a running guest (the counter, which
prints "count N" every 2 ms of Xen system time read through its pvclock)
is paused through the control channel, and XENON_CTL_STATE_CHECK saves
every module's state (vCPU registers, FPU/XSAVE, LAPIC, MSRs, events, MP
state; timers, shared info, grant tables, event channels), loads it back
into the domain and saves again; the VMM compares the two saves record by
record. Then the domain is unpaused and must go on exactly where it was:
every count line, in order, none lost or repeated, and its system time
never running backwards. Done several times, with a second vCPU that is
still waiting for its start (KVM's wait-for-SIPI state).
Then the idle guest, whose vCPU sits blocked in SCHEDOP_block: its
state round-trips too (restored, it returns from the call as woken), and
it goes on running.
    state_check.py VMM COUNTER_GUEST IDLE_GUEST
"""
import errno
import os
import re
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import xenonctl as ctl  # noqa: E402

failures = []


def check(name, ok, detail=""):
    print(f"{'ok' if ok else 'FAIL'}: {name}{': ' + str(detail) if detail and not ok else ''}")
    if not ok:
        failures.append(name)


def counts(log):
    try:
        text = open(log, errors="replace").read()
    except FileNotFoundError:
        return []
    return [int(n) for n in re.findall(r"^count (\d+)$", text, re.M)]


def wait_count(log, at_least, vm, timeout=120):
    end = time.time() + timeout
    while time.time() < end and vm.poll() is None:
        c = counts(log)
        if c and c[-1] >= at_least:
            return c[-1]
        time.sleep(0.05)
    c = counts(log)
    return c[-1] if c else -1


def call(path, typ):
    with ctl.connect(path) as s:
        return ctl.call(s, typ)


def main():
    vmm, guest, idle = sys.argv[1], sys.argv[2], sys.argv[3]
    ctl.need_kvm()
    tmp = tempfile.mkdtemp(prefix="state-check-")
    path = os.path.join(tmp, "ctl.sock")
    log = os.path.join(tmp, "console.log")
    vmm_log = os.path.join(tmp, "vmm.log")
    with ctl.vmm_serving([vmm, "--kernel", guest, "--memory", "16", "--vcpus", "2",
                          "--console-log", log, "--log-file", vmm_log,
                          "--control-socket", path], path, vmm_log, lambda: failures) as vm:
        run(vm, path, log)
    path = os.path.join(tmp, "idle.sock")
    idle_log = os.path.join(tmp, "vmm-idle.log")
    with ctl.vmm_serving([vmm, "--kernel", idle, "--memory", "16",
                          "--console-log", os.path.join(tmp, "idle.log"),
                          "--log-file", idle_log, "--control-socket", path],
                         path, idle_log, lambda: failures) as vm:
        run_blocked(vm, path)
    sys.exit(1 if failures else 0)


def run_blocked(vm, path):
    blocked = False
    end = time.time() + 60
    while not blocked and time.time() < end and vm.poll() is None:
        blocked = ctl.info(path)["vcpus"][0]["state"] == "blocked"
        time.sleep(0.05)
    check("idle: its vCPU blocks", blocked)
    st, _ = call(path, ctl.PAUSE)
    check("idle: paused", st == 0, st)
    st, body = call(path, ctl.STATE_CHECK)
    check("idle: a blocked vCPU's state round-trips", st == 0, st)
    st, _ = call(path, ctl.UNPAUSE)
    inf = ctl.info(path)
    check("idle: runs on", st == 0 and inf["state"] == "running" and vm.poll() is None, inf)
    with ctl.connect(path) as s:
        ctl.call(s, ctl.SHUTDOWN, struct.pack("=II", 0, 0))
    vm.wait(timeout=30)
    check("idle: shuts down cleanly", vm.returncode == 100, vm.returncode)


def run(vm, path, log):
    last = wait_count(log, 10, vm)
    check("the counter runs", last >= 10, last)
    st, _ = call(path, ctl.STATE_CHECK)
    check("STATE_CHECK on a running domain: -EBUSY", st == -errno.EBUSY, st)

    uptimes = []
    for round in range(4):
        st, _ = call(path, ctl.PAUSE)
        check(f"round {round}: paused", st == 0, st)
        uptimes.append(ctl.info(path)["uptime_ns"])
        st, body = call(path, ctl.STATE_CHECK)
        nbytes = struct.unpack("=II", body[:8])[0] if st == 0 and len(body) >= 8 else 0
        check(f"round {round}: saved, loaded back, saved again: the same state",
              st == 0 and nbytes > 0, (st, nbytes))
        seen = counts(log)
        st, _ = call(path, ctl.UNPAUSE)
        check(f"round {round}: unpaused", st == 0, st)
        # The guest goes on: twenty more lines after what it printed.
        target = (seen[-1] if seen else 0) + 20
        got = wait_count(log, target, vm)
        check(f"round {round}: the guest continues", got >= target, (got, target))
        uptimes.append(ctl.info(path)["uptime_ns"])

    c = counts(log)
    check("every count line, in order, none lost or repeated",
          len(c) > 80 and c == list(range(len(c))), c[:3] + c[-3:])
    check("system time never ran backwards", uptimes == sorted(uptimes), uptimes)
    inf = ctl.info(path)
    check("the domain is running, its second vCPU still waiting",
          inf["state"] == "running", inf)
    with ctl.connect(path) as s:
        st, _ = ctl.call(s, ctl.SHUTDOWN, struct.pack("=II", 0, 0))
    vm.wait(timeout=30)
    check("it shuts down cleanly", vm.returncode == 100, vm.returncode)


if __name__ == "__main__":
    main()
