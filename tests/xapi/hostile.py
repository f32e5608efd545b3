#!/usr/bin/env python3
"""What a stranger or a client with a lesser role can do to xenon-xapi:
wrong passwords, forged and expired session refs, calls above the
caller's role (RBAC_PERMISSION_DENIED [permission, message]), malformed
JSON and XML, a DTD, huge bodies, deep nesting, wrong argument counts and
types. Each gets a clear error and the daemon keeps serving."""
import json
import os
import ssl
import stat
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xapienv  # noqa: E402

failures = []


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f": {detail}" if detail and not ok else ""))
    if not ok:
        failures.append(what)


def xml_call(env, method, *params):
    ps = "".join(f"<param><value>{p}</value></param>" for p in params)
    return env.post("/RPC2", f'<?xml version="1.0"?><methodCall><methodName>{method}'
                    f"</methodName><params>{ps}</params></methodCall>".encode(), "text/xml")


# The idle expiry is checked on a daemon of its own (--session-timeout 2,
# below): with it here, a loaded machine's pause of 2 s between two calls
# of the checks on this one expired their sessions.
env = xapienv.Env()
try:
    r, e = env.call("session.login_with_password", "root", "nope")
    check("wrong password: SESSION_AUTHENTICATION_FAILED", e and e[0] == "SESSION_AUTHENTICATION_FAILED", e)
    r, e = env.call("session.login_with_password", "mallory\nxenon-xapi: info: user root logged in", "x")
    log = open(os.path.join(env.tmp, "xapi.log")).read()
    check("a failed login is logged, on one line whatever the user name",
          "login of user 'mallory?xenon-xapi: info: user root logged in' from 127.0.0.1 failed" in log, log)
    r, e = env.call("session.login_with_password", "mallory", "secret")
    check("unknown user refused", e and e[0] == "SESSION_AUTHENTICATION_FAILED", e)
    # --login-delay-ms 100: eight wrong guesses on eight connections at once
    # are answered one after the other (>= 0.8 s in all), not together.
    import threading
    t0 = time.monotonic()
    ths = [threading.Thread(target=env.call, args=("session.login_with_password", "root", f"g{i}"))
           for i in range(8)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    check("parallel failed logins are slowed in turn", time.monotonic() - t0 >= 0.8)
    root, e = env.call("session.login_with_password", "root", "secret")
    check("root logs in", root and root.startswith("OpaqueRef:"), e)
    alice, _ = env.call("session.login_with_password", "alice", "alicepw", "1.0", "test")
    bob, _ = env.call("session.login_with_password", "bob", "bobpw")
    check("distinct unguessable session refs", len({root, alice, bob}) == 3)

    forged = "OpaqueRef:" + root[10:-4] + ("0000" if not root.endswith("0000") else "1111")
    r, e = env.call("VM.get_all", forged)
    check("forged session ref: SESSION_INVALID", e == ["SESSION_INVALID", forged], e)
    r, e = env.call("VM.get_all", "OpaqueRef:NULL")
    check("null session ref: SESSION_INVALID", e and e[0] == "SESSION_INVALID", e)

    # a generic getter's reference that is no string (a browser's
    # undefined is null) names nothing: HANDLE_INVALID, not a crash
    for bad in (None, 7, {"a": 1}):
        r, e = env.call("VM.get_VBDs", alice, bad)
        check(f"VM.get_VBDs({bad!r}): HANDLE_INVALID", e and e[0] == "HANDLE_INVALID", e)
    r, e = env.call("VM.get_by_uuid", alice, None)
    check("VM.get_by_uuid(null): UUID_INVALID", e and e[0] == "UUID_INVALID" and env.alive(), e)

    pool = list(env.call("pool.get_all", alice)[0])[0]
    vms, e = env.call("VM.get_all_records", alice)
    check("read-only may read", e is None and len(vms) >= 1, e)
    r, e = env.call("pool.add_to_other_config", alice, pool, "k", "v")
    check("read-only above its role: RBAC_PERMISSION_DENIED [permission, message]",
          e and e[0] == "RBAC_PERMISSION_DENIED" and e[1] == "pool.add_to_other_config" and len(e) == 3, e)
    dom0 = [ref for ref, v in vms.items() if v["is_control_domain"]][0]
    r, e = env.call("VM.start", alice, dom0, False, False)
    check("read-only may not start VMs", e and e[0] == "RBAC_PERMISSION_DENIED", e)
    r, e = env.call("Async.VM.hard_shutdown", alice, dom0)
    check("nor through Async", e and e[0] == "RBAC_PERMISSION_DENIED", e)
    r, e = env.call("pool.add_to_other_config", bob, pool, "k", "v")
    check("vm-operator may not change the pool", e and e[0] == "RBAC_PERMISSION_DENIED", e)
    r, e = env.call("pool.add_to_other_config", root, pool, "k", "v")
    check("pool-admin may", e is None and env.call("pool.get_other_config", alice, pool)[0] == {"k": "v"}, e)

    r, e = env.call("VM.get_record", root, "OpaqueRef:nope")
    check("bad object ref: HANDLE_INVALID [class, ref]", e == ["HANDLE_INVALID", "VM", "OpaqueRef:nope"], e)
    r, e = env.call("VM.frobnicate", root)
    check("unknown method: MESSAGE_METHOD_UNKNOWN", e == ["MESSAGE_METHOD_UNKNOWN", "VM.frobnicate"], e)
    r, e = env.call("VM.get_all", root, "extra")
    check("argument count: MESSAGE_PARAMETER_COUNT_MISMATCH [method, expected, got]",
          e == ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.get_all", "1", "2"], e)
    r, e = env.call("event.from", root, "notalist", "", 1.0)
    check("wrong argument type: FIELD_TYPE_ERROR", e and e[0] == "FIELD_TYPE_ERROR", e)
    r, e = env.call("VM.start", root, dom0, False, False)
    check("control domain cannot be started", e and e[0] == "OPERATION_NOT_ALLOWED", e)

    for name, body in [("malformed JSON", b'{"method": "VM.get_all", "params": ['),
                       ("not an object", b'[1,2,3]'),
                       ("trailing garbage", b'{"method":"system.listMethods","params":[],"id":1} x'),
                       ("deep nesting", b'{"method":"x","params":' + b"[" * 100000 + b"]" * 100000 + b"}"),
                       ("NUL bytes", b'{"method":"x\x00y","params":[]}')]:
        st, ct, out = env.post("/jsonrpc", body)
        ok = st == 200 and ct == "application/json" and "error" in json.loads(out)
        check(f"JSON-RPC {name}: a clear error", ok, (st, out[:200]))
    st, ct, out = env.post("/jsonrpc", b'{"method":"x","params":["' + b"a" * (5 << 20) + b'"]}')
    check("huge body: 413", st == 413, st)

    st, ct, out = xml_call(env, "VM.get_all", root)
    check("XML-RPC at /RPC2 with XAPI's envelope", st == 200 and ct == "text/xml" and b"<name>Status</name><value><string>Success" in out, out[:200])
    st, ct, out = xml_call(env, "VM.get_all", "OpaqueRef:bad")
    check("XML-RPC failure envelope", b"Failure" in out and b"SESSION_INVALID" in out, out[:300])
    for name, body in [("malformed XML", b"<methodCall><methodName>x</methodName"),
                       ("a DTD (entities)", b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]>'
                        b"<methodCall><methodName>&e;</methodName></methodCall>"),
                       ("deep nesting", b"<methodCall><methodName>x</methodName><params><param>"
                        + b"<value><array><data>" * 5000 + b"</data></array></value>" * 5000
                        + b"</param></params></methodCall>"),
                       ("bad int", b"<methodCall><methodName>x</methodName><params><param>"
                        b"<value><int>12z</int></value></param></params></methodCall>")]:
        st, ct, out = env.post("/", body, "text/xml")
        check(f"XML-RPC {name}: a clear error", st == 200 and b"XMLRPC_UNMARSHAL_FAILURE" in out, (st, out[:200]))

    mode = stat.S_IMODE(os.stat(env.cert).st_mode)
    check("a self-signed certificate made at first start, mode 0600", mode == 0o600, oct(mode))
    pem = open(env.cert).read()
    only_cert = os.path.join(env.tmp, "cert-only.pem")
    with open(only_cert, "w") as f:
        f.write(pem[pem.index("-----BEGIN CERTIFICATE-----"):])
    info = ssl._ssl._test_decode_cert(only_cert)
    check("its subject is its issuer, CN = the host name",
          info["subject"] == info["issuer"] and (("commonName", os.uname().nodename),) in info["subject"], info)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    req = urllib.request.Request(env.https_url + "/jsonrpc", method="POST", data=json.dumps(
        {"jsonrpc": "2.0", "method": "VM.get_all", "params": [root], "id": 3}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
        out = json.loads(r.read())
    check("JSON-RPC over HTTPS", isinstance(out.get("result"), list), out)
    ctx2 = ssl.create_default_context(cafile=only_cert)
    ctx2.check_hostname = False
    with urllib.request.urlopen(env.https_url + "/", context=ctx2, timeout=30) as r:
        check("the server presents that certificate", r.status == 200)

    r, e = env.call("session.logout", bob)
    r, e = env.call("VM.get_all", bob)
    check("logged-out session: SESSION_INVALID", e and e[0] == "SESSION_INVALID", e)
    check("the daemon still serves", env.alive() and env.call("session.login_with_password", "root", "secret")[1] is None)
    short = xapienv.Env(session_timeout=2)
    try:
        idle, e = short.call("session.login_with_password", "alice", "alicepw")
        check("a session of a daemon with --session-timeout 2", e is None, e)
        time.sleep(3.5)     # idle expiry needs the clock to pass
        r, e = short.call("VM.get_all", idle)
        check("idle session expired: SESSION_INVALID", e and e[0] == "SESSION_INVALID", e)
    finally:
        short.close()
finally:
    env.close()
sys.exit(1 if failures else 0)
