#!/usr/bin/env python3
"""Density through the toolstack: N hello (idle) domains with `xl create`.

    python3 bench/xl/density.py [--count N] [--memory MIB] [--parallel K]
                                [--peer-count M] [--check]

With a private xenon-xenstored and private state/run/log directories (as
bench/xl/launch.py), writes one xl.cfg per domain (dens-I, type pvh, the
idle-64 guest, --memory MiB, default 16) and runs `xl create -q` for all N
(default 1000, or $XL_DENSITY_N), K at a time (default 0: all N at once;
--parallel K keeps K in flight: on 2 cores all at once starts the most
per second, 35-40/s against 24/s with 8 in flight). A domain has answered when its console log
says "idle: up" and then a line sent on its console socket (the socket `xl
console` attaches to) comes back as "idle: got <line>". Reports:
- domains started per second: N / (first `xl create` started -> last
  domain answered), and to the last "idle: up" (comparable to the peer),
- host memory per domain with all N up: MemAvailable delta / N, and where
  cgroup v1 memory is writable the charge of a cgroup holding every `xl`
  process and so (inherited across their forks) every monitor and VMM,
- processes per domain (VMM + monitor), xenstored's descriptors and
  resident memory at N up,
- CPU time of every process of the run (xenstored included) over IDLE_S
  seconds with all N idle,
- time to destroy them all with `xl destroy dens-I`, --destroy-parallel D
  at a time (default 4 per core: 1000 at once thrash, 53 s against 16 s
  for 1000 on 2 cores, as each looks its domain up among all of them),
then counts what is left, each a number that must be 0: processes of this
run (found by the temp dir in their command line), xenstored descriptors
beyond its count before the first create, xenstore nodes under
/local/domain (but dom0's), /vm and /libxl, new vif*/tap* interfaces, and
files in the state (but xl's "lock" and "last-domid") and run directories. Console logs are
kept on purpose (Xen keeps /var/log/xen/console too): counted, not a
leftover; no xl log may report an error or a sanitizer finding.

Peer, in the same run: xenon-vmm started directly, M at once (default N,
or $XL_DENSITY_PEER_N; 0 skips it), with bench/vmm/density.py's machinery,
to "idle: up"; ratio = what the toolstack costs.

--check (tests/xl/density.py) prints no records, runs no peer and exits 1
when any domain did not answer, `xl list` did not list each once, or
anything was left behind.

--steps 1,1000,2000,4000,8000 instead grows through each count, --parallel
(default 8) `xl create` at a time, and at each times `xl create` of the
next domain to its first console byte, `xl list`, `xl destroy NAME` (the
median of 3 probe domains, or $XL_DENSITY_PROBES: more steady a figure on a
shared host), a xenstore read, and reports host and kernel
memory (Slab, PageTables, KernelStack) per domain, tasks per domain, and
xenstored's and the monitor's memory and descriptors; then destroys all
and counts what is left. It prints a Markdown table (README's). It raises
no host limit: the domains must fit in pid_max and the open-files limit.
"""
import argparse
import importlib.util
import os
import resource
import selectors
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import benchlib  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "vmm_density", os.path.join(HERE, "..", "vmm", "density.py"))
vmm_density = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vmm_density)

IDLE_S = 5.0
READY_TIMEOUT = 900.0
DESTROY_TIMEOUT = 600.0
READY_TEXT = b"idle: up"


def note(msg):
    print(f"xl-density: {msg}", file=sys.stderr, flush=True)


def vif_taps():
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split(":", 2)
        if len(parts) > 2:
            name = parts[1].strip().split("@")[0]
            if name.startswith(("vif", "tap")):
                names.add(name)
    return names


def proc_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def proc_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def read_state(path):
    d = {}
    try:
        with open(path) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("=")
                d[k] = v
    except OSError:
        pass
    return d


class Pool:
    """Runs commands, at most k (0: all) at a time; done[i] = (rc, stderr)."""

    def __init__(self, cmds, k, env, popen_kw=None):
        self.cmds, self.k, self.env = cmds, k or len(cmds), env
        self.kw = popen_kw or {}
        self.next = 0
        self.running = {}
        self.done = {}

    def step(self):
        """Reap finished commands and start more; the indexes just finished."""
        finished = []
        for i, p in list(self.running.items()):
            if p.poll() is not None:
                err = p.stderr.read().decode(errors="replace")
                p.stderr.close()
                self.done[i] = (p.returncode, err)
                del self.running[i]
                finished.append(i)
        while self.next < len(self.cmds) and len(self.running) < self.k:
            i = self.next
            self.next += 1
            self.running[i] = subprocess.Popen(self.cmds[i], env=self.env,
                                               stdin=subprocess.DEVNULL,
                                               stdout=subprocess.DEVNULL,
                                               stderr=subprocess.PIPE, **self.kw)
        return finished

    def idle(self):
        return self.next == len(self.cmds) and not self.running

    def kill(self):
        for p in self.running.values():
            p.kill()
            p.wait()
            p.stderr.close()
        self.running.clear()


