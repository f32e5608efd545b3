#!/usr/bin/env python3
"""No guest can fill the host's disk, and logs get their modes from the VMM.

Under umask 000, three guests write as fast as they can for FLOOD_S seconds:
one its PV console, one console_io / the UART / port 0xe9, one hypercalls
the VMM logs (GNTTABOP_dump_table, a GSI callback). Each VMM runs with
--log-max-size CAP --log-files FILES. Afterwards every log family (PATH,
PATH.1, ...) holds at most FILES files of at most CAP bytes, the VMM's own
log stays small (its guest-triggered lines are rate-limited), every log is
0640 and the console socket 0600.
    log_caps.py VMM STRESS_GUEST [FLOOD_S]
"""
import glob
import os
import stat
import subprocess
import sys
import tempfile
import time

CAP = 64 * 1024
FILES = 3
MAX_VMM_LOG = 64 * 1024


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def main():
    vmm, guest = sys.argv[1:3]
    flood_s = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skipped: /dev/kvm is missing or not accessible")
        sys.exit(77)
    problems = []
    old_mask = os.umask(0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            procs = {}
            for mode_name in ("flood-console", "flood-serial", "flood-log"):
                d = os.path.join(tmp, mode_name)
                os.mkdir(d)
                procs[mode_name] = subprocess.Popen(
                    [vmm, "--kernel", guest, "--cmdline", mode_name, "--memory", "16",
                     "--console-log", os.path.join(d, "console.log"),
                     "--serial-log", os.path.join(d, "serial.log"),
                     "--console-socket", os.path.join(d, "console.sock"),
                     "--log-file", os.path.join(d, "vmm.log"),
                     "--log-max-size", str(CAP), "--log-files", str(FILES)],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            time.sleep(flood_s)
            for name, p in procs.items():
                sock = os.path.join(tmp, name, "console.sock")
                if p.poll() is not None:
                    problems.append(f"{name}: the VMM ended early (status {p.returncode})")
                elif mode(sock) != 0o600:
                    problems.append(f"{name}: console socket mode {mode(sock):o}, want 600")
                p.terminate()
                p.wait(timeout=30)
            for name in procs:
                d = os.path.join(tmp, name)
                for fam in ("console.log", "serial.log"):
                    files = sorted(glob.glob(os.path.join(d, fam + "*")))
                    sizes = {os.path.basename(f): os.path.getsize(f) for f in files}
                    print(f"{name}: {fam}: {sizes}")
                    if len(files) > FILES:
                        problems.append(f"{name}: {len(files)} {fam} files, at most {FILES}")
                    for f in files:
                        if os.path.getsize(f) > CAP:
                            problems.append(f"{name}: {os.path.basename(f)} is "
                                            f"{os.path.getsize(f)} bytes, cap {CAP}")
                        if mode(f) != 0o640:
                            problems.append(f"{name}: {os.path.basename(f)} mode "
                                            f"{mode(f):o}, want 640")
                vlog = os.path.join(d, "vmm.log")
                size = os.path.getsize(vlog)
                print(f"{name}: vmm.log: {size} bytes")
                if size > MAX_VMM_LOG:
                    problems.append(f"{name}: the VMM log grew to {size} bytes")
                if mode(vlog) != 0o640:
                    problems.append(f"{name}: vmm.log mode {mode(vlog):o}, want 640")
            total = sum(os.path.getsize(f) for f in
                        glob.glob(os.path.join(tmp, "flood-console", "console.log*")))
            if total < CAP:
                problems.append(f"the console flood wrote only {total} bytes: "
                                "the cap was never exercised")
    finally:
        os.umask(old_mask)
    if problems:
        sys.exit("FAILED: " + "; ".join(problems))


if __name__ == "__main__":
    main()
