#!/usr/bin/env python3
"""Boot Debian's cloud kernel, its bzImage as it is, as a Xen PVH
guest: the loader unpacks the vmlinux ELF its payload carries and enters it
through its PVH entry note, as Xen's does.

This host's KVM emulates guest kernel code and cannot run Linux to user
space (shared/notes/host-kvm.md), so the test checks the lines Linux prints
before that point: that it found Xen 4.17 through our CPUID leaves, made
hypercalls through its direct vmcall stubs (rerouted by our loader), and
read our memory map and command line. It stops the domain as soon as it has
seen them. Skips when no cloud kernel is installed or /dev/kvm is missing.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from kernels import cloud_kernel  # noqa: E402
from oracles import skip  # noqa: E402

EXPECT = [
    "Linux version",
    "Command line: console=hvc0 earlyprintk=xen",
    "BIOS-e820: [mem 0x0000000000100000-",
    "Hypervisor detected: Xen HVM",
    "Xen version 4.17.",
]

def main():
    vmm = sys.argv[1]
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        skip("/dev/kvm is missing or not accessible")
    kernel = cloud_kernel()
    with tempfile.TemporaryDirectory() as tmp:
        serial, log = os.path.join(tmp, "serial"), os.path.join(tmp, "log")
        p = subprocess.Popen([vmm, "--kernel", kernel, "--memory", "512",
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
        print(f"kernel: {kernel}\n--- serial ---\n{text[:4000]}\n--- log ---\n{vmm_log}")
        missing = [e for e in EXPECT if e not in text]
        if "PVH kernel" not in vmm_log:
            missing.append("the bzImage booted as PVH")
        if "rerouted" not in vmm_log:
            missing.append("the loader rerouting the direct vmcall stubs")
        if missing:
            print("FAILED: missing " + "; ".join(missing))
            sys.exit(1)
        print("Linux found Xen 4.17 and printed its Xen boot lines")


if __name__ == "__main__":
    main()