class Instance:
    def __init__(self, tmp, build):
        self.tmp = tmp
        self.sock = os.path.join(tmp, "xs.sock")
        self.state = os.path.join(tmp, "state")
        self.rundir = os.path.join(tmp, "run")
        self.logdir = os.path.join(tmp, "log")
        self.xl = os.path.join(build, "xl", "xl")
        self.xs_list_tool = benchlib.xen_tool("xenstore-list")
        self.env = dict(os.environ, XENSTORED_PATH=self.sock, XENON_STATE_DIR=self.state,
                        XENON_RUN_DIR=self.rundir, XENON_LOG_DIR=self.logdir,
                        XENON_VMM=benchlib.vmm())
        xsd = os.path.join(build, "xenstored", "xenon-xenstored")
        self.xs = subprocess.Popen([xsd, "-N", "--socket", self.sock,
                                    "--data-dir", os.path.join(tmp, "xsd"),
                                    "--pid-file", "", "--log-file", "/dev/null"])
        end = time.monotonic() + 10
        while not os.path.exists(self.sock):
            if time.monotonic() > end or self.xs.poll() is not None:
                raise SystemExit("xenon-xenstored did not start")
            time.sleep(0.01)

    def xs_list(self, path):
        r = subprocess.run([self.xs_list_tool, path], env=self.env, capture_output=True,
                           text=True)
        return r.stdout.split() if r.returncode == 0 else []

    def close(self):
        if self.xs.poll() is None:
            self.xs.terminate()
        self.xs.wait()


def answer_loop(inst, n, pool, problems):
    """Drive the creates and wait until every domain has answered on its
    console. Returns (time of last "idle: up", time of last echo, answered)."""
    names = [f"dens-{i}" for i in range(1, n + 1)]
    logs = [os.path.join(inst.logdir, "console", f"guest-{nm}.log") for nm in names]
    by_name = {nm: i for i, nm in enumerate(names)}
    created = set()         # xl create returned 0
    console = {}            # index -> console socket path (from the state file)
    seen_state = set()
    up = set()
    sel = selectors.DefaultSelector()
    conns = {}              # index -> [socket, received bytes]
    answered = set()
    t_up = t_ans = None
    deadline = time.monotonic() + READY_TIMEOUT
    failed = set()
    while len(answered) + len(failed) < n and time.monotonic() < deadline:
        for i in pool.step():
            rc, err = pool.done[i]
            if rc == 0:
                created.add(i)
            else:
                failed.add(i)
                problems.append(f"xl create {names[i]} exited {rc}: {err.strip()[-300:]}")
        if len(console) < len(created):
            for f in os.listdir(inst.state):
                if f.startswith("domain-") and f[7:].isdigit() and f not in seen_state:
                    s = read_state(os.path.join(inst.state, f))
                    if s.get("name") in by_name and s.get("console"):
                        console[by_name[s["name"]]] = s["console"]
                        seen_state.add(f)
        for i in list(created - up):
            try:
                if os.stat(logs[i]).st_size < len(READY_TEXT):
                    continue
                with open(logs[i], "rb") as f:
                    if READY_TEXT not in f.read():
                        continue
            except FileNotFoundError:
                continue
            if i not in console:
                continue
            up.add(i)
            t_up = time.monotonic()
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(console[i])
                s.sendall(f"ping-{names[i]}\r".encode())
            except OSError as e:
                s.close()
                failed.add(i)
                problems.append(f"{names[i]}: console {console[i]}: {e}")
                continue
            s.setblocking(False)
            conns[i] = [s, b""]
            sel.register(s, selectors.EVENT_READ, i)
        for key, _ in sel.select(timeout=0.05 if conns else 0):
            i = key.data
            s, got = conns[i]
            try:
                chunk = s.recv(4096)
            except BlockingIOError:
                continue
            got += chunk
            conns[i][1] = got
            if f"idle: got ping-{names[i]}".encode() in got or not chunk:
                sel.unregister(s)
                s.close()
                del conns[i]
                if chunk:
                    answered.add(i)
                    t_ans = time.monotonic()
                else:
                    failed.add(i)
                    problems.append(f"{names[i]}: console closed before the echo")
        if not conns:
            time.sleep(0.02)
    for s, _ in conns.values():
        sel.unregister(s)
        s.close()
    sel.close()
    pending = n - len(answered) - len(failed)
    if pending:
        problems.append(f"{pending} of {n} never answered within {READY_TIMEOUT:g} s "
                        f"({len(created)} created, {len(up)} up)")
    return t_up, t_ans, len(answered)


