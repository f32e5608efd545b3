#!/usr/bin/env python3
"""Density: N idle domains at once on one host.

    python3 bench/vmm/density.py [--count N] [--memory MIB] [--bits 32|64]
                                 [--qemu-count M] [--check]

Starts N idle domains together (default 1000, or $DENSITY_N), each its own
xenon-vmm with --domid 1..N, --memory 16 and its PV console logged to a
temporary directory; waits until every one has printed "idle: up"; then
reports:
- domains started per second (N / time from the first spawn to the last
  domain's line),
- host memory in use per domain (MemAvailable before, minus with all N up,
  divided by N; this includes the kernel's side: KVM structures, page
  tables, kernel stacks; but also whatever else the host did meanwhile),
  and, exact where cgroup v1 memory is writable, the memory charged to a
  cgroup holding the N processes (user pages incl. guest RAM touched, and
  kernel memory, which is also reported alone),
- CPU time all N processes accumulate over IDLE_S seconds of idling (it
  should be ~0: a vCPU in SCHEDOP_block sleeps on a condition variable),
- time to destroy them all with SIGTERM,
then checks nothing is left: every process exited with status 2 (destroyed
by a signal), no process of this run remains, the temporary directory holds
only the files the run named, this script holds no more descriptors than
before, and no VMM log reports an error.

The peer is QEMU microvm booting serial-hello-64 with -m MIB, in the same
run, with M instances (default min(N, 50), or $DENSITY_QEMU_N; 0 skips it):
QEMU costs ~35 MiB each, so a thousand do not fit the build machines.

Host limits are checked first and, as root, raised where too low
(RLIMIT_NOFILE, kernel.pid_max, kernel.threads-max). vm.max_map_count is
per process (a VMM has ~30 mappings) and KVM sets no limit on the number
of VMs, so neither needs raising; each domain holds ~16 descriptors of its
own and 3 tasks (main/I-O, vCPU, KVM's kvm-nx-lpage-recovery worker).

--check (used by tests/vmm/density.py) prints no records, runs no peer and
exits 1 when any domain did not answer or anything was left behind.
"""
import argparse
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import benchlib  # noqa: E402

IDLE_S = 5.0
READY_TIMEOUT = 600.0
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                   "UndefinedBehaviorSanitizer")


def note(msg):
    print(f"density: {msg}", file=sys.stderr, flush=True)


def raise_limits(n):
    """Make room for n VMM processes (each ~3 tasks, ~16 fds)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 256 + 4 * n
    if soft < want:
        new_hard = hard if hard == resource.RLIM_INFINITY or hard >= want else want
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, new_hard), new_hard))
        except (ValueError, OSError) as e:
            note(f"cannot raise RLIMIT_NOFILE to {want}: {e}")
    for path, need in (("/proc/sys/kernel/pid_max", 4096 + 8 * n),
                       ("/proc/sys/kernel/threads-max", 4096 + 8 * n)):
        try:
            with open(path) as f:
                have = int(f.read())
            if have < need:
                with open(path, "w") as f:
                    f.write(str(need))
                note(f"raised {path} from {have} to {need}")
        except OSError as e:
            note(f"cannot check or raise {path}: {e}")


def our_processes(tag):
    """PIDs of live processes whose command line mentions tag."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if tag.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def own_fds():
    return len(os.listdir("/proc/self/fd"))


