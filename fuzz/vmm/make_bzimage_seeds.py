#!/usr/bin/env python3
"""Write the fuzz-loader seeds bzimage-<format>: a bzImage whose payload is
the small PVH ELF seed (elf64-min) compressed by each format Linux builds
kernels with, so that the fuzzer starts inside every decompressor.
    make_bzimage_seeds.py     (from the source tree, once scripts/oracles.py
                               compress has fetched the tools)
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "vmm"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "lib"))
import oracles  # noqa: E402
from bzimage_pvh import COMPRESSORS, bzimage  # noqa: E402


def main():
    elf = open(os.path.join(HERE, "corpus", "elf64-min"), "rb").read()
    for fmt, cmd in COMPRESSORS.items():
        if cmd[0] != "gzip":
            cmd = [oracles.tool(cmd[0])] + cmd[1:]
        payload = subprocess.run(cmd, input=elf, capture_output=True, check=True).stdout
        with open(os.path.join(HERE, "corpus", f"bzimage-{fmt}"), "wb") as f:
            f.write(bzimage(payload, len(elf)))


if __name__ == "__main__":
    main()
