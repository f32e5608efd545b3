#!/usr/bin/env python3
"""How soon a XenAPI client sees a change made outside the API, beside a
bare HTTP request/response to the same daemon in the same run:

- Xen Orchestra's own client (npm xen-api, from the oracle cache) follows
  events while `xl pause` / `xl unpause` change a running VM's power state:
  from the command's spawn to the client's cache showing the new state
  (event_latency.mjs);
- a blocked `event.from` (JSON-RPC from Python) returning the del event of
  an `xl destroy`, from the command's start.

    bench/xapi/event_latency.py [--json] [--rounds N]   (needs /dev/kvm, node)
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "xapi"))
import benchlib  # noqa: E402
import oracles  # noqa: E402
import xapienv  # noqa: E402

GOAL = "within a fraction of a second"


def bare_ms(env, n=200):
    xs = []
    for _ in range(n):
        t = time.perf_counter()
        urllib.request.urlopen(env.url + "/", timeout=10).read()
        xs.append(time.perf_counter() - t)
    return statistics.median(xs) * 1e3


def xen_api_power_state(env, cfg, rounds):
    """The xen-api client's view of xl pause/unpause; None without node or
    the module (said on stderr)."""
    modules = os.path.join(oracles.cache_dir(), "npm", "node_modules")
    if not shutil.which("node") or not os.path.exists(os.path.join(modules, "xen-api", "index.mjs")):
        print("# xen-api client or node missing (scripts/oracles.py npm): its row is not measured",
              file=sys.stderr)
        return None
    r = env.xl("create", cfg)
    assert r.returncode == 0, r.stderr
    try:
        p = subprocess.run(["node", os.path.join(HERE, "event_latency.mjs"), modules, env.url,
                            xapienv.XL, "lat", str(rounds)],
                           env=env.env, cwd=xapienv.BUILD, capture_output=True, text=True,
                           timeout=300)
        if p.returncode:
            sys.exit(f"event_latency.mjs failed:\n{p.stdout}{p.stderr}")
        return json.loads(p.stdout.strip().splitlines()[-1])
    finally:
        env.xl("destroy", "lat")


def destroy_to_del_event(env, s, cfg, rounds):
    lat, cmd = [], []
    for _ in range(rounds):
        r = env.xl("create", cfg)
        assert r.returncode == 0, r.stderr
        domid = env.xl("domid", "lat").stdout.strip()
        # wait until the API shows this domain (not an earlier one of the
        # name, whose del event may be still to come), and take the token
        # and its reference from there
        ref = None
        while not ref:
            res, _ = env.call("event.from", s, ["VM"], "", 0.0)
            ref = next((e["ref"] for e in res["events"] if e["operation"] != "del" and
                        e["snapshot"]["name_label"] == "lat" and
                        str(e["snapshot"]["domid"]) == domid), None)
            time.sleep(0.05)
        token, got = res["token"], {}

        def wait():
            tok = token
            while True:
                res, e = env.call("event.from", s, ["VM"], tok, 30.0)
                tok = res["token"]
                if any(ev["operation"] == "del" and ev["ref"] == ref for ev in res["events"]):
                    got["t"] = time.perf_counter()
                    return
        th = threading.Thread(target=wait)
        th.start()
        time.sleep(0.2)         # event.from is blocked in the daemon by now
        t0 = time.perf_counter()
        env.xl("destroy", "lat")
        t1 = time.perf_counter()
        th.join(30)
        assert "t" in got, "no del event within 30 s"
        lat.append((got["t"] - t0) * 1e3)
        cmd.append((t1 - t0) * 1e3)
    return statistics.median(lat), max(lat), statistics.median(cmd)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="records only (bench/run.py)")
    ap.add_argument("--rounds", type=int, default=10)
    a = ap.parse_args()
    benchlib.need_kvm()
    env = xapienv.Env()
    try:
        s, _ = env.call("session.login_with_password", "root", "secret")
        cfg = os.path.join(env.tmp, "lat.cfg")
        with open(cfg, "w") as f:
            f.write(f'name = "lat"\ntype = "pvh"\nkernel = "{xapienv.BUILD}/guests/guest-idle-64"\n'
                    'memory = 16\nvcpus = 1\n')
        xa = xen_api_power_state(env, cfg, a.rounds)
        if xa:
            benchlib.emit(bench="xapi", metric="power-state change (xl pause/unpause) → "
                          "xen-api client's event (median of %d; max %.1f ms; the xl command "
                          "alone %.1f ms)" % (xa["changes"], xa["event_ms_max"],
                                              xa["xl_command_ms_median"]),
                          value=round(xa["event_ms_median"], 1), unit="ms",
                          peer="bare HTTP request/response, same daemon and client",
                          peer_value=round(xa["bare_http_ms_median"], 3),
                          ratio=round(xa["event_ms_median"] / xa["bare_http_ms_median"], 1),
                          ratio_means="× a bare request", goal=GOAL)
        med, mx, cmd = destroy_to_del_event(env, s, cfg, a.rounds)
        bare = bare_ms(env)
        benchlib.emit(bench="xapi", metric="xl destroy → blocked event.from returns the del "
                      "event (median of %d; max %.1f ms; the xl command alone %.1f ms)"
                      % (a.rounds, mx, cmd),
                      value=round(med, 1), unit="ms",
                      peer="bare HTTP request/response, same daemon", peer_value=round(bare, 3),
                      ratio=round(med / bare, 1), ratio_means="× a bare request", goal=GOAL)
    finally:
        env.close()


if __name__ == "__main__":
    main()
