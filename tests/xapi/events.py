#!/usr/bin/env python3
"""event.from's token semantics as XAPI's: "" gives every object as an
add with a token; later calls give what changed since the token (add,
mod, del), block until something does or the timeout passes, and wake
for a change made on another connection; event.inject returns a token
before its event; a token from the future or a garbage one is refused.
valid_ref_counts counts the objects of each class asked for."""
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xapienv  # noqa: E402

failures = []


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f": {detail}" if detail and not ok else ""))
    if not ok:
        failures.append(what)


env = xapienv.Env()
try:
    s, _ = env.call("session.login_with_password", "root", "secret")
    env.define("halted1", "guest-idle-64")
    xapienv.wait_for(lambda: len(env.call("VM.get_all", s)[0]) == 2, 10)
    recs, e = env.call("VM.get_all_records", s)
    check("get_all_records (pre-rendered JSON) agrees with get_record of each",
          e is None and len(recs) == 2 and all(env.call("VM.get_record", s, ref)[0] == rec
                                               for ref, rec in recs.items()), e)
    r, e = env.call("event.from", s, ["VM", "pool"], "", 1.0)
    vms = [ev for ev in r["events"] if ev["class"] == "vm"]
    check('"" gives every object as an add with its snapshot',
          len(vms) == 2 and all(ev["operation"] == "add" and "snapshot" in ev for ev in vms), r)
    check("valid_ref_counts per class asked", r["valid_ref_counts"].get("VM") == 2 and
          r["valid_ref_counts"].get("pool") == 1 and "task" not in r["valid_ref_counts"], r["valid_ref_counts"])
    tok = r["token"]
    check("token format %020d,%020d", len(tok) == 41 and tok[20] == "," and tok.replace(",", "").isdigit(), tok)

    r, e = env.call("event.from", s, ["VM"], tok, 0.2)
    check("nothing changed: no events, after the timeout", e is None and r["events"] == [], r)

    got = {}

    def waiter():
        got["r"] = env.call("event.from", s, ["task"], tok, 30.0)[0]
    t = threading.Thread(target=waiter)
    t.start()
    task, e = env.call("task.create", s, "t1", "a task")
    t.join(30)
    evs = got.get("r", {}).get("events", [])
    check("a blocked event.from wakes for a task made on another connection",
          any(ev["ref"] == task and ev["operation"] == "add" and ev["class"] == "task" for ev in evs), got)
    tok2 = got["r"]["token"]
    env.call("task.destroy", s, task)
    r, e = env.call("event.from", s, ["task"], tok2, 5.0)
    check("task.destroy is a del event", any(ev["ref"] == task and ev["operation"] == "del"
                                            for ev in r["events"]), r)
    pool = env.call("pool.get_all", s)[0][0]
    itok, e = env.call("event.inject", s, "pool", pool)
    r, e = env.call("event.from", s, ["pool"], itok, 5.0)
    check("event.inject: its token comes before its event", e is None and
          [ev["ref"] for ev in r["events"]] == [pool], r)
    r, e = env.call("event.from", s, ["*"], tok, 0.1)
    ops = {(ev["class"], ev["ref"]): ev["operation"] for ev in r["events"]}
    check('"*" is every class, each object once with its last operation',
          ops.get(("task", task)) == "del" and ops.get(("pool", pool)) == "mod" and
          len(ops) == len(r["events"]), r)
    r, e = env.call("event.from", s, ["VM"], "99999999999999999999,00000000000000000000", 1.0)
    check("a token from the future: EVENTS_LOST", e == ["EVENTS_LOST"], e)
    r, e = env.call("event.from", s, ["VM"], "garbage", 1.0)
    check("a garbage token: EVENT_FROM_TOKEN_PARSE_FAILURE", e and e[0] == "EVENT_FROM_TOKEN_PARSE_FAILURE", e)
    r, e = env.call("event.inject", s, "VM", "OpaqueRef:nope")
    check("event.inject of no object: HANDLE_INVALID", e and e[0] == "HANDLE_INVALID", e)

    alice, _ = env.call("session.login_with_password", "alice", "alicepw")
    mine, _ = env.call("task.create", s, "root's", "")
    r, e = env.call("task.destroy", alice, mine)
    check("another user's task cannot be destroyed", e and e[0] == "RBAC_PERMISSION_DENIED", e)
    r, e = env.call("task.get_status", alice, mine)
    check("but can be read", r == "pending", (r, e))
    kernel = os.path.join(xapienv.BUILD, "guests", "guest-idle-64")
    bob, _ = env.call("session.login_with_password", "bob", "bobpw")
    rec = {"name_label": "made", "PV_kernel": kernel, "memory_static_max": str(32 << 20),
           "VCPUs_at_startup": 1, "VCPUs_max": 2}
    r, e = env.call("VM.create", bob, rec)
    check("VM.create needs vm-admin", e and e[0] == "RBAC_PERMISSION_DENIED", e)
    for bad in [{"name_label": "x\"y"}, {"name_label": "ok", "PV_kernel": 'a"b'},
                {"name_label": "ok", "PV_kernel": kernel, "memory_static_max": "12"},
                {"name_label": "Domain-0", "PV_kernel": kernel}]:
        r, e = env.call("VM.create", s, bad)
        check(f"VM.create refuses {bad}", e and e[0] == "INVALID_VALUE", e)
    t3 = env.call("event.from", s, ["VM"], "", 0.0)[0]["token"]
    made, e = env.call("VM.create", s, rec)
    got = env.call("VM.get_record", s, made)[0] if made else {}
    check("VM.create from a record: a Halted VM with those fields",
          e is None and got.get("power_state") == "Halted" and got.get("memory_static_max") == 32 << 20 and
          got.get("VCPUs_max") == 2 and got.get("PV_kernel") == kernel, (e, got))
    r, e = env.call("event.from", s, ["VM"], t3, 5.0)
    check("... and an add event", any(ev["ref"] == made and ev["operation"] == "add" for ev in r["events"]), r)
    r, e = env.call("VM.create", s, rec)
    check("a second VM of that name is refused", e and e[0] == "INVALID_VALUE", e)
    r, e = env.call("VM.destroy", s, made)
    check("VM.destroy of the halted VM", e is None and env.call("VM.get_record", s, made)[1][0] == "HANDLE_INVALID", e)
    check("its definition is gone", not os.path.exists(os.path.join(env.vm_dir, "made.cfg")))
    os.unlink(os.path.join(env.vm_dir, "halted1.cfg"))
    r, e = env.call("event.from", s, ["VM"], tok, 10.0)
    check("a removed definition is a del event", any(ev["operation"] == "del" for ev in r["events"]), r)
finally:
    env.close()
sys.exit(1 if failures else 0)
