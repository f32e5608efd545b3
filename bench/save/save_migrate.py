#!/usr/bin/env python3
"""Save, restore and live migration of a 256 MiB guest with 64 MiB touched
(guests/dirtier: its ring-3 loop dirties pages at a fixed rate), beside
QEMU microvm doing the same with its own migration, in the same run:

- save: the guest stopped, its state written to a file, the file durable
  and the source gone, as `xl save` without -c does (QEMU: QMP `stop`,
  `migrate "exec:cat > FILE && sync FILE"`, then `quit` and the process
  reaped; Xenon: `xl save`, which fsyncs the file and destroys the
  domain before it exits): time from the request to all of that done, and
  the file's size;
- restore: from the command to the guest running again
  (QEMU: a new process with -incoming "exec:cat FILE", then `cont`;
  Xenon: `xl restore`);
- live migration on localhost to an incoming peer at three dirty rates
  (QEMU: `migrate tcp:127.0.0.1:PORT` to a QEMU started with -incoming,
  as it comes, with the bandwidth cap lifted): total time and downtime as
  query-migrate reports them.
  Xenon: `xl migrate --debug` to localhost (an "ssh" that runs `xl
  migrate-receive` here), live: total time of the command and the
  downtime xl reports (the source's vCPUs stopped to the target's report
  of its copy running: the handshake's renames and GO included).
Xenon's rows need `xl save`/`xl restore`/`xl migrate` in this tree's xl;
where xl has none it says "skipped: xl save not available" (or migrate)
and only QEMU's figures are printed (as records whose Xenon value says
so).
About two minutes. `--only save` runs just the save and restore rows,
`--only migrate` just the live migration rows; `--repeat N` runs the save
and restore N times on each side (alternating) and reports the medians.
    python3 bench/save/save_migrate.py [--json] [--only save|migrate] [--repeat N]
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import benchlib  # noqa: E402

MEM_MIB = 256
TOUCH_MIB = 64
RATES = (5, 25, 100)                # pages per ms dirtied during migration
MIGRATE_LIMIT_S = 40                # a migration that has not converged by then is cancelled
BANDWIDTH = 100 << 30               # bytes/s: QEMU's 32 MiB/s default cap lifted


class QMP:
    def __init__(self, path, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        self.f = self.s.makefile("rw")
        json.loads(self.f.readline())           # the greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if "event" in r:
                continue
            if "error" in r:
                raise RuntimeError(f"QMP {name}: {r['error']}")
            return r["return"]

    def close(self):
        self.s.close()


def host_tsc_khz():
    """The TSC rate for the guest under QEMU, which shows it no timing
    leaf here: /proc/cpuinfo's "cpu MHz" (on these hosts what Xenon's
    CPUID leaf gives the guest), or None (the guest then guesses 2 GHz)."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("cpu MHz"):
                return int(float(line.split(":")[1]) * 1000)
    except (OSError, ValueError):
        pass
    return None


def qemu_cmd(qemu, tmp, tag, rate, extra=()):
    khz = host_tsc_khz()
    return [*qemu, "-enable-kvm", "-M", "microvm", "-nodefaults", "-no-user-config",
            "-display", "none", "-m", str(MEM_MIB),
            "-kernel", benchlib.guest("dirtier-64"),
            "-append", f"touch={TOUCH_MIB} rate={rate}" + (f" tsc_khz={khz}" if khz else ""),
            "-debugcon", f"file:{os.path.join(tmp, tag + '.out')}",
            "-qmp", f"unix:{os.path.join(tmp, tag + '.qmp')},server=on,wait=off", *extra]


