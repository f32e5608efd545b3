#!/usr/bin/env python3
"""Boot one test guest under xenon-vmm and judge it.

The guest's PV console goes to one file and its serial output (UART, debug
port, console_io) to another; the test passes when the VMM exits with the
expected status and the chosen output holds "RESULT <name>: PASS" and no
failed CHECK. Exit 77 (skip) when /dev/kvm is missing.
"""
import argparse
import os
import subprocess
import sys
import tempfile


def kvm_or_skip():
    if not os.path.exists("/dev/kvm"):
        print("skipped: /dev/kvm is missing on this machine")
        sys.exit(77)
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skipped: /dev/kvm is not accessible to this user")
        sys.exit(77)


def run_vmm(vmm, guest, extra, timeout, tmp, tag="guest"):
    paths = {k: os.path.join(tmp, f"{tag}.{k}")
             for k in ("console", "serial", "log", "stderr")}
    cmd = [vmm, "--kernel", guest, "--console-log", paths["console"],
           "--serial-log", paths["serial"], "--log-file", paths["log"]] + extra
    return cmd, paths


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                   "UndefinedBehaviorSanitizer")


def judge(name, rc, paths, expect_exit, where, expect_lines):
    out = {k: read(p) for k, p in paths.items()}
    text = out[where]
    problems = []
    stderr = out.get("stderr", "")
    if any(m in stderr for m in SANITIZER_MARKS):
        problems.append("the sanitizer reported an error (see stderr)")
    if rc != expect_exit:
        problems.append(f"exit status {rc}, expected {expect_exit}")
    if expect_lines is None:
        if f"RESULT {name}: PASS" not in text:
            problems.append(f"no 'RESULT {name}: PASS' on the {where}")
        if ": FAIL" in text:
            problems.append("a check failed")
    else:
        for line in expect_lines:
            if line not in text:
                problems.append(f"missing {line!r} in the {where}")
    if problems:
        for k in ("console", "serial", "log", "stderr"):
            print(f"--- {k} ---\n{out[k][-6000:]}")
        print("FAILED: " + "; ".join(problems))
        return False
    print(text[-3000:])
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vmm", required=True)
    ap.add_argument("--guest", required=True)
    ap.add_argument("--name", required=True, help="name in the RESULT line")
    ap.add_argument("--expect-exit", type=int, default=100)
    ap.add_argument("--output", choices=("console", "serial", "log"), default="console")
    ap.add_argument("--expect", action="append",
                    help="lines that must appear instead of a RESULT line")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--beside", help="a second guest to run at the same time;"
                    " it must pass too (isolation)")
    ap.add_argument("vmm_args", nargs="*")
    a = ap.parse_args()
    kvm_or_skip()
    with tempfile.TemporaryDirectory() as tmp:
        cmd, paths = run_vmm(a.vmm, a.guest, a.vmm_args, a.timeout, tmp)
        other = None
        if a.beside:
            ocmd, opaths = run_vmm(a.vmm, a.beside, ["--domid", "2"], a.timeout, tmp, "beside")
            with open(opaths["stderr"], "w") as err:
                other = subprocess.Popen(ocmd, stderr=err)
        with open(paths["stderr"], "w") as err:
            p = subprocess.run(cmd, timeout=a.timeout, stderr=err)
        ok = judge(a.name, p.returncode, paths, a.expect_exit, a.output, a.expect)
        if other:
            orc = other.wait(timeout=a.timeout)
            oname = os.path.basename(a.beside).split("-")[1]
            ok = judge(oname, orc, opaths, 100, "console", None) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
