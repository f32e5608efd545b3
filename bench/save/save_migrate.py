#!/usr/bin/env python3
"""Save, restore and live migration of a 256 MiB guest with 64 MiB touched
(guests/dirtier: its ring-3 loop dirties pages at a fixed rate), beside
QEMU microvm doing the same with its own migration, in the same run:

- save: the guest stopped, then its state written to a file
  (QEMU: QMP `stop`, `migrate "exec:cat > FILE"`; Xenon: `xl save`):
  time from the request to the file complete, and the file's size;
- restore: from the command to the guest running again
  (QEMU: a new process with -incoming "exec:cat FILE", then `cont`;
  Xenon: `xl restore`);
- live migration on localhost to an incoming peer at three dirty rates
  (QEMU: `migrate tcp:127.0.0.1:PORT` to a QEMU started with -incoming,
  as it comes, with the bandwidth cap lifted): total time and downtime as
  query-migrate reports them.
Xenon's rows need `xl save`/`xl restore`/`xl migrate` in this tree's xl;
where xl has none it says "skipped: xl save not available" (or migrate)
and only QEMU's figures are printed (as records whose Xenon value says
so). Until `xl migrate` exists, the VMM's own pre-copy of the running
guest into a file (xenon-vmm --test-precopy: the memory part of a live
migration, no destination) is given at each rate: its final round, from
the pause to the last byte, and its total.
About two minutes.
    python3 bench/save/save_migrate.py [--json]
"""
import argparse
import json
import os
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
    q.cmd("migrate-set-parameters", **{"max-bandwidth": BANDWIDTH})
    t0 = time.monotonic_ns()
    q.cmd("stop")
    q.cmd("migrate", uri=f"exec:cat > {image}")
    r = wait_migration(q, 120)
    save_ms = (time.monotonic_ns() - t0) / 1e6
    stop(p, q)
    if r["status"] != "completed":
        sys.exit(f"QEMU save: {r}")
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


def xenon_save_restore(tmp):
    """xl save and xl restore of the dirtier guest under a private
    xenstored and state dirs: (save ms, bytes, restore ms)."""
    xl = os.path.join(benchlib.BUILD, "xl", "xl")
    xsd = os.path.join(benchlib.BUILD, "xenstored", "xenon-xenstored")
    sock = os.path.join(tmp, "xs.sock")
    logs = os.path.join(tmp, "log")
    env = dict(os.environ, XENSTORED_PATH=sock, XENON_STATE_DIR=os.path.join(tmp, "state"),
               XENON_RUN_DIR=os.path.join(tmp, "run"), XENON_LOG_DIR=logs,
               XENON_VMM=benchlib.vmm())
    xs = subprocess.Popen([xsd, "-N", "--socket", sock, "--data-dir", os.path.join(tmp, "xsd"),
                           "--pid-file", "", "--log-file", "/dev/null"])
    cfg = os.path.join(tmp, "dirtier.cfg")
    with open(cfg, "w") as f:
        f.write(f'name = "dirtier"\ntype = "pvh"\nmemory = {MEM_MIB}\n'
                f'kernel = "{benchlib.guest("dirtier-64")}"\n'
                f'cmdline = "touch={TOUCH_MIB} rate=0"\n')
    image = os.path.join(tmp, "xenon.sav")
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.01)
        subprocess.run([xl, "create", "-q", cfg], env=env, check=True)
        deadline = time.monotonic() + 120
        while not find_text(logs, "DIRTIER ready"):
            if time.monotonic() > deadline:
                sys.exit("the dirtier guest did not come up under xl")
            time.sleep(0.05)
        t0 = time.monotonic_ns()
        subprocess.run([xl, "save", "dirtier", image], env=env, check=True)
        save_ms = (time.monotonic_ns() - t0) / 1e6
        size = os.path.getsize(image)
        t0 = time.monotonic_ns()
        subprocess.run([xl, "restore", image], env=env, check=True)
        restore_ms = (time.monotonic_ns() - t0) / 1e6
        subprocess.run([xl, "destroy", "dirtier"], env=env)
        return save_ms, size, restore_ms
    finally:
        xs.terminate()
        xs.wait()


