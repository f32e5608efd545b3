#!/usr/bin/env python3
"""Write vmm/text-order.ld: the code a running domain uses, placed first.

    python3 scripts/text-order.py [BUILD]      (default build/)

Why: xenon-vmm is a static PIE and a lone domain counts every page of its
text that is mapped. The kernel maps file pages around each fault (fault
around, and whole large folios), so code touched here and there maps most
of the text: 730 of 1000 KiB, for some 60 KiB of code that runs. Placing
the functions that run together makes the same faults map the code that
runs, and leaves the rest (decompressors, error paths, the unused bulk of
libc) unmapped.

How: it runs xenon-vmm under callgrind (valgrind) with a few test guests.
Each function that executed once the domain was built (inside vcpu_thread
or ioloop_run: a running domain) goes into the first group; what executed
before (exec, option parsing, the loaders, KVM set-up) into the second.
The input section holding each function (a function's own .text.NAME in
the VMM's objects, built with -ffunction-sections; a whole archive
member's .text for libc and the other libraries) is found in the link
map. glibc's string functions come in variants chosen by CPU at start-up
(IFUNC): every variant of one that ran is listed, as valgrind's CPU is
not the one the VMM will run on.

The result is an INSERT script for GNU ld (vmm/meson.build links with
it). A name that no longer exists matches nothing and costs nothing; rerun
this after the VMM's runtime paths change, and read the PSS figure of
bench/vmm/overhead.py.
"""
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "vmm", "text-order.ld")

# (guest, extra args, seconds before SIGTERM or None: it ends by itself)
SCENARIOS = [
    ("hello-64", [], None),
    ("hello-32", [], None),
    ("idle-64", [], 6),
    ("evtchn-64", [], None),
    ("gnttab-64", [], None),
    ("hypercalls-64", [], None),
    ("shutdown-64", [], None),
]
# What a running domain executes: its vCPU threads and the I/O loop (which
# also runs startup_pages_release(), the idle guest long enough for it).
# Roots must not nest (callgrind toggles collection at each). Beside them, what
# callgrind cannot see from those roots: a vCPU thread's start (glibc's
# clone3, start_thread and what it calls before vcpu_thread; a vCPU
# brought up later starts there too) and main(), which the I/O loop runs
# in. (perf record -e exceptions:page_fault_user on an idle domain shows
# what still faults in after startup_pages_release.)
RUNTIME_ROOTS = ["vcpu_thread", "ioloop_run"]
ALWAYS_RUNNING = ["main", "clone3", "start_thread", "__ctype_init", "_setjmp",
                  "__sigsetjmp", "__sigjmp_save"]
IFUNC_SUFFIX = re.compile(r"-(sse2|ssse3|sse4_1|sse4_2|avx|avx2|avx512|evex|evex512|avx512bw|avx512f)"
                          r"(-unaligned(-erms)?|-erms)?(-rtm)?\.o$")


def link_with_map(build, mapfile):
    """Relink xenon-vmm into a temporary file with a link map."""
    cmd = subprocess.run(["ninja", "-C", build, "-t", "commands", "vmm/xenon-vmm"],
                         capture_output=True, text=True, check=True).stdout.splitlines()[-1]
    args = shlex.split(cmd)
    i = args.index("-o")
    exe = mapfile + ".exe"
    args[i + 1] = exe
    subprocess.run(args + [f"-Wl,-Map={mapfile}"], cwd=build, check=True)
    return exe


def functions_run(exe, build, roots):
    """Names of the functions that executed in each scenario (only inside
    roots, when given)."""
    names = set()
    for guest, extra, kill_after in SCENARIOS:
        image = os.path.join(build, "guests", f"guest-{guest}")
        if not os.path.exists(image):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "cg.out")
            cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
            cmd += [f"--toggle-collect={r}" for r in roots]
            cmd += [exe, "--kernel", image, "--console-log", os.path.join(tmp, "c"),
                    "--serial-log", os.path.join(tmp, "s"), "--log-file", os.path.join(tmp, "l")]
            p = subprocess.Popen(cmd + extra, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                p.wait(timeout=kill_after or 120)
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=60)
            time.sleep(0.1)
            ann = subprocess.run(["callgrind_annotate", "--threshold=100", out],
                                 capture_output=True, text=True).stdout
            for line in ann.splitlines():
                m = re.match(r"\s*([\d,]+) \([^)]*\)\s+(?:\S*?:)?(\S+) \[", line)
                if m and m.group(1).replace(",", "") != "0":
                    names.add(m.group(2))
    return names


