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
import traceback
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "lib"))
import xenonctl as ctl  # noqa: E402
from xenonenv import (BUILD, SRC, VMM, XENSTORED, XL, private_env,  # noqa: E402,F401
                      start_xenstored, wait_for)

HEADER = "Name                                        ID   Mem VCPUs\tState\tTime(s)"
ROW = re.compile(r"^(.{40}) +(\d+) +(\d+) +(\d+)     ([r-][b-][p-][s-][-rscwS?][d-])  +(\d+\.\d)$")

failures = []


def exit_status():
    """The exit status for a test that ends with sys.exit() in a finally:
    clause. There, an exception on its way out would be replaced by the
    SystemExit and the test pass unseen: it is printed and fails the test.
    A SystemExit on its way out (skip's 77, a message) keeps its code
    unless a check failed."""
    exc = sys.exc_info()[1]
    if isinstance(exc, SystemExit):
        return 1 if failures else exc.code
    if exc is not None:
        traceback.print_exception(exc)
        print(f"FAIL the test stopped on an exception: {exc!r}")
        return 1
    return 1 if failures else 0


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


class Env:
    def __init__(self, xenstored=True):
        self.tmp = tempfile.mkdtemp(prefix="xl-test-")
        self.xs_sock = os.path.join(self.tmp, "xs.sock")
        self.env = private_env(self.tmp, self.xs_sock)
        self.xs = None
        if xenstored:
            self.start_xenstored()

    def start_xenstored(self):
        self.xs = start_xenstored(self.tmp, self.xs_sock)

    def restart_xenstored(self, hard=False):
        """Stop xenstored (SIGKILL when hard: a power cut) and start it again
        on the same data directory."""
        self.xs.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
        self.xs.wait(timeout=30)
        if os.path.exists(self.xs_sock):
            os.unlink(self.xs_sock)
        self.start_xenstored()

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
        keep = ("lock", "last-domid")       # the state lock, the domid rover
        return sorted(f for f in os.listdir(d) if f not in keep) if os.path.isdir(d) else []

    def sockets(self):
        d = os.path.join(self.env["XENON_RUN_DIR"], "console")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def control_sockets(self):
        d = os.path.join(self.env["XENON_RUN_DIR"], "control")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def control_path(self, domid):
        return os.path.join(self.env["XENON_RUN_DIR"], "control", f"{domid}.sock")

    def state(self, domid):
        path = os.path.join(self.env["XENON_STATE_DIR"], f"domain-{domid}")
        return dict(l.split("=", 1) for l in open(path).read().splitlines())

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
        # The monitor removes them after the VMM has gone: a moment later
        # on a loaded host (the ASan CI once looked too soon).
        ok &= check(f"{what}: no state file left", wait_for(lambda: not self.state_files(), 10),
                    str(self.state_files()))
        ok &= check(f"{what}: no console socket left", not self.sockets(), str(self.sockets()))
        ok &= check(f"{what}: no control socket left", not self.control_sockets(),
                    str(self.control_sockets()))
        return ok

    def console_log(self, name):
        try:
            return open(os.path.join(self.env["XENON_LOG_DIR"], "console",
                                     f"guest-{name}.log"), errors="replace").read()
        except OSError:
            return ""

    def close(self):
        for pid in self.vmm_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass            # it ended on its own since it was listed
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
        # Gone for good, not only unlisted: a domain being torn down leaves
        # no row but still holds its name until its state file goes.
        wait_for(lambda: "hello" not in e.rows() and not e.state_files(), 10)
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
    rc, _, err = e.xl("destroy", "par2")
    rc2, _, err2 = e.xl("create", cfgs[2])
    check("the freed domid is not taken again at once: the next is 5", rc == 0 and rc2 == 0 and
          e.rows().get("par2") and e.rows()["par2"].group(2) == "5", (err, err2))
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
    rc, out, err = e.xl("list", "-Q")
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
    rc, out, err = e.xl("vcpu-list", "idle")
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
        check("list -l: Domain-0, then idle with its domid and config", j[0]["domid"] == 0 and
              j[1]["domid"] == 1 and j[1]["config"]["c_info"]["name"] == "idle", out[:200])
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
    # As Xen's: the next domid, not the freed one.
    rc, _, err = e.xl("create", cfg)
    check("create again: domid 2", rc == 0 and e.rows().get("idle") and
          e.rows()["idle"].group(2) == "2", err)
    e.xl("destroy", "2")
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
    # The row goes as the teardown starts; the state file goes last.
    check("hello powered off: on_poweroff=destroy cleaned up",
          wait_for(lambda: "hello" not in e.rows() and not e.state_files(), 10))
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
    def preserved():    # one listing per look: the row changes as it crashes
        row = e.rows().get("crasher")
        return row if row and row.group(5)[3] == "s" else None
    r = wait_for(preserved, 10)
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


def t_shutdown_fallback(e):
    """xl shutdown/reboot -F: a guest that cannot be asked (the idle guest:
    no control/feature-poweroff, no callback) gets Xen's fallback, an ACPI
    button, which here makes the VMM end the domain itself with that reason
    (the control channel's SHUTDOWN), and the monitor applies on_reboot /
    on_poweroff. Without -F, or for a guest that announced PV control, the
    request is written to control/shutdown as before."""
    need_kvm()
    rc, out, err = e.xl("create", idle_cfg(e, extra='on_reboot = "restart"\n'))
    check("create idle: exit 0", rc == 0, err)
    rc, out, err = e.xl("reboot", "idle")
    check("reboot without -F: written, as libxl does for PVH",
          rc == 0 and err == "Rebooting domain 1\n" and
          e.xs_read("/local/domain/1/control/shutdown") == "reboot", err)
    check("... and the idle guest ignores it", "idle" in e.rows() and
          (e.rows().get("idle") or [None, None, "?"])[2] == "1", str(e.rows()))
    rc, out, err = e.xl("reboot", "-F", "idle")
    check("reboot -F: the ACPI reset fallback",
          rc == 0 and err == "Rebooting domain 1\n"
          "PV control interface not available: sending ACPI reset button event.\n", err)
    check("rebooted: restarted under a new domid",
          wait_for(lambda: (e.rows().get("idle") or [None, None, "1"])[2] == "2", 30),
          str(e.rows()))
    logf = os.path.join(e.env["XENON_LOG_DIR"], "xl-idle.log")
    log = open(logf).read()
    check("the VMM ended it with reason reboot",
          "has shut down, reason code 1" in log and
          "Action for shutdown reason code 1 is restart" in log, log[-600:])
    rc, out, err = e.xl("shutdown", "-F", "-w", "idle", timeout=60)
    check("shutdown -F -w: the ACPI power fallback, returns with the domain gone",
          rc == 0 and "PV control interface not available: sending ACPI power button event.\n"
          in err and "idle" not in e.rows(), err)
    log = open(logf).read()
    check("the VMM ended it with reason poweroff", "has shut down, reason code 0" in log,
          log[-600:])
    # A guest that announced PV control is asked, -F or not.
    cfg = e.cfg("pv.cfg", 'name = "pv"\ntype = "pvh"\n'
                f'kernel = "{os.path.join(BUILD, "guests", "guest-pvcontrol-64")}"\n'
                'memory = 16\n')
    rc, out, err = e.xl("create", cfg)
    check("create pvcontrol: exit 0", rc == 0, err)
    check("guest announced feature-poweroff",
          wait_for(lambda: e.xs_read("/local/domain/3/control/feature-poweroff") == "1", 30))
    rc, out, err = e.xl("shutdown", "-F", "-w", "pv", timeout=60)
    check("shutdown -F of a guest with PV control: asked, no fallback",
          rc == 0 and "ACPI" not in err, err)
    check("the guest acted on poweroff", "poweroff requested" in e.console_log("pv"))
    e.check_empty("after the fallback shutdowns")


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


