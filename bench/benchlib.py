"""Shared helpers for Xenon's benchmarks.

A benchmark script prints one JSON object per line on stdout, a "record":
  {"bench": "...", "metric": "...", "value": V, "unit": "...",
   "peer": "...", "peer_value": P, "ratio": R, "ratio_means": "...",
   "goal": "..."}
Every figure stands beside a peer measured in the same run (these machines
are noisy); the ratio is what to read. bench/run.py gathers the records.
"""
import json
import os
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.environ.get("XENON_BUILD", os.path.join(ROOT, "build"))

sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import oracles  # noqa: E402

# The peers (QEMU, Xen's tools) run from the oracle cache with its
# libraries; Xenon's own programs are static and do not look.
os.environ.update({k: oracles.env()[k] for k in ("LD_LIBRARY_PATH", "PYTHONPATH")})


def qemu():
    """QEMU's command prefix from the oracle cache (scripts/oracles.py
    qemu), or None: the QEMU column is then left out."""
    cmd = oracles.qemu()
    print(f"# qemu: {cmd[0] if cmd else 'not in the oracle cache, not measured'}",
          file=sys.stderr)
    return cmd


def xen_tool(name):
    """A Xen tool from the oracle cache, or skip the benchmark."""
    return oracles.xen_tool(name)


def vmm():
    return os.path.join(BUILD, "vmm", "xenon-vmm")


def guest(name):
    return os.path.join(BUILD, "guests", "guest-" + name)


def floor_cmd():
    """The launch floor (bench/floor/kvm_floor.c): a static program that
    makes a one-slot, one-vCPU VM whose real-mode code writes one byte to
    a port, which it copies to stdout."""
    return [os.path.join(BUILD, "bench", "floor", "kvm-floor")]


def floor_ms():
    """Milliseconds from starting the floor program to its byte."""
    return first_stdout_byte_ms(floor_cmd())


def floor_fields(value_ms, floor_value_ms, goal=None):
    """The fields that set a launch figure against the floor of the same
    run: floor (ms), floor_ratio (value / floor) and its goal."""
    f = dict(floor=round(floor_value_ms, 2), floor_ratio=round(value_ms / floor_value_ms, 2))
    if goal:
        f["floor_goal"] = goal
    return f


def median(xs):
    return statistics.median(xs)


def emit(**record):
    print(json.dumps(record), flush=True)


def qemu_microvm_cmd(qemu, image, memory_mib=64):
    """QEMU microvm (qemu: the command prefix qemu() gives) booting a PVH
    ELF with its serial port on stdout: the launch-time peer."""
    return [*qemu, "-enable-kvm", "-M", "microvm", "-nodefaults", "-no-user-config",
            "-display", "none", "-serial", "stdio", "-m", str(memory_mib),
            "-kernel", image]


def _ms_until_output(cmd, seen, env=None):
    """Milliseconds from starting cmd until seen(its stdout) returns true
    (False at end of output); the process is killed then."""
    t0 = time.monotonic_ns()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL, env=env)
    ok = seen(p.stdout)
    t1 = time.monotonic_ns()
    p.send_signal(signal.SIGKILL)
    p.wait()
    if not ok:
        sys.exit(f"no expected output from {cmd[0]}")
    return (t1 - t0) / 1e6


def first_stdout_byte_ms(cmd):
    """Milliseconds from starting cmd to the first byte on its stdout."""
    return _ms_until_output(cmd, lambda out: bool(out.read(1)))


# kvmtool (a second peer, when $KVMTOOL names its lkvm) boots no PVH ELF:
# its guest is this 12-byte real-mode flat binary, which writes "K" and a
# newline to the UART at 0x3f8 and halts.
KVMTOOL_GUEST = bytes.fromhex("baf803b04beeb00aeef4ebfd")


def kvmtool():
    """Path of kvmtool's lkvm from $KVMTOOL, or None."""
    path = os.environ.get("KVMTOOL")
    return path if path and os.access(path, os.X_OK) else None


