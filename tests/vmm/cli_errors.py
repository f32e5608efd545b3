#!/usr/bin/env python3
"""xenon-vmm refuses bad input with a message that names it: files that are
not kernels, truncated or lying images, missing files, bad options. Each
case must exit with status 1 (domain not built) and never crash. Needs no
KVM: every case fails before a VM is created."""
import os
import subprocess
import sys
import tempfile


def run(vmm, args):
    p = subprocess.run([vmm] + args, capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout + p.stderr


def main():
    vmm, good = sys.argv[1], sys.argv[2]
    img = open(good, "rb").read()
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        def file(name, data):
            path = os.path.join(tmp, name)
            with open(path, "wb") as f:
                f.write(data)
            return path

        not_elf = file("not-a-kernel", b"#!/bin/sh\necho hello\n" * 100)
        truncated = file("truncated.elf", img[:200])
        no_note = bytearray(img)
        no_note[no_note.find(b"Xen\x00") : no_note.find(b"Xen\x00") + 4] = b"Nix\x00"
        no_note = file("no-note.elf", bytes(no_note))
        big = file("big-initrd", b"\0" * (4 << 20))
        fifo = os.path.join(tmp, "fifo")
        os.mkfifo(fifo)     # nobody writes it: open() without O_NONBLOCK waits
        with open("/proc/meminfo") as f:
            total_mib = next(int(l.split()[1]) for l in f if l.startswith("MemTotal:")) >> 10
        cases = [
            (["--kernel", not_elf], [not_elf, "neither a PVH ELF nor a bzImage"]),
            (["--kernel", truncated], [truncated, "outside the file"]),
            (["--kernel", no_note], [no_note, "no Xen PVH entry note"]),
            (["--kernel", os.path.join(tmp, "missing")], ["missing", "No such file"]),
            (["--kernel", tmp], [tmp, "not a regular file"]),
            (["--kernel", good, "--memory", "lots"], ["--memory", "lots"]),
            (["--kernel", good, "--memory", "1"], ["--memory"]),
            (["--kernel", good, "--vcpus", "0"], ["--vcpus"]),
            (["--kernel", good, "--domid", "70000"], ["--domid"]),
            (["--kernel", good, "--max-grant-frames", "99999"], ["--max-grant-frames"]),
            (["--kernel", good, "--bogus"], ["unrecognized option"]),
            (["--kernel", good, "--uuid", "not-a-uuid"], ["--uuid", "not-a-uuid"]),
            (["--kernel", good, "extra-argument"], ["unexpected argument 'extra-argument'"]),
            ([], ["--kernel is required"]),
            (["--kernel", fifo], [fifo, "not a regular file"]),
            (["--kernel", good, "--ramdisk", fifo], [fifo, "not a regular file"]),
            (["--kernel", good, "--memory", str(total_mib + 1024)],
             ["--memory", "more than this host has available"]),
            (["--kernel", good, "--memory", "2", "--ramdisk", big],
             [good, "initrd of 4194304 bytes does not fit"]),
        ]
        for args, expect in cases:
            try:
                rc, out = run(vmm, args)
            except subprocess.TimeoutExpired:
                failures.append(f"{args}: still running after 20 s")
                continue
            missing = [e for e in expect if e not in out]
            if rc != 1 or missing:
                failures.append(f"{args}: exit {rc}, missing {missing} in:\n{out}")
            else:
                print(f"ok: {' '.join(args) or '(no arguments)'} -> {out.strip().splitlines()[-1]}")
    if failures:
        print("FAILED:\n" + "\n".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