def run(n, memory, parallel, dparallel, guest):
    problems = []
    fds_before = vmm_density.own_fds()
    build = benchlib.BUILD
    taps0 = vif_taps()
    r = dict(n=n)
    with tempfile.TemporaryDirectory(prefix="xl-density-") as tmp:
        inst = Instance(tmp, build)
        try:
            cfgdir = os.path.join(tmp, "cfg")
            os.mkdir(cfgdir)
            cmds = []
            for i in range(1, n + 1):
                cfg = os.path.join(cfgdir, f"dens-{i}.cfg")
                with open(cfg, "w") as f:
                    f.write(f'name = "dens-{i}"\ntype = "pvh"\nkernel = "{guest}"\n'
                            f'memory = {memory}\n')
                cmds.append([inst.xl, "create", "-q", cfg])
            os.makedirs(inst.state, exist_ok=True)
            time.sleep(0.2)
            xs_pid = inst.xs.pid
            xs_fds0 = benchlib.proc_fds(xs_pid)
            xs_rss0 = proc_kib(xs_pid, "VmRSS")
            cg = benchlib.MemCgroup("xl-density")
            mem0 = benchlib.mem_available_kib()
            pool = Pool(cmds, parallel, inst.env,
                        dict(preexec_fn=cg.join) if cg.path else None)
            t0 = time.monotonic()
            try:
                t_up, t_ans, answered = answer_loop(inst, n, pool, problems)
            except BaseException:
                pool.kill()
                raise
            r["answered"] = answered
            if t_up:
                r["per_s_up"] = n / (t_up - t0)
            if t_ans:
                r["start_s"] = t_ans - t0
                r["per_s"] = n / (t_ans - t0)
            pool.kill()     # any create still hanging (a failure already)
            # xl list lists every one of them, once
            lr = subprocess.run([inst.xl, "list"], env=inst.env, capture_output=True, text=True)
            listed = [l.split()[0] for l in lr.stdout.splitlines()[1:] if l.split()]
            missing = {f"dens-{i}" for i in range(1, n + 1)} - set(listed)
            if lr.returncode != 0 or missing or len(listed) != n + 1:
                problems.append(f"xl list (exit {lr.returncode}) shows {len(listed) - 1} "
                                f"domains beside Domain-0 for {n}; missing e.g. "
                                f"{sorted(missing)[:3]}")
            r["listed"] = len(listed) - 1
            time.sleep(1.0)
            mem_up = benchlib.mem_available_kib()
            r["mem_kib_per"] = (mem0 - mem_up) / n
            cu, ck = cg.usage_kib(), cg.kmem_kib()
            r["cg_kib_per"] = None if cu is None else cu / n
            r["cg_kmem_kib_per"] = None if ck is None else ck / n
            procs = [p for p in vmm_density.our_processes(tmp)
                     if p != xs_pid and proc_state(p) not in (None, "Z")]
            r["procs_per"] = len(procs) / n
            r["xs_fds"] = benchlib.proc_fds(xs_pid)
            r["xs_fds0"] = xs_fds0
            r["xs_rss_kib"] = proc_kib(xs_pid, "VmRSS")
            r["xs_rss_kib_per"] = (r["xs_rss_kib"] - xs_rss0) / n
            def cpu_ns():
                t = 0
                for p in procs + [xs_pid]:
                    try:
                        t += benchlib.proc_cpu_ns(p)
                    except OSError:
                        pass
                return t
            c0 = cpu_ns()
            time.sleep(IDLE_S)
            r["idle_cpu_ms"] = (cpu_ns() - c0) / 1e6
            r["idle_cpu_ms_per"] = r["idle_cpu_ms"] / n

            # destroy them all
            dcmds = [[inst.xl, "destroy", f"dens-{i}"] for i in range(1, n + 1)]
            dpool = Pool(dcmds, dparallel, inst.env)
            td = time.monotonic()
            end = td + DESTROY_TIMEOUT
            while not dpool.idle() and time.monotonic() < end:
                dpool.step()
                time.sleep(0.01)
            r["destroy_s"] = time.monotonic() - td
            r["destroy_ms_per"] = r["destroy_s"] * 1000 / n
            if not dpool.idle():
                problems.append(f"{len(dpool.running)} xl destroy still running after "
                                f"{DESTROY_TIMEOUT:g} s")
                dpool.kill()
            bad = [(i, rc, err) for i, (rc, err) in dpool.done.items() if rc != 0]
            if bad:
                i, rc, err = bad[0]
                problems.append(f"{len(bad)} xl destroy failed, e.g. dens-{i + 1}: "
                                f"{rc} {err.strip()[-300:]}")

            # leftovers
            left = {}
            end = time.monotonic() + 10
            while True:
                lp = [p for p in vmm_density.our_processes(tmp)
                      if p != xs_pid and proc_state(p) not in (None, "Z")]
                if not lp or time.monotonic() > end:
                    break
                time.sleep(0.1)
            left["processes"] = len(lp)
            left["xenstored fds"] = max(0, benchlib.proc_fds(xs_pid) - xs_fds0)
            left["/local/domain nodes"] = len([d for d in inst.xs_list("/local/domain")
                                               if d != "0"])
            left["/vm nodes"] = len(inst.xs_list("/vm"))
            left["/libxl nodes"] = len(inst.xs_list("/libxl"))
            left["vif/tap interfaces"] = len(vif_taps() - taps0)
            sfiles = [f for f in os.listdir(inst.state) if f not in ("lock", "last-domid")]
            rfiles = [os.path.join(d, f) for d, _, fs in os.walk(inst.rundir) for f in fs]
            left["state files"] = len(sfiles)
            left["run files"] = len(rfiles)
            r["left"] = left
            for k, v in left.items():
                if v:
                    problems.append(f"left behind: {v} {k}")
            clog = os.path.join(inst.logdir, "console")
            r["console_logs"] = len([f for f in os.listdir(clog) if f.startswith("guest-")]) \
                if os.path.isdir(clog) else 0
            for f in sorted(os.listdir(inst.logdir)):
                path = os.path.join(inst.logdir, f)
                if not os.path.isfile(path):
                    continue
                with open(path, errors="replace") as fh:
                    text = fh.read()
                if ": error:" in text or any(m in text for m in vmm_density.SANITIZER_MARKS):
                    problems.append(f"{f} reports an error: {text.strip()[-300:]}")
                    break
            time.sleep(0.5)
            r["mem_not_returned_kib"] = max(0, mem0 - benchlib.mem_available_kib())
            cg.remove()
        finally:
            # whatever is still alive (only after a failure): the VMMs and monitors
            for p in vmm_density.our_processes(tmp):
                if p != inst.xs.pid:
                    try:
                        os.kill(p, 9)
                    except OSError:
                        pass
            inst.close()
    if vmm_density.own_fds() > fds_before:
        problems.append(f"this script holds {vmm_density.own_fds() - fds_before} "
                        "more descriptors")
    r["problems"] = problems
    return r


