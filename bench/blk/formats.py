#!/usr/bin/env python3
"""Read throughput of a qcow2 disk (blkback's NBD engine, qemu-nbd serving)
beside a raw one (the io_uring engine), in the same run and the same guest.

The guest (guests/blk, "readbench") reads each 64 MiB disk whole four
times in 32-page (128 KiB) indirect requests, one at a time. Its kernel
code runs in KVM's emulator on these hosts, so the absolute figures are
the guest's more than the backend's; the ratio compares the two engines
under the same guest. The qcow2 image is the raw one converted by
qemu-img (fully allocated: every cluster holds data)."""
import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE + "/..")
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "xl"))
import benchlib  # noqa: E402
from xl_test import BUILD, Env, wait_for  # noqa: E402

MIB = 64


def main():
    ap = argparse.ArgumentParser()
    benchlib.add_run_mode_args(ap)
    ap.parse_args()
    benchlib.need_kvm()
    e = Env()
    try:
        raw = os.path.join(e.tmp, "bench.img")
        with open(raw, "wb") as f:
            block = bytes(range(256)) * 4096
            for _ in range(MIB):
                f.write(block)
        q = os.path.join(e.tmp, "bench.qcow2")
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, q], check=True)
        cfg = e.cfg("bench.cfg", f'name = "bench"\ntype = "pvh"\n'
                    f'kernel = "{os.path.join(BUILD, "guests", "guest-blk-64")}"\n'
                    f'memory = 32\nvcpus = 1\ncmdline = "readbench"\n'
                    f"disk = [ '{raw},raw,xvda,ro', 'format=qcow2,vdev=xvdb,access=ro,target={q}' ]\n")
        rc, out, err = e.xl("create", cfg)
        if rc:
            sys.exit(f"create failed: {err}")
        wait_for(lambda: "RESULT blk: " in e.console_log("bench"), 600)
        log = e.console_log("bench")
        got = {int(m.group(1)): (int(m.group(2)), int(m.group(3)))
               for m in re.finditer(r"BLK bench vbd (\d+): (\d+) KiB in (\d+) ns", log)}
        if len(got) != 2 or "RESULT blk: PASS" not in log:
            sys.exit("the guest did not finish its reads:\n" + log[-2000:])
        kib_s = {k: kib * 1e9 / ns for k, (kib, ns) in got.items()}
        raw_v, q_v = kib_s[51712], kib_s[51728]
        benchlib.emit(bench="blk-formats", metric="qcow2 read, 128 KiB requests at QD1 (guest)",
                      value=round(q_v / 1024, 1), unit="MiB/s", peer="raw (io_uring), same guest",
                      peer_value=round(raw_v / 1024, 1), ratio=round(q_v / raw_v, 2),
                      ratio_means="qcow2 over NBD / raw", goal="")
        e.xl("destroy", "bench")
    finally:
        e.close()


if __name__ == "__main__":
    main()
