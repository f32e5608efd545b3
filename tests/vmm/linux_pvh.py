#!/usr/bin/env python3
"""Boot the vmlinux inside Debian's cloud kernel as a Xen PVH guest.

This host's KVM emulates guest kernel code and cannot run Linux to user
space (shared/notes/host-kvm.md), so the test checks the lines Linux prints
before that point: that it found Xen 4.17 through our CPUID leaves, made
hypercalls through its direct vmcall stubs (rerouted by our loader), and
read our memory map and command line. It stops the domain as soon as it has
seen them. Skips when no cloud kernel is installed or /dev/kvm is missing.
"""
import glob
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

EXPECT = [
    "Linux version",
    "Command line: console=hvc0 earlyprintk=xen",
    "BIOS-e820: [mem 0x0000000000100000-",
    "Hypervisor detected: Xen HVM",
    "Xen version 4.17.",
]

DECOMPRESSORS = [  # (magic, command reading stdin)
    (b"\x02\x21\x4c\x18", ["lz4", "-dc"]),
    (b"\x28\xb5\x2f\xfd", ["zstd", "-dc"]),
    (b"\xfd7zXZ\x00", ["xz", "-dc"]),
    (b"\x1f\x8b\x08", ["gzip", "-dc"]),
]


def skip(why):
    print(f"skipped: {why}")
    sys.exit(77)


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


def main():
    vmm = sys.argv[1]
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        skip("/dev/kvm is missing or not accessible")
    kernels = sorted(glob.glob("/boot/vmlinuz-*-cloud-amd64"))
    if not kernels:
        skip("no Debian cloud kernel in /boot (linux-image-cloud-amd64)")
    with tempfile.TemporaryDirectory() as tmp:
        vmlinux = os.path.join(tmp, "vmlinux")
        extract_vmlinux(kernels[-1], vmlinux)
        serial, log = os.path.join(tmp, "serial"), os.path.join(tmp, "log")
        p = subprocess.Popen([vmm, "--kernel", vmlinux, "--memory", "512",
                              "--cmdline", "console=hvc0 earlyprintk=xen",
                              "--serial-log", serial, "--console-log",
                              os.path.join(tmp, "console"), "--log-file", log])
        deadline = time.time() + 600
        text = ""
        while time.time() < deadline and p.poll() is None:
            time.sleep(0.5)
            text = open(serial, errors="replace").read() if os.path.exists(serial) else ""
            if all(e in text for e in EXPECT):
                break
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
        vmm_log = open(log, errors="replace").read()
        print(f"kernel: {kernels[-1]}\n--- serial ---\n{text[:4000]}\n--- log ---\n{vmm_log}")
        missing = [e for e in EXPECT if e not in text]
        if "rerouted" not in vmm_log:
            missing.append("the loader rerouting the direct vmcall stubs")
        if missing:
            print("FAILED: missing " + "; ".join(missing))
            sys.exit(1)
        print("Linux found Xen 4.17 and printed its Xen boot lines")


if __name__ == "__main__":
    main()
