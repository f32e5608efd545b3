#!/usr/bin/env python3
"""XAPI's legacy event API over JSON-RPC (and XML-RPC for one call):
event.next before event.register is SESSION_NOT_REGISTERED [session];
after register(["task"]) event.next blocks until a task event (not one of
another class) and returns it with its snapshot and obj_uuid, then only
what came after; register adds classes to the set, unregister takes them
away (a removed class no longer wakes it); the registration is the
session's own (another session is not registered); a backlog beyond the
event log (8192 events, here from event.inject) is EVENTS_LOST, after
which event.next goes on from now; a blocked event.next ends with
SESSION_INVALID when its session logs out. Needs no KVM."""
import http.client
import json
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


def in_thread(fn):
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", fn()), daemon=True)
    t.start()
    return t, out


env = xapienv.Env()
try:
    s, _ = env.call("session.login_with_password", "root", "secret")
    other, _ = env.call("session.login_with_password", "alice", "alicepw")
    r, e = env.call("event.next", s)
    check("event.next unregistered: SESSION_NOT_REGISTERED [session]",
          e == ["SESSION_NOT_REGISTERED", s], e)
    r, e = env.call("event.register", s, "task")
    check("event.register with a string, not a list: FIELD_TYPE_ERROR",
          e and e[0] == "FIELD_TYPE_ERROR", e)
    r, e = env.call("event.register", s, ["task"])
    check("event.register ['task']", e is None and r == "", (r, e))
    r, e = env.call("event.next", other)
    check("another session is not registered", e == ["SESSION_NOT_REGISTERED", other], e)

    t, out = in_thread(lambda: env.call("event.next", s))
    pool = env.call("pool.get_all", s)[0][0]
    env.call("event.inject", s, "pool", pool)      # not a registered class
    t.join(1.0)
    check("an event of another class does not wake it", t.is_alive())
    task, _ = env.call("task.create", s, "t1", "")
    t.join(30)
    r, e = out.get("r", (None, "no answer"))
    check("a task event wakes it: [{class task, operation add, ref, snapshot, obj_uuid}]",
          e is None and [(x["class"], x["operation"], x["ref"]) for x in r] == [("task", "add", task)] and
          r[0]["snapshot"]["uuid"] == r[0]["obj_uuid"] != "", (r, e))

    env.call("task.destroy", s, task)
    r, e = env.call("event.next", s)
    check("then only what came after (the del)",
          e is None and [(x["operation"], x["ref"]) for x in r] == [("del", task)], (r, e))

    r, e = env.call("event.register", s, ["pool"])
    env.call("event.inject", s, "pool", pool)
    r, e = env.call("event.next", s)
    check("register adds a class to the set (pool now wakes it)",
          e is None and [x["class"] for x in r] == ["pool"], (r, e))
    env.call("event.unregister", s, ["pool"])
    t, out = in_thread(lambda: env.call("event.next", s))
    env.call("event.inject", s, "pool", pool)
    t.join(1.0)
    check("unregister takes it away again", t.is_alive())
    task2, _ = env.call("task.create", s, "t2", "")
    t.join(30)
    r, e = out.get("r", (None, "no answer"))
    check("... the other class still wakes it",
          e is None and [x["ref"] for x in r] == [task2], (r, e))

    body = ("<?xml version='1.0'?><methodCall><methodName>event.next</methodName><params>"
            f"<param><value><string>{other}</string></value></param></params></methodCall>")
    st, ct, xml = env.post("/RPC2", body.encode(), "text/xml")
    check("over XML-RPC too: SESSION_NOT_REGISTERED",
          st == 200 and b"SESSION_NOT_REGISTERED" in xml and b"Failure" in xml, xml[:300])

    # A backlog longer than the log: 8192+ events on one kept-alive connection.
    conn = http.client.HTTPConnection("127.0.0.1", env.port, timeout=30)
    env.call("event.register", s, ["*"])
    for i in range(8300):
        conn.request("POST", "/jsonrpc", json.dumps(
            {"jsonrpc": "2.0", "method": "event.inject", "params": [s, "pool", pool], "id": i}),
            {"Content-Type": "application/json"})
        conn.getresponse().read()
    conn.close()
    r, e = env.call("event.next", s)
    check("a backlog beyond the event log: EVENTS_LOST", e == ["EVENTS_LOST"], (e, len(r or [])))
    env.call("task.destroy", s, task2)
    r, e = env.call("event.next", s)
    check("after EVENTS_LOST event.next goes on from now",
          e is None and [(x["operation"], x["ref"]) for x in r] == [("del", task2)], (r, e))

    gone, _ = env.call("session.login_with_password", "root", "secret")
    env.call("event.register", gone, ["task"])
    t, out = in_thread(lambda: env.call("event.next", gone))
    t.join(0.5)
    env.call("session.logout", gone)
    t.join(20)
    check("a blocked event.next of a session that logs out: SESSION_INVALID",
          not t.is_alive() and out.get("r", (None, None))[1] and out["r"][1][0] == "SESSION_INVALID",
          out)
    check("the daemon still serves", env.alive())
finally:
    env.close()
sys.exit(1 if failures else 0)