def run(n, make_cmd, ready_text, expect_rc, tag, log_names):
    """Start n instances, wait for ready_text in each one's output file,
    idle, destroy; return the figures and a list of problems."""
    problems = []
    fds_before = own_fds()
    with tempfile.TemporaryDirectory(prefix=f"density-{tag}-") as tmp:
        outs = [os.path.join(tmp, f"dom{i}.out") for i in range(1, n + 1)]
        expected_files = {os.path.basename(o) for o in outs}
        for i in range(1, n + 1):
            expected_files |= {name.format(i=i) for name in log_names}
        mem0 = benchlib.mem_available_kib()
        kern0 = benchlib.kernel_meminfo_kib()
        cg = benchlib.MemCgroup(f"density-{tag}")
        procs = []
        ru = resource.getrusage(resource.RUSAGE_SELF)
        runner0 = ru.ru_utime + ru.ru_stime
        t0 = time.monotonic()
        try:
            for i in range(1, n + 1):
                # stderr (where a sanitizer reports) joins the first log file
                err = (open(os.path.join(tmp, log_names[0].format(i=i)), "ab")
                       if log_names else subprocess.DEVNULL)
                try:
                    procs.append(subprocess.Popen(make_cmd(i, outs[i - 1], tmp),
                                                  stdin=subprocess.DEVNULL,
                                                  stdout=subprocess.DEVNULL, stderr=err,
                                                  preexec_fn=cg.join if cg.path else None))
                finally:
                    if log_names:
                        err.close()
            t_spawned = time.monotonic()
            pending = set(range(n))
            answered = 0
            deadline = t0 + READY_TIMEOUT
            while pending and time.monotonic() < deadline:
                for i in list(pending):
                    try:
                        # stat first: cheaper than reading a thousand files
                        if os.stat(outs[i]).st_size < len(ready_text):
                            raise FileNotFoundError
                        with open(outs[i], errors="replace") as f:
                            if ready_text in f.read():
                                pending.discard(i)
                                answered += 1
                                continue
                    except FileNotFoundError:
                        pass
                    if procs[i].poll() is not None:
                        problems.append(f"instance {i + 1} exited with {procs[i].returncode}"
                                        " before it answered")
                        pending.discard(i)
                if pending:
                    time.sleep(0.1)
            t_ready = time.monotonic()
            ru = resource.getrusage(resource.RUSAGE_SELF)
            runner_cpu_s = ru.ru_utime + ru.ru_stime - runner0
            if pending:
                problems.append(f"{len(pending)} of {n} never answered within "
                                f"{READY_TIMEOUT:g} s")
            time.sleep(1.0)     # let late page-ins and lazy frees settle
            mem_up = benchlib.mem_available_kib()
            kern_up = benchlib.kernel_meminfo_kib()
            cg_up, cg_kmem = cg.usage_kib(), cg.kmem_kib()
            live = [p for p in procs if p.poll() is None]
            c0 = sum(benchlib.proc_cpu_ns(p.pid) for p in live)
            launch_cpu_ms = c0 / 1e6 / max(1, len(live))
            time.sleep(IDLE_S)
            c1 = sum(benchlib.proc_cpu_ns(p.pid) for p in live if p.poll() is None)
            idle_cpu_ms = (c1 - c0) / 1e6
        finally:
            td = time.monotonic()
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=max(5.0, 60 - (time.monotonic() - td)))
                except subprocess.TimeoutExpired:
                    problems.append(f"pid {p.pid} ignored SIGTERM; killed")
                    p.kill()
                    p.wait()
            t_destroyed = time.monotonic()
        bad_rc = [(i + 1, p.returncode) for i, p in enumerate(procs)
                  if p.returncode != expect_rc]
        if bad_rc:
            problems.append(f"{len(bad_rc)} exited with an unexpected status, e.g. "
                            f"instance {bad_rc[0][0]}: {bad_rc[0][1]} (want {expect_rc})")
        left = our_processes(tmp)
        if left:
            problems.append(f"{len(left)} processes of this run are still alive: {left[:5]}")
        files = set(os.listdir(tmp))
        if files - expected_files:
            extra = sorted(files - expected_files)
            problems.append(f"unexpected files left in the run directory: {extra[:5]}")
        for name in sorted(files):
            if not name.endswith(".log"):
                continue
            with open(os.path.join(tmp, name), errors="replace") as f:
                text = f.read()
            if ": error:" in text or any(m in text for m in SANITIZER_MARKS):
                problems.append(f"{name} reports an error: {text.strip()[-300:]}")
                break
        time.sleep(0.5)
        mem_after = benchlib.mem_available_kib()
        cg.remove()
    if own_fds() > fds_before:
        problems.append(f"this script holds {own_fds() - fds_before} more descriptors")
    return dict(n=n, answered=answered, problems=problems,
                start_s=t_ready - t0, spawn_s=t_spawned - t0,
                per_s=n / (t_ready - t0),
                mem_kib_per=(mem0 - mem_up) / n,
                kernel_kib_per={k: (kern_up[k] - kern0.get(k, 0)) / n for k in kern_up},
                cg_kib_per=None if cg_up is None else cg_up / n,
                cg_kmem_kib_per=None if cg_kmem is None else cg_kmem / n,
                mem_not_returned_kib=max(0, mem0 - mem_after),
                launch_cpu_ms=launch_cpu_ms, runner_cpu_s=runner_cpu_s,
                idle_cpu_ms=idle_cpu_ms, idle_cpu_ms_per=idle_cpu_ms / n,
                destroy_s=t_destroyed - td, destroy_ms_per=(t_destroyed - td) * 1000 / n)


def xenon_cmd(vmm, guest, memory):
    def make(i, out, tmp):
        return [vmm, "--kernel", guest, "--memory", str(memory), "--domid", str(i),
                "--console-log", out, "--log-file", os.path.join(tmp, f"dom{i}.log")]
    return make


