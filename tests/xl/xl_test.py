#!/usr/bin/env python3
"""xl end-to-end tests: `xl_test.py SCENARIO`.

Each run uses a private temp dir: its own xenon-xenstored (--socket), and
XENON_STATE_DIR / XENON_RUN_DIR / XENON_LOG_DIR / XENSTORED_PATH pointing
into it, so tests never touch /run, /var or each other. Scenarios that run
guests skip (exit 77) without /dev/kvm.
"""
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("XENON_SOURCE_ROOT", os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("XENON_BUILD_ROOT", os.path.join(SRC, "build"))
XL = os.path.join(BUILD, "xl", "xl")
XENSTORED = os.path.join(BUILD, "xenstored", "xenon-xenstored")
VMM = os.path.join(BUILD, "vmm", "xenon-vmm")
HEADER = "Name                                        ID   Mem VCPUs\tState\tTime(s)"
ROW = re.compile(r"^(.{40}) +(\d+) +(\d+) +(\d+)     ([r-][b-][p-][s-][-rscwS?][d-])  +(\d+\.\d)$")

failures = []


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f": {detail}" if detail and not ok else ""))
    if not ok:
        failures.append(what)
    return ok


def skip(why):
    print(f"skipped: {why}")
    sys.exit(77)


def need_kvm():
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        skip("/dev/kvm is missing or not accessible")


def wait_for(cond, secs):
    end = time.time() + secs
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    return cond()


class Env:
    def __init__(self, xenstored=True):
        self.tmp = tempfile.mkdtemp(prefix="xl-test-")
        self.xs_sock = os.path.join(self.tmp, "xs.sock")
        self.env = dict(os.environ,
                        XENSTORED_PATH=self.xs_sock,
                        XENON_STATE_DIR=os.path.join(self.tmp, "state"),
                        XENON_RUN_DIR=os.path.join(self.tmp, "run"),
                        XENON_LOG_DIR=os.path.join(self.tmp, "log"),
                        XENON_VMM=VMM)
        self.xs = None
        if xenstored:
            self.xs = subprocess.Popen([XENSTORED, "-N", "--socket", self.xs_sock,
                                        "--data-dir", os.path.join(self.tmp, "xsdata"),
                                        "--pid-file", "",
                                        "--log-file", os.path.join(self.tmp, "xs.log")])
            if not wait_for(lambda: os.path.exists(self.xs_sock), 10):
                raise SystemExit("xenstored did not start")

    def xl(self, *args, input=None, timeout=60):
        r = subprocess.run([XL, *args], env=self.env, cwd=BUILD, input=input,
                           capture_output=True, timeout=timeout)
        return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")

    def cfg(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def xs_call(self, typ, payload):
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.xs_sock)
        s.sendall(struct.pack("<IIII", typ, 0, 0, len(payload)) + payload)
        hdr = s.recv(16, socket.MSG_WAITALL)
        rtype, _, _, n = struct.unpack("<IIII", hdr)
        body = s.recv(n, socket.MSG_WAITALL) if n else b""
        s.close()
        return rtype, body

    def xs_dir(self, path):
        t, body = self.xs_call(1, path.encode() + b"\0")    # XS_DIRECTORY
        if t != 1:
            return None
        return [x.decode() for x in body.split(b"\0") if x]

    def xs_read(self, path):
        t, body = self.xs_call(2, path.encode() + b"\0")    # XS_READ
        return body.decode() if t == 2 else None

    def rows(self):
        rc, out, err = self.xl("list")
        rows = {}
        for line in out.splitlines()[1:]:
            m = ROW.match(line)
            if m:
                rows[m.group(1).rstrip()] = m
        return rows

    def state_files(self):
        d = self.env["XENON_STATE_DIR"]
        return sorted(f for f in os.listdir(d) if f != "lock") if os.path.isdir(d) else []

    def sockets(self):
        d = os.path.join(self.env["XENON_RUN_DIR"], "console")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def vmm_pids(self):
        """xenon-vmm processes started for this test's xenstored."""
        pids = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                cmd = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")
                st = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if st != "Z" and cmd and cmd[0].endswith(b"xenon-vmm") and self.xs_sock.encode() in cmd:
                pids.append(int(p))
        return pids

    def check_empty(self, what):
        """Nothing of any guest left: no process, node, state file, socket."""
        ok = True
        ok &= check(f"{what}: no xenon-vmm left", wait_for(lambda: not self.vmm_pids(), 10),
                    str(self.vmm_pids()))
        doms = self.xs_dir("/local/domain") or []
        ok &= check(f"{what}: no /local/domain/N left", not [d for d in doms if d != "0"], str(doms))
        ok &= check(f"{what}: no /vm/UUID left", not (self.xs_dir("/vm") or []),
                    str(self.xs_dir("/vm")))
        ok &= check(f"{what}: no /libxl/N left", not (self.xs_dir("/libxl") or []),
                    str(self.xs_dir("/libxl")))
        ok &= check(f"{what}: no state file left", not self.state_files(), str(self.state_files()))
        ok &= check(f"{what}: no console socket left", not self.sockets(), str(self.sockets()))
        return ok

    def console_log(self, name):
        try:
            return open(os.path.join(self.env["XENON_LOG_DIR"], "console",
                                     f"guest-{name}.log"), errors="replace").read()
        except OSError:
            return ""

    def close(self):
        for pid in self.vmm_pids():
            os.kill(pid, signal.SIGKILL)
        if self.xs:
            self.xs.send_signal(signal.SIGTERM)
            self.xs.wait(timeout=30)
        if failures or os.environ.get("XS_KEEP_TMP"):
            logd = self.env["XENON_LOG_DIR"]
            for root, _, files in os.walk(logd):
                for f in files:
                    print(f"--- {os.path.join(root, f)}")
                    print(open(os.path.join(root, f), errors="replace").read()[-3000:])
        if not os.environ.get("XS_KEEP_TMP"):
            shutil.rmtree(self.tmp, ignore_errors=True)


