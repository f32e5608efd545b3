#!/usr/bin/env python3
"""A pause or an unpause made outside the API (`xl pause`, `xl unpause`)
reaches event.from without the periodic scan: the daemon runs with
--rescan-interval 0 (never), so only the state file that libxenon touches
after the change, watched by inotify, can make the event. Needs /dev/kvm."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xapienv  # noqa: E402

if not os.access("/dev/kvm", os.R_OK | os.W_OK):
    print("skipped: /dev/kvm is missing")
    sys.exit(77)

failures = []


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f": {detail}" if detail and not ok else ""))
    if not ok:
        failures.append(what)


def state_by_event(env, s, token, want, secs=10.0):
    """Follow event.from from token until VM "pz" shows power state want
    (True), or secs pass without it (False: the event never came)."""
    end = time.monotonic() + secs
    while time.monotonic() < end:
        res, e = env.call("event.from", s, ["VM"], token, 2.0)
        if e:
            return False, token
        token = res["token"]
        if any(ev["snapshot"].get("name_label") == "pz" and
               ev["snapshot"].get("power_state") == want for ev in res["events"]):
            return True, token
    return False, token


env = xapienv.Env(extra_args=("--rescan-interval", "0"))
try:
    s, _ = env.call("session.login_with_password", "root", "secret")
    cfg = os.path.join(env.tmp, "pz.cfg")
    with open(cfg, "w") as f:
        f.write(f'name = "pz"\ntype = "pvh"\nkernel = "{xapienv.BUILD}/guests/guest-idle-64"\n'
                'memory = 16\nvcpus = 1\n')
    r = env.xl("create", cfg)
    check("xl create", r.returncode == 0, r.stderr)
    res, _ = env.call("event.from", s, ["VM"], "", 0.0)
    token = res["token"]
    seen = any(ev["snapshot"].get("name_label") == "pz" for ev in res["events"])
    if not seen:
        seen, token = state_by_event(env, s, token, "Running")
    check("the xl-created VM appears (xenstore watch)", seen)
    for verb, state in (("pause", "Paused"), ("unpause", "Running"), ("pause", "Paused")):
        r = env.xl(verb, "pz")
        check(f"xl {verb}", r.returncode == 0, r.stderr)
        ok, token = state_by_event(env, s, token, state)
        check(f"xl {verb}: event.from shows {state} with no periodic scan", ok)
    # the API's own VM.unpause on the VM xl paused, seen the same way
    ref, e = env.call("VM.get_by_name_label", s, "pz")
    _, e = env.call("VM.unpause", s, ref[0]) if ref else (None, "no VM pz")
    check("VM.unpause of the xl-paused VM", not e, e)
    ok, token = state_by_event(env, s, token, "Running")
    check("VM.unpause: event.from shows Running", ok)
    env.xl("destroy", "pz")
    if not env.alive():
        check("xenon-xapi still serving", False)
finally:
    env.close()
print(f"{len(failures)} failed" if failures else "all passed")
sys.exit(1 if failures else 0)