# --- xl as Xen users know it (checked against Xen 4.17's tools/xl) ----------

# Every key `xl info` prints, in Xen's order (xl_info.c: node, phys, xen).
INFO_KEYS = ["host", "release", "version", "machine", "nr_cpus", "max_cpu_id",
             "nr_nodes", "cores_per_socket", "threads_per_core", "cpu_mhz",
             "hw_caps", "virt_caps", "total_memory", "free_memory",
             "sharing_freed_memory", "sharing_used_memory", "outstanding_claims",
             "free_cpus", "xen_major", "xen_minor", "xen_extra", "xen_version",
             "xen_caps", "xen_scheduler", "xen_pagesize", "platform_params",
             "xen_changeset", "xen_commandline", "cc_compiler", "cc_compile_by",
             "cc_compile_domain", "cc_compile_date", "build_id",
             "xend_config_format"]
UPTIME_SHORT = re.compile(r"^ \d\d:\d\d:\d\d up (\d+ days?, )?[ \d]\d:\d\d, (\S+) \((\d+)\)$")


def t_xen_cli(e):
    """What needs no guest: info, uptime -s, list's options and Domain-0,
    vcpu-list of Domain-0, commands Xenon lacks, config keys."""
    rc, out, err = e.xl("info")
    keys = [l[:23].rstrip() for l in out.splitlines()]
    check("info: every key of Xen's, in Xen's order", rc == 0 and keys == INFO_KEYS,
          [k for k in keys if k not in INFO_KEYS] or [k for k in INFO_KEYS if k not in keys] or keys)
    check("info: each line `key` padded to 23 columns then `: `",
          all(l[23:25] == ": " or l[23:] == ":" for l in out.splitlines()), out)
    rc, out, err = e.xl("info", "-n")
    lines = out.splitlines()
    check("info -n: cpu topology after free_cpus", rc == 0 and "cpu_topology           :" in lines and
          lines.index("cpu_topology           :") == INFO_KEYS.index("free_cpus") + 1, out[:2000])
    check("info -n: cpu table header", "cpu:    core    socket     node" in lines, out)
    cpu_rows = lines[lines.index("cpu:    core    socket     node") + 1:] if "cpu:    core    socket     node" in lines else []
    cpu_rows = cpu_rows[:cpu_rows.index("device topology        :")] if "device topology        :" in cpu_rows else []
    check("info -n: one row per CPU", len(cpu_rows) == os.cpu_count() and
          all(re.match(r"^ *\d+:    +\d+ +\d+ +\d+$", l) for l in cpu_rows), cpu_rows)
    check("info -n: device topology and numa_info", "device topology        :" in lines and
          "numa_info              :" in lines and "node:    memsize    memfree    distances" in lines, out)
    check("info -n: a row for node 0", any(re.match(r"^   0:    +\d+ +\d+ +\d+", l) for l in lines), out)
    check("info -n: the xen keys follow", lines and lines[-1].startswith("xend_config_format"), lines[-1:])
    rc, out, err = e.xl("info", "nr_cpus")
    check("info NAME: only the value", rc == 0 and out == f"{os.cpu_count()}\n", repr(out))
    rc, out, err = e.xl("info", "xen_m")
    check("info PREFIX: the values of every key it begins", rc == 0 and out == "4\n17\n", repr(out))

    rc, out, err = e.xl("uptime", "-s")
    m = UPTIME_SHORT.match(out.rstrip("\n"))
    check("uptime -s: Xen's short form for Domain-0, no header",
          rc == 0 and len(out.splitlines()) == 1 and m and m.group(2) == "Domain-0" and m.group(3) == "0",
          repr(out))
    rc, out, err = e.xl("uptime", "-s", "0")
    check("uptime -s 0", rc == 0 and UPTIME_SHORT.match(out.rstrip("\n")), repr(out))

    rc, out, err = e.xl("list", "-Z")
    lines = out.splitlines()
    check("list -Z: Security Label column", rc == 0 and lines[0] == HEADER + "   Security Label" and
          lines[1].endswith(" " * 16 + "-") and ROW.match(lines[1][:-17]), lines)
    rc, out, err = e.xl("list", "-c")
    lines = out.splitlines()
    check("list -c: Cpupool column, Pool-0", rc == 0 and lines[0] == HEADER + "         Cpupool" and
          lines[1].endswith(" " * 10 + "Pool-0") and ROW.match(lines[1][:-16]), lines)
    rc, out, err = e.xl("list", "-n")
    lines = out.splitlines()
    check("list -n: NODE Affinity column", rc == 0 and lines[0] == HEADER + " NODE Affinity" and
          lines[1].endswith(" all") and ROW.match(lines[1][:-4]), lines)
    rc, out, err = e.xl("list", "-v", "-Z")
    check("list -v -Z: one Security Label", rc == 0 and out.splitlines()[0].count("Security Label") == 1,
          out.splitlines()[:1])
    rc, out, err = e.xl("list", "-Q")
    check("list: a bad option exits 2", rc == 2, rc)
    rc, out, err = e.xl("list", "0", "Domain-0")
    check("list with two domains: usage, exit 1 (as Xen's)", rc == 1 and "Usage: xl" in out, (rc, out[:80]))
    rc, out, err = e.xl("list", "-l", "0")
    try:
        j = json.loads(out)
        check("list -l 0: Domain-0's config", rc == 0 and len(j) == 1 and j[0]["domid"] == 0 and
              j[0]["config"]["c_info"]["name"] == "Domain-0" and j[0]["config"]["c_info"]["type"] == "pv" and
              j[0]["config"]["b_info"]["max_vcpus"] == os.cpu_count(), out[:300])
    except (ValueError, KeyError, IndexError) as ex:
        check("list -l 0: JSON", False, f"{ex}: {out[:200]}")
    rc, out, err = e.xl("list", "-l")
    try:
        j = json.loads(out)
        check("list -l: Domain-0 first, as Xen's", rc == 0 and j and j[0]["domid"] == 0, out[:200])
    except (ValueError, IndexError) as ex:
        check("list -l: JSON", False, f"{ex}: {out[:200]}")
    check("list -l: no blank line", "\n\n" not in out, out)

    for args in (["vcpu-list", "0"], ["vcpu-list", "Domain-0"], ["vcpu-list"]):
        rc, out, err = e.xl(*args)
        rows = [l for l in out.splitlines()[1:] if l.startswith("Domain-0")]
        check(f"{' '.join(args)}: a Domain-0 row per host CPU", rc == 0 and len(rows) == os.cpu_count() and
              all(re.match(r"^Domain-0 {24} +0 +(\d+) +\1   [r-][b-]-  +\d+\.\d  all / all$", r) for r in rows),
              (rc, out, err))

    # Commands Xen has and Xenon not yet: their own message, not an unknown one.
    for cmd in ("dump-core", "rename", "vtpm-attach", "pci-list", "vcpu-pin", "cpupool-list"):
        rc, out, err = e.xl(cmd, "x")
        check(f"{cmd}: not implemented in Xenon yet", rc == 1 and
              err == f"xl {cmd}: not implemented in Xenon yet\n", (rc, err))
    rc, out, err = e.xl("frobnicate")
    check("an unknown command still says so", rc == 1 and err == "command not implemented\n", err)
    rc, out, err = e.xl("help")
    check("help lists the commands Xenon lacks too", re.search(r"^ save ", out, re.M), out[-500:])

    # Config keys: unknown to xl -> silent; known to xl, not implemented by
    # Xenon -> one warning naming it; a typo is not "not supported".
    cfg = e.cfg("keys.cfg", 'name = "k"\ntype = "pvh"\nkernel = "/x"\nmemory = 16\n'
                'cpus = "0-1"\ncap = 50\nvnc = 1\npool = "p"\nviridian = 1\n'
                'on_reboot = "rename-restart"\nmemroy = 32\nfrobnicate = "yes"\n')
    rc, out, err = e.xl("create", "-n", cfg)
    warned = re.findall(r"warning: `([^']+)' is not implemented in Xenon yet", err)
    check("known keys Xenon lacks: one warning each, in file order", rc == 0 and
          warned == ["cpus", "cap", "vnc", "pool", "viridian", 'on_reboot="rename-restart"'], (warned, err))
    check("keys xl does not know: silent", "memroy" not in err and "frobnicate" not in err, err)
    check("never 'not supported by Xenon yet'", "not supported" not in err, err)
    rc, out, err = e.xl("create", "-n", e.cfg("plain.cfg", 'name = "p"\ntype = "pvh"\nkernel = "/x"\n'
                                              'memory = 16\nvcpus = 1\non_reboot = "restart"\n'))
    check("implemented keys: no warning", rc == 0 and "warning" not in err, err)


