#!/usr/bin/env python3
"""An idle domain costs no CPU and little memory.

Boots the idle guest (prints "idle: up", then SCHEDOP_block forever) and,
once it is up, checks over IDLE_S seconds that none of the VMM's own
threads (main/I-O and vCPU; KVM's kernel worker is not ours) woke up at
all, and that the process's PSS beyond its guest-RAM mappings is at most
1 MiB (bench/vmm/overhead.py's measure; the issue-5 goal). Not run under
ASan (suite nosan): its shadow memory is the process's own.
    idle_cost.py VMM IDLE_GUEST
"""
import os
import subprocess
import sys
import tempfile
import time

IDLE_S = 2.0
MAX_OVERHEAD_KIB = 1024


def pss_beyond_guest_kib(pid):
    total = guest = 0
    cur_guest = False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if parts and ":" not in parts[0]:
                cur_guest = "/memfd:xenon-guest-ram" in line
            elif parts and parts[0] == "Pss:":
                total += int(parts[1])
                if cur_guest:
                    guest += int(parts[1])
    return total - guest


def own_switches(pid):
    n = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().strip() != "xenon-vmm":
                continue        # a kernel worker KVM attaches to the VM
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            n += sum(int(l.split()[1]) for l in f if "ctxt_switches" in l)
    return n


def main():
    vmm, guest = sys.argv[1], sys.argv[2]
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skipped: /dev/kvm is missing or not accessible")
        sys.exit(77)
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "console")
        p = subprocess.Popen([vmm, "--kernel", guest, "--memory", "16", "--console-log", log,
                              "--log-file", os.path.join(tmp, "log")],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        problems = []
        try:
            end = time.monotonic() + 60
            while time.monotonic() < end and p.poll() is None:
                if os.path.exists(log) and "idle: up" in open(log).read():
                    break
                time.sleep(0.05)
            else:
                sys.exit(f"FAILED: the idle guest never said 'idle: up' (exit {p.poll()})")
            time.sleep(0.5)
            over = pss_beyond_guest_kib(p.pid)
            w0 = own_switches(p.pid)
            time.sleep(IDLE_S)
            wakeups = own_switches(p.pid) - w0
            print(f"PSS beyond guest RAM: {over} KiB; VMM thread wake-ups in {IDLE_S:g} s idle: {wakeups}")
            if over > MAX_OVERHEAD_KIB:
                problems.append(f"PSS beyond guest RAM {over} KiB > {MAX_OVERHEAD_KIB} KiB")
            if wakeups:
                problems.append(f"the idle domain's threads woke {wakeups} times")
        finally:
            p.terminate()
            rc = p.wait(timeout=30)
        if rc != 2:
            problems.append(f"exit status {rc} after SIGTERM, expected 2")
    if problems:
        sys.exit("FAILED: " + "; ".join(problems))


if __name__ == "__main__":
    main()