def qemu_cmd(qemu, guest, memory):
    def make(i, out, tmp):
        return [*qemu, "-enable-kvm", "-M", "microvm", "-nodefaults", "-no-user-config",
                "-display", "none", "-serial", f"file:{out}", "-m", str(memory),
                "-kernel", guest]
    return make


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=int(os.environ.get("DENSITY_N", "1000")))
    ap.add_argument("--memory", type=int, default=16, help="MiB per domain")
    ap.add_argument("--bits", choices=("32", "64"), default="64")
    ap.add_argument("--qemu-count", type=int, default=None)
    ap.add_argument("--vmm", default=benchlib.vmm())
    ap.add_argument("--guest", default=None)
    benchlib.add_run_mode_args(ap)
    a = ap.parse_args()
    benchlib.need_kvm()
    n = a.count
    guest = a.guest or benchlib.guest(f"idle-{a.bits}")
    raise_limits(n)

    note(f"starting {n} idle domains ({a.memory} MiB, {guest})")
    x = run(n, xenon_cmd(a.vmm, guest, a.memory), "idle: up", 2, "xenon", ["dom{i}.log"])
    note(f"{x['answered']}/{n} answered in {x['start_s']:.1f} s "
         f"(spawned in {x['spawn_s']:.1f} s, this script's CPU {x['runner_cpu_s']:.1f} s); "
         f"launch CPU {x['launch_cpu_ms']:.1f} ms/domain; {x['mem_kib_per']:.0f} KiB/domain "
         f"(cgroup {x['cg_kib_per'] or 0:.0f}, kernel {x['cg_kmem_kib_per'] or 0:.0f}); "
         f"idle CPU {x['idle_cpu_ms']:.0f} ms over {IDLE_S:g} s; "
         f"destroyed in {x['destroy_s']:.1f} s; "
         f"MemAvailable not back: {x['mem_not_returned_kib'] / 1024:.0f} MiB")
    for p in x["problems"]:
        note("PROBLEM: " + p)
    if a.check:
        sys.exit(1 if x["problems"] or x["answered"] != n else 0)

    qemu = benchlib.qemu()
    qn = a.qemu_count if a.qemu_count is not None else int(
        os.environ.get("DENSITY_QEMU_N", str(min(n, 50))))
    q = None
    if qemu and qn > 0:
        note(f"starting {qn} QEMU microvm instances (-m {a.memory})")
        q = run(qn, qemu_cmd(qemu, benchlib.guest(f"serial-hello-{a.bits}"), a.memory),
                "Hello from a PVH guest", 0, "qemu", [])
        note(f"QEMU: {q['answered']}/{qn} answered in {q['start_s']:.1f} s; "
             f"{q['mem_kib_per']:.0f} KiB each; idle CPU {q['idle_cpu_ms']:.0f} ms")
        for p in q["problems"]:
            note("QEMU PROBLEM: " + p)
    peer = f"QEMU microvm x{qn}, -m {a.memory}, serial-hello-{a.bits} halted" if q else None

    def emit(metric, key, unit, ratio_means, goal=None, nd=1, lower_better=True):
        if x.get(key) is None:
            return
        xv = round(x[key], nd)
        qv = round(q[key], nd) if q and q.get(key) is not None else None
        ratio = None
        if q and x[key] and q[key]:
            ratio = round(q[key] / x[key] if lower_better else x[key] / q[key], 1)
        benchlib.emit(bench="vmm", metric=metric, value=xv, unit=unit, peer=peer,
                      peer_value=qv, ratio=ratio, ratio_means=ratio_means, goal=goal)
    emit(f"density: {n} idle domains, started per second", "per_s", "domains/s",
         "Xenon / QEMU", lower_better=False)
    emit(f"density: CPU time per domain launch (process total when up, {n} at once)",
         "launch_cpu_ms", "ms", "QEMU / Xenon", nd=1)
    emit(f"density: host memory per idle domain ({n} up, MemAvailable)", "mem_kib_per",
         "KiB", "QEMU / Xenon", nd=0)
    emit(f"density: memory charged per idle domain ({n} up, cgroup: user + kernel)",
         "cg_kib_per", "KiB", "QEMU / Xenon", nd=0)
    emit(f"density: of which kernel memory per idle domain ({n} up, cgroup kmem)",
         "cg_kmem_kib_per", "KiB", "QEMU / Xenon", nd=0)
    # Where the kernel's share goes (host-wide /proc/meminfo deltas, so
    # approximate): KVM's vCPU and VM structures are slab and vmalloc.
    what = dict(KernelStack="thread kernel stacks", PageTables="process page tables",
                SecPageTables="KVM page tables for the guest", Slab="slab (KVM vCPU, "
                "debugfs, tasks, files)", VmallocUsed="vmalloc (KVM VM, memslots, stacks)")
    for kind, text in what.items():
        for r in (x, q):
            if r and r.get("kernel_kib_per") and kind in r["kernel_kib_per"]:
                r["k_" + kind] = r["kernel_kib_per"][kind]
        emit(f"density: kernel memory per idle domain, {text} ({n} up, /proc/meminfo "
             f"{kind})", "k_" + kind, "KiB", "QEMU / Xenon", nd=0)
    emit(f"density: CPU time per idle domain over {IDLE_S:g} s ({n} up)", "idle_cpu_ms_per",
         "ms", "QEMU / Xenon", goal="~0", nd=3)
    emit(f"density: destroy time per domain ({n} SIGTERMed at once)", "destroy_ms_per", "ms",
         "QEMU / Xenon", nd=2)
    if x["problems"] or x["answered"] != n:
        sys.exit(1)


if __name__ == "__main__":
    main()