def t_xen_guest(e):
    """What needs guests: domids as Xen allocates them, no row left by a
    destroy, list -l, reboot -w, uptime -s, dmesg, top."""
    need_kvm()
    cfgs = {n: idle_cfg(e, n) for n in ("a", "b", "c")}
    for n in ("a", "b"):
        rc, _, err = e.xl("create", "-q", cfgs[n])
        check(f"create {n}", rc == 0, err)
    rc, _, err = e.xl("destroy", "a")
    check("destroy a (domid 1)", rc == 0, err)
    rc, _, err = e.xl("create", "-q", cfgs["c"])
    r = e.rows().get("c")
    check("domids count up: the next domain is 3, not the freed 1", rc == 0 and r and r.group(2) == "3",
          (err, r and r.group(0)))
    rc, _, err = e.xl("create", "-q", cfgs["a"])
    r = e.rows().get("a")
    check("... and 4 after that", rc == 0 and r and r.group(2) == "4", (err, r and r.group(0)))

    rc, out, err = e.xl("list", "-l", "c")
    check("list -l DOMAIN: no blank line", rc == 0 and "\n\n" not in out and json.loads(out)[0]["domid"] == 3,
          out[-120:])
    rc, out, err = e.xl("uptime", "-s", "c")
    m = UPTIME_SHORT.match(out.rstrip("\n"))
    check("uptime -s c", rc == 0 and m and m.group(2) == "c" and m.group(3) == "3", repr(out))

    # While one xl destroys, others list: no row of the domain once it is
    # being torn down (no ghost `-----d`), none after.
    seen, stop = [], []

    def lister():
        while not stop:
            seen.append(e.xl("list")[1])
    import threading
    th = threading.Thread(target=lister)
    th.start()
    time.sleep(0.3)
    rc, _, err = e.xl("destroy", "b")
    stop.append(1)
    th.join()
    rows_b = {l[40:].split()[-2] for o in seen for l in o.splitlines() if l.split()[:1] == ["b"]}
    check("destroy: no dying row of the domain in any listing", rc == 0 and "-----d" not in rows_b, rows_b)
    check("destroy: no row after", "b" not in e.rows(), e.rows().keys())

    rc, out, err = e.xl("top", "-b", "-i", "2", "-d", "1")
    lines = out.splitlines()
    hdr = [i for i, l in enumerate(lines) if l.split()[:2] == ["NAME", "STATE"]]
    check("top -b -i 2: two tables", rc == 0 and len(hdr) == 2, out)
    if len(hdr) == 2:
        check("top: xentop's columns", lines[hdr[0]].split() == [
            "NAME", "STATE", "CPU(sec)", "CPU(%)", "MEM(k)", "MEM(%)", "MAXMEM(k)", "MAXMEM(%)",
            "VCPUS", "NETS", "NETTX(k)", "NETRX(k)", "VBDS", "VBD_OO", "VBD_RD", "VBD_WR",
            "VBD_RSECT", "VBD_WSECT", "SSID"], lines[hdr[0]])
        rows = {l.split()[0]: l.split() for l in lines[hdr[1] + 1:]}
        check("top: Domain-0 and the guests", set(rows) == {"Domain-0", "a", "c"}, rows.keys())
        c = rows.get("c", [])
        check("top: a guest's memory, vCPUs and zero device counters", len(c) == 19 and
              c[4] == "16384" and c[6] == "16384" and c[8] == "1" and
              c[9:] == ["0", "0", "0", "0", "0", "0", "0", "0", "0", "0"], c)
        check("top: CPU(%) a number", len(c) == 19 and re.match(r"^\d+\.\d$", c[3]), c)

    # dmesg: the domain's hypervisor log (console_io and debug port).
    hlog = os.path.join(e.env["XENON_LOG_DIR"], "console", "hypervisor-c.log")
    with open(hlog, "a") as f:
        f.write("(test) a hypervisor line\n")
    rc, out, err = e.xl("dmesg", "c")
    check("dmesg DOMAIN: its hypervisor log", rc == 0 and "(test) a hypervisor line\n" in out, (rc, out, err))
    rc, out, err = e.xl("dmesg")
    check("dmesg: every domain's, lines named by domain", rc == 0 and
          "(c) (test) a hypervisor line\n" in out, (rc, out[-300:], err))
    rc, out, err = e.xl("dmesg", "-c", "c")
    rc2, out2, _ = e.xl("dmesg", "c")
    check("dmesg -c: shown, then cleared", rc == 0 and "a hypervisor line" in out and out2 == "", (out, out2))

    # reboot -w waits until the domain has shut down (it restarts under a
    # new domid); the shutdown guest reboots at once when asked to.
    rcfg = e.cfg("rb.cfg", 'name = "rb"\ntype = "pvh"\n'
                 f'kernel = "{os.path.join(BUILD, "guests", "guest-pvcontrol-64")}"\n'
                 'memory = 16\non_reboot = "restart"\n')
    rc, _, err = e.xl("create", "-q", rcfg)
    check("create rb", rc == 0, err)
    check("rb watches control/shutdown", wait_for(lambda: "watching control/shutdown" in e.console_log("rb"), 30))
    old = e.rows()["rb"].group(2)
    rc, out, err = e.xl("reboot", "-w", "rb", timeout=60)
    check("reboot -w: Xen's messages, exit 0", rc == 0 and err.startswith(
          f"Rebooting domain {old}\nWaiting for 1 domains\nDomain {old} has been ") , (rc, err))
    check("reboot -w returns once the old domain is gone", e.xl("list", old)[0] == 1, e.rows().get("rb"))
    for n in ("a", "c", "rb"):
        e.xl("destroy", n)
    e.check_empty("after the Xen-compat checks")