# --- stepped run (--steps): every operation timed at 1, 1,000, ... domains --

PROBES = int(os.environ.get("XL_DENSITY_PROBES", "3"))  # probe domains per step: each timed create, then destroy


def xs_read_us(sock, path, n=2000):
    """Mean round trip of n XS_READs of path on one connection (µs)."""
    import struct
    body = path.encode() + b"\0"
    req = struct.pack("<IIII", 2, 0, 0, len(body)) + body       # XS_READ
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(sock)
        t = time.perf_counter()
        for _ in range(n):
            s.sendall(req)
            hdr = s.recv(16, socket.MSG_WAITALL)
            ln = struct.unpack("<IIII", hdr)[3]
            s.recv(ln, socket.MSG_WAITALL)
        return (time.perf_counter() - t) * 1e6 / n


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            out[k] = int(v.split()[0])
    return out


def kvm_workers():
    """KVM's per-VM kernel threads (kvm-nx-lpage-recovery) on the host."""
    n = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                for tid in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{tid}/comm") as f:
                        if f.read().startswith("kvm-nx-lpage"):
                            n += 1
            except OSError:
                pass
    return n


def first_console_byte_ms(inst, cfg, log):
    """`xl create` started -> the first byte in the domain's console log."""
    t0 = time.perf_counter()
    p = subprocess.Popen([inst.xl, "create", "-q", cfg], env=inst.env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    end = time.monotonic() + 60
    t1 = None
    while time.monotonic() < end:
        try:
            if os.stat(log).st_size > 0:
                t1 = time.perf_counter()
                break
        except FileNotFoundError:
            pass
        time.sleep(0.0002)
    err = p.communicate()[1].decode(errors="replace")
    if p.returncode != 0 or t1 is None:
        raise RuntimeError(f"probe create failed: {p.returncode} {err.strip()[-300:]}")
    return (t1 - t0) * 1000


def timed(cmd, env):
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.returncode} {r.stderr.decode()[-300:]}")
    return (time.perf_counter() - t) * 1000, r.stdout


