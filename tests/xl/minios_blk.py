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
PATCH = os.path.join(SRC, "docs", "minios-pvh-gnttab.patch")
RUN_SECONDS = 60


def build(oracle, out_name="minios-blk", build_env=BUILD_ENV, mode="write"):
    """The patched oracle built with build_env into BUILD/out_name (cached
    by a hash of build_env, the patch and the oracle's files)."""
    for tool in ("gcc", "make", "ld", "objcopy", "perl", "gzip", "patch"):
        if not shutil.which(tool):
            skip(f"{tool} is missing: cannot build Mini-OS")
    h = hashlib.sha256(repr((sorted(build_env.items()), mode)).encode() + open(PATCH, "rb").read())
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
    r = subprocess.run(["patch", "-p1", "-i", PATCH], cwd=os.path.join(copy, "src"),
                       capture_output=True)
    if r.returncode != 0:
        print(r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"))
        raise SystemExit("FAIL the grant-table patch does not apply")
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


def main():
    need_kvm()
    oracle = find_oracle()
    if not oracle:
        skip("Mini-OS oracle (shared/oracles/mini-os) not found; set XENON_MINIOS_ORACLE")
    image = build(oracle)
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
        bad = lambda: ("bogus data" in log() or "got error code" in log() or
                       "Page fault" in log() or not env.vmm_pids())
        while time.time() - start < RUN_SECONDS and not bad():
            time.sleep(1)
        text = log()
        print(text[-4000:])
        c = counters(text)
        check(f"ran {RUN_SECONDS} s", time.time() - start >= RUN_SECONDS)
        check("no bogus data", "bogus data" not in text)
        check("no error code", "got error code" not in text)
        check("no fault", "Page fault" not in text and "GPF" not in text)
        check("its read and write counters grow",
              len(c) >= 2 and c[-1][0] > c[0][0] and c[-1][1] > c[0][1], str(c))
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
        sys.exit(exit_status())


if __name__ == "__main__":
    main()