def vcpu_thread_ticks(pid):
    """utime+stime (clock ticks) of vCPU 0's thread, from /proc: the VMM's
    threads in creation order are the I/O thread, then vCPU 0, 1, ...
    (KVM's own workers skipped, as libxenon/proc.c does)."""
    tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    for tid in tids:
        if tid == pid:
            continue
        stat = open(f"/proc/{pid}/task/{tid}/stat").read()
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        if comm.startswith("kvm"):
            continue
        f = stat.rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])
    return None


class ConsoleReader:
    """`xl console DOMAIN` with a pipe for stdin (kept open), its output
    collected by a thread."""

    def __init__(self, e, domain):
        self.p = subprocess.Popen([XL, "console", domain], env=e.env, cwd=BUILD,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL)
        self.out = b""
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        while True:
            b = os.read(self.p.stdout.fileno(), 65536)
            if not b:
                return
            with self.lock:
                self.out += b

    def counts(self):
        with self.lock:
            text = self.out.decode(errors="replace")
        # Only whole lines: the last one may still be arriving.
        return [int(m) for m in re.findall(r"^count (\d+)\r?$", text.rsplit("\n", 1)[0], re.M)]

    def close(self):
        self.p.kill()
        self.p.wait()


def t_pause_console(e):
    """xl pause stops the vCPUs only: their time stops growing (as the
    control channel and /proc tell), xl list shows p, `xl console` stays
    connected, and after xl unpause the guest goes on with no line lost.
    A killed xl pause and a killed control client change nothing."""
    need_kvm()
    cfg = e.cfg("counter.cfg", 'name = "counter"\ntype = "pvh"\n'
                'kernel = "guests/guest-counter-64"\nmemory = 16\nvcpus = 1\n')
    # Created under umask 000: the control socket's mode comes from the code.
    r = subprocess.run([XL, "create", cfg], env=e.env, cwd=BUILD, capture_output=True,
                       preexec_fn=lambda: os.umask(0), timeout=60)
    check("create counter: exit 0", r.returncode == 0, r.stderr)
    sock = e.control_path(1)
    mode = os.stat(sock).st_mode & 0o777 if os.path.exists(sock) else None
    check("control socket is 0600 under umask 000", mode == 0o600, oct(mode or 0))
    pid = int(e.state(1)["vmm_pid"])
    con = ConsoleReader(e, "counter")
    check("the console shows the counter", wait_for(lambda: len(con.counts()) > 50, 30),
          con.out[-200:])

    rc, _, err = e.xl("pause", "counter")
    check("pause: exit 0", rc == 0, err)
    r = e.rows().get("counter")
    check("list shows p", r is not None and r.group(5)[2] == "p", r.group(0) if r else e.rows())
    # The reply comes once the vCPU thread has parked, i.e. is entering its
    # wait: on a loaded host it may be preempted on the way and finish those
    # few microseconds later. So the bound: running, this guest's vCPU uses
    # several hundred ms a second; paused, less than 1 ms (INFO, in ns) and
    # at most one clock tick (/proc) in 1.5 s.
    time.sleep(0.2)
    i1, t1, n1 = ctl.info(sock), vcpu_thread_ticks(pid), len(con.counts())
    time.sleep(1.5)
    i2, t2, n2 = ctl.info(sock), vcpu_thread_ticks(pid), len(con.counts())
    check("INFO: state paused, vCPU paused",
          i2["state"] == "paused" and i2["vcpus"][0]["state"] == "paused", i2)
    check("INFO: the vCPU's time does not grow while paused",
          i2["vcpus"][0]["time_ns"] - i1["vcpus"][0]["time_ns"] < 1000000, (i1, i2))
    check("/proc: the vCPU thread's time does not grow while paused", t2 - t1 <= 1, (t1, t2))
    check("no console output while paused", n1 == n2, (n1, n2))
    rc, out, _ = e.xl("vcpu-list", "counter")
    rows = out.splitlines()[1:]
    check("vcpu-list while paused: vCPU 0 neither running nor blocked",
          rc == 0 and len(rows) == 1 and re.match(r"^counter +1 +0 +\d+   ---  ", rows[0]), rows)
    check("xl console stays connected while paused", con.p.poll() is None)

    # A killed `xl pause`, and a client killed holding half a request: the
    # VMM serves on without them.
    p = subprocess.Popen([XL, "pause", "counter"], env=e.env, cwd=BUILD,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.01)
    p.kill()
    p.wait()
    half = subprocess.Popen([sys.executable, "-c",
                             "import socket,sys,time; s=socket.socket(socket.AF_UNIX); "
                             "s.connect(sys.argv[1]); s.sendall(b'NCTL\\x01\\x00'); "
                             "print('sent', flush=True); time.sleep(60)", sock],
                            stdout=subprocess.PIPE)
    half.stdout.readline()
    half.kill()
    half.wait()
    r = e.rows().get("counter")
    check("still paused after a killed xl and client",
          r is not None and r.group(5)[2] == "p", r.group(0) if r else e.rows())

    # A killed monitor: the VMM does not depend on it either.
    os.kill(int(e.state(1)["monitor_pid"]), signal.SIGKILL)
    time.sleep(0.2)
    check("the paused VMM survives its monitor", pid in e.vmm_pids())
    rc, _, err = e.xl("unpause", "counter")
    check("unpause: exit 0", rc == 0, err)
    r = e.rows().get("counter")
    check("unpause: list shows no p", r is not None and r.group(5)[2] == "-", r.group(0) if r else "")
    check("the counter goes on after unpause", wait_for(lambda: len(con.counts()) > n2 + 100, 30),
          (n2, len(con.counts())))
    i3, t3 = ctl.info(sock), vcpu_thread_ticks(pid)
    check("INFO: the vCPU's time grows again", i3["vcpus"][0]["time_ns"] > i2["vcpus"][0]["time_ns"],
          (i2, i3))
    check("INFO: state running", i3["state"] == "running", i3)
    rc, out, _ = e.xl("vcpu-list", "counter")
    rows = out.splitlines()[1:]
    check("vcpu-list after unpause: vCPU 0 running or blocked",
          rc == 0 and len(rows) == 1 and re.match(r"^counter +1 +0 +\d+   (r-|-b)-  ", rows[0]), rows)
    check("/proc: the vCPU thread's time grows again", t3 > t2, (t2, t3))
    c = con.counts()
    check("no line lost across the pause: the counts are consecutive",
          c and c == list(range(c[0], c[0] + len(c))), c[:3] + c[-3:])
    check("xl console still connected", con.p.poll() is None)
    con.close()
    rc, _, err = e.xl("destroy", "counter")
    check("destroy: exit 0", rc == 0, err)
    e.check_empty("after destroy")


