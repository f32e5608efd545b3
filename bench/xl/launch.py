#!/usr/bin/env python3
"""`xl create` launch time, in the same run as its peers.

- `xl create` of the hello guest (32- and 64-bit) to the first PV console
  byte in the domain's console log, beside QEMU microvm booting the same
  PVH hello (its serial-only build) to the first serial byte on stdout:
  ratio = QEMU / xl, the issue's launch goal (>= 10).
- xl create (idle-64 guest) to "domain running": xl returns once the
  domain's xenstore nodes are written, it is introduced to xenstored, the
  monitor has started xenon-vmm and the VMM has reported the domain built.
  And xl create to the first PV console byte. Peer: xenon-vmm run directly
  with the same image (no toolstack, no xenstored), the same console
  socket/log options and the same detection by polling the files.
  ratio = xl / direct: the toolstack's cost factor (goal for the first
  PV console byte: at most 1.3).
- The same idle-64 xl create with the monitor's standby VMM turned off
  (XENON_VMM_STANDBY=0, a second monitor on state dirs of its own),
  interleaved with the others: what the standby is worth.
- Every figure also as a multiple of the launch floor (bench/floor/),
  measured interleaved in the same run.
Each run starts one domain (hello powers itself off; idle is destroyed);
runs are interleaved and the median is reported. Each timed run starts
SETTLE s after the one before, so that what a run leaves behind (a
domain's teardown, the monitor starting its next standby 50 ms after its
last request) falls in no other run's time, ours or a peer's. Uses a
private xenstored and private state dirs.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import benchlib  # noqa: E402

RUNS = int(os.environ.get("RUNS", "15"))
SETTLE = 0.1


def wait_file(pred, secs=30):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if pred():
            return time.monotonic_ns()
        time.sleep(0.0001)
    sys.exit("timed out waiting for the guest")


def nonempty(path):
    try:
        return os.path.getsize(path) > 0
    except OSError:
        return False


def hello_vs_qemu(xl, env, tmp):
    qemu = benchlib.qemu()
    for bits in (32, 64):
        mine, peer, floors = [], [], []
        for i in range(RUNS):
            time.sleep(SETTLE)
            floors.append(benchlib.floor_ms())
            name = f"hello{bits}-{i}"
            cfg = os.path.join(tmp, f"{name}.cfg")
            with open(cfg, "w") as f:
                f.write(f'name = "{name}"\ntype = "pvh"\nmemory = 16\n'
                        f'kernel = "{benchlib.guest(f"hello-{bits}")}"\n')
            clog = os.path.join(tmp, "log", "console", f"guest-{name}.log")
            time.sleep(SETTLE)
            t0 = time.monotonic_ns()
            subprocess.run([xl, "create", "-q", cfg], env=env, check=True)
            t1 = wait_file(lambda: nonempty(clog))
            mine.append((t1 - t0) / 1e6)
            if qemu:
                time.sleep(SETTLE)
                image = benchlib.guest(f"serial-hello-{bits}")
                peer.append(benchlib.first_stdout_byte_ms(
                    benchlib.qemu_microvm_cmd(qemu, image)))
        m = benchlib.median(mine)
        q = benchlib.median(peer) if peer else None
        benchlib.emit(bench="xl", metric=f"xl create to first PV console byte (hello-{bits})",
                      value=round(m, 2), unit="ms",
                      peer=f"QEMU microvm, same {bits}-bit hello (serial build), first serial byte",
                      peer_value=round(q, 2) if q else None,
                      ratio=round(q / m, 1) if q else None,
                      ratio_means="QEMU / xl create", goal=">= 10",
                      **benchlib.floor_fields(m, benchlib.median(floors)))


def main():
    benchlib.need_kvm()
    xl = os.path.join(benchlib.BUILD, "xl", "xl")
    xsd = os.path.join(benchlib.BUILD, "xenstored", "xenon-xenstored")
    image = benchlib.guest("idle-64")
    tmp = tempfile.mkdtemp(prefix="xl-bench-")
    sock = os.path.join(tmp, "xs.sock")
    env = dict(os.environ, XENSTORED_PATH=sock, XENON_STATE_DIR=os.path.join(tmp, "state"),
               XENON_RUN_DIR=os.path.join(tmp, "run"), XENON_LOG_DIR=os.path.join(tmp, "log"),
               XENON_VMM=benchlib.vmm())
    xs = subprocess.Popen([xsd, "-N", "--socket", sock, "--data-dir", os.path.join(tmp, "xsd"),
                           "--pid-file", "", "--log-file", "/dev/null"])
    cfg = os.path.join(tmp, "bench.cfg")
    with open(cfg, "w") as f:
        f.write(f'name = "bench"\ntype = "pvh"\nkernel = "{image}"\nmemory = 16\n')
    clog = os.path.join(tmp, "log", "console", "guest-bench.log")
    off = os.path.join(tmp, "nostandby")
    env_off = dict(env, XENON_STATE_DIR=os.path.join(off, "state"),
                   XENON_RUN_DIR=os.path.join(off, "run"), XENON_LOG_DIR=os.path.join(off, "log"),
                   XENON_VMM_STANDBY="0")
    clog_off = os.path.join(off, "log", "console", "guest-bench.log")
    try:
        wait_file(lambda: os.path.exists(sock))
        hello_vs_qemu(xl, env, tmp)
        xl_run, xl_byte, d_run, d_byte, floors, off_byte = [], [], [], [], [], []
        for i in range(RUNS):
            time.sleep(SETTLE)
            floors.append(benchlib.floor_ms())
            for e, log, out in ((env, clog, xl_byte), (env_off, clog_off, off_byte)):
                if os.path.exists(log):
                    os.unlink(log)
                time.sleep(SETTLE)
                t0 = time.monotonic_ns()
                subprocess.run([xl, "create", "-q", cfg], env=e, check=True)
                t1 = time.monotonic_ns()
                t2 = wait_file(lambda: nonempty(log))
                subprocess.run([xl, "destroy", "bench"], env=e, check=True)
                if e is env:
                    xl_run.append((t1 - t0) / 1e6)
                out.append((t2 - t0) / 1e6)

            time.sleep(SETTLE)
            csock = os.path.join(tmp, f"direct{i}.sock")
            dlog = os.path.join(tmp, f"direct{i}.log")
            t0 = time.monotonic_ns()
            p = subprocess.Popen([benchlib.vmm(), "--kernel", image, "--memory", "16",
                                  "--console-socket", csock, "--console-log", dlog,
                                  "--log-file", "/dev/null"])
            t1 = wait_file(lambda: os.path.exists(csock))
            t2 = wait_file(lambda: nonempty(dlog))
            p.send_signal(signal.SIGTERM)
            p.wait()
            d_run.append((t1 - t0) / 1e6)
            d_byte.append((t2 - t0) / 1e6)
        if os.environ.get("LAUNCH_VERBOSE"):
            print("standby", [round(x, 1) for x in xl_byte], "\nnone   ",
                  [round(x, 1) for x in off_byte], "\ndirect ", [round(x, 1) for x in d_byte],
                  file=sys.stderr)
        fl = benchlib.median(floors)
        for what, mine, peer, goal in (("domain running", xl_run, d_run, None),
                                       ("first PV console byte", xl_byte, d_byte, "<= 1.3")):
            m, q = benchlib.median(mine), benchlib.median(peer)
            benchlib.emit(bench="xl", metric=f"xl create to {what} (idle-64)",
                          value=round(m, 2), unit="ms",
                          peer=f"xenon-vmm started directly, to {what}",
                          peer_value=round(q, 2), ratio=round(m / q, 2),
                          ratio_means="xl / direct VMM (toolstack cost factor)", goal=goal,
                          **benchlib.floor_fields(m, fl))
        m, q = benchlib.median(off_byte), benchlib.median(d_byte)
        benchlib.emit(bench="xl", metric="xl create to first PV console byte (idle-64), "
                      "no standby VMM (XENON_VMM_STANDBY=0)",
                      value=round(m, 2), unit="ms",
                      peer="xenon-vmm started directly, to first PV console byte",
                      peer_value=round(q, 2), ratio=round(m / q, 2),
                      ratio_means="xl / direct VMM (toolstack cost factor)", goal=None,
                      **benchlib.floor_fields(m, fl))
    finally:
        xs.send_signal(signal.SIGTERM)
        xs.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
