#!/usr/bin/env python3
"""How soon xenon-xapi's event.from wakes after a domain changes outside
the API (from the start of `xl destroy` to the del event, seen through
the xenstore watch; the xl command's own run time beside it), and a bare
HTTP request/response to the same daemon in the same run.

    bench/xapi/event_latency.py [ROUNDS]      (needs /dev/kvm; build/ tree)
"""
import json
import os
import statistics
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "xapi"))
import xapienv  # noqa: E402

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
if not os.access("/dev/kvm", os.R_OK | os.W_OK):
    print("skipped: /dev/kvm missing")
    sys.exit(77)
env = xapienv.Env()
try:
    s, _ = env.call("session.login_with_password", "root", "secret")
    cfg = os.path.join(env.tmp, "lat.cfg")
    with open(cfg, "w") as f:
        f.write(f'name = "lat"\ntype = "pvh"\nkernel = "{xapienv.BUILD}/guests/guest-idle-64"\n'
                'memory = 16\nvcpus = 1\n')
    bare = []
    for _ in range(200):
        t = time.perf_counter()
        urllib.request.urlopen(env.url + "/", timeout=10).read()
        bare.append(time.perf_counter() - t)
    lat, xl = [], []
    for _ in range(rounds):
        r = env.xl("create", cfg)
        assert r.returncode == 0, r.stderr
        # wait until the API shows it, and take the token from there
        while True:
            res, _ = env.call("event.from", s, ["VM"], "", 0.0)
            if any(e["snapshot"]["name_label"] == "lat" for e in res["events"]):
                break
            time.sleep(0.05)
        token = res["token"]
        got = {}

        def wait():
            tok = token
            while True:
                res, e = env.call("event.from", s, ["VM"], tok, 30.0)
                tok = res["token"]
                if any(ev["operation"] == "del" for ev in res["events"]):
                    got["t"] = time.perf_counter()
                    return
        th = threading.Thread(target=wait)
        th.start()
        time.sleep(0.2)         # event.from is blocked in the daemon by now
        t0 = time.perf_counter()
        r = env.xl("destroy", "lat")
        t1 = time.perf_counter()
        th.join(30)
        assert "t" in got, "no event"
        lat.append(got["t"] - t0)
        xl.append(t1 - t0)
    print(json.dumps({
        "bare_http_ms_median": round(statistics.median(bare) * 1e3, 3),
        "xl_destroy_to_event_ms_median": round(statistics.median(lat) * 1e3, 1),
        "xl_destroy_to_event_ms_max": round(max(lat) * 1e3, 1),
        "xl_destroy_command_ms_median": round(statistics.median(xl) * 1e3, 1),
        "rounds": rounds,
    }))
finally:
    env.close()