def wait_for(path, text, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if text in open(path).read():
                return True
        except OSError:
            pass
        time.sleep(0.02)
    return False


def start_qemu(qemu, tmp, tag, rate, extra=(), ready=True):
    p = subprocess.Popen(qemu_cmd(qemu, tmp, tag, rate, extra), stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    q = QMP(os.path.join(tmp, tag + ".qmp"))
    if ready and not wait_for(os.path.join(tmp, tag + ".out"), "DIRTIER ready"):
        p.kill()
        sys.exit("the dirtier guest did not come up under QEMU")
    return p, q


def stop(p, q):
    try:
        q.close()
    finally:
        p.kill()
        p.wait()


def wait_migration(q, limit_s):
    """query-migrate until the migration ends: its last answer."""
    deadline = time.monotonic() + limit_s
    while True:
        r = q.cmd("query-migrate")
        if r.get("status") in ("completed", "failed", "cancelled"):
            return r
        if time.monotonic() > deadline:
            q.cmd("migrate_cancel")
            r["status"] = "not converged"
            return r
        time.sleep(0.005)


def qemu_save_restore(qemu, tmp):
    p, q = start_qemu(qemu, tmp, "save", 0)
    image = os.path.join(tmp, "qemu.sav")
    # The same work as `xl save` without -c: the file durable on disk
    # (its writer done and the file fsync'd: coreutils' `sync FILE`) and
    # the source gone (QMP quit, the process reaped). The shell says so
    # through a FIFO held open here for writing too, so the read waits.
    done = os.path.join(tmp, "qemu.sav.done")
    if os.path.exists(done):
        os.unlink(done)
    os.mkfifo(done)
    dfd = os.open(done, os.O_RDWR)
    q.cmd("migrate-set-parameters", **{"max-bandwidth": BANDWIDTH})
    t0 = time.monotonic_ns()
    q.cmd("stop")
    q.cmd("migrate", uri=f"exec:cat > {image} && sync {image} && echo ok > {done}")
    r = wait_migration(q, 120)
    if r["status"] != "completed":
        stop(p, q)
        sys.exit(f"QEMU save: {r}")
    ok = os.read(dfd, 3) == b"ok\n"
    try:
        q.cmd("quit")
    except (OSError, ValueError, RuntimeError):
        pass                            # the connection closes as it quits
    p.wait()
    save_ms = (time.monotonic_ns() - t0) / 1e6
    os.close(dfd)
    os.unlink(done)
    q.close()
    if not ok:
        sys.exit("QEMU save: the file was not written and synced")
    size = os.path.getsize(image)

    t0 = time.monotonic_ns()
    p, q = start_qemu(qemu, tmp, "restore", 0, ("-incoming", f"exec:cat {image}"),
                      ready=False)
    deadline = time.monotonic() + 120
    while True:
        st = q.cmd("query-status")["status"]
        if st == "running":
            break
        if st in ("paused", "postmigrate", "prelaunch") and \
                q.cmd("query-migrate").get("status") in (None, "completed"):
            q.cmd("cont")
        if time.monotonic() > deadline:
            sys.exit(f"QEMU restore: still {st}")
        time.sleep(0.002)
    restore_ms = (time.monotonic_ns() - t0) / 1e6
    # The guest runs on where it was: a heartbeat after the restore.
    ok = wait_for(os.path.join(tmp, "restore.out"), "DIRTIER beat=", 10)
    stop(p, q)
    if not ok:
        sys.exit("QEMU restore: the guest did not run on")
    return save_ms, size, restore_ms


def qemu_live(qemu, tmp, rate):
    port = free_port()
    dst, dq = start_qemu(qemu, tmp, f"dst{rate}", rate,
                         ("-incoming", f"tcp:127.0.0.1:{port}"), ready=False)
    src, sq = start_qemu(qemu, tmp, f"src{rate}", rate)
    time.sleep(1)                       # the dirtying loop under way
    sq.cmd("migrate-set-parameters", **{"max-bandwidth": BANDWIDTH})
    sq.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
    r = wait_migration(sq, MIGRATE_LIMIT_S)
    ok = r["status"] != "completed" or \
        wait_for(os.path.join(tmp, f"dst{rate}.out"), "DIRTIER beat=", 10)
    stop(src, sq)
    stop(dst, dq)
    if not ok:
        sys.exit(f"QEMU live migration at {rate} pages/ms: the guest did not run on")
    return r


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def xl_has(command):
    """Whether this tree's xl implements command (it says "not implemented"
    where it does not)."""
    xl = os.path.join(benchlib.BUILD, "xl", "xl")
    try:
        out = subprocess.run([xl, command], capture_output=True, text=True, timeout=30)
    except OSError:
        return False
    return "not implemented" not in out.stdout + out.stderr


def find_text(root, text):
    for d, _, files in os.walk(root):
        for f in files:
            try:
                if text in open(os.path.join(d, f), errors="replace").read():
                    return True
            except OSError:
                pass
    return False


class Xenon:
    """A private xenstored and state dirs for xl."""

    def __init__(self, tmp, tag):
        self.tmp = tmp
        self.xl = os.path.join(benchlib.BUILD, "xl", "xl")
        xsd = os.path.join(benchlib.BUILD, "xenstored", "xenon-xenstored")
        base = os.path.join(tmp, tag)
        os.mkdir(base)
        sock = os.path.join(base, "xs.sock")
        self.logs = os.path.join(base, "log")
        self.env = dict(os.environ, XENSTORED_PATH=sock,
                        XENON_STATE_DIR=os.path.join(base, "state"),
                        XENON_RUN_DIR=os.path.join(base, "run"), XENON_LOG_DIR=self.logs,
                        XENON_VMM=benchlib.vmm(), XL_BIN=self.xl)
        self.xs = subprocess.Popen([xsd, "-N", "--socket", sock, "--data-dir",
                                    os.path.join(base, "xsd"), "--pid-file", "",
                                    "--log-file", "/dev/null"])
        deadline = time.monotonic() + 30
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.01)
        self.base = base

    def create_dirtier(self, rate):
        cfg = os.path.join(self.base, "dirtier.cfg")
        with open(cfg, "w") as f:
            f.write(f'name = "dirtier"\ntype = "pvh"\nmemory = {MEM_MIB}\n'
                    f'kernel = "{benchlib.guest("dirtier-64")}"\n'
                    f'cmdline = "touch={TOUCH_MIB} rate={rate}"\n')
        subprocess.run([self.xl, "create", "-q", cfg], env=self.env, check=True)
        deadline = time.monotonic() + 120
        while not find_text(self.logs, "DIRTIER ready"):
            if time.monotonic() > deadline:
                sys.exit("the dirtier guest did not come up under xl")
            time.sleep(0.05)

    def run(self, *args, **kw):
        return subprocess.run([self.xl, *args], env=self.env, **kw)

    def close(self):
        self.run("destroy", "dirtier", capture_output=True)
        self.xs.terminate()
        self.xs.wait()


def xenon_save_restore(tmp, run=0):
    """xl save and xl restore of the dirtier guest: (save ms, bytes,
    restore ms)."""
    x = Xenon(tmp, f"xsave{run}")
    image = os.path.join(tmp, "xenon.sav")
    try:
        x.create_dirtier(0)
        t0 = time.monotonic_ns()
        x.run("save", "dirtier", image, check=True)
        save_ms = (time.monotonic_ns() - t0) / 1e6
        size = os.path.getsize(image)
        t0 = time.monotonic_ns()
        x.run("restore", image, check=True)
        restore_ms = (time.monotonic_ns() - t0) / 1e6
        return save_ms, size, restore_ms
    finally:
        x.close()


SSH = """#!/bin/sh
# As `ssh HOST xl migrate-receive ...`, on this machine.
shift 3
exec "$XL_BIN" migrate-receive "$@"
"""


def xenon_live(tmp, rate):
    """xl migrate (live) of the dirtier guest dirtying `rate` pages/ms to
    localhost: (total ms, downtime ms, rounds), or None if it failed."""
    x = Xenon(tmp, f"xlive{rate}")
    ssh = os.path.join(x.base, "fake-ssh")
    with open(ssh, "w") as f:
        f.write(SSH)
    os.chmod(ssh, 0o700)
    try:
        x.create_dirtier(rate)
        time.sleep(1)                   # the dirtying loop under way, as for QEMU
        t0 = time.monotonic_ns()
        r = x.run("migrate", "-s", ssh, "--debug", "dirtier", "localhost",
                  capture_output=True, text=True, timeout=MIGRATE_LIMIT_S * 3)
        total = (time.monotonic_ns() - t0) / 1e6
        down = re.search(r"downtime \(.*?\): ([0-9.]+) ms", r.stderr)
        rounds = len(re.findall(r"migration sender: round \d+", r.stderr))
        if r.returncode != 0 or not down:
            print(r.stderr[-2000:], file=sys.stderr)
            return None
        # The guest runs on at the target (the source is gone): new
        # heartbeats in its serial log.
        n = beats(x.logs)
        deadline = time.monotonic() + 10
        while beats(x.logs) < n + 2:
            if time.monotonic() > deadline:
                sys.exit(f"Xenon live migration at {rate} pages/ms: the guest did not run on")
            time.sleep(0.05)
        return total, float(down.group(1)), rounds
    finally:
        x.close()


def beats(logs):
    """Heartbeat lines in the serial logs of the dirtier's copies."""
    n = 0
    for name in ("dirtier", "dirtier--incoming"):
        try:
            n += open(os.path.join(logs, "console", f"hypervisor-{name}.log"),
                      errors="replace").read().count("DIRTIER beat=")
        except OSError:
            pass
    return n


def medians(runs):
    """The per-field medians of equal-length tuples."""
    return tuple(benchlib.median(col) for col in zip(*runs))


def save_rows(qemu, tmp, have_save, repeat):
    """The save, file size and restore rows, medians of `repeat` runs."""
    na = "skipped: xl save not available"
    q_runs, x_runs = [], []
    for i in range(repeat):         # alternating: a change of load falls on both
        q_runs.append(qemu_save_restore(qemu, tmp))
        if have_save:
            x_runs.append(xenon_save_restore(tmp, i))
    save_ms, size, restore_ms = medians(q_runs)
    what = f"{MEM_MIB} MiB guest, {TOUCH_MIB} MiB touched"
    if repeat > 1:
        what += f", median of {repeat}"
    if have_save:
        x_save, x_size, x_restore = medians(x_runs)
        benchlib.emit(bench="save", metric=f"xl save to a file ({what})",
                      value=round(x_save), unit="ms",
                      peer="QEMU microvm (stop, migrate exec:cat, sync FILE, quit)",
                      peer_value=round(save_ms), ratio=round(save_ms / x_save, 2),
                      ratio_means="QEMU / Xenon", goal=">= 2")
        benchlib.emit(bench="save", metric=f"save file size ({what})",
                      value=round(x_size / 2**20, 1), unit="MiB", peer="QEMU microvm",
                      peer_value=round(size / 2**20, 1), ratio=round(size / x_size, 2),
                      ratio_means="QEMU / Xenon")
        benchlib.emit(bench="save", metric=f"xl restore to running ({what})",
                      value=round(x_restore), unit="ms",
                      peer="QEMU microvm (-incoming exec:cat, cont)",
                      peer_value=round(restore_ms), ratio=round(restore_ms / x_restore, 2),
                      ratio_means="QEMU / Xenon", goal=">= 2")
    else:
        benchlib.emit(bench="save", metric=f"save to a file ({what})", value=na, unit="",
                      peer="QEMU microvm (stop, migrate exec:cat, sync FILE, quit)",
                      peer_value=f"{save_ms:.0f} ms", goal=">= 2x faster than QEMU")
        benchlib.emit(bench="save", metric=f"save file size ({what})", value=na, unit="",
                      peer="QEMU microvm", peer_value=f"{size / 2**20:.1f} MiB")
        benchlib.emit(bench="save", metric=f"restore to running ({what})", value=na,
                      unit="", peer="QEMU microvm (-incoming exec:cat, cont)",
                      peer_value=f"{restore_ms:.0f} ms", goal=">= 2x faster than QEMU")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    benchlib.add_run_mode_args(ap)
    ap.add_argument("--only", choices=("save", "migrate"),
                    help="run only the save/restore rows or only the live migration rows")
    ap.add_argument("--repeat", type=int, default=1, metavar="N",
                    help="save and restore N times on each side; report the medians")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    do_save = args.only in (None, "save")
    do_migrate = args.only in (None, "migrate")
    benchlib.need_kvm()
    qemu = benchlib.qemu()
    if not qemu:
        print("skipped: QEMU not in the oracle cache", file=sys.stderr)
        sys.exit(77)
    have_save = do_save and xl_has("save") and xl_has("restore")
    if do_save and not have_save:
        print("skipped: xl save not available", file=sys.stderr)
    have_migrate = do_migrate and xl_has("migrate")
    if do_migrate and not have_migrate:
        print("skipped: xl migrate not available", file=sys.stderr)
    na = "skipped: xl save not available"
    with tempfile.TemporaryDirectory() as tmp:
        if do_save:
            save_rows(qemu, tmp, have_save, args.repeat)
        na = "skipped: xl migrate not available"
        for rate in RATES if do_migrate else ():
            xr = xenon_live(tmp, rate) if have_migrate else None
            r = qemu_live(qemu, tmp, rate)
            mb_s = rate * 4096 * 1000 / 1e6
            label = f"live migration, localhost, dirtying {rate} pages/ms ({mb_s:.0f} MB/s)"
            if r["status"] == "completed":
                total = f"{r.get('total-time')} ms"
                down = f"{r.get('downtime')} ms"
                rounds = r.get("ram", {}).get("dirty-sync-count")
            else:
                total = down = f"{r['status']} in {MIGRATE_LIMIT_S} s"
                rounds = r.get("ram", {}).get("dirty-sync-count")
            if xr:
                x_total, x_down, x_rounds = xr
                benchlib.emit(bench="save", metric=f"{label}: total time",
                              value=round(x_total), unit="ms",
                              peer="QEMU microvm (migrate tcp:127.0.0.1)", peer_value=total)
                benchlib.emit(bench="save", metric=f"{label}: downtime",
                              value=round(x_down, 1), unit=f"ms ({x_rounds} rounds)",
                              peer=f"QEMU microvm ({rounds} dirty syncs)", peer_value=down,
                              goal="< 20 ms at a moderate rate; below QEMU's at every rate")
                continue
            value = na if not have_migrate else "failed"
            benchlib.emit(bench="save", metric=f"{label}: total time", value=value, unit="",
                          peer="QEMU microvm (migrate tcp:127.0.0.1)", peer_value=total)
            benchlib.emit(bench="save", metric=f"{label}: downtime", value=value, unit="",
                          peer=f"QEMU microvm ({rounds} dirty syncs)", peer_value=down,
                          goal="< 20 ms at a moderate rate; below QEMU's at every rate")


if __name__ == "__main__":
    main()