# --- the toolstack under faults (issue: files and processes nobody else may
# touch, no ghosts) -------------------------------------------------------------

def proc_start_ticks(pid):
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[19])


def read_state(e, domid):
    path = os.path.join(e.env["XENON_STATE_DIR"], f"domain-{domid}")
    return path, dict(l.split("=", 1) for l in open(path).read().splitlines())


def write_state(path, st):
    with open(path + ".edit", "w") as f:
        f.write("".join(f"{k}={v}\n" for k, v in st.items()))
    os.rename(path + ".edit", path)


def t_modes(e):
    """Modes come from the code, not the caller's umask."""
    need_kvm()
    r = subprocess.run([XL, "create", "-q", idle_cfg(e)], env=e.env, cwd=BUILD,
                       capture_output=True, preexec_fn=lambda: os.umask(0))
    check("create under umask 000", r.returncode == 0, r.stderr)
    sd, rd, ld = (e.env[k] for k in ("XENON_STATE_DIR", "XENON_RUN_DIR", "XENON_LOG_DIR"))
    want = {sd: 0o700, os.path.join(sd, "domain-1"): 0o600, os.path.join(sd, "domain-1.json"): 0o600,
            os.path.join(sd, "last-domid"): 0o600, os.path.join(sd, "lock"): 0o600,
            os.path.join(rd, "console"): 0o700, ld: 0o750, os.path.join(ld, "console"): 0o750,
            os.path.join(ld, "xl-idle.log"): 0o640,
            os.path.join(ld, "console", "guest-idle.log"): 0o640,
            os.path.join(ld, "console", "hypervisor-idle.log"): 0o640}
    for path, mode in want.items():
        got = os.stat(path).st_mode & 0o7777 if os.path.exists(path) else None
        check(f"mode of {os.path.relpath(path, e.tmp)} is {mode:o}", got == mode,
              oct(got) if got is not None else "missing")
    sock = os.path.join(rd, "console", "1.sock")
    got = os.stat(sock).st_mode & 0o777 if os.path.exists(sock) else None
    check("console socket: nobody but the owner", got is not None and got & 0o077 == 0,
          oct(got) if got is not None else "missing")
    rc, _, err = e.xl("destroy", "idle")
    check("destroy", rc == 0, err)
    e.check_empty("after destroy")


def t_untrusted_state(e):
    """Teardown signals only the domain's own VMM and monitor and unlinks
    only in our directories, whatever the state file says."""
    need_kvm()
    bystanders = [subprocess.Popen(["sleep", "600"]) for _ in range(2)]
    victim = os.path.join(e.tmp, "bystander.txt")
    open(victim, "w").write("not the toolstack's\n")
    try:
        for n in ("m", "v"):
            rc, _, err = e.xl("create", "-q", idle_cfg(e, n))
            check(f"create {n}", rc == 0, err)
        # Domain 1: its monitor "is" a bystander, its console socket a file
        # of someone else's.
        path, st = read_state(e, 1)
        st["monitor_pid"], st["monitor_start"] = bystanders[0].pid, proc_start_ticks(bystanders[0].pid)
        st["console"] = victim
        write_state(path, st)
        # Domain 2: its VMM "is" the other bystander.
        path, st = read_state(e, 2)
        st["vmm_pid"], st["vmm_start"] = bystanders[1].pid, proc_start_ticks(bystanders[1].pid)
        write_state(path, st)
        for n in ("m", "v"):
            rc, _, err = e.xl("destroy", n)
            check(f"destroy {n}: exit 0", rc == 0, err)
        time.sleep(0.3)
        check("a process a state file names as monitor is not signalled", bystanders[0].poll() is None)
        check("a process a state file names as VMM is not signalled", bystanders[1].poll() is None)
        check("a path a state file names outside our directories is not unlinked", os.path.exists(victim))
        check("the domains went all the same", wait_for(lambda: not e.rows().keys() - {"Domain-0"}, 10),
              e.rows().keys())
        # Domain 2's VMM is stopped by its monitor alone (destroy does not
        # trust the pid the file gives): under ASan its exit (the leak
        # check) can outlast check_empty's wait on a loaded machine.
        wait_for(lambda: not e.vmm_pids(), 120)
        e.check_empty("after destroying both")
    finally:
        for b in bystanders:
            b.kill()
            b.wait()