def cg_breakdown(path, n):
    """With $XL_DENSITY_CGSTAT: where the cgroup's charge goes, KiB a
    domain (memory.stat's user pages, kmem, and the slab caches charged)."""
    def kib(name):
        with open(os.path.join(path, name)) as f:
            return int(f.read()) / 1024 / n
    with open(os.path.join(path, "memory.stat")) as f:
        st = dict(l.split() for l in f)
    user = {k: int(st[k]) / 1024 / n for k in ("rss", "shmem", "cache", "mapped_file")
            if k in st}
    slabs = []
    try:
        with open(os.path.join(path, "memory.kmem.slabinfo")) as f:
            for line in f:
                w = line.split()
                if len(w) > 5 and w[1].isdigit():
                    # name active_objs num_objs objsize objperslab pagesperslab
                    slabs.append((int(w[2]) * int(w[3]) / 1024 / n, w[0]))
    except OSError:
        pass
    slabs.sort(reverse=True)
    note(f"cgroup, KiB a domain: usage {kib('memory.usage_in_bytes'):.1f}, kmem "
         f"{kib('memory.kmem.usage_in_bytes'):.1f}; "
         + ", ".join(f"{k} {v:.1f}" for k, v in user.items()))
    if slabs:       # empty on kernels whose cgroup v1 no longer fills it (6.18)
        note("slab caches: " + ", ".join(f"{nm} {v:.1f}" for v, nm in slabs[:14]))


def monitor_pid(inst):
    for p in vmm_density.our_processes(inst.tmp):
        try:
            with open(f"/proc/{p}/comm") as f:
                if f.read().strip() == "xenon-monitor":
                    return p
        except OSError:
            pass
    return None