def idle_cfg(e, name="idle", extra=""):
    return e.cfg(f"{name}.cfg", f'name = "{name}"\ntype = "pvh"\n'
                 f'kernel = "guests/guest-idle-64"\nmemory = 16\nvcpus = 1\n{extra}')


# --- scenarios ---------------------------------------------------------------

def console_session(e, args, line):
    """Run xl ARGS with a pipe as its terminal, type LINE, wait for the idle
    guest's echo, then ^]. Returns (exit status, output)."""
    p = subprocess.Popen([XL, *args], env=e.env, cwd=BUILD, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    want = b"idle: got " + line
    got = b""
    os.set_blocking(p.stdout.fileno(), False)
    end = time.time() + 15
    next_type = 0
    while want not in got and time.time() < end:
        if time.time() >= next_type:       # again, until the console is attached
            p.stdin.write(line + b"\r")
            p.stdin.flush()
            next_type = time.time() + 1
        try:
            chunk = p.stdout.read()
            if chunk:
                got += chunk
        except (BlockingIOError, TypeError):
            pass
        time.sleep(0.05)
    p.stdin.write(b"\x1d")
    p.stdin.flush()
    try:
        rc = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = None
    return rc, got


def t_create_console(e):
    need_kvm()
    cfg = idle_cfg(e)
    rc, got = console_session(e, ["create", "-c", cfg], b"ping")
    check("create -c attaches the console", b"idle: got ping" in got, got)
    check("create -c: ^] leaves with exit 0", rc == 0, rc)
    r = e.rows().get("idle")
    check("the domain keeps running after ^]", r is not None and r.group(5)[:2] in ("r-", "-b"))
    # shutdown -w: the idle guest ignores the request; -w returns once the
    # domain is gone (here: destroyed).
    w = subprocess.Popen([XL, "shutdown", "-w", "idle"], env=e.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    check("shutdown -w waits", w.poll() is None)
    rc, _, err = e.xl("destroy", "idle")
    check("destroy: exit 0", rc == 0, err)
    try:
        out, werr = w.communicate(timeout=10)
        check("shutdown -w returns when the domain is gone", w.returncode == 0 and
              werr == b"Shutting down domain 1\nWaiting for 1 domains\nDomain 1 has been destroyed\n", werr)
    except subprocess.TimeoutExpired:
        w.kill()
        check("shutdown -w returns when the domain is gone", False, "timeout")
    e.check_empty("after create -c and destroy")


def t_create_console_hello(e):
    """The demo's own command, many times: `xl create -c examples/hello.cfg`
    must show all of the guest's output every time, though the guest prints
    and powers off at once (xl attaches before it can print; the VMM keeps
    output no client has seen and replays it)."""
    need_kvm()
    hello = os.path.join("examples", "hello.cfg")
    kernel = os.path.join(BUILD, "guests", "guest-hello-64")
    runs, missed = 20, []
    for i in range(runs):
        r = subprocess.run([XL, "create", "-c", hello, f'kernel="{kernel}"'], env=e.env,
                           cwd=SRC, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=60)
        out = r.stdout.decode(errors="replace")
        if (r.returncode != 0 or "Hello from Xenon on the PV console" not in out or
                "RESULT hello: PASS" not in out):
            missed.append((i, r.returncode, out[-300:], r.stderr.decode(errors="replace")[-300:]))
        wait_for(lambda: "hello" not in e.rows(), 10)
    check(f"create -c shows all of hello's output in {runs} of {runs} runs", not missed,
          f"{len(missed)} missed, first: {missed[:1]}")
    # A console attached later sees what the guest printed before it.
    cfg = idle_cfg(e)
    rc, _, err = e.xl("create", cfg)
    check("create idle: exit 0", rc == 0, err)
    wait_for(lambda: "idle: up" in e.console_log("idle"), 10)
    r = subprocess.Popen([XL, "console", "idle"], env=e.env, cwd=BUILD,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    got = b""
    end = time.time() + 10
    os.set_blocking(r.stdout.fileno(), False)
    while time.time() < end and b"idle: up" not in got:
        time.sleep(0.05)
        got += r.stdout.read() or b""
    r.kill()
    r.wait()
    check("a later xl console replays what the guest printed before", b"idle: up" in got, got)
    e.xl("destroy", "idle")


def t_parallel(e):
    need_kvm()
    cfgs = [idle_cfg(e, f"par{i}") for i in range(4)]
    procs = [subprocess.Popen([XL, "create", c], env=e.env, cwd=BUILD,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in cfgs]
    rcs = [p.wait(timeout=60) for p in procs]
    check("four parallel creates: all exit 0", rcs == [0] * 4, rcs)
    rows = e.rows()
    ids = sorted(int(rows[f"par{i}"].group(2)) for i in range(4) if f"par{i}" in rows)
    check("four parallel creates: domids 1..4, each once", ids == [1, 2, 3, 4], ids)
    check("four VMMs run", len(e.vmm_pids()) == 4, e.vmm_pids())
    old = rows["par2"].group(2) if "par2" in rows else None
    rc, _, err = e.xl("destroy", "par2")
    rc2, _, err2 = e.xl("create", cfgs[2])
    check("the freed domid is taken again", rc == 0 and rc2 == 0 and
          e.rows().get("par2") and e.rows()["par2"].group(2) == old, (err, err2))
    for i in range(4):
        e.xl("destroy", f"par{i}")
    e.check_empty("after destroying all")


def t_lookup(e):
    """Commands find a domain by number or by name (xenstore's name, else
    the state file's), as `xl list` shows it; none else."""
    need_kvm()
    for nm in ("lk1", "lk2"):
        rc, _, err = e.xl("create", "-q", idle_cfg(e, nm))
        check(f"create {nm}", rc == 0, err)
    rc, _, err = e.xl("pause", "lk2")
    check("pause by name", rc == 0, err)
    check("the named domain is paused", (e.rows().get("lk2") or [None] * 6)[5][2:3] == "p")
    rc, _, err = e.xl("unpause", "2")
    check("unpause by number", rc == 0, err)
    for spec in ("nosuch", "7", "lk"):
        rc, _, err = e.xl("pause", spec)
        check(f"no domain {spec!r}: fails", rc != 0 and "invalid domain identifier" in err.lower(),
              (rc, err))
    # Without its xenstore name the domain is still found by its state file.
    e.xs_call(13, b"/local/domain/2/name\0")      # XS_RM
    check("the xenstore name is gone", e.xs_read("/local/domain/2/name") is None)
    rc, _, err = e.xl("destroy", "lk2")
    check("destroy by the state file's name", rc == 0, err)
    rc, _, err = e.xl("destroy", "lk1")
    check("destroy lk1", rc == 0, err)
    e.check_empty("after destroying both")


def t_perms_many_vcpus(e):
    """With maxvcpus=40 the set-up writes more nodes than it remembers for
    permission inheritance; every node must still get libxl's set."""
    need_kvm()
    rc, _, err = e.xl("create", "-q", idle_cfg(e, "wide", "maxvcpus = 40\n"))
    check("create with maxvcpus=40", rc == 0, err)
    d = "/local/domain/1"
    for node, want in ((d, "n0\0r1\0"), (f"{d}/cpu/39/availability", "n0\0r1\0"),
                       (f"{d}/control/shutdown", "n1\0"), (f"{d}/error", "n1\0"),
                       (f"{d}/store/port", "n0\0r1\0"), (f"{d}/console", "n1\0"),
                       (f"{d}/console/port", "n0\0r1\0"),
                       (f"{d}/console/type", "n0\0r1\0")):
        t, body = e.xs_call(3, node.encode() + b"\0")    # XS_GET_PERMS
        check(f"perms of {node}", t == 3 and body.decode() == want, body)
    check("cpu 39 offline", e.xs_read(f"{d}/cpu/39/availability") == "offline")
    rc, _, err = e.xl("destroy", "wide")
    check("destroy", rc == 0, err)
    e.check_empty("after destroy")


def t_cli(e):
    rc, out, err = e.xl("frobnicate")
    check("unknown command: exit 1", rc == 1, rc)
    check("unknown command: message", err == "command not implemented\n", repr(err))
    rc, out, err = e.xl("help")
    check("help: exit 0 and usage", rc == 0 and out.startswith("Usage xl [-vfNtT] <subcommand> [args]\n"), out[:80])
    check("help lists create", re.search(r"^ create +Create a domain", out, re.M) is not None)
    rc, out, err = e.xl("help", "cr")
    check("help create by prefix", rc == 0 and "Usage: xl [-vtTN] create" in out, out[:80])
    rc, out, err = e.xl("li")
    check("unique prefix 'li' runs list", rc == 0 and out.startswith(HEADER + "\n"), out[:100])
    rc, out, err = e.xl("d", "x")
    check("ambiguous prefix 'd': not implemented", rc == 1 and err == "command not implemented\n", err)
    rc, out, err = e.xl("list")
    lines = out.splitlines()
    check("list: header exact", lines and lines[0] == HEADER, repr(lines[:1]))
    m = ROW.match(lines[1]) if len(lines) > 1 else None
    check("list: Domain-0 row first", m and m.group(1).rstrip() == "Domain-0" and m.group(2) == "0",
          repr(lines[1:2]))
    check("list: only Domain-0 when no guests", len(lines) == 2, out)
    rc, out, err = e.xl("destroy", "nosuch")
    check("destroy unknown domain: exit 1", rc == 1, rc)
    check("destroy unknown domain: message",
          err == "nosuch is an invalid domain identifier (rc=-6)\n", repr(err))
    rc, out, err = e.xl("console", "7")
    check("console unknown id: message", rc == 1 and "7 is an invalid domain identifier (rc=-6)" in err, err)
    rc, out, err = e.xl("destroy")
    check("destroy without argument: exit 2", rc == 2, rc)
    rc, out, err = e.xl("list", "-Z")
    check("bad option: exit 2", rc == 2, rc)
    rc, out, err = e.xl("-N", "list")
    check("-N on a command without dry run", rc == 1 and
          err == "command does not implement -N (dryrun) option\n", err)
    rc, out, err = e.xl("info")
    check("info: keys padded to 23 columns", rc == 0 and
          re.search(r"^host {19}: \S", out, re.M) and re.search(r"^nr_cpus {16}: \d+$", out, re.M), out)
    # No daemon: a clear error.
    env2 = dict(e.env, XENSTORED_PATH=os.path.join(e.tmp, "nothere"))
    r = subprocess.run([XL, "list"], env=env2, capture_output=True)
    check("no xenstored: exit 1 and message", r.returncode == 1 and
          b"cannot connect to xenstored at " + os.path.join(e.tmp, "nothere").encode() in r.stderr,
          r.stderr)


def t_dryrun(e):
    hello = os.path.join(SRC, "examples", "hello.cfg")
    for args in (["-N", "create", hello], ["create", "-n", hello]):
        rc, out, err = e.xl(*args, "memory=32")
        check(f"{' '.join(args[:2])}: exit 0", rc == 0, err)
        check(f"{' '.join(args[:2])}: Parsing config line", err == f"Parsing config from {hello}\n", repr(err))
        try:
            j = json.loads(out)
        except ValueError as ex:
            check("dry run prints JSON", False, f"{ex}: {out[:200]}")
            continue
        check("dry run JSON: name", j["c_info"]["name"] == "hello", j.get("c_info"))
        check("dry run JSON: override memory=32", j["b_info"]["max_memkb"] == 32768, j["b_info"].get("max_memkb"))
    check("dry run starts nothing", not e.state_files() and not e.vmm_pids())
    doms = e.xs_dir("/local/domain") or []
    check("dry run writes no xenstore node", not [d for d in doms if d != "0"], doms)


def t_badcfg(e):
    bad = e.cfg("bad.cfg", 'name = "x"\nmemory = 16\nkernel = foo\n')
    rc, out, err = e.xl("create", bad)
    check("bad config: exit 1", rc == 1, rc)
    check("bad config: Parsing config line", err.startswith(f"Parsing config from {bad}\n"), err)
    check("bad config: parse error line", f"{bad}:3: config parsing error near `foo'" in err, err)
    check("bad config: Failed to parse config", "Failed to parse config" in err, err)
    rc, out, err = e.xl("create", os.path.join(e.tmp, "missing.cfg"))
    check("missing config file: exit 3 and message", rc == 3 and
          err.startswith("Failed to read config file: " + os.path.join(e.tmp, "missing.cfg") + ": No such file"), err)
    noname = e.cfg("noname.cfg", 'memory = 16\nkernel = "x"\n')
    rc, out, err = e.xl("create", noname)
    check("config without name: refused", rc != 0, (rc, err))
    check("bad configs leave nothing", not e.state_files())


def t_failed_create(e):
    need_kvm()
    missing = idle_cfg(e, "nokernel", 'kernel = "/nonexistent/kernel"\n')
    rc, out, err = e.xl("create", missing)
    check("missing kernel: exit 3", rc == 3, (rc, err))
    check("missing kernel: error names the kernel", "/nonexistent/kernel" in err, err)
    e.check_empty("missing kernel")
    junk = e.cfg("junk.bin", "this is not a kernel\n" * 100)
    notelf = idle_cfg(e, "junk", f'kernel = "{junk}"\n')
    rc, out, err = e.xl("create", notelf)
    check("non-ELF kernel: exit 3", rc == 3, (rc, err))
    e.check_empty("non-ELF kernel")
    rc, out, err = e.xl("list")
    check("list after failed creates: Domain-0 only", len(out.splitlines()) == 2, out)


def t_lifecycle(e):
    need_kvm()
    cfg = idle_cfg(e)
    rc, out, err = e.xl("create", cfg)
    check("create idle: exit 0", rc == 0, err)
    check("create idle: Parsing config line only", err == f"Parsing config from {cfg}\n", repr(err))
    rows = e.rows()
    r = rows.get("idle")
    check("list shows idle", r is not None, rows.keys())
    if r:
        check("idle: domid 1, 16 MiB, 1 vCPU", (r.group(2), r.group(3), r.group(4)) == ("1", "16", "1"),
              r.group(0))
        check("idle: running or blocked", r.group(5)[:2] in ("r-", "-b"), r.group(5))
    # Same name again: refused, first domain untouched.
    rc, out, err = e.xl("create", cfg)
    check("duplicate name refused", rc == 3 and 'Domain with name "idle" already exists' in err, err)
    # xenstore layout
    check("xenstore name", e.xs_read("/local/domain/1/name") == "idle")
    check("xenstore domid", e.xs_read("/local/domain/1/domid") == "1")
    check("xenstore memory/target", e.xs_read("/local/domain/1/memory/target") == "16384")
    check("xenstore memory/static-max", e.xs_read("/local/domain/1/memory/static-max") == "16384")
    vm = e.xs_read("/local/domain/1/vm")
    check("xenstore vm -> /vm/UUID with name", vm and e.xs_read(vm + "/name") == "idle", vm)
    check("xenstore control/shutdown exists", e.xs_read("/local/domain/1/control/shutdown") == "")
    # Permissions as libxl: the home owned by dom0 and readable by the
    # domain; the nodes the guest writes owned by the domain.
    for node, want in (("/local/domain/1", "n0\0r1\0"), ("/local/domain/1/name", "n0\0r1\0"),
                       ("/local/domain/1/control", "n0\0r1\0"),
                       ("/local/domain/1/control/shutdown", "n1\0"),
                       ("/local/domain/1/data", "n1\0"), ("/local/domain/1/device", "n0\0r1\0"),
                       ("/local/domain/1/device/suspend/event-channel", "n1\0"),
                       (vm, "n0\0r1\0"), ("/libxl/1", "n0\0")):
        t, body = e.xs_call(3, node.encode() + b"\0")    # XS_GET_PERMS
        check(f"perms of {node}", t == 3 and body.decode() == want, body)
    check("guest printed its banner", wait_for(lambda: "idle: up (64-bit guest)" in e.console_log("idle"), 10),
          e.console_log("idle"))
    # Console: type a line, see the echo, leave with ^].
    rc, got = console_session(e, ["console", "idle"], b"hello console")
    check("xl console shows the guest's output", b"idle: got hello console" in got, got)
    check("^] leaves xl console with exit 0", rc == 0, rc)
    # mem-set, pause/unpause, uptime, list -l
    rc, out, err = e.xl("mem-set", "idle", "8")
    check("mem-set writes memory/target (MiB)", rc == 0 and e.xs_read("/local/domain/1/memory/target") == "8192", err)
    rows = e.rows()
    check("list shows the new target", rows.get("idle") and rows["idle"].group(3) == "8")
    # Pause returns once no vCPU runs, as Xen's does: xl list shows it at once.
    rc, _, err = e.xl("pause", "idle")
    r = e.rows().get("idle")
    check("pause: state p at once", rc == 0 and r and r.group(5)[2] == "p", (err, r and r.group(0)))
    rc, _, err = e.xl("pause", "idle")
    check("pause of a paused domain: exit 0", rc == 0, err)
    rc, _, err = e.xl("unpause", "1")
    r = e.rows().get("idle")
    check("unpause: state not p at once", rc == 0 and r and r.group(5)[2] == "-", (err, r and r.group(0)))
    rc, out, err = e.xl("vcpu-list")
    lines = out.splitlines()
    check("vcpu-list: header", rc == 0 and lines[0] == "Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)", lines[:1])
    check("vcpu-list: one row for the one vCPU of idle",
          len(lines) == 2 and re.match(r"^idle {28} +1 +0 +\d+   [r-][b-]-  +\d+\.\d  all / all$", lines[1]),
          lines)
    rc, out, err = e.xl("uptime")
    check("uptime lists idle", rc == 0 and re.search(r"^idle {33}1 +\d+:\d\d:\d\d$", out, re.M), out)
    rc, out, err = e.xl("list", "-l")
    try:
        j = json.loads(out)
        check("list -l: JSON with domid and config", j[0]["domid"] == 1 and
              j[0]["config"]["c_info"]["name"] == "idle", out[:200])
    except (ValueError, KeyError, IndexError) as ex:
        check("list -l: JSON", False, f"{ex}: {out[:200]}")
    # shutdown: PVH has PV control in xl's view: the request is written.
    rc, out, err = e.xl("shutdown", "idle")
    check("shutdown: message and exit 0", rc == 0 and err == "Shutting down domain 1\n", err)
    check("shutdown writes control/shutdown=poweroff",
          e.xs_read("/local/domain/1/control/shutdown") == "poweroff")
    rc, out, err = e.xl("reboot", "idle")
    check("reboot: message and exit 0", rc == 0 and err == "Rebooting domain 1\n", err)
    check("reboot writes control/shutdown=reboot",
          e.xs_read("/local/domain/1/control/shutdown") == "reboot")
    # destroy; a watch on @releaseDomain sees xenstored release the domain.
    w = socket.socket(socket.AF_UNIX)
    w.connect(e.xs_sock)
    w.settimeout(10)
    payload = b"@releaseDomain\0tok\0"
    w.sendall(struct.pack("<IIII", 4, 1, 0, len(payload)) + payload)     # XS_WATCH

    def read_msgs(until_events):
        events, buf = 0, b""
        try:
            while events < until_events:
                while len(buf) < 16:
                    buf += w.recv(4096)
                t, _, _, n = struct.unpack("<IIII", buf[:16])
                while len(buf) < 16 + n:
                    buf += w.recv(4096)
                buf = buf[16 + n:]
                events += t == 15                                         # XS_WATCH_EVENT
        except socket.timeout:
            pass
        return events
    read_msgs(1)            # the event a new watch fires at once
    rc, out, err = e.xl("destroy", "idle")
    check("destroy: exit 0, silent", rc == 0 and out == "" and err == "", (rc, err))
    check("destroy released the domain in xenstored (@releaseDomain fired)", read_msgs(1) == 1)
    w.close()
    e.check_empty("after destroy")
    rc, out, err = e.xl("list")
    check("list after destroy: Domain-0 only", len(out.splitlines()) == 2, out)
    # The freed domid is reused (lowest free).
    rc, _, err = e.xl("create", cfg)
    check("create again: domid 1 again", rc == 0 and e.rows().get("idle") and
          e.rows()["idle"].group(2) == "1", err)
    e.xl("destroy", "1")
    e.check_empty("after destroy by id")


def t_hello(e):
    need_kvm()
    hello = os.path.join(SRC, "examples", "hello.cfg")
    # The example names the kernel relative to the source tree's build/;
    # an override (appended after the file, as xl does) points at ours.
    kernel = os.path.join(BUILD, "guests", "guest-hello-64")
    rc, out, err = e.xl("create", hello, f'kernel="{kernel}"')
    check("create examples/hello.cfg kernel=...: exit 0", rc == 0, err)
    seen = e.rows().get("hello")
    # It powers off quickly: either listed now, or already gone.
    check("hello ran and printed", wait_for(lambda: "Hello from Xenon on the PV console" in
                                            e.console_log("hello"), 10), e.console_log("hello"))
    check("hello powered off: on_poweroff=destroy cleaned up",
          wait_for(lambda: "hello" not in e.rows(), 10))
    e.check_empty("after hello powered off")
    log = open(os.path.join(e.env["XENON_LOG_DIR"], "xl-hello.log")).read()
    check("xl log records the shutdown reason", "has shut down, reason code 0" in log, log)
    print("hello was listed while running" if seen else "hello was gone before xl list")
    # -F: xl itself waits until the domain is gone for good.
    rc, out, err = e.xl("create", "-F", hello, f'kernel="{kernel}"')
    check("create -F returns 0 once hello has powered off", rc == 0, err)
    check("create -F: nothing left when it returns",
          not e.state_files() and not e.vmm_pids() and
          not [d for d in (e.xs_dir("/local/domain") or []) if d != "0"])


def t_restart(e):
    need_kvm()
    cfg = e.cfg("reboot.cfg", 'name = "rebooter"\ntype = "pvh"\n'
                'kernel = "guests/guest-shutdown-64"\ncmdline = "reboot"\nmemory = 16\n'
                'on_reboot = "restart"\n')
    rc, out, err = e.xl("create", cfg)
    check("create rebooting guest: exit 0", rc == 0, err)
    logf = os.path.join(e.env["XENON_LOG_DIR"], "xl-rebooter.log")
    def restarts():
        try:
            return open(logf).read().count("Rebooting now")
        except OSError:
            return 0
    check("restarted at least twice", wait_for(lambda: restarts() >= 2, 20), restarts())
    log = open(logf).read()
    ids = [int(x) for x in re.findall(r"domain rebooter restarted as domain (\d+)", log)]
    check("Xen's wording in the log", "Action for shutdown reason code 1 is restart" in log and
          "Done. Rebooting now" in log, log[-500:])
    check("each restart gets a new domid", all(a != b for a, b in zip([1] + ids, ids)), ids)
    rc, out, err = e.xl("destroy", "rebooter")
    check("destroy a restarting domain by name", rc == 0, err)
    e.check_empty("after destroying the rebooting domain")


def t_preserve(e):
    need_kvm()
    cfg = e.cfg("crash.cfg", 'name = "crasher"\ntype = "pvh"\n'
                'kernel = "guests/guest-shutdown-64"\ncmdline = "crash"\nmemory = 16\n'
                'on_crash = "preserve"\n')
    rc, out, err = e.xl("create", cfg)
    check("create crashing guest: exit 0", rc == 0, err)
    r = wait_for(lambda: e.rows().get("crasher") if e.rows().get("crasher") and
                 e.rows()["crasher"].group(5)[3] == "s" else None, 10)
    check("crashed + preserve: listed with state s and reason c",
          r is not None and r.group(5) == "---sc-", r.group(0) if r else e.rows())
    rc, out, err = e.xl("destroy", "crasher")
    check("destroy a preserved domain", rc == 0, err)
    e.check_empty("after destroying the preserved domain")


def t_killed_monitor(e):
    need_kvm()
    rc, out, err = e.xl("create", idle_cfg(e))
    check("create idle: exit 0", rc == 0, err)
    st = dict(l.split("=", 1) for l in open(os.path.join(e.env["XENON_STATE_DIR"], "domain-1"))
              .read().splitlines())
    os.kill(int(st["monitor_pid"]), signal.SIGKILL)
    time.sleep(0.3)
    check("VMM survives its monitor", int(st["vmm_pid"]) in e.vmm_pids())
    r = e.rows().get("idle")
    check("list still shows the domain", r is not None and r.group(2) == "1", e.rows())
    check("... as alive", r is not None and r.group(5)[:2] in ("r-", "-b"), r.group(0) if r else "")
    rc, out, err = e.xl("destroy", "idle")
    check("destroy without a monitor: exit 0", rc == 0, err)
    e.check_empty("after destroy without a monitor")


def t_pvcontrol(e):
    """A guest with PV control: xl shutdown -w ends it, xl reboot restarts
    it under a new domid (on_reboot="restart")."""
    need_kvm()
    cfg = e.cfg("pv.cfg", 'name = "pv"\ntype = "pvh"\n'
                f'kernel = "{os.path.join(BUILD, "guests", "guest-pvcontrol-64")}"\n'
                'memory = 16\non_reboot = "restart"\n')
    rc, out, err = e.xl("create", cfg)
    check("create pvcontrol: exit 0", rc == 0, err)
    check("guest watches control/shutdown",
          wait_for(lambda: "watching control/shutdown" in e.console_log("pv"), 30))
    check("guest announced feature-poweroff",
          e.xs_read("/local/domain/1/control/feature-poweroff") == "1")
    rc, out, err = e.xl("reboot", "pv")
    check("reboot: exit 0", rc == 0, err)
    check("rebooted under a new domid",
          wait_for(lambda: (e.rows().get("pv") or [None, None, "1"])[2] == "2", 30),
          str(e.rows()))
    check("the new domain watches again",
          wait_for(lambda: e.console_log("pv").count("watching control/shutdown") >= 2, 30))
    rc, out, err = e.xl("shutdown", "-w", "pv", timeout=60)
    check("shutdown -w: exit 0", rc == 0, err)
    check("shutdown -w returns with the domain gone", "pv" not in e.rows(), str(e.rows()))
    check("the guest acted on poweroff", "poweroff requested" in e.console_log("pv"))
    e.check_empty("after shutdown")


def t_create_paused(e):
    """xl create -p: built but paused before any guest code; unpause runs it.
    The config sets every option the monitor passes on to xenon-vmm."""
    need_kvm()
    rc, out, err = e.xl("create", "-p", idle_cfg(
        e, extra='ramdisk = "guests/guest-hello-64"\ncmdline = "quiet"\n'
                 'max_grant_frames = 4\n'))
    check("create -p: exit 0", rc == 0, err)
    r = e.rows().get("idle")
    check("listed as paused", r is not None and r.group(5)[2] == "p", r.group(0) if r else e.rows())
    time.sleep(0.5)
    check("no guest output while paused", "idle: up" not in e.console_log("idle"),
          e.console_log("idle"))
    rc, out, err = e.xl("unpause", "idle")
    check("unpause: exit 0", rc == 0, err)
    check("the guest runs after unpause",
          wait_for(lambda: "idle: up" in e.console_log("idle"), 30))
    rc, out, err = e.xl("destroy", "idle")
    check("destroy: exit 0", rc == 0, err)
    e.check_empty("after destroy")


def t_many_domains(e):
    """More domains than one xenstore reply can name: /local/domain's list
    passes 4096 bytes at about 1050 domains, where xenstored answers
    DIRECTORY with E2BIG and the toolstack must read it in parts. The
    domains here are only xenstore homes (no VMM), so no KVM is needed."""
    n = 1100
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(e.xs_sock)
        reqs = b""
        for i in range(1, n + 1):
            body = f"/local/domain/{i}/name\0ghost{i}".encode()
            reqs += struct.pack("<IIII", 11, i, 0, len(body)) + body    # XS_WRITE
        s.sendall(reqs)
        ok = 0
        for _ in range(n):
            t, _, _, ln = struct.unpack("<IIII", s.recv(16, socket.MSG_WAITALL))
            s.recv(ln, socket.MSG_WAITALL)
            ok += t == 11
    check(f"{n} xenstore homes written", ok == n, ok)
    rc, out, err = e.xl("list")
    names = [line.split()[0] for line in out.splitlines()[1:]]
    check(f"xl list shows all {n} and Domain-0", rc == 0 and len(names) == n + 1 and
          names[-1] == f"ghost{n}", (rc, err, names[-2:]))
    rc, out, err = e.xl("domid", f"ghost{n}")
    check("xl domid finds the last one by name", rc == 0 and out.strip() == str(n), (rc, out, err))
    rc, _, err = e.xl("destroy", f"ghost{n - 1}")
    check("xl destroy by name removes its home", rc == 0 and
          e.xs_read(f"/local/domain/{n - 1}/name") is None, (rc, err))
    for i in range(1, n + 1):
        e.xs_call(13, f"/local/domain/{i}\0".encode())                  # XS_RM
    check("all removed", (e.xs_dir("/local/domain") or []) in ([], ["0"]), e.xs_dir("/local/domain"))


SCENARIOS = {
    "cli": (t_cli, True), "dryrun": (t_dryrun, True), "badcfg": (t_badcfg, False),
    "failed-create": (t_failed_create, True), "lifecycle": (t_lifecycle, True),
    "hello": (t_hello, True), "restart": (t_restart, True),
    "preserve": (t_preserve, True), "parallel": (t_parallel, True), "create-console": (t_create_console, True), "killed-monitor": (t_killed_monitor, True),
    "pvcontrol": (t_pvcontrol, True), "create-paused": (t_create_paused, True),
    "lookup": (t_lookup, True), "perms-many-vcpus": (t_perms_many_vcpus, True),
    "create-console-hello": (t_create_console_hello, True),
    "many-domains": (t_many_domains, True),
}


def main():
    name = sys.argv[1]
    fn, with_xs = SCENARIOS[name]
    e = Env(xenstored=with_xs)
    try:
        fn(e)
    finally:
        e.close()
    if failures:
        print(f"FAILED: {len(failures)} check(s): " + "; ".join(failures))
        sys.exit(1)
    print(f"{name}: all checks passed")


if __name__ == "__main__":
    main()
