#!/usr/bin/env python3
"""Launch time of the hello guest, beside QEMU microvm booting the same PVH
image in the same run.

- xenon-vmm process start (just before exec) to the first guest instruction
  (vCPU 0's first KVM_RUN) and to the first PV console byte, hello guest;
  and the VMM's own share of it: start to main() (exec, dynamic loader)
  and main() to the domain built (memory, loader, KVM VM and vCPUs).
- Process start to the first serial byte on stdout for serial-hello, a PVH
  guest that needs no Xen, under xenon-vmm and under
  qemu-system-x86_64 -enable-kvm -M microvm; ratio = QEMU / Xenon.
- The floor of a launch on this host (bench/floor/kvm_floor.c: open
  /dev/kvm, one memory slot, one vCPU, real-mode code writing one byte to
  a port): every launch figure is also given as a multiple of it
  (floor_ratio), measured interleaved in the same run. Goal: start to first
  PV console byte at most 1.5x the floor.
- With KVMTOOL=/path/to/lkvm, kvmtool as a second peer: process start to
  the first serial line of the smallest guest it boots (a 12-byte real-mode
  flat binary; it loads no PVH ELF), beside serial-hello under xenon-vmm.
Both the 32-bit and the 64-bit image are measured. On hosts whose KVM
emulates guest kernel code (these build machines, ~0.5 us an instruction)
the guest's own instruction count shows: the 64-bit entry loads page
tables built by the assembler rather than filling them in a loop.
bench/xl/launch.py measures the same through `xl create`.
Runs are interleaved and the median of each is reported.
"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import benchlib  # noqa: E402

RUNS = 15


def xenon_milestones(bits):
    t0 = time.monotonic_ns()
    p = subprocess.run([benchlib.vmm(), "--kernel", benchlib.guest(f"hello-{bits}"),
                        "--launch-trace", "--console-log", "/dev/null",
                        "--serial-log", "/dev/null", "--log-file", "/dev/null"],
                       capture_output=True, text=True, timeout=60)
    marks = dict(line.split()[1:3] for line in p.stderr.splitlines()
                 if line.startswith("launch: "))
    ms = {k: (int(v) - t0) / 1e6 for k, v in marks.items()}
    return ms["first-guest-entry"], ms["first-console-byte"], ms.get("main"), ms.get("built")


def measure(bits, qemu):
    image = benchlib.guest(f"serial-hello-{bits}")
    xenon_cmd = [benchlib.vmm(), "--kernel", image, "--serial-stdio",
                 "--console-log", "/dev/null", "--log-file", "/dev/null"]
    qemu_cmd = benchlib.qemu_microvm_cmd(qemu, image)
    entry, console, xs, qs, setup, floors = [], [], [], [], [], []
    for _ in range(RUNS):
        floors.append(benchlib.floor_ms())
        e, c, m, b = xenon_milestones(bits)
        entry.append(e)
        console.append(c)
        if m is not None and b is not None:
            setup.append((m, b - m))
        xs.append(benchlib.first_stdout_byte_ms(xenon_cmd))
        if qemu:
            qs.append(benchlib.first_stdout_byte_ms(qemu_cmd))
    q = benchlib.median(qs) if qs else None
    peer = dict(peer=f"QEMU microvm, same {bits}-bit image, first serial byte",
                peer_value=round(q, 2) if q else None)

    def ratio(x):
        return round(q / x, 1) if q else None
    e, c, x, fl = (benchlib.median(v) for v in (entry, console, xs, floors))
    benchlib.emit(bench="vmm", metric=f"launch floor: start to first port byte, bare KVM ({bits}-bit run)",
                  value=round(fl, 2), unit="ms", **peer, ratio=ratio(fl),
                  ratio_means="QEMU first byte / the floor")
    benchlib.emit(bench="vmm", metric=f"launch: start to first guest instruction (hello-{bits})",
                  value=round(e, 2), unit="ms", **peer, ratio=ratio(e),
                  ratio_means="QEMU first byte / Xenon first instruction",
                  **benchlib.floor_fields(e, fl))
    if setup:
        # Where the VMM's own part goes: exec + dynamic loader (process
        # start to main) and building the domain (main to vCPU start).
        benchlib.emit(bench="vmm", metric=f"launch: start to main, exec and loader (hello-{bits})",
                      value=round(benchlib.median([m for m, _ in setup]), 2), unit="ms")
        benchlib.emit(bench="vmm", metric=f"launch: main to domain built (hello-{bits})",
                      value=round(benchlib.median([b for _, b in setup]), 2), unit="ms")
    benchlib.emit(bench="vmm", metric=f"launch: start to first PV console byte (hello-{bits})",
                  value=round(c, 2), unit="ms", **peer, ratio=ratio(c),
                  ratio_means="QEMU first byte / Xenon first PV console byte", goal=">= 10",
                  **benchlib.floor_fields(c, fl, "<= 1.5"))
    benchlib.emit(bench="vmm", metric=f"launch: start to first serial byte (serial-hello-{bits})",
                  value=round(x, 2), unit="ms", **peer, ratio=ratio(x),
                  ratio_means="QEMU / Xenon, same image", goal=">= 10",
                  **benchlib.floor_fields(x, fl))


def measure_kvmtool(lkvm):
    image = benchlib.guest("serial-hello-32")
    xenon_cmd = [benchlib.vmm(), "--kernel", image, "--serial-stdio",
                 "--console-log", "/dev/null", "--log-file", "/dev/null"]
    mine, peer = [], []
    with tempfile.TemporaryDirectory(prefix="launch-kvmtool-") as tmp:
        cmd, env = benchlib.kvmtool_cmd(lkvm, tmp, 64)
        for _ in range(RUNS):
            mine.append(benchlib.first_stdout_byte_ms(xenon_cmd))
            peer.append(benchlib.first_line_ms(cmd, lambda line: line.strip() == b"K", env))
    m, q = benchlib.median(mine), benchlib.median(peer)
    benchlib.emit(bench="vmm", metric="launch: start to first serial byte (serial-hello-32), "
                  "vs kvmtool", value=round(m, 2), unit="ms",
                  peer="kvmtool lkvm run, 12-byte real-mode guest, first serial line",
                  peer_value=round(q, 2), ratio=round(q / m, 1),
                  ratio_means="kvmtool / Xenon")


def main():
    benchlib.need_kvm()
    qemu = benchlib.qemu()
    for bits in (32, 64):
        measure(bits, qemu)
    lkvm = benchlib.kvmtool()
    if lkvm:
        measure_kvmtool(lkvm)
    else:
        print("launch: kvmtool not measured (set KVMTOOL=/path/to/lkvm)", file=sys.stderr)


if __name__ == "__main__":
    main()
