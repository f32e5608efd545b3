#!/usr/bin/env python3
"""The monitor's standby VMM (libxenon/vmm_standby.h): `standby.py SCENARIO`.

used: the next `xl create` is run by the standby that waited (the domain's
VMM pid is the standby's), a new standby replaces it, a killed standby is
replaced too, and none is ever listed or counted as a domain; a domain so
started answers on its console, pauses and unpauses, and is destroyed as
any; the standby runs with the uid, cgroup, limits and scheduling of the
domains' VMMs; nothing is left once the monitor has gone.
off: XENON_VMM_STANDBY=0: no standby, the VMM started for the domain.
monitor-restart: a killed monitor's standby ends with it; the next monitor
adopts the running domain and keeps a standby of its own.
wrapper: a XENON_VMM wrapper's options (--launch-trace here) apply to a
domain run by the standby.
Root and /dev/kvm needed, else skipped (77)."""
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from xl_test import (VMM, Env, check, console_session, failures, idle_cfg,  # noqa: E402
                     need_kvm, wait_for)


def standbys(e, parent=None):
    """Standby VMMs of this test's world (by their environment's xenstored
    socket), children of `parent` if given."""
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            cmd = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")
            env = open(f"/proc/{p}/environ", "rb").read().split(b"\0")
            stat = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat[0] == "Z" or b"--standby" not in cmd:
            continue
        if f"XENSTORED_PATH={e.xs_sock}".encode() not in env:
            continue
        if parent is None or int(stat[1]) == parent:
            found.append(int(p))
    return found


def one_standby(e, parent, other_than=()):
    """The one standby of `parent` that is none of other_than, once there
    is exactly one (within 10 s), else None."""
    def got():
        s = standbys(e, parent)
        return s[0] if len(s) == 1 and s[0] not in other_than else None
    return wait_for(got, 10)


def cmdline(pid):
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
    except OSError:
        return []


def boot_ticks():
    """Now, in the clock ticks of /proc/PID/stat's start time."""
    return int(float(open("/proc/uptime").read().split()[0]) * os.sysconf("SC_CLK_TCK"))


def started(pid):
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[19])


def proc_facts(pid):
    """What a standby must share with a domain's VMM."""
    status = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status").read().splitlines()
                  if ":" in l)
    return {"uid": status["Uid"].split(), "gid": status["Gid"].split(),
            "cgroup": open(f"/proc/{pid}/cgroup").read(),
            "limits": open(f"/proc/{pid}/limits").read(),
            "sched": (os.sched_getscheduler(pid), os.sched_getparam(pid).sched_priority),
            "nice": os.getpriority(os.PRIO_PROCESS, pid)}


def t_used(e):
    need_kvm()
    rc, _, err = e.xl("create", "-q", idle_cfg(e, "a"))
    check("create a: exit 0", rc == 0, err)
    mon = int(e.state(1)["monitor_pid"])
    s1 = one_standby(e, mon)
    check("the monitor keeps one standby", s1 is not None, standbys(e))
    check("... not listed as a domain", set(e.rows()) == {"Domain-0", "a"}, list(e.rows()))
    check("... nor found as a domain's VMM", s1 not in e.vmm_pids(), (s1, e.vmm_pids()))
    check("... which waits with no domain on its command line",
          s1 is not None and b"--domid" not in cmdline(s1), cmdline(s1) if s1 else "")
    # A VMM the monitor starts for a domain inherits these from it.
    facts_mon = proc_facts(mon)
    check("it has the uid, cgroup, limits and scheduling a domain's VMM inherits",
          s1 is not None and proc_facts(s1) == facts_mon,
          (proc_facts(s1) if s1 else None, facts_mon))

    rc, _, err = e.xl("create", "-q", idle_cfg(e, "b"))
    check("create b: exit 0", rc == 0, err)
    st = e.state(2)
    check("b's VMM is the standby that waited", int(st["vmm_pid"]) == s1, (st["vmm_pid"], s1))
    check("... its start time recorded, and its boot",
          s1 is not None and int(st["vmm_start"]) == started(s1) and
          st["vmm_boot"] == open("/proc/sys/kernel/random/boot_id").read().strip(), st)
    check("... and shows b's command line", b"--domid" in cmdline(s1) and
          cmdline(s1)[cmdline(s1).index(b"--domid") + 1] == b"2", cmdline(s1))
    check("... and is found as a domain's VMM", s1 in e.vmm_pids(), e.vmm_pids())
    s2 = one_standby(e, mon, (s1,))
    check("a new standby replaces the used one", s2 is not None, standbys(e))

    os.kill(s2, signal.SIGKILL)
    s3 = one_standby(e, mon, (s1, s2))
    check("a killed standby is replaced", s3 is not None, standbys(e))
    check("... and nothing else changed", set(e.rows()) == {"Domain-0", "a", "b"} and
          len(e.vmm_pids()) == 2 and e.state_files() == [
              "domain-1", "domain-1.cfg", "domain-1.json", "domain-2", "domain-2.cfg",
              "domain-2.json", "name-a", "name-b"], (list(e.rows()), e.state_files()))

    rc, got = console_session(e, ["console", "b"], b"standby")
    check("b answers on its console", rc == 0 and b"idle: got standby" in got, got[-300:])
    rc, _, err = e.xl("pause", "b")
    check("pause b: exit 0", rc == 0, err)
    r = e.rows().get("b")
    check("... b is paused", r is not None and r.group(5)[2] == "p", r.group(0) if r else "")
    rc, _, err = e.xl("unpause", "b")
    check("unpause b: exit 0", rc == 0, err)
    r = e.rows().get("b")
    check("... b runs again", r is not None and r.group(5)[2] == "-", r.group(0) if r else "")
    for n in ("b", "a"):
        rc, _, err = e.xl("destroy", n)
        check(f"destroy {n}: exit 0", rc == 0, err)
    check("the monitor exits after the last domain",
          wait_for(lambda: not os.path.exists(f"/proc/{mon}"), 10))
    check("... and its standby with it", wait_for(lambda: not standbys(e), 10), standbys(e))
    e.check_empty("after the standby's domains")