def t_ghosts(e):
    """No ghost: an abandoned creation (xl create killed before its monitor
    ran) and a domain whose VMM and monitor a power cut took are cleaned
    away as a destroy would; names are unique across state files too."""
    need_kvm()
    sd = e.env["XENON_STATE_DIR"]
    os.makedirs(sd, exist_ok=True)
    dead = subprocess.Popen(["true"])
    dead.wait()

    def ghost_state(domid, name, creator_pid, creator_start):
        write_state(os.path.join(sd, f"domain-{domid}"), {
            "name": name, "uuid": "12345678-1234-1234-1234-123456789abc",
            "console": "", "vmm_pid": 0, "vmm_start": 0, "monitor_pid": 0, "monitor_start": 0,
            "creator_pid": creator_pid, "creator_start": creator_start, "created": time.time(),
            "vcpus": 1, "target_kb": 16384, "max_kb": 16384, "shutdown_reason": -1})
        # ... and the name index entry xl create writes with it.
        with open(os.path.join(sd, f"name-{name}"), "w") as f:
            f.write(f"{domid}\n")

    # What a SIGKILL of `xl create` right after the state file leaves.
    ghost_state(7, "ghost", dead.pid, 1)
    rc, _, err = e.xl("create", "-q", idle_cfg(e, "ghost"))
    check("create over an abandoned creation of the same name: exit 0", rc == 0, err)
    names = [l.split()[0] for l in e.xl("list")[1].splitlines()[1:]]
    check("the name is listed once", names.count("ghost") == 1, names)
    check("the abandoned state file is gone", not os.path.exists(os.path.join(sd, "domain-7")),
          e.state_files())
    # A creation still under way (its creator lives: here, this test)
    # holds its name although it is not in xenstore yet.
    ghost_state(9, "pending", os.getpid(), proc_start_ticks(os.getpid()))
    rc, _, err = e.xl("create", "-q", idle_cfg(e, "pending"))
    check("a name held by a state file is taken", rc != 0 and 'Domain with name "pending" already exists' in err,
          (rc, err))
    os.unlink(os.path.join(sd, "domain-9"))
    os.unlink(os.path.join(sd, "name-pending"))

    # Real kills of xl create at moments spread over its run: each leaves
    # either a running domain or nothing, and the name is never doubled.
    for i in range(8):
        p = subprocess.Popen([XL, "create", "-q", idle_cfg(e, "kill")], env=e.env, cwd=BUILD,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.004 * i)
        p.kill()
        p.wait()
        # Settled: the domain runs, or nothing of it is left (a creation cut
        # short is undone by its monitor, or cleaned away as abandoned).
        def settled():
            # Held (p: built, waiting for the go of a killed xl) is not
            # settled: the VMM ends for want of it.
            r = e.rows().get("kill")
            return (r and r.group(5)[:3] in ("r--", "-b-")) or not [
                f for f in e.state_files() if re.fullmatch(r"domain-\d+", f) and state_name(f) == "kill"]

        def state_name(f):
            try:
                return read_state(e, int(f.split("-")[1]))[1].get("name")
            except OSError:
                return None
        check(f"kill {i}: all or nothing", wait_for(settled, 15), (e.rows().keys(), e.state_files()))
        was_up = "kill" in e.rows()
        rc, _, err = e.xl("create", "-q", idle_cfg(e, "kill"))
        names = [l.split()[0] for l in e.xl("list")[1].splitlines()[1:]]
        check(f"kill {i}: the name once; a second create refused if it ran, else run",
              names.count("kill") == 1 and (("already exists" in err) if was_up else rc == 0),
              (was_up, names, rc, err))
        e.xl("destroy", "kill")
        wait_for(lambda: "kill" not in e.rows(), 10)

    # A power cut: VMM, monitor and xenstored all gone; the store comes back
    # with the domain in it.
    _, st = read_state(e, int(e.rows()["ghost"].group(2)))
    os.kill(int(st["monitor_pid"]), signal.SIGKILL)
    os.kill(int(st["vmm_pid"]), signal.SIGKILL)
    e.restart_xenstored(hard=True)
    wait_for(lambda: int(st["vmm_pid"]) not in e.vmm_pids(), 10)
    check("after the power cut the domain is still in the store",
          e.xs_read("/local/domain/" + e.xs_dir("/local/domain")[-1] + "/name") == "ghost"
          if [d for d in (e.xs_dir("/local/domain") or []) if d != "0"] else False)
    rows = e.rows()
    check("xl list shows no ghost of it", "ghost" not in rows, {k: v.group(0) for k, v in rows.items()})
    rc, _, err = e.xl("create", "-q", idle_cfg(e, "ghost"))
    check("its name is free again", rc == 0, err)
    e.xl("destroy", "ghost")
    e.check_empty("after the ghosts")