def kvmtool_cmd(lkvm, tmp, memory_mib):
    """Command and environment running KVMTOOL_GUEST under kvmtool. It keeps
    a control socket and a default rootfs under $HOME/.lkvm: $HOME is tmp.
    Stock kvmtool refuses a CPU without the vmx/svm flag, which these
    nested hosts hide though /dev/kvm works; a build whose check honours
    LKVM_SKIP_VM_CHECK (a local one-line change, nothing of kvmtool is
    committed here) runs anyway."""
    image = os.path.join(tmp, "kvmtool-guest.bin")
    with open(image, "wb") as f:
        f.write(KVMTOOL_GUEST)
    return ([lkvm, "run", "-k", image, "-m", str(memory_mib), "-c", "1"],
            dict(os.environ, HOME=tmp, LKVM_SKIP_VM_CHECK="1"))


def first_line_ms(cmd, pred, env=None):
    """Milliseconds from starting cmd to the first stdout line satisfying
    pred."""
    return _ms_until_output(cmd, lambda out: any(pred(line) for line in out), env)


def add_run_mode_args(ap):
    """--json (what bench/run.py passes; records are always JSON) and
    --check (test mode: no peer, no records, exit 1 on any problem)."""
    ap.add_argument("--json", action="store_true",
                    help="accepted for bench/run.py; records are always JSON")
    ap.add_argument("--check", action="store_true",
                    help="test mode: no peer, no records, exit 1 on any problem")


def need_kvm():
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skipped: /dev/kvm is missing", file=sys.stderr)
        sys.exit(77)


# --- per-process resources (overhead and density benchmarks) -------------

def proc_smaps(pid):
    """[(header line, {field: kB})] for every mapping of a process."""
    maps, cur = [], None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if parts and ":" not in parts[0]:
                cur = (line.rstrip("\n"), {})
                maps.append(cur)
            elif cur is not None and len(parts) >= 2 and parts[1].isdigit():
                cur[1][parts[0].rstrip(":")] = int(parts[1])
    return maps


def proc_pss_kib(pid):
    """The process's proportional set size (kB), all mappings."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise RuntimeError(f"no Pss for {pid}")


def proc_cpu_ns(pid):
    """CPU time of all the process's live threads, exact (schedstat, ns);
    tick-sampled utime/stime rounds a 2 ms launch to 0 or 10 ms."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass        # the thread is gone
    return total


def proc_threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def proc_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def proc_ctxt_switches(pid):
    """Context switches (voluntary + not) of every thread of a process: how
    often it woke up."""
    n = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if "ctxt_switches" in line:
                        n += int(line.split()[1])
        except OSError:
            pass
    return n


def mem_available_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    raise RuntimeError("no MemAvailable")


KERNEL_MEMINFO = ("KernelStack", "PageTables", "SecPageTables", "Slab", "VmallocUsed")


def kernel_meminfo_kib():
    """The kernel's own memory by kind (kB), from /proc/meminfo: thread
    stacks, process page tables, KVM's page tables for guests (secondary),
    slab objects, vmalloc. Their change across N instances, divided by N,
    shows where an instance's kernel memory goes."""
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key = line.split(":")[0]
            if key in KERNEL_MEMINFO:
                out[key] = int(line.split()[1])
    return out


class MemCgroup:
    """A cgroup v1 memory cgroup under our own, to read the kernel memory
    charged to one process (KVM's per-VM and per-vCPU structures, page
    tables, kernel stacks). None of it shows in the process's PSS. Absent
    (self.path None) where cgroup v1 memory is not mounted or writable."""

    def __init__(self, name):
        self.path = None
        try:
            with open("/proc/self/cgroup") as f:
                mine = next(l.split(":", 2)[2].strip() for l in f
                            if l.split(":")[1] == "memory")
            base = "/sys/fs/cgroup/memory" + mine.rstrip("/")
            path = os.path.join(base, f"{name}-{os.getpid()}")
            os.mkdir(path)
            self.path = path
        except (OSError, StopIteration, IndexError):
            pass

    def join(self):
        """For Popen(preexec_fn=...): move the child in before exec."""
        if self.path:
            with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

    def usage_kib(self):
        """Everything charged: user pages (anon, shmem such as guest RAM
        memfds, page cache first touched here) and kernel memory."""
        if not self.path:
            return None
        with open(os.path.join(self.path, "memory.usage_in_bytes")) as f:
            return int(f.read()) // 1024

    def kmem_kib(self):
        if not self.path:
            return None
        with open(os.path.join(self.path, "memory.kmem.usage_in_bytes")) as f:
            return int(f.read()) // 1024

    def remove(self):
        if self.path:
            for _ in range(50):
                try:
                    os.rmdir(self.path)
                    return
                except OSError:
                    time.sleep(0.1)
