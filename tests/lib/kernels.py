"""Debian's cloud kernel, unpacked for tests: the ELF vmlinux (which has
the Xen PVH entry note) is the compressed payload of the bzImage that
scripts/oracles.py unpacked into the oracle cache's boot/ (never /boot)."""
import shutil
import struct
import subprocess

from oracles import skip


def cloud_kernel():
    """The newest cached vmlinuz-*-cloud-amd64, or skip the test."""
    import oracles
    kernel = oracles.cloud_kernel()
    print(f"oracle: {kernel}")
    return kernel


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




def empty_initrd(out):
    """An initramfs holding nothing (a cpio "newc" archive with only its
    trailer): the package has no initrd (initramfs-tools makes one when a
    kernel is installed, and the oracle is unpacked, not installed)."""
    name = b"TRAILER!!!\0"
    hdr = b"070701" + b"".join(b"%08X" % v for v in
                               (0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, len(name), 0))
    data = hdr + name
    data += b"\0" * (-len(data) % 4)
    data += b"\0" * (-len(data) % 512)
    with open(out, "wb") as f:
        f.write(data)
