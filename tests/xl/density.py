#!/usr/bin/env python3
"""Density through xl: COUNT (default 50) idle domains at once.

Runs bench/xl/density.py --check: every `xl create -q` must succeed, every
domain must say "idle: up" and echo a line sent on its console socket,
`xl list` must list each once, and after `xl destroy` of all of them no process, xenstored descriptor,
xenstore node (/local/domain/N, /vm, /libxl), vif/tap interface, state or
run file may be left. No timing is asserted.
    density.py [COUNT]
"""
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.environ.get("XENON_SOURCE_ROOT", os.path.join(here, "..", ".."))


def main():
    count = sys.argv[1] if len(sys.argv) > 1 else "50"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skipped: /dev/kvm is missing or not accessible")
        sys.exit(77)
    env = dict(os.environ)
    if "XENON_BUILD_ROOT" in env:
        env["XENON_BUILD"] = env["XENON_BUILD_ROOT"]
    p = subprocess.run([sys.executable, os.path.join(root, "bench", "xl", "density.py"),
                        "--check", "--count", count, "--memory", "8"], env=env)
    sys.exit(p.returncode)


if __name__ == "__main__":
    main()
