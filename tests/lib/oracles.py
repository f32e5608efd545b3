"""Where the tests and benchmarks find their oracles: programs and images
nobody here wrote (Debian's cloud kernel, GRUB's Xen PVH image, Xen's own
tools and libraries, QEMU), fetched by scripts/oracles.py as Debian packages
unpacked into a cache directory, never installed on the host.

The cache is $XENON_ORACLES, else $XDG_CACHE_HOME/xenon-oracles, else
~/.cache/xenon-oracles; the unpacked packages are merged under its root/.
Nothing here looks in /usr: a test whose oracle is not in the cache is
skipped (exit 77) with the command that fetches it, so a test can never
pass against something a developer happened to install system-wide."""
import glob
import os
import sys

XEN_LIB = "usr/lib/xen-4.17"        # Debian's xen-utils-4.17 layout


def cache_dir():
    d = os.environ.get("XENON_ORACLES")
    if not d:
        base = os.environ.get("XDG_CACHE_HOME") or \
            os.path.join(os.path.expanduser("~"), ".cache")
        d = os.path.join(base, "xenon-oracles")
    return os.path.abspath(d)


ROOT = os.path.join(cache_dir(), "root")


def skip(why):
    print(f"skipped: {why}")
    sys.exit(77)


def find(rel):
    """ROOT/rel if the cache has it, else None."""
    p = os.path.join(ROOT, rel)
    return p if os.path.lexists(p) else None


def require(rel, group):
    """ROOT/rel, or skip the test naming the oracle group that provides it."""
    p = find(rel)
    if not p:
        skip(f"{rel} is not in the oracle cache {ROOT} "
             f"(fetch it with: scripts/oracles.py {group})")
    return p


def lib_path():
    # ceph/: librados's own libraries, which fio links (its RUNPATH names
    # /usr, not the cache).
    return ":".join(os.path.join(ROOT, d) for d in
                    ("usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu",
                     f"{XEN_LIB}/lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu/ceph"))


def env(base=None):
    """An environment running the cached programs with the cached libraries
    (LD_LIBRARY_PATH) and Xen's Python modules (PYTHONPATH)."""
    e = dict(os.environ if base is None else base)
    e["LD_LIBRARY_PATH"] = lib_path() + (
        ":" + e["LD_LIBRARY_PATH"] if e.get("LD_LIBRARY_PATH") else "")
    e["PYTHONPATH"] = os.path.join(ROOT, XEN_LIB, "lib/python") + (
        ":" + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    return e


# Xen's tools by name: xenstore-utils puts its commands in /usr/bin, the
# rest of xen-utils-4.17 lives in /usr/lib/xen-4.17/bin.
XENSTORE_UTILS = ("xenstore", "xenstore-chmod", "xenstore-exists",
                  "xenstore-list", "xenstore-ls", "xenstore-read",
                  "xenstore-rm", "xenstore-watch", "xenstore-write")


def xen_tool(name):
    """The cached path of one of Xen's tools (xenstore-read, test-xenstore,
    xenstore-control, verify-stream-v2, ...), or skip."""
    if name in XENSTORE_UTILS:
        return require(f"usr/bin/{name}", "xen")
    return require(f"{XEN_LIB}/bin/{name}", "xen")


def cloud_kernel():
    """The newest cached vmlinuz-*-cloud-amd64 (linux-image-cloud-amd64)."""
    kernels = sorted(glob.glob(os.path.join(ROOT, "boot", "vmlinuz-*-cloud-amd64")))
    if not kernels:
        skip(f"no Debian cloud kernel in {ROOT}/boot "
             "(fetch it with: scripts/oracles.py kernel)")
    return kernels[-1]


def tool(name):
    """A command-line tool from the cache's usr/bin or bin (the compress
    group), or skip the test."""
    return find(f"usr/bin/{name}") or require(f"bin/{name}", "compress")


def grub_pvh():
    """GRUB's Xen PVH image from grub-xen-host."""
    return require("usr/lib/grub-xen/grub-i386-xen_pvh.bin", "grub")


def qemu():
    """QEMU's command prefix (the binary and -L for its firmware and data,
    which an unpacked tree does not have at /usr/share), or None when QEMU
    is not cached: benchmarks then leave the QEMU column empty."""
    exe = find("usr/bin/qemu-system-x86_64")
    if not exe:
        return None
    cmd = [exe]
    for d in ("usr/share/qemu", "usr/share/seabios", "usr/lib/ipxe/qemu"):
        if find(d):
            cmd += ["-L", os.path.join(ROOT, d)]
    return cmd


def fio():
    """fio from the cache (scripts/oracles.py fio), or None: the block
    benchmark then measures no host peer."""
    return find("usr/bin/fio")
