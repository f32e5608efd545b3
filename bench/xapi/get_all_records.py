#!/usr/bin/env python3
"""Calls per second of VM.get_all_records (JSON-RPC) with N VMs defined
(xl.cfg files in the VM directory; none running), beside bare HTTP
requests to the same daemon in the same run, each over one keep-alive
connection. Needs no /dev/kvm.

    bench/xapi/get_all_records.py [N_VMS] [SECONDS]
"""
import http.client
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "xapi"))
import xapienv  # noqa: E402

nvms = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
secs = float(sys.argv[2]) if len(sys.argv) > 2 else 5
env = xapienv.Env()
try:
    for i in range(nvms):
        env.define(f"vm{i:04d}", "guest-idle-64")
    s, _ = env.call("session.login_with_password", "root", "secret")
    xapienv.wait_for(lambda: len(env.call("VM.get_all", s)[0]) == nvms + 1, 60)
    conn = http.client.HTTPConnection("127.0.0.1", env.port)
    body = json.dumps({"jsonrpc": "2.0", "method": "VM.get_all_records", "params": [s], "id": 1})

    def cpu():
        """The daemon's CPU seconds so far (a loaded machine stretches wall
        time; this does not)."""
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
    print(json.dumps({"vms": nvms + 1, "get_all_records_per_s": round(rr, 2),
                      "get_all_records_daemon_cpu_ms": round(rate.cpu_ms, 1),
                      "response_bytes": records.size, "bare_http_per_s": round(rb, 1),
                      "bare_http_daemon_cpu_ms": round(bare_cpu, 3),
                      "loadavg": os.getloadavg()[0]}))
finally:
    env.close()
