#!/usr/bin/env python3
"""Xen's Mini-OS blkfront (the external oracle) against blkback.

The oracle is copied into the build tree, docs/minios-pvh-gnttab.patch is
applied to the copy (Mini-OS's PVH grant table at this commit cannot
grant; see docs/minios.md), and it is built with its own build.sh in
"write" mode (-DBLKTEST_WRITE), with -fno-pie and CONFIG_BLKFRONT on
(netfront off: no vif here). Its test application then writes random
sectors of device/vbd/768 (hda) and reads each back, printing "bogus data"
on a mismatch and "got error code" on a failed request. Judged: it
connects, runs for 60 s with neither message and with its read and write
counters growing, and `xl destroy` leaves nothing behind.

Two patches are applied to every build: docs/minios-pvh-gnttab.patch and
docs/minios-pvh-virtual-to-mfn.patch (Mini-OS's HVM/PVH build maps memory
above 2 MiB with 2 MiB pages, and the page-table walk blkfront uses to
find the frame it grants took such an entry for a table: a buffer there
was granted as some other frame, and its write and read-back went to that
frame; docs/minios.md).

`minios_blk.py high` (test xl-minios-blk-high) is the reliable catch of
that fault: tests/xl/minios-blk-high.patch gives the test application
2 MiB more bss, which moves the heap, and so every buffer blkfront grants,
above 2 MiB. Built without the virtual_to_mfn fix, Mini-OS must report
bogus data (or a failed request) within 30 s: the variant still has its
teeth. Built with it, it is judged for 60 s as above.

Skipped (77) without /dev/kvm, the oracle, its build tools or patch(1)."""
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from xl_test import BUILD, SRC, check, Env, exit_status, failures, need_kvm, skip, wait_for  # noqa: E402
from minios import find_oracle  # noqa: E402

BUILD_ENV = {"DEF_CFLAGS": "-fno-pie", "MAKEFLAGS": "CONFIG_NETFRONT=n"}
GNTTAB_PATCH = os.path.join(SRC, "docs", "minios-pvh-gnttab.patch")
MFN_PATCH = os.path.join(SRC, "docs", "minios-pvh-virtual-to-mfn.patch")
HIGH_PATCH = os.path.join(HERE, "minios-blk-high.patch")
PATCHES = (GNTTAB_PATCH, MFN_PATCH)
RUN_SECONDS = 60
CATCH_SECONDS = 30