def xenon_precopy(tmp, rate):
    """The VMM's pre-copy of the running dirtier guest into a file
    (xenon-vmm --test-precopy): its result line's fields."""
    log = os.path.join(tmp, f"precopy{rate}.log")
    p = subprocess.Popen([benchlib.vmm(), "--kernel", benchlib.guest("dirtier-64"),
                          "--memory", str(MEM_MIB), "--cmdline",
                          f"touch={TOUCH_MIB} rate={rate}", "--serial-log", "/dev/null",
                          "--log-file", log, "--test-precopy",
                          f"4000:{os.path.join(tmp, f'precopy{rate}.img')}"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    fields = None
    while time.monotonic() < deadline and p.poll() is None and fields is None:
        time.sleep(0.1)
        for line in open(log).read().splitlines() if os.path.exists(log) else ():
            if "precopy-check: PASS" in line or "precopy-check: FAIL" in line:
                fields = dict(kv.split("=", 1) for kv in line.split("precopy-check: ")[1].split()[1:])
                fields["verdict"] = line.split("precopy-check: ")[1].split()[0]
    p.kill()
    p.wait()
    if not fields:
        sys.exit(f"xenon-vmm --test-precopy at {rate} pages/ms gave no result")
    return fields


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    benchlib.add_run_mode_args(ap)
    ap.parse_args()
    benchlib.need_kvm()
    qemu = benchlib.qemu()
    if not qemu:
        print("skipped: QEMU not in the oracle cache", file=sys.stderr)
        sys.exit(77)
    have_save = xl_has("save") and xl_has("restore")
    if not have_save:
        print("skipped: xl save not available", file=sys.stderr)
    have_migrate = xl_has("migrate")
    if not have_migrate:
        print("skipped: xl migrate not available", file=sys.stderr)
    na = "skipped: xl save not available"
    with tempfile.TemporaryDirectory() as tmp:
        save_ms, size, restore_ms = qemu_save_restore(qemu, tmp)
        what = f"{MEM_MIB} MiB guest, {TOUCH_MIB} MiB touched"
        if have_save:
            x_save, x_size, x_restore = xenon_save_restore(tmp)
            benchlib.emit(bench="save", metric=f"xl save to a file ({what})",
                          value=round(x_save), unit="ms",
                          peer="QEMU microvm (stop, migrate exec:cat)",
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
                          peer="QEMU microvm (stop, migrate exec:cat)",
                          peer_value=f"{save_ms:.0f} ms", goal=">= 2x faster than QEMU")
            benchlib.emit(bench="save", metric=f"save file size ({what})", value=na, unit="",
                          peer="QEMU microvm", peer_value=f"{size / 2**20:.1f} MiB")
            benchlib.emit(bench="save", metric=f"restore to running ({what})", value=na,
                          unit="", peer="QEMU microvm (-incoming exec:cat, cont)",
                          peer_value=f"{restore_ms:.0f} ms", goal=">= 2x faster than QEMU")
        na = "skipped: xl migrate not available"
        for rate in RATES:
            # What exists of Xenon's live migration today: the VMM's
            # pre-copy of the running guest into a file, no destination.
            f = xenon_precopy(tmp, rate)
            benchlib.emit(bench="save",
                          metric=f"VMM pre-copy into a file, dirtying {rate} pages/ms: "
                                 f"final round (pause to last byte; no destination)",
                          value=round(int(f["stop_to_end_us"]) / 1000, 1), unit="ms",
                          peer=f"total {int(f['total_us']) / 1000:.0f} ms, "
                               f"{f['rounds']} rounds, check {f['verdict']}")
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
            benchlib.emit(bench="save", metric=f"{label}: total time", value=na, unit="",
                          peer="QEMU microvm (migrate tcp:127.0.0.1)", peer_value=total)
            benchlib.emit(bench="save", metric=f"{label}: downtime", value=na, unit="",
                          peer=f"QEMU microvm ({rounds} dirty syncs)", peer_value=down,
                          goal="< 20 ms at a moderate rate; below QEMU's at every rate")


if __name__ == "__main__":
    main()
