"""Debian's cloud kernel, unpacked for tests: the ELF vmlinux (which has
the Xen PVH entry note) is the compressed payload of the bzImage in /boot."""
import glob
import shutil
import struct
import subprocess
import sys


def skip(why):
    print(f"skipped: {why}")
    sys.exit(77)


def cloud_kernel():
    """The newest /boot/vmlinuz-*-cloud-amd64, or skip the test."""
    kernels = sorted(glob.glob("/boot/vmlinuz-*-cloud-amd64"))
    if not kernels:
        skip("no Debian cloud kernel in /boot (linux-image-cloud-amd64)")
    return kernels[-1]


DECOMPRESSORS = [  # (magic, command reading stdin)
    (b"\x02\x21\x4c\x18", ["lz4", "-dc"]),
    (b"\x28\xb5\x2f\xfd", ["zstd", "-dc"]),
    (b"\xfd7zXZ\x00", ["xz", "-dc"]),
    (b"\x1f\x8b\x08", ["gzip", "-dc"]),
]


def extract_vmlinux(bzimage, out):
    """The ELF vmlinux is the compressed payload the setup header points at."""
    data = open(bzimage, "rb").read()
    setup_sects = data[0x1F1] or 4
    pm = (setup_sects + 1) * 512
    off, length = struct.unpack("<II", data[0x248:0x250])
    payload = data[pm + off:pm + off + length]
    for magic, cmd in DECOMPRESSORS:
        if payload.startswith(magic):
            if not shutil.which(cmd[0]):
                skip(f"{cmd[0]} is needed to unpack {bzimage}")
            with open(out, "wb") as f:
                subprocess.run(cmd, input=payload, stdout=f,
                               stderr=subprocess.DEVNULL)
            break
    else:
        raise SystemExit(f"{bzimage}: unknown payload compression")
    if open(out, "rb").read(4) != b"\x7fELF":
        raise SystemExit(f"{bzimage}: payload is not an ELF vmlinux")