def t_off(e):
    need_kvm()
    e.env["XENON_VMM_STANDBY"] = "0"
    rc, _, err = e.xl("create", "-q", idle_cfg(e, "a"))
    check("create a: exit 0", rc == 0, err)
    mon = int(e.state(1)["monitor_pid"])
    time.sleep(0.3)     # well past when a standby would have been started
    check("no standby", not standbys(e), standbys(e))
    before = boot_ticks()
    rc, _, err = e.xl("create", "-q", idle_cfg(e, "b"))
    check("create b: exit 0", rc == 0, err)
    vmm = int(e.state(2)["vmm_pid"])
    check("b's VMM started for it (after the create began)", started(vmm) >= before,
          (started(vmm), before))
    check("still no standby", not standbys(e), standbys(e))
    for n in ("a", "b"):
        rc, _, err = e.xl("destroy", n)
        check(f"destroy {n}: exit 0", rc == 0, err)
    check("the monitor exits", wait_for(lambda: not os.path.exists(f"/proc/{mon}"), 10))
    e.check_empty("after the domains without a standby")


def t_monitor_restart(e):
    need_kvm()
    rc, _, err = e.xl("create", "-q", idle_cfg(e, "a"))
    check("create a: exit 0", rc == 0, err)
    st = e.state(1)
    old = int(st["monitor_pid"])
    s1 = one_standby(e, old)
    check("a standby waits", s1 is not None, standbys(e))
    os.kill(old, signal.SIGKILL)
    check("the monitor is gone", wait_for(lambda: not os.path.exists(f"/proc/{old}"), 10))
    check("its standby ends with it", wait_for(lambda: s1 not in standbys(e), 10), standbys(e))
    check("a's VMM runs on", int(st["vmm_pid"]) in e.vmm_pids(), e.vmm_pids())
    rc, _, err = e.xl("create", "-q", idle_cfg(e, "b"))
    check("create b starts a new monitor: exit 0", rc == 0, err)
    new = int(e.state(2)["monitor_pid"])
    check("a new monitor", new != old, new)
    s2 = one_standby(e, new)
    check("it keeps a standby of its own", s2 is not None, standbys(e))
    check("both domains listed, and only they", set(e.rows()) == {"Domain-0", "a", "b"},
          list(e.rows()))
    check("two VMMs", len(e.vmm_pids()) == 2, e.vmm_pids())
    rc, _, err = e.xl("create", "-q", idle_cfg(e, "c"))
    check("create c: exit 0", rc == 0, err)
    check("c runs in the new monitor's standby", int(e.state(3)["vmm_pid"]) == s2,
          (e.state(3)["vmm_pid"], s2))
    for n in ("a", "b", "c"):
        rc, _, err = e.xl("destroy", n)
        check(f"destroy {n}: exit 0", rc == 0, err)
    check("the new monitor exits", wait_for(lambda: not os.path.exists(f"/proc/{new}"), 10))
    check("... and no standby is left", wait_for(lambda: not standbys(e), 10), standbys(e))
    e.check_empty("after a monitor restart with a standby")


def t_wrapper(e):
    need_kvm()
    wrapper = os.path.join(e.tmp, "xenon-vmm-traced")
    with open(wrapper, "w") as f:
        f.write(f'#!/bin/sh\nexec "{VMM}" --launch-trace "$@"\n')
    os.chmod(wrapper, 0o755)
    e.env["XENON_VMM"] = wrapper
    rc, _, err = e.xl("create", "-q", idle_cfg(e, "a"))
    check("create a: exit 0", rc == 0, err)
    mon = int(e.state(1)["monitor_pid"])
    s1 = one_standby(e, mon)
    check("a standby waits, with the wrapper's option",
          s1 is not None and b"--launch-trace" in cmdline(s1), cmdline(s1) if s1 else "")
    rc, _, err = e.xl("create", "-q", idle_cfg(e, "b"))
    check("create b: exit 0", rc == 0, err)
    check("b runs in it", int(e.state(2)["vmm_pid"]) == s1, (e.state(2)["vmm_pid"], s1))
    log = os.path.join(e.env["XENON_LOG_DIR"], "xl-b.log")
    traced = wait_for(lambda: "launch: first-console-byte" in open(log, errors="replace").read(),
                      10)
    text = open(log, errors="replace").read()
    check("b's log has the trace the wrapper asked for, from the standby",
          traced and "launch: standby-received" in text, text[-600:])
    for n in ("a", "b"):
        rc, _, err = e.xl("destroy", n)
        check(f"destroy {n}: exit 0", rc == 0, err)
    check("the monitor exits", wait_for(lambda: not os.path.exists(f"/proc/{mon}"), 10))
    e.check_empty("after the wrapper's domains")


SCENARIOS = {"used": t_used, "off": t_off, "monitor-restart": t_monitor_restart,
             "wrapper": t_wrapper}


def main():
    name = sys.argv[1]
    e = Env()
    try:
        SCENARIOS[name](e)
    finally:
        for pid in standbys(e):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        e.close()
    if failures:
        print(f"FAILED: {len(failures)} check(s): " + "; ".join(failures))
        sys.exit(1)
    print(f"{name}: all checks passed")


if __name__ == "__main__":
    main()