def t_power_cut(e):
    """After a power cut (every VMM, monitor and xenstored SIGKILLed, the
    store restarted from its journal) a dead domain crashed, as Xen sees a
    domain whose VMM died without a recorded shutdown: the first toolstack
    operation applies its recorded on_crash, once, even with two `xl list`
    at the same time."""
    need_kvm()
    policies = ["destroy", "restart", "rename-restart", "preserve", "coredump-destroy"]
    old = {}
    for pol in policies:
        name = "pc-" + pol
        rc, _, err = e.xl("create", "-q", idle_cfg(e, name, f'on_crash = "{pol}"\n'))
        check(f"create {name}: exit 0", rc == 0, err)
        r = e.rows().get(name)
        old[pol] = int(r.group(2)) if r else None
    check("all five run", all(old.values()), old)
    # The power cut: monitors and VMMs, then xenstored, all SIGKILLed.
    sts = {pol: read_state(e, d)[1] for pol, d in old.items()}
    # One host monitor runs them all: killed once.
    for pid in {int(st["monitor_pid"]) for st in sts.values()}:
        os.kill(pid, signal.SIGKILL)
    for st in sts.values():
        os.kill(int(st["vmm_pid"]), signal.SIGKILL)
    e.restart_xenstored(hard=True)
    check("no VMM survives the power cut", wait_for(lambda: not e.vmm_pids(), 10), e.vmm_pids())
    doms = [d for d in (e.xs_dir("/local/domain") or []) if d != "0"]
    check("the store comes back with the five domains", len(doms) == 5, doms)

    # Two `xl list` at once: each finds the dead domains; each is settled
    # once (the reaping lock).
    ps = [subprocess.Popen([XL, "list"], env=e.env, cwd=BUILD, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in ps]
    check("both lists exit 0", all(p.returncode == 0 for p in ps),
          [(p.returncode, o[1].decode()) for p, o in zip(ps, outs)])
    rows = e.rows()
    shown = {k: v.group(0) for k, v in rows.items()}
    names = [l.split()[0] for l in e.xl("list")[1].splitlines()[1:]]

    check("destroy: cleaned away", "pc-destroy" not in rows, shown)
    check("coredump-destroy: cleaned away", "pc-coredump-destroy" not in rows, shown)
    log = open(os.path.join(e.env["XENON_LOG_DIR"], "xl-pc-coredump-destroy.log")).read()
    check("coredump-destroy: the log says no core dump is produced",
          "no core dump of domain %d is produced" % old["coredump-destroy"] in log, log[-600:])

    r = rows.get("pc-restart")
    check("restart: started again once under its name", names.count("pc-restart") == 1, names)
    check("restart: with a new domid, running", r is not None and int(r.group(2)) != old["restart"]
          and r.group(5)[:2] in ("r-", "-b"), shown)
    check("restart: the same uuid, as libxl keeps it", r is not None and
          e.xs_read(f"/local/domain/{r.group(2)}/vm") == "/vm/" + sts["restart"]["uuid"],
          (sts["restart"]["uuid"], e.xs_read(f"/local/domain/{r.group(2)}/vm") if r else None))
    check("restart: the dead one is gone", str(old["restart"]) not in
          (e.xs_dir("/local/domain") or []), e.xs_dir("/local/domain"))

    r = rows.get("pc-rename-restart")
    check("rename-restart: a new one under the name, running",
          names.count("pc-rename-restart") == 1 and r is not None and
          int(r.group(2)) != old["rename-restart"] and r.group(5)[:2] in ("r-", "-b"), shown)
    renamed = [k for k in rows if re.fullmatch(r"pc-rename-restart-\d{8}T\d{4}Z", k)]
    check("rename-restart: the dead one kept, renamed, crashed",
          len(renamed) == 1 and int(rows[renamed[0]].group(2)) == old["rename-restart"] and
          rows[renamed[0]].group(5) == "---sc-", shown)

    r = rows.get("pc-preserve")
    check("preserve: kept under its domid, crashed (---sc-)",
          r is not None and int(r.group(2)) == old["preserve"] and r.group(5) == "---sc-", shown)
    vmms = e.vmm_pids()
    check("exactly two VMMs run (restart, rename-restart)", len(vmms) == 2, vmms)
    if renamed and r is not None:
        kept_vm = e.xs_read(f"/local/domain/{rows[renamed[0]].group(2)}/vm")
        new_vm = e.xs_read(f"/local/domain/{r.group(2)}/vm")
        check("rename-restart: the kept one has a /vm node (uuid) of its own",
              kept_vm and new_vm and kept_vm != new_vm and e.xs_read(kept_vm + "/name") ==
              renamed[0], (kept_vm, new_vm))

    # Settled once: listing again changes nothing.
    again = {k: v.group(0) for k, v in e.rows().items()}
    check("a later list finds nothing more to do",
          sorted(again) == sorted(shown) and len(e.vmm_pids()) == 2, (shown, again))

    # The renamed one first: the new one's nodes must outlive it.
    for name in sorted(rows, key=lambda k: k not in renamed):
        if renamed and name == "pc-rename-restart":
            check("rename-restart: destroying the kept one left the new one's /vm",
                  bool(e.xs_dir(e.xs_read(f"/local/domain/{rows[name].group(2)}/vm") or "/none")),
                  e.xs_dir("/vm"))
        if name != "Domain-0":
            rc, _, err = e.xl("destroy", name)
            check(f"destroy {name}", rc == 0, err)
    e.check_empty("after the power cut")

    # xl create of the dead domain's name is the first to find it: with
    # restart that create is the new start (one domain of the name); a
    # preserved one keeps its name (refused, as libxl refuses a taken name).
    for name, pol in (("pc2-restart", "restart"), ("pc2-preserve", "preserve")):
        rc, _, err = e.xl("create", "-q", idle_cfg(e, name, f'on_crash = "{pol}"\n'))
        check(f"create {name}: exit 0", rc == 0, err)
    sts = [read_state(e, int(e.rows()[n].group(2)))[1] for n in ("pc2-restart", "pc2-preserve")]
    for pid in {int(st["monitor_pid"]) for st in sts}:
        os.kill(pid, signal.SIGKILL)
    for st in sts:
        os.kill(int(st["vmm_pid"]), signal.SIGKILL)
    e.restart_xenstored(hard=True)
    wait_for(lambda: not e.vmm_pids(), 10)
    rc, _, err = e.xl("create", "-q", idle_cfg(e, "pc2-restart", 'on_crash = "restart"\n'))
    check("create over a crashed on_crash=restart domain of that name: exit 0", rc == 0, err)
    rc, _, err = e.xl("create", "-q", idle_cfg(e, "pc2-preserve", 'on_crash = "preserve"\n'))
    check("create over a crashed preserved domain of that name: refused",
          rc != 0 and 'Domain with name "pc2-preserve" already exists' in err, (rc, err))
    names = [l.split()[0] for l in e.xl("list")[1].splitlines()[1:]]
    check("one pc2-restart, running; one pc2-preserve",
          names.count("pc2-restart") == 1 and names.count("pc2-preserve") == 1 and
          len(e.vmm_pids()) == 1, (names, e.vmm_pids()))
    r = e.rows().get("pc2-preserve")
    check("pc2-preserve is listed crashed", r is not None and r.group(5) == "---sc-",
          r.group(0) if r else None)
    for name in ("pc2-restart", "pc2-preserve"):
        e.xl("destroy", name)
    e.check_empty("after the second power cut")


def t_xs_restart(e):
    """xenstored SIGKILLed and restarted on its data dir while a guest runs:
    the VMM reattaches the guest's ring and re-registers its watch, so `xl
    shutdown -w` (its write reaching the guest's watch) still ends it."""
    need_kvm()
    cfg = e.cfg("pv.cfg", 'name = "pv"\ntype = "pvh"\n'
                f'kernel = "{os.path.join(BUILD, "guests", "guest-pvcontrol-64")}"\n'
                'memory = 16\n')
    rc, out, err = e.xl("create", cfg)
    check("create pvcontrol: exit 0", rc == 0, err)
    check("guest watches control/shutdown",
          wait_for(lambda: "watching control/shutdown" in e.console_log("pv"), 30))
    for n in range(2):      # twice: a second restart finds the re-registered watch
        e.restart_xenstored(hard=True)
    try:
        rc, out, err = e.xl("shutdown", "-w", "pv", timeout=60)
    except subprocess.TimeoutExpired:
        rc, err = -1, "xl shutdown -w still waiting after 60 s"
    check("shutdown -w after two xenstored restarts: exit 0", rc == 0, err)
    check("the guest acted on poweroff", "poweroff requested" in e.console_log("pv"))
    check("domain gone", wait_for(lambda: "pv" not in e.rows(), 10), str(e.rows()))
    e.check_empty("after shutdown")


def t_xs_lost_monitor(e):
    """The monitor outlives a xenstored that is away when its domain ends: it
    waits for the daemon's return, then removes the domain's nodes and
    releases it (without it, both stay behind)."""
    need_kvm()
    rc, out, err = e.xl("create", idle_cfg(e))
    check("create idle: exit 0", rc == 0, err)
    st = e.state(1)
    e.xs.send_signal(signal.SIGKILL)
    e.xs.wait(timeout=30)
    os.kill(int(st["vmm_pid"]), signal.SIGKILL)
    time.sleep(1)           # the monitor sees its VMM end, no daemon there
    def alive(pid):
        try:
            return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False
    check("monitor still alive (waiting) while xenstored is away", alive(st["monitor_pid"]))
    os.unlink(e.xs_sock)
    e.start_xenstored()
    check("domain released once xenstored is back",
          wait_for(lambda: e.xs_call(17, b"1\0")[1] == b"F\0", 30),   # IS_DOMAIN_INTRODUCED
          str(e.xs_call(17, b"1\0")))
    log = open(os.path.join(e.env["XENON_LOG_DIR"], "xl-idle.log"), errors="replace").read()
    check("the monitor logged the domain's end", "destroying the domain" in log, log[-500:])
    e.check_empty("after the monitor's teardown")


def t_monitor_adopts(e):
    """One host monitor runs every domain; a killed one loses nothing: the
    next `xl create` starts another, which adopts the running VMMs (a pidfd
    each) and settles the end of an adopted domain at once, as an abandoned
    domain's (its on_crash: restart here), with no `xl list` to find it."""
    need_kvm()
    rc, _, err = e.xl("create", "-q", idle_cfg(e, "a", 'on_crash = "restart"\n'))
    check("create a: exit 0", rc == 0, err)
    rc, _, err = e.xl("create", "-q", idle_cfg(e, "b"))
    check("create b: exit 0", rc == 0, err)
    sa, sb = e.state(1), e.state(2)
    check("one monitor runs both", sa["monitor_pid"] == sb["monitor_pid"], (sa, sb))
    old = int(sa["monitor_pid"])
    os.kill(old, signal.SIGKILL)
    check("the monitor is gone", wait_for(lambda: not os.path.exists(f"/proc/{old}"), 10))
    check("the VMMs survive it", len(e.vmm_pids()) == 2, e.vmm_pids())
    rc, _, err = e.xl("create", "-q", idle_cfg(e, "c"))
    check("create c starts a new monitor: exit 0", rc == 0, err)
    new = int(e.state(3)["monitor_pid"])
    check("a new monitor", new != old, new)
    os.kill(int(sa["vmm_pid"]), signal.SIGKILL)     # a's guest "crashes"

    def restarted():
        for f in e.state_files():
            if re.fullmatch(r"domain-\d+", f) and f not in ("domain-1", "domain-2", "domain-3"):
                st = e.state(int(f.split("-")[1]))
                if st.get("name") == "a" and int(st.get("vmm_pid") or 0) in e.vmm_pids():
                    return st
        return None
    st = wait_for(restarted, 30)
    check("the new monitor restarted a under a new domid, on its own", st is not None,
          e.state_files())
    check("... and runs it", st is not None and int(st["monitor_pid"]) == new, st)
    check("domain 1 is gone", not os.path.exists(os.path.join(e.env["XENON_STATE_DIR"],
                                                                 "domain-1")), e.state_files())
    logf = os.path.join(e.env["XENON_LOG_DIR"], "xl-a.log")

    def logged():      # the restart's line comes once its create returns
        log = open(logf, errors="replace").read()
        return "the domain crashed" in log and "restarted as domain" in log
    check("the log says it crashed and was restarted", wait_for(logged, 10),
          open(logf, errors="replace").read()[-600:])
    for n in ("a", "b", "c"):
        rc, _, err = e.xl("destroy", n)
        check(f"destroy {n}", rc == 0, err)
    check("the monitor exits after the last domain",
          wait_for(lambda: not os.path.exists(f"/proc/{new}"), 10))
    check("... and leaves no socket or lock",
          not os.listdir(e.env["XENON_RUN_DIR"]) or
          not {"monitor.sock", "monitor.lock"} & set(os.listdir(e.env["XENON_RUN_DIR"])),
          os.listdir(e.env["XENON_RUN_DIR"]))
    e.check_empty("after the adopted domains")


def t_name_after_teardown(e):
    """A domain that ended is not listed while its monitor tears it down,
    and its name is free for a create from then on: the create waits for
    the teardown (a XenAPI client starts a VM again as soon as it sees it
    Halted). The monitor is held stopped to hold the teardown open."""
    need_kvm()
    cfg = idle_cfg(e, "again")
    rc, _, err = e.xl("create", "-q", cfg)
    check("create again", rc == 0, err)
    st = e.state(1)
    mon, vmm = int(st["monitor_pid"]), int(st["vmm_pid"])
    os.kill(mon, signal.SIGSTOP)
    try:
        os.kill(vmm, signal.SIGKILL)
        wait_for(lambda: vmm not in e.vmm_pids(), 10)
        check("not listed while its teardown waits", "again" not in e.rows(), e.rows())
        p = subprocess.Popen([XL, "create", "-q", cfg], env=e.env, cwd=BUILD,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.5)
        check("the create waits for the teardown, not refused", p.poll() is None,
              p.poll() is not None and p.stderr.read().decode(errors="replace"))
    finally:
        os.kill(mon, signal.SIGCONT)
    out, err = p.communicate(timeout=60)
    check("... and succeeds once it is done", p.returncode == 0, err.decode(errors="replace"))
    r = e.rows().get("again")
    check("the new domain runs under the name, domid 2", r is not None and r.group(2) == "2",
          e.rows())
    rc, _, err = e.xl("destroy", "again")
    check("destroy", rc == 0, err)
    e.check_empty("after the name was taken again")


SCENARIOS = {
    "cli": (t_cli, True), "dryrun": (t_dryrun, True), "badcfg": (t_badcfg, False),
    "failed-create": (t_failed_create, True), "lifecycle": (t_lifecycle, True),
    "hello": (t_hello, True), "restart": (t_restart, True),
    "preserve": (t_preserve, True), "parallel": (t_parallel, True), "create-console": (t_create_console, True), "killed-monitor": (t_killed_monitor, True),
    "pvcontrol": (t_pvcontrol, True), "create-paused": (t_create_paused, True),
    "lookup": (t_lookup, True), "perms-many-vcpus": (t_perms_many_vcpus, True),
    "many-domains": (t_many_domains, True), "pause-console": (t_pause_console, True),
    "xen-cli": (t_xen_cli, True), "xen-guest": (t_xen_guest, True),
    "modes": (t_modes, True), "untrusted-state": (t_untrusted_state, True),
    "ghosts": (t_ghosts, True), "power-cut": (t_power_cut, True),
    "create-console-hello": (t_create_console_hello, True),
    "shutdown-fallback": (t_shutdown_fallback, True),
    "xs-restart": (t_xs_restart, True), "xs-lost-monitor": (t_xs_lost_monitor, True),
    "monitor-adopts": (t_monitor_adopts, True),
    "name-after-teardown": (t_name_after_teardown, True),
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
