#!/usr/bin/env python3
"""Hypercall round trip from a ring-3 guest loop, against a bare exit.

The bench-hcall guest times, with the TSC and in one run, a port-I/O exit
the VMM ignores, EVTCHNOP_send to the console port (owned by the VMM's
console backend) and xen_version. Ratio = hypercall / bare exit; goal <= 1.2.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import benchlib  # noqa: E402

RUNS = 5


def main():
    benchlib.need_kvm()
    bare, send, version = [], [], []
    for _ in range(RUNS):
        out = subprocess.run([benchlib.vmm(), "--kernel", benchlib.guest("bench-hcall-64"),
                              "--bench-user-hypercalls", "--console-stdio",
                              "--log-file", "/dev/null"],
                             capture_output=True, text=True, timeout=300).stdout
        m = re.search(r"BENCH cycles bare_exit=(\d+) evtchn_send=(\d+) xen_version=(\d+)", out)
        if not m:
            sys.exit("bench-hcall guest printed no result:\n" + out)
        b, s, v = map(int, m.groups())
        bare.append(b)
        send.append(s / b)
        version.append(v / b)
    b = benchlib.median(bare)
    benchlib.emit(bench="vmm", metric="EVTCHNOP_send round trip (ring-3 loop)",
                  value=round(b * benchlib.median(send)), unit="TSC cycles",
                  peer="bare port-I/O exit", peer_value=b,
                  ratio=round(benchlib.median(send), 3), ratio_means="hypercall / bare exit",
                  goal="<= 1.2")
    benchlib.emit(bench="vmm", metric="xen_version round trip (ring-3 loop)",
                  value=round(b * benchlib.median(version)), unit="TSC cycles",
                  peer="bare port-I/O exit", peer_value=b,
                  ratio=round(benchlib.median(version), 3), ratio_means="hypercall / bare exit",
                  goal="<= 1.2")


if __name__ == "__main__":
    main()
