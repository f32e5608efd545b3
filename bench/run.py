#!/usr/bin/env python3
"""Run every benchmark and write the table.

    python3 bench/run.py            (after scripts/test.sh or a meson build)

The peers come from the oracle cache: it first runs `scripts/oracles.py
qemu xen fio` (QEMU, Xen's tools and fio unpacked, not installed).

Runs each bench/*/NAME.py in turn with --json (each prints JSON records,
see benchlib.py), then prints a Markdown table and writes it with the JSON to
build/bench/results.md and results.json, with a description of the machine.
"""
import glob
import json
import os
import platform
import subprocess
import sys
import time

import benchlib


def machine():
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(l for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    except (OSError, StopIteration):
        mem = "MemTotal: ?"
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem.split(":", 1)[1].strip(),
            "kernel": platform.release(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def fmt(v):
    return "" if v is None else str(v)


def floor_cell(r):
    """A launch figure as a multiple of the KVM launch floor of its run."""
    if r.get("floor_ratio") is None:
        return ""
    goal = r.get("floor_goal")
    return f"{r['floor_ratio']}" + (f" ({goal})" if goal else "")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    if subprocess.run([sys.executable, os.path.join(here, "..", "scripts", "oracles.py"),
                       "qemu", "xen", "fio"]).returncode:
        print("bench: the oracle cache could not be filled; peers missing from it "
              "are not measured", file=sys.stderr)
    # The density runs last: a thousand domains torn down leave the host
    # busy (KVM and memory clean-up) for a while, which the launch-time
    # figures would otherwise measure.
    scripts = sorted(glob.glob(os.path.join(here, "*", "*.py")),
                     key=lambda s: ("density" in os.path.basename(s), s))
    records, failures = [], []
    for s in scripts:
        print(f"== {os.path.relpath(s, here)}", file=sys.stderr, flush=True)
        p = subprocess.run([sys.executable, s, "--json"], capture_output=True, text=True)
        if p.returncode == 77:
            failures.append(f"{os.path.relpath(s, here)}: skipped ({p.stderr.strip()})")
            continue
        if p.returncode != 0:
            failures.append(f"{os.path.relpath(s, here)}: failed: {p.stderr.strip()[-500:]}")
        for line in p.stdout.splitlines():
            if line.startswith("{"):
                records.append(json.loads(line))
    m = machine()
    lines = [f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']}, Linux {m['kernel']}, {m['date']}",
             "",
             "| benchmark | Xenon | peer (same run) | peer value | ratio | ratio means | goal "
             "| x floor (goal) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in records:
        lines.append(f"| {r['metric']} | {r['value']} {r['unit']} | {fmt(r.get('peer'))} | "
                     f"{fmt(r.get('peer_value'))} | {fmt(r.get('ratio'))} | "
                     f"{fmt(r.get('ratio_means'))} | {fmt(r.get('goal'))} | {floor_cell(r)} |")
    for f in failures:
        lines.append(f"\n{f}")
    table = "\n".join(lines)
    print(table)
    out = os.path.join(benchlib.BUILD, "bench")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"machine": m, "records": records, "problems": failures}, f, indent=2)
    sys.exit(1 if any("failed" in f for f in failures) else 0)


if __name__ == "__main__":
    main()
