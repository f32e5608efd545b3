#!/usr/bin/env python3
"""A bzImage boots as a PVH guest, as Xen's loader boots it: its payload,
compressed by each tool Linux can build a kernel with, is the guest's ELF.

The hello guest (an ELF with a Xen PVH entry note) is compressed with
Debian's own gzip, bzip2, xz, lzma, lzop, lz4 (the legacy frame Linux
writes, `lz4 -l`) and zstd (from the oracle cache, scripts/oracles.py
compress; gzip is on every Debian system), wrapped in a minimal bzImage setup header
(protocol 2.15, payload_offset/payload_length, and the uncompressed size
appended after the payload, as Linux's build appends it), and booted by
xenon-vmm: each must say hello and power off. A missing compressor skips
the whole test, naming it.
    bzimage_pvh.py VMM HELLO_ELF_64 HELLO_ELF_32
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import oracles  # noqa: E402
from run_guest import judge, kvm_or_skip, run_vmm  # noqa: E402

COMPRESSORS = {  # format: command reading stdin, writing stdout
    "gzip": ["gzip", "-9c"],
    "bzip2": ["bzip2", "-9c"],
    "xz": ["xz", "--check=crc32", "-c"],
    "lzma": ["xz", "--format=lzma", "-9c"],
    "lzo": ["lzop", "-9c"],
    "lz4": ["lz4", "-l", "-9", "-c"],
    "zstd": ["zstd", "-19", "-c"],
}


def bzimage(payload, elf_size):
    """Setup sectors and header, then the protected-mode part: the payload
    and its uncompressed size."""
    setup_sects = 4
    setup = bytearray((setup_sects + 1) * 512)
    setup[0x1F1] = setup_sects
    setup[0x1FE:0x200] = b"\x55\xaa"
    setup[0x201] = 0x6A                                  # header ends at 0x26c
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, 0x020F)         # protocol 2.15
    setup[0x211] = 0x01                                  # LOADED_HIGH
    pm_header = 0x40                                     # stands for Linux's decompressor
    struct.pack_into("<II", setup, 0x248, pm_header, len(payload))
    return bytes(setup) + bytes(pm_header) + payload + struct.pack("<I", elf_size)


def main():
    vmm, elf64, elf32 = sys.argv[1:4]
    kvm_or_skip()
    tools = {c[0]: (shutil.which(c[0]) if c[0] == "gzip" else oracles.tool(c[0]))
             for c in COMPRESSORS.values()}
    if not tools["gzip"]:
        oracles.skip("gzip is missing")
    booted, failed = [], []
    with tempfile.TemporaryDirectory(prefix="bzimage-pvh-") as tmp:
        cases = [(fmt, elf64) for fmt in COMPRESSORS] + [("gzip", elf32)]
        for fmt, elf in cases:
            cmd = [tools[COMPRESSORS[fmt][0]]] + COMPRESSORS[fmt][1:]
            data = open(elf, "rb").read()
            payload = subprocess.run(cmd, input=data, capture_output=True, check=True).stdout
            tag = f"{fmt}-{os.path.basename(elf)}"
            image = os.path.join(tmp, f"bzImage-{tag}")
            with open(image, "wb") as f:
                f.write(bzimage(payload, len(data)))
            vcmd, paths = run_vmm(vmm, image, [], 120, tmp, tag)
            with open(paths["stderr"], "w") as err:
                rc = subprocess.run(vcmd, timeout=120, stderr=err).returncode
            print(f"== {tag}: {len(payload)} bytes of {fmt} payload")
            if judge("hello", rc, paths, 100, "console", None) and \
                    "PVH kernel" in open(paths["log"]).read():
                booted.append(tag)
            else:
                failed.append(tag)
    print(f"booted as PVH: {', '.join(booted)}")
    if failed:
        print(f"FAILED: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