def run_steps(steps, memory, parallel, guest):
    """Grow to each count in steps with `xl create` (parallel at a time),
    time the probes there, then destroy all and count what is left."""
    problems, rows = [], []
    build = benchlib.BUILD
    taps0 = vif_taps()
    with tempfile.TemporaryDirectory(prefix="xl-density-") as tmp:
        inst = Instance(tmp, build)
        try:
            cfgdir = os.path.join(tmp, "cfg")
            os.mkdir(cfgdir)
            os.makedirs(inst.state, exist_ok=True)

            def cfg(name):
                path = os.path.join(cfgdir, f"{name}.cfg")
                if not os.path.exists(path):
                    with open(path, "w") as f:
                        f.write(f'name = "{name}"\ntype = "pvh"\nkernel = "{guest}"\n'
                                f'memory = {memory}\n')
                return path
            clog = lambda name: os.path.join(inst.logdir, "console", f"guest-{name}.log")
            time.sleep(0.2)
            xs_pid = inst.xs.pid
            m0 = meminfo()
            kw0 = kvm_workers()
            cg = benchlib.MemCgroup("xl-density-steps")
            cgkw = dict(preexec_fn=cg.join) if cg.path else None
            have = 0
            for step in steps:
                t = time.monotonic()
                names = [f"dens-{i}" for i in range(have + 1, step + 1)]
                pool = Pool([[inst.xl, "create", "-q", cfg(nm)] for nm in names], parallel,
                            inst.env, cgkw)
                while not pool.idle():
                    pool.step()
                    time.sleep(0.005)
                bad = [(i, rc, err) for i, (rc, err) in pool.done.items() if rc != 0]
                if bad:
                    i, rc, err = bad[0]
                    problems.append(f"{len(bad)} xl create failed at step {step}, e.g. "
                                    f"{names[i]}: {rc} {err.strip()[-300:]}")
                    break
                grow_s = time.monotonic() - t
                # every domain up (its console says so), once per step
                end = time.monotonic() + READY_TIMEOUT
                pending = [f"dens-{i}" for i in range(have + 1, step + 1)]
                while pending and time.monotonic() < end:
                    left = []
                    for nm in pending:
                        try:
                            with open(clog(nm), "rb") as f:
                                if READY_TEXT not in f.read():
                                    left.append(nm)
                        except FileNotFoundError:
                            left.append(nm)
                    pending = left
                    if pending:
                        time.sleep(0.2)
                if pending:
                    problems.append(f"step {step}: {len(pending)} never said idle: up")
                    break
                have = step
                time.sleep(1.0)
                m = meminfo()
                n = have
                row = dict(n=n, grow_s=grow_s, grow_per_s=len(names) / grow_s if names else None)
                row["mem_kib_per"] = (m0["MemAvailable"] - m["MemAvailable"]) / n
                for k in ("Slab", "PageTables", "KernelStack"):
                    row[k] = (m[k] - m0[k]) / n
                cu = cg.usage_kib()
                row["cg_kib_per"] = None if cu is None else cu / n
                if os.environ.get("XL_DENSITY_CGSTAT") and cg.path:
                    cg_breakdown(cg.path, n)
                if os.environ.get("XL_DENSITY_HOLD"):       # inspect by hand
                    time.sleep(float(os.environ["XL_DENSITY_HOLD"]))
                row["xs_rss_kib"] = proc_kib(xs_pid, "VmRSS")
                row["xs_fds"] = benchlib.proc_fds(xs_pid)
                mp = monitor_pid(inst)
                row["mon_fds"] = benchlib.proc_fds(mp) if mp else None
                row["mon_rss_kib"] = proc_kib(mp, "VmRSS") if mp else None
                ours = [p for p in vmm_density.our_processes(tmp) if p != xs_pid]
                tasks = 0
                for p in ours:
                    try:
                        tasks += len([t for t in os.listdir(f"/proc/{p}/task")])
                    except OSError:
                        pass
                # the KVM worker counts among a VMM's tasks (a thread of it)
                row["tasks_per"] = tasks / n
                row["kvm_workers_per"] = (kvm_workers() - kw0) / n
                row["xs_read_us"] = xs_read_us(inst.sock, "/local/domain/1/name")
                row["list_ms"], out = timed([inst.xl, "list"], inst.env)
                shown = len(out.splitlines()) - 2
                if shown != n:
                    problems.append(f"step {step}: xl list shows {shown} of {n}")
                row["list_us_per"] = row["list_ms"] * 1000 / n
                creates, destroys = [], []
                for k in range(PROBES):
                    nm = f"probe-{step}-{k}"
                    creates.append(first_console_byte_ms(inst, cfg(nm), clog(nm)))
                for k in range(PROBES):
                    destroys.append(timed([inst.xl, "destroy", f"probe-{step}-{k}"],
                                          inst.env)[0])
                row["create_ms"] = sorted(creates)[PROBES // 2]
                row["destroy_ms"] = sorted(destroys)[PROBES // 2]
                rows.append(row)
                note(f"{n} up: create->console {row['create_ms']:.1f} ms, list "
                     f"{row['list_ms']:.0f} ms ({row['list_us_per']:.0f} us/domain), destroy "
                     f"{row['destroy_ms']:.1f} ms, xs read {row['xs_read_us']:.0f} us, "
                     f"{row['mem_kib_per']:.0f} KiB/domain (slab {row['Slab']:.0f}, page "
                     f"tables {row['PageTables']:.0f}, stacks {row['KernelStack']:.0f}; cgroup "
                     f"{row['cg_kib_per'] or 0:.0f}), "
                     f"{row['tasks_per']:.2f} tasks/domain, xenstored {row['xs_rss_kib']} KiB "
                     f"{row['xs_fds']} fds, monitor {row['mon_fds']} fds "
                     f"{row['mon_rss_kib']} KiB; grew at {row['grow_per_s'] or 0:.0f}/s")
            # destroy all
            t = time.monotonic()
            dpool = Pool([[inst.xl, "destroy", f"dens-{i}"] for i in range(1, have + 1)],
                         parallel, inst.env)
            while not dpool.idle():
                dpool.step()
                time.sleep(0.005)
            destroy_all_s = time.monotonic() - t
            bad = [(i, rc, err) for i, (rc, err) in dpool.done.items() if rc != 0]
            if bad:
                problems.append(f"{len(bad)} xl destroy failed")
            left = {}
            end = time.monotonic() + 10
            while True:
                lp = [p for p in vmm_density.our_processes(tmp)
                      if p != xs_pid and proc_state(p) not in (None, "Z")]
                if not lp or time.monotonic() > end:
                    break
                time.sleep(0.1)
            left["processes"] = len(lp)
            left["xenstored fds"] = max(0, benchlib.proc_fds(xs_pid) - rows[0]["xs_fds"] + 1) \
                if rows else 0
            left["/local/domain nodes"] = len([d for d in inst.xs_list("/local/domain")
                                               if d != "0"])
            left["/vm nodes"] = len(inst.xs_list("/vm"))
            left["/libxl nodes"] = len(inst.xs_list("/libxl"))
            left["vif/tap interfaces"] = len(vif_taps() - taps0)
            left["state files"] = len([f for f in os.listdir(inst.state)
                                       if f not in ("lock", "last-domid")])
            left["run files"] = len([f for d, _, fs in os.walk(inst.rundir) for f in fs])
            for k, v in left.items():
                if v:
                    problems.append(f"left behind: {v} {k}")
            cg.remove()
            note(f"destroyed {have} in {destroy_all_s:.1f} s ({parallel} at a time); left: " +
                 ", ".join(f"{k} {v}" for k, v in left.items()))
        finally:
            for p in vmm_density.our_processes(tmp):
                if p != inst.xs.pid:
                    try:
                        os.kill(p, 9)
                    except OSError:
                        pass
            inst.close()
    return rows, left if rows else {}, problems


def steps_table(rows, left, memory, parallel):
    print(f"| domains up | `xl create` → first console byte | `xl list` (per domain) | "
          f"`xl destroy NAME` | xenstore read | host memory per domain (MemAvailable; cgroup of "
          f"VMMs + monitor) | kernel: slab / "
          f"page tables / stacks per domain | tasks per domain | xenstored RSS, fds | "
          f"monitor fds |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['n']:,} | {r['create_ms']:.1f} ms | {r['list_ms']:.0f} ms "
              f"({r['list_us_per']:.0f} µs) | {r['destroy_ms']:.1f} ms | "
              f"{r['xs_read_us']:.0f} µs | {r['mem_kib_per']:.0f} KiB; "
              f"{r['cg_kib_per'] or 0:.0f} KiB | "
              f"{r['Slab']:.0f} / {r['PageTables']:.0f} / {r['KernelStack']:.0f} KiB | "
              f"{r['tasks_per']:.2f} | {r['xs_rss_kib'] / 1024:.1f} MiB, {r['xs_fds']:,} | "
              f"{r['mon_fds']} |")
    print("\nleft after destroying all: " + ", ".join(f"{k} {v}" for k, v in left.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=int(os.environ.get("XL_DENSITY_N", "1000")))
    ap.add_argument("--memory", type=int, default=16, help="MiB per domain")
    ap.add_argument("--parallel", type=int, default=0,
                    help="xl processes in flight (0: all at once)")
    ap.add_argument("--destroy-parallel", type=int, default=4 * (os.cpu_count() or 1),
                    help="xl destroy processes in flight (0: all at once)")
    ap.add_argument("--peer-count", type=int, default=None)
    ap.add_argument("--guest", default=None)
    ap.add_argument("--steps", default=None,
                    help="comma-separated counts (e.g. 1,1000,2000,4000,8000): grow "
                    "through each with --parallel (default 8) at a time and time every "
                    "operation there; prints a Markdown table")
    benchlib.add_run_mode_args(ap)
    a = ap.parse_args()
    benchlib.need_kvm()
    benchlib.xen_tool("xenstore-list")      # skips without it
    n = a.count
    guest = a.guest or benchlib.guest("idle-64")
    if a.steps:
        steps = [int(x) for x in a.steps.split(",")]
        par = a.parallel or 8
        # Nothing of the host is raised (pid_max, threads-max, the open-files
        # limit): the domains must fit in what the host has.
        note(f"stepped: {steps} idle domains ({a.memory} MiB), {par} `xl create` at a time")
        rows, left, problems = run_steps(steps, a.memory, par, guest)
        steps_table(rows, left, a.memory, par)
        for p in problems:
            note("PROBLEM: " + p)
        sys.exit(1 if problems else 0)
    # the monitors (one per domain) and each xl's descriptors come on top
    vmm_density.raise_limits(2 * n)
    how = "all at once" if a.parallel == 0 else f"{a.parallel} at a time"
    dhow = "all at once" if a.destroy_parallel == 0 else f"{a.destroy_parallel} at a time"
    note(f"xl create {n} idle domains ({a.memory} MiB, {how}; destroy {dhow})")
    x = run(n, a.memory, a.parallel, a.destroy_parallel, guest)
    note(f"{x.get('answered', 0)}/{n} answered on their consoles in "
         f"{x.get('start_s', 0):.1f} s ({x.get('per_s', 0):.1f}/s; to the last 'idle: up' "
         f"{x.get('per_s_up', 0):.1f}/s); {x.get('mem_kib_per', 0):.0f} KiB/domain "
         f"(cgroup {x.get('cg_kib_per') or 0:.0f}, kernel {x.get('cg_kmem_kib_per') or 0:.0f}); "
         f"{x.get('procs_per', 0):.2f} processes/domain; xenstored {x.get('xs_fds', 0)} fds "
         f"(before {x.get('xs_fds0', 0)}), {x.get('xs_rss_kib', 0)} KiB RSS; "
         f"idle CPU {x.get('idle_cpu_ms', 0):.0f} ms over {IDLE_S:g} s; destroyed in "
         f"{x.get('destroy_s', 0):.1f} s; MemAvailable not back: "
         f"{x.get('mem_not_returned_kib', 0) / 1024:.0f} MiB")
    note("left: " + ", ".join(f"{k} {v}" for k, v in x.get("left", {}).items()) +
         f"; console logs kept: {x.get('console_logs', 0)}")
    for p in x["problems"]:
        note("PROBLEM: " + p)
    ok = not x["problems"] and x.get("answered") == n
    if a.check:
        sys.exit(0 if ok else 1)

    pn = a.peer_count if a.peer_count is not None else int(
        os.environ.get("XL_DENSITY_PEER_N", str(n)))
    q = None
    if pn > 0:
        note(f"peer: {pn} xenon-vmm started directly")
        d = vmm_density.run(pn, vmm_density.xenon_cmd(benchlib.vmm(), guest, a.memory),
                            "idle: up", 2, "xenon", ["dom{i}.log"])
        q = dict(per_s_up=d["per_s"], mem_kib_per=d["mem_kib_per"],
                 cg_kib_per=d["cg_kib_per"], cg_kmem_kib_per=d["cg_kmem_kib_per"],
                 idle_cpu_ms_per=d["idle_cpu_ms_per"], destroy_ms_per=d["destroy_ms_per"],
                 procs_per=1.0)
        note(f"peer: {d['answered']}/{pn} up in {d['start_s']:.1f} s ({d['per_s']:.1f}/s); "
             f"{d['mem_kib_per']:.0f} KiB each; destroyed in {d['destroy_s']:.1f} s")
        for p in d["problems"]:
            note("PEER PROBLEM: " + p)
    peer = (f"xenon-vmm started directly (no xl, no xenstored), x{pn} at once"
            if q else None)

    def emit(metric, key, unit, ratio_means, goal=None, nd=1, lower_better=True,
             peer_key=None, with_peer=True):
        if x.get(key) is None:
            return
        xv = round(x[key], nd)
        qk = peer_key or key
        qv = round(q[qk], nd) if with_peer and q and q.get(qk) is not None else None
        ratio = None
        if qv is not None and x[key] and q[qk]:
            ratio = round(x[key] / q[qk] if lower_better else q[qk] / x[key], 2)
        if ratio_means and not lower_better:
            ratio_means = ratio_means.replace("xl / direct VMM", "direct VMM / xl")
        benchlib.emit(bench="xl", metric=metric, value=xv, unit=unit,
                      peer=peer if qv is not None else None, peer_value=qv, ratio=ratio,
                      ratio_means=ratio_means if qv is not None else None, goal=goal)
    cost = "xl / direct VMM (toolstack cost factor)"
    emit(f"xl density: {n} `xl create` {how}, started per second to the last console echo",
         "per_s", "domains/s", cost + "; peer: to the last 'idle: up'", lower_better=False,
         peer_key="per_s_up")
    emit(f"xl density: host memory per idle domain ({n} up, MemAvailable)", "mem_kib_per",
         "KiB", cost, nd=0)
    emit(f"xl density: memory charged per idle domain ({n} up, cgroup: xl, monitor, VMM)",
         "cg_kib_per", "KiB", cost, nd=0)
    emit(f"xl density: processes per domain ({n} up: VMM + monitor)", "procs_per", "",
         cost, nd=2)
    emit(f"xl density: xenstored memory per domain ({n} up, VmRSS delta)", "xs_rss_kib_per",
         "KiB", None, nd=1, with_peer=False)
    emit(f"xl density: xenstored descriptors with {n} domains up", "xs_fds", "", None,
         nd=0, with_peer=False)
    emit(f"xl density: CPU time per idle domain over {IDLE_S:g} s ({n} up, incl. "
         "monitors and xenstored)", "idle_cpu_ms_per", "ms", cost, goal="~0", nd=3)
    emit(f"xl density: destroy time per domain ({n} `xl destroy NAME`, {dhow})", "destroy_ms_per",
         "ms", cost + " (SIGTERM)", nd=2)
    left = sum(x.get("left", {}).values()) if "left" in x else None
    if left is not None:
        benchlib.emit(bench="xl", metric=f"xl density: things left after destroying {n} "
                      "(processes, xenstored fds, xenstore nodes, taps, state/run files)",
                      value=left, unit="", peer=None, peer_value=None, ratio=None,
                      ratio_means=None, goal="0")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
