#!/usr/bin/env python3
"""A guest that polls with a timeout costs no more CPU than an idle one.

Boots the idle guest (SCHEDOP_block forever) and the stress guest in mode
"poll" (SCHEDOP_poll with a 1 s timeout, in a loop), side by side, and
reads each VMM's CPU time (utime + stime, /proc/PID/stat) over MEASURE_S
seconds once both are up. The poller wakes once a second, so it may cost a
little more than the idle domain, but not more than SLACK_TICKS clock ticks
over the whole window: a spinning vCPU costs about one tick per 10 ms.
A resource bound, not a timing assertion.
    poll_cost.py VMM IDLE_GUEST STRESS_GUEST
"""
import os
import subprocess
import sys
import tempfile
import time

MEASURE_S = 4.0
SLACK_TICKS = 10


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])      # utime, stime


def start(vmm, guest, tmp, tag, cmdline=None):
    log = os.path.join(tmp, tag + ".console")
    cmd = [vmm, "--kernel", guest, "--memory", "16", "--console-log", log,
           "--log-file", os.path.join(tmp, tag + ".log")]
    if cmdline:
        cmd += ["--cmdline", cmdline]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL), log


def wait_line(p, log, line):
    end = time.monotonic() + 60
    while time.monotonic() < end and p.poll() is None:
        if os.path.exists(log) and line in open(log, errors="replace").read():
            return
        time.sleep(0.05)
    sys.exit(f"FAILED: never saw {line!r} (exit {p.poll()})")


def main():
    vmm, idle, stress = sys.argv[1:4]
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skipped: /dev/kvm is missing or not accessible")
        sys.exit(77)
    with tempfile.TemporaryDirectory() as tmp:
        pi, li = start(vmm, idle, tmp, "idle")
        pp, lp = start(vmm, stress, tmp, "poll", "poll")
        try:
            wait_line(pi, li, "idle: up")
            wait_line(pp, lp, "stress: poll")
            time.sleep(0.5)
            i0, p0 = cpu_ticks(pi.pid), cpu_ticks(pp.pid)
            time.sleep(MEASURE_S)
            idle_cost = cpu_ticks(pi.pid) - i0
            poll_cost = cpu_ticks(pp.pid) - p0
        finally:
            for p in (pi, pp):
                p.terminate()
                p.wait(timeout=30)
    tick = os.sysconf("SC_CLK_TCK")
    print(f"CPU over {MEASURE_S:g} s: idle domain {idle_cost} ticks, polling domain "
          f"{poll_cost} ticks (1/{tick} s each)")
    if poll_cost > idle_cost + SLACK_TICKS:
        sys.exit(f"FAILED: the polling domain used {poll_cost} ticks, the idle one "
                 f"{idle_cost} (allowed: idle + {SLACK_TICKS})")


if __name__ == "__main__":
    main()
