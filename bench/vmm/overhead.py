#!/usr/bin/env python3
"""Per-domain overhead of an idle domain, beside QEMU microvm in the same run.

Xenon: xenon-vmm --memory 64 running the idle guest (prints "idle: up" on
the PV console, then blocks in SCHEDOP_block forever). QEMU:
qemu-system-x86_64 -enable-kvm -M microvm -nodefaults -no-user-config
-display none -serial stdio -m 64 -kernel guest-serial-hello-64 (prints a
line on the UART, then halts). Both measured RUNS times once their line is
out and SETTLE seconds have passed; medians are reported.

- Memory overhead = the process's PSS (/proc/PID/smaps_rollup) minus the
  PSS of its guest-RAM mappings, i.e. what the VMM costs beyond the guest
  memory the guest (or the loader, or KVM on its behalf) touched. Guest RAM
  mappings are found in /proc/PID/smaps: Xenon's are the
  memfd:xenon-guest-ram mappings; QEMU's is the anonymous mapping exactly
  -m in size. Pages of guest RAM that were never touched are in neither.
  Guest RAM touched is reported beside it (Xenon: the memfd's allocated
  blocks, fstat of /proc/PID/fd/N; QEMU: the RAM mapping's Rss, which may
  be a 2 MiB transparent huge page).
- Kernel memory charged to the process (cgroup v1 memory.kmem.usage_in_bytes
  of a cgroup the process was started in): KVM's VM and vCPU structures,
  page tables, kernel stacks, file objects. No PSS shows it.
- Threads (/proc/PID/task, which includes KVM's kvm-nx-lpage-recovery
  worker for both) and open file descriptors (/proc/PID/fd).
- With KVMTOOL=/path/to/lkvm, kvmtool too, as a second peer (records
  marked "(vs kvmtool)"): lkvm run -m 64 -c 1 with a 12-byte real-mode
  flat binary (kvmtool loads no PVH ELF) that prints "K" and halts.
- CPU time the idle process accumulates over IDLE_S seconds (utime+stime,
  10 ms ticks) and its threads' context switches over the same seconds
  (wake-ups: 0 means nothing in the process ran at all).
"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import benchlib  # noqa: E402

RUNS = int(os.environ.get("OVERHEAD_RUNS", "3"))
SETTLE = 0.5
IDLE_S = 3.0
RAM_MIB = 64


def wait_for(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.02)
    raise RuntimeError(f"timed out waiting for {what}")


def guest_ram_pss_kib(pid, is_guest):
    return sum(f.get("Pss", 0) for hdr, f in benchlib.proc_smaps(pid) if is_guest(hdr, f))


def measure(pid, is_guest, touched_kib, cg):
    time.sleep(SETTLE)
    pss = benchlib.proc_pss_kib(pid)
    guest = guest_ram_pss_kib(pid, is_guest)
    r = dict(overhead=pss - guest, touched=touched_kib(), kmem=cg.kmem_kib(),
             threads=benchlib.proc_threads(pid), fds=benchlib.proc_fds(pid))
    t0, w0 = benchlib.proc_cpu_ns(pid), benchlib.proc_ctxt_switches(pid)
    time.sleep(IDLE_S)
    r["cpu_ms"] = (benchlib.proc_cpu_ns(pid) - t0) / 1e6
    r["wakeups"] = benchlib.proc_ctxt_switches(pid) - w0
    return r


def run_xenon(tmp):
    log = os.path.join(tmp, "console")
    cg = benchlib.MemCgroup("xenon-overhead")
    p = subprocess.Popen([benchlib.vmm(), "--kernel", benchlib.guest("idle-64"),
                          "--memory", str(RAM_MIB), "--console-log", log,
                          "--log-file", "/dev/null"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         preexec_fn=cg.join)
    try:
        wait_for(lambda: "idle: up" in open(log).read() if os.path.exists(log) else False,
                 30, "the idle guest's line")

        def memfd_fd():
            for n in os.listdir(f"/proc/{p.pid}/fd"):
                if os.readlink(f"/proc/{p.pid}/fd/{n}").startswith("/memfd:xenon-guest-ram"):
                    return f"/proc/{p.pid}/fd/{n}"
            raise RuntimeError("no guest RAM memfd")
        r = measure(p.pid, lambda hdr, f: "/memfd:xenon-guest-ram" in hdr,
                    lambda: os.stat(memfd_fd()).st_blocks * 512 // 1024, cg)
    finally:
        p.terminate()
        p.wait(timeout=30)
        cg.remove()
        os.unlink(log)
    return r


def run_qemu(qemu):
    return run_peer([*qemu, "-enable-kvm", "-M", "microvm", "-nodefaults",
                     "-no-user-config", "-display", "none", "-serial", "stdio",
                     "-m", str(RAM_MIB), "-kernel", benchlib.guest("serial-hello-64")],
                    lambda line: True)


def run_kvmtool(lkvm, tmp):
    cmd, env = benchlib.kvmtool_cmd(lkvm, tmp, RAM_MIB)
    return run_peer(cmd, lambda line: line.strip() == "K", env=env)


def run_peer(cmd, ready, env=None):
    cg = benchlib.MemCgroup("peer-overhead")
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, preexec_fn=cg.join,
                         env=env)
    try:
        for line in p.stdout:
            if ready(line):
                break
        else:
            raise RuntimeError(f"no output from {cmd[0]}")

        def is_ram(hdr, f):     # anonymous, exactly -m in size
            return len(hdr.split()) == 5 and f.get("Size") == RAM_MIB * 1024

        r = measure(p.pid, is_ram,
                    lambda: guest_ram_pss_kib(p.pid, is_ram), cg)
    finally:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        cg.remove()
    return r


def main():
    benchlib.need_kvm()
    qemu = benchlib.qemu()
    lkvm = benchlib.kvmtool()
    xs, qs, ks = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(RUNS):
            xs.append(run_xenon(tmp))
            if qemu:
                qs.append(run_qemu(qemu))
            if lkvm:
                ks.append(run_kvmtool(lkvm, tmp))

    def med(rs, k):
        vals = [r[k] for r in rs if r[k] is not None]
        return benchlib.median(vals) if vals else None
    peer = "QEMU microvm, -m 64, serial-hello-64 halted"

    peers = [(peer, qs, "")] if qs else [(None, [], "")]
    if ks:
        peers.append(("kvmtool lkvm run -m 64 -c 1, flat real-mode guest halted", ks,
                      " (vs kvmtool)"))

    def emit(metric, key, unit, ratio_means, goal=None):
        x = med(xs, key)
        if x is None:
            return
        for name, ps, suffix in peers:
            q = med(ps, key) if ps else None
            ratio = round(q / x, 1) if q is not None and x else None
            benchlib.emit(bench="vmm", metric=metric + suffix, value=round(x), unit=unit,
                          peer=name, peer_value=None if q is None else round(q),
                          ratio=ratio, ratio_means=ratio_means.replace("QEMU", "peer")
                          if suffix else ratio_means, goal=goal)
    emit("idle domain: process memory beyond guest RAM (PSS)", "overhead", "KiB",
         "QEMU / Xenon", goal="<= 1024 KiB")
    emit("idle domain: kernel memory charged (cgroup kmem)", "kmem", "KiB",
         "QEMU / Xenon")
    emit("idle domain: guest RAM touched", "touched", "KiB", "QEMU / Xenon")
    emit("idle domain: threads (incl. KVM's kernel worker)", "threads", "threads",
         "QEMU / Xenon")
    emit("idle domain: open file descriptors", "fds", "fds", "QEMU / Xenon")
    emit(f"idle domain: CPU time over {IDLE_S:g} s idle", "cpu_ms", "ms", "QEMU / Xenon",
         goal="0")
    emit(f"idle domain: thread wake-ups over {IDLE_S:g} s idle", "wakeups", "switches",
         "QEMU / Xenon", goal="0")


if __name__ == "__main__":
    main()
