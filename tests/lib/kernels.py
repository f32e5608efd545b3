"""Debian's cloud kernel for tests: the bzImage that scripts/oracles.py
unpacked into the oracle cache's boot/ (never /boot), booted as it is (its
payload is the vmlinux ELF with the Xen PVH entry note)."""


def cloud_kernel():
    """The newest cached vmlinuz-*-cloud-amd64, or skip the test."""
    import oracles
    kernel = oracles.cloud_kernel()
    print(f"oracle: {kernel}")
    return kernel


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