def build(oracle, out_name="minios-blk", build_env=BUILD_ENV, mode="write", patches=PATCHES):
    """The oracle, patched with `patches` in order, built with build_env
    into BUILD/out_name (cached by a hash of build_env, the patches and the
    oracle's files)."""
    for tool in ("gcc", "make", "ld", "objcopy", "perl", "gzip", "patch"):
        if not shutil.which(tool):
            skip(f"{tool} is missing: cannot build Mini-OS")
    h = hashlib.sha256(repr((sorted(build_env.items()), mode)).encode())
    for p in patches:
        h.update(open(p, "rb").read())
    for root, dirs, files in os.walk(oracle):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(root, f)
            h.update(p[len(oracle):].encode() + str(os.stat(p).st_size).encode())
    out = os.path.join(BUILD, out_name)
    image, stamp = os.path.join(out, "mini-os"), os.path.join(out, "stamp")
    if os.path.exists(image) and os.path.exists(stamp) and open(stamp).read() == h.hexdigest():
        print(f"Mini-OS ({out_name}): cached build {image}")
        return image
    copy = os.path.join(out, "oracle")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(oracle, copy)
    subprocess.run(["chmod", "-R", "u+w", copy], check=True)
    for p in patches:
        r = subprocess.run(["patch", "-p1", "-i", p], cwd=os.path.join(copy, "src"),
                           capture_output=True)
        if r.returncode != 0:
            print(r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"))
            raise SystemExit(f"FAIL {os.path.basename(p)} does not apply")
    print(f"Mini-OS ({out_name}): building {copy}/build.sh {out} {mode} ({build_env})")
    argv = [os.path.join(copy, "build.sh"), os.path.join(out, "out")] + ([mode] if mode else [])
    r = subprocess.run(argv,
                       env=dict(os.environ, **build_env), capture_output=True, timeout=900)
    built = os.path.join(out, "out", "mini-os")
    if r.returncode != 0 or not os.path.exists(built):
        print(r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"))
        raise SystemExit("FAIL Mini-OS did not build")
    shutil.copy(built, image)
    with open(stamp, "w") as f:
        f.write(h.hexdigest())
    return image


def counters(text):
    return [(int(r), int(w)) for r, w in re.findall(r"^(\d+) read, (\d+) write$", text, re.M)]


def run(image, seconds, expect_fault=False):
    """Mini-OS's write test against a fresh 8 MiB raw disk for `seconds`,
    or, with expect_fault, until it reports the fault it must report."""
    env = Env()
    try:
        disk = os.path.join(env.tmp, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(8 << 20)
        cfg = env.cfg("minios.cfg", 'name = "miniblk"\ntype = "pvh"\n'
                      f'kernel = "{image}"\nmemory = 32\n'
                      f"disk = [ '{disk},raw,hda,w' ]\n")
        rc, out, err = env.xl("create", cfg)
        check("xl create with a disk at hda (device/vbd/768)", rc == 0, err)
        log = lambda: env.console_log("miniblk").replace("\r", "")
        check("Mini-OS's blkfront connected",
              wait_for(lambda: re.search(r"^\d+ sectors of \d+ bytes", log(), re.M), 120),
              log()[-3000:])
        start = time.time()
        fault = lambda: "bogus data" in log() or "got error code" in log()
        bad = lambda: fault() or "Page fault" in log() or not env.vmm_pids()
        while time.time() - start < seconds and not bad():
            time.sleep(1)
        text = log()
        print(text[-4000:])
        if expect_fault:
            check("without the virtual_to_mfn fix, its buffers above 2 MiB are granted "
                  f"as other frames: bogus data or a failed request within {seconds} s",
                  fault())
        else:
            c = counters(text)
            check(f"ran {seconds} s", time.time() - start >= seconds)
            check("no bogus data", "bogus data" not in text)
            check("no error code", "got error code" not in text)
            check("its read and write counters grow",
                  len(c) >= 2 and c[-1][0] > c[0][0] and c[-1][1] > c[0][1], str(c))
        check("no fault", "Page fault" not in text and "GPF" not in text)
        check("the VMM lives", bool(env.vmm_pids()))
        m = re.search(r"^(\d+) sectors of (\d+) bytes", text, re.M)
        check("it sees the disk's size", m and int(m.group(1)) * int(m.group(2)) == 8 << 20,
              m and m.group(0))
        rc, out, err = env.xl("destroy", "miniblk")
        check("xl destroy", rc == 0, err)
        check("no backend directory left",
              wait_for(lambda: not (env.xs_dir("/local/domain/0/backend/vbd") or []), 10))
        env.check_empty("after destroy")
    finally:
        env.close()


def main():
    need_kvm()
    oracle = find_oracle()
    if not oracle:
        skip("Mini-OS oracle (shared/oracles/mini-os) not found; set XENON_MINIOS_ORACLE")
    high = sys.argv[1:] == ["high"]
    try:
        if high:
            print("--- buffers above 2 MiB, Mini-OS as its commit has it: the fault shows")
            run(build(oracle, "minios-blk-high-unfixed", patches=(GNTTAB_PATCH, HIGH_PATCH)),
                CATCH_SECONDS, expect_fault=True)
            print("--- buffers above 2 MiB, virtual_to_mfn fixed: judged")
            run(build(oracle, "minios-blk-high", patches=PATCHES + (HIGH_PATCH,)), RUN_SECONDS)
        else:
            run(build(oracle), RUN_SECONDS)
    finally:
        sys.exit(exit_status())


if __name__ == "__main__":
    main()
