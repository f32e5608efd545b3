#!/usr/bin/env python3
"""Calls per second of VM.get_all_records (JSON-RPC) with N VMs defined
(xl.cfg files in the VM directory; none running), beside bare HTTP
requests to the same daemon in the same run, each over one keep-alive
connection. Needs no /dev/kvm.

    bench/xapi/get_all_records.py [--json] [--vms N] [--secs S]
"""
import argparse
import http.client
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "xapi"))
import benchlib  # noqa: E402
import xapienv  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="records only (bench/run.py)")
    ap.add_argument("--vms", type=int, default=1000, help="VMs defined (default 1000)")
    ap.add_argument("--secs", type=float, default=5, help="seconds per phase (default 5)")
    a = ap.parse_args()
    nvms, secs = a.vms, a.secs
    env = xapienv.Env()
    try:
        for i in range(nvms):
            env.define(f"vm{i:04d}", "guest-idle-64")
        s, _ = env.call("session.login_with_password", "root", "secret")
        xapienv.wait_for(lambda: len(env.call("VM.get_all", s)[0]) == nvms + 1, 60)
        conn = http.client.HTTPConnection("127.0.0.1", env.port)
        body = json.dumps({"jsonrpc": "2.0", "method": "VM.get_all_records", "params": [s],
                           "id": 1})

        def cpu():
            """The daemon's CPU seconds so far (a loaded machine stretches
            wall time; this does not)."""
            with open(f"/proc/{env.xapi.pid}/stat") as f:
                w = f.read().rsplit(")", 1)[1].split()
            return (int(w[11]) + int(w[12])) / os.sysconf("SC_CLK_TCK")

        def rate(fn):
            n, t0, c0 = 0, time.perf_counter(), cpu()
            while time.perf_counter() - t0 < secs or n < 3:
                fn()
                n += 1
            rate.cpu_ms = (cpu() - c0) * 1e3 / n
            return n / (time.perf_counter() - t0)

        def records():
            conn.request("POST", "/jsonrpc", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            assert r.status == 200 and len(json.loads(data)["result"]) == nvms + 1
            records.size = len(data)

        def bare():
            conn.request("GET", "/")
            conn.getresponse().read()
        rb = rate(bare)
        bare_cpu = rate.cpu_ms
        rr = rate(records)
        benchlib.emit(bench="xapi",
                      metric=f"VM.get_all_records, {nvms + 1} VMs (JSON-RPC, keep-alive; "
                      f"{records.size / 1e6:.2f} MB each; daemon CPU {rate.cpu_ms:.1f} ms "
                      f"per call, {bare_cpu:.3f} per bare request)",
                      value=round(rr, 1), unit="calls/s",
                      peer="bare HTTP GET / to the same daemon", peer_value=round(rb, 1),
                      ratio=round(rr / rb, 4), ratio_means="calls / bare requests per second")
    finally:
        env.close()


if __name__ == "__main__":
    main()