def symbol_addresses(exe):
    addr = {}
    for line in subprocess.run(["nm", "--defined-only", exe], capture_output=True,
                               text=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTwWiI":
            addr.setdefault(parts[2], []).append(int(parts[0], 16))
    return addr


def input_sections(mapfile):
    """[(start, size, section name, file)] of the .text input sections."""
    secs = []
    lines = open(mapfile).read().split("\n")
    for i, line in enumerate(lines):
        m = re.match(r"^ (\.text\S*)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)$", line)
        if not m:
            m2 = re.match(r"^ (\.text\S*)$", line)
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            m3 = re.match(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)$", nxt)
            if not (m2 and m3):
                continue
            name, start, size, f = m2.group(1), m3.group(1), m3.group(2), m3.group(3)
        else:
            name, start, size, f = m.groups()
        if int(size, 16):
            secs.append((int(start, 16), int(size, 16), name, f))
    return sorted(secs)


def pattern(sec, f):
    """A linker-script input-section pattern for one input section."""
    m = re.match(r"(.*/)?([^/(]+\.a)\(([^)]+)\)$", f)
    if sec.startswith(".text.") and not m:
        return f"*({sec})"              # one function of the VMM's own
    if m:
        return f"*{m.group(2)}:{m.group(3)}({sec})"
    return f"*{os.path.basename(f)}({sec})"


def order(names, addr, secs):
    out = []
    for n in sorted(names):
        for a in addr.get(n, []):
            for start, size, sec, f in secs:
                if start <= a < start + size:
                    out.append((sec, f))
                    break
    return out


def with_ifunc_variants(picked, secs):
    members = {}
    for _, _, sec, f in secs:
        m = re.match(r"(.*\(([^)]+)\))$", f)
        if m and "libc.a" in f and IFUNC_SUFFIX.search(m.group(2)):
            base = IFUNC_SUFFIX.sub("", m.group(2))
            members.setdefault(base, []).append((sec, f))
    extra = []
    for sec, f in picked:
        m = re.search(r"\(([^)]+)\)$", f)
        if m and IFUNC_SUFFIX.search(m.group(1)):
            extra += members.get(IFUNC_SUFFIX.sub("", m.group(1)), [])
    return picked + extra


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
    with tempfile.TemporaryDirectory() as tmp:
        mapfile = os.path.join(tmp, "xenon-vmm.map")
        exe = link_with_map(build, mapfile)
        secs = input_sections(mapfile)
        addr = symbol_addresses(exe)
        runtime = functions_run(exe, build, RUNTIME_ROOTS) | set(ALWAYS_RUNNING)
        everything = functions_run(exe, build, [])
    hot = with_ifunc_variants(order(runtime, addr, secs), secs)
    warm = order(everything - runtime, addr, secs)
    seen, groups = set(), []
    for group in (hot, warm):
        pats = []
        for sec, f in group:
            p = pattern(sec, f)
            if p not in seen:
                seen.add(p)
                pats.append(p)
        groups.append(pats)
    with open(OUT, "w") as o:
        o.write("/* Generated by scripts/text-order.py: do not edit; rerun it.\n"
                " * xenon-vmm's code in the order a domain uses it: first what a\n"
                " * running domain executes, then what only its start-up does;\n"
                " * the rest of the text follows in the default order. */\n"
                "SECTIONS\n{\n  .text.xenon_ordered : ALIGN(4096)\n  {\n")
        o.write("    PROVIDE_HIDDEN(__xenon_text_running = .);\n")
        for p in groups[0]:
            o.write(f"    {p}\n")
        o.write("    . = ALIGN(4096);\n    PROVIDE_HIDDEN(__xenon_text_startup = .);\n")
        for p in groups[1]:
            o.write(f"    {p}\n")
        o.write("    . = ALIGN(4096);\n    PROVIDE_HIDDEN(__xenon_text_startup_end = .);\n")
        o.write("  }\n}\nINSERT BEFORE .text;\n")
    print(f"{OUT}: {len(groups[0])} running, {len(groups[1])} start-up input sections")


if __name__ == "__main__":
    main()
