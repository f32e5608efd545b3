#!/usr/bin/env python3
"""A VM's text console over the WebSocket its console record publishes.
Without /dev/kvm only the refusals run (then exit 77): no session, a
forged, logged-out or expired one, a read-only user, a request that is not a
WebSocket handshake. With it a VM of the idle guest (which answers each
line typed on its PV console with "idle: got <line>") is started through
the API and its console used over HTTP and HTTPS, with the session as
query argument and as cookie: typed lines come back as the guest's
answer, also when split into fragments with a ping between them. Hostile
frames (unmasked, RSV bits, a continuation out of place, a control frame
too long, a message above the limit, bad UTF-8) each get the close code
RFC 6455 gives them and leave the daemon serving; logging the session out
closes its open console (1008)."""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsclient  # noqa: E402
import xapienv  # noqa: E402

failures = []


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f": {detail}" if detail and not ok else ""),
          flush=True)
    if not ok:
        failures.append(what)


def close_code(ws):
    """The code of the close frame the server sends next (skipping output)."""
    try:
        while True:
            op, p = ws.recv()
            if op == 8:
                return struct.unpack("!H", p[:2])[0] if len(p) >= 2 else 1005
    except (wsclient.Closed, OSError):
        return None


kvm = os.access("/dev/kvm", os.R_OK | os.W_OK)
env = xapienv.Env()
try:
    root, _ = env.call("session.login_with_password", "root", "secret")
    alice, _ = env.call("session.login_with_password", "alice", "alicepw")
    bob, _ = env.call("session.login_with_password", "bob", "bobpw")
    gone, _ = env.call("session.login_with_password", "root", "secret")
    env.call("session.logout", gone)
    forged = "OpaqueRef:" + root[10:-4] + ("0000" if not root.endswith("0000") else "1111")
    path = "/console?ref=OpaqueRef:NULL"
    st, _, _ = wsclient.handshake(env.port, path)
    check("no session: 401, no upgrade", st == 401, st)
    for what, s in [("forged", forged), ("logged-out", gone), ("null", "OpaqueRef:NULL")]:
        st, _, _ = wsclient.handshake(env.port, path + "&session_id=" + s)
        check(f"a {what} session: 401", st == 401, st)
        st, _, _ = wsclient.handshake(env.port, path, headers={"Cookie": "session_id=" + s})
        check(f"a {what} session as cookie: 401", st == 401, st)
    st, _, _ = wsclient.handshake(env.port, path + "&session_id=" + alice)
    check("read-only: 403", st == 403, st)
    st, _, _ = wsclient.handshake(env.port, path + "&session_id=" + root)
    check("no such console: 404", st == 404, st)

    # an expired session (a daemon of its own with a 1 s idle expiry)
    short = xapienv.Env(session_timeout=1)
    try:
        old, _ = short.call("session.login_with_password", "root", "secret")
        import time
        time.sleep(2.5)
        st, _, _ = wsclient.handshake(short.port, path + "&session_id=" + old)
        check("an expired session: 401", st == 401, st)
    finally:
        short.close()

    # the web console's files beside it (web_static.c): one path
    # component, no dot files, no way out of the directory
    import http.client

    def get(path, headers={}):
        c = http.client.HTTPConnection("127.0.0.1", env.port, timeout=10)
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        out = (r.status, r.getheader("Content-Type"), r.getheader("Location"), r.read(),
               r.getheader("Content-Encoding"))
        c.close()
        return out
    st, ct, _, body, _ = get("/ui/")
    check("/ui/ is the web console's page", st == 200 and ct.startswith("text/html") and
          b"<title>Xenon</title>" in body, (st, ct))
    st, ct, _, js, enc = get("/ui/app.js")
    check("its modules are JavaScript", st == 200 and ct.startswith("text/javascript") and
          enc is None, (st, ct, enc))
    import gzip
    st, ct, _, z, enc = get("/ui/app.js", {"Accept-Encoding": "br, gzip;q=0.8"})
    check("gzip to a client that takes it, the same bytes", st == 200 and enc == "gzip" and
          gzip.decompress(z) == js, (st, enc))
    st, ct, _, z, enc = get("/ui/app.js", {"Accept-Encoding": "gzip;q=0, br"})
    check("not to one that refuses it (q=0)", st == 200 and enc is None and z == js, (st, enc))
    check("/ui redirects to /ui/", get("/ui")[0] == 301 and get("/ui")[2] == "/ui/")
    for bad in ["/ui/../meson.build", "/ui/%2e%2e/meson.build", "/ui/..", "/ui/.hidden",
                "/ui/a/index.html", "/ui/%2fetc%2fpasswd", "/ui/%2e%2e%2fmeson.build", "/ui/" + "a" * 300]:
        check(f"GET {bad[:40]}: 404", get(bad)[0] == 404, get(bad)[0])

    if kvm:
        env.define("echo", "guest-idle-64")
        xapienv.wait_for(lambda: env.call("VM.get_by_name_label", root, "echo")[0], 10)
        vm = env.call("VM.get_by_name_label", root, "echo")[0][0]
        r, e = env.call("VM.start", root, vm, False, False)
        check("VM.start", e is None, e)
        xapienv.wait_for(lambda: env.call("VM.get_consoles", root, vm)[0], 20)
        cons = env.call("VM.get_consoles", root, vm)[0]
        rec = env.call("console.get_record", root, cons[0])[0] if cons else {}
        check("the console record: vt100 at /console?ref=<its ref>",
              rec.get("protocol") == "vt100" and rec.get("location") == "/console?ref=" + cons[0], rec)
        loc = rec.get("location", path)
        for what, st_ws in [("handshake without Upgrade: 400",
                             wsclient.handshake(env.port, loc + "&session_id=" + root,
                                                headers={"Upgrade": None})[0] == 400),
                            ("version 8: 426", wsclient.handshake(
                                env.port, loc + "&session_id=" + root,
                                headers={"Sec-WebSocket-Version": "8"})[0] == 426),
                            ("a key that is not 16 bytes: 400", wsclient.handshake(
                                env.port, loc + "&session_id=" + root, key="c2hvcnQ=")[0] == 400)]:
            check(what, st_ws)

        def typed(ws, line):
            ws.send(1, line.encode() + b"\r")
            return ws.read_until(b"idle: got " + line.encode())

        for tls, port in [(False, env.port), (True, env.https_port)]:
            how = "HTTPS" if tls else "HTTP"
            st, _, ws = wsclient.handshake(port, loc + "&session_id=" + root, tls=tls)
            check(f"{how}: root's session upgrades (101)", st == 101, st)
            if ws:
                out = typed(ws, "hello " + how)
                check(f"{how}: the guest answers a typed line", b"idle: got hello " + how.encode() in out, out)
                # fragmented, with a ping between the fragments
                ws.send(1, b"frag", fin=False)
                ws.send(9, b"are you there")
                ws.send(0, b"mented", fin=False)
                ws.send(0, b"\r")
                op, p = ws.recv()
                while op == 2:
                    op, p = ws.recv()
                check(f"{how}: a ping inside a fragmented message gets its pong",
                      op == 10 and p == b"are you there", (op, p))
                out = ws.read_until(b"idle: got fragmented")
                check(f"{how}: fragments are one line to the guest", b"idle: got fragmented" in out, out)
                ws.send(8, struct.pack("!H", 1000) + b"bye")
                check(f"{how}: a close is answered with the same code", close_code(ws) == 1000)
                ws.close()
        st, _, ws = wsclient.handshake(env.port, loc, headers={"Cookie": "session_id=" + bob})
        check("vm-operator's session as cookie upgrades", st == 101, st)
        if ws:
            out = typed(ws, "from bob")
            check("and types into the console", b"idle: got from bob" in out, out)
            ws.close()

        hostile = [
            ("an unmasked frame", wsclient.WS.frame(1, b"x", mask=False), 1002),
            ("RSV bits without an extension", wsclient.WS.frame(1, b"x", rsv=4), 1002),
            ("a continuation with no message", wsclient.WS.frame(0, b"x"), 1002),
            ("a fragmented ping", wsclient.WS.frame(9, b"x", fin=False), 1002),
            ("a ping of 126 bytes", wsclient.WS.frame(9, b"p" * 126), 1002),
            ("opcode 3", wsclient.WS.frame(3, b"x"), 1002),
            ("a new message inside a fragmented one",
             wsclient.WS.frame(2, b"a", fin=False) + wsclient.WS.frame(2, b"b"), 1002),
            ("a 16-bit length for 5 bytes", bytes([0x81, 0x80 | 126, 0, 5]) + b"\0" * 9, 1002),
            ("a length of 2^63", bytes([0x82, 0x80 | 127, 0x80]) + b"\0" * 11, 1002),
            ("a 1 MiB message (announced)", bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 1 << 20)
             + b"\0" * 4, 1009),
            ("fragments adding up past 64 KiB",
             wsclient.WS.frame(2, b"a" * 100, fin=False) +
             bytes([0x80, 0x80 | 126]) + struct.pack("!H", 65436 + 1) + b"\0" * 4, 1009),
            ("bad UTF-8 in a text message", wsclient.WS.frame(1, b"\xc3\x28"), 1007),
            ("a surrogate in a text message", wsclient.WS.frame(1, b"\xed\xa0\x80"), 1007),
            ("a close code 1005 on the wire", wsclient.WS.frame(8, struct.pack("!H", 1005)), 1002),
            ("a close frame of 1 byte", wsclient.WS.frame(8, b"\x03"), 1002),
        ]
        for what, data, code in hostile:
            st, _, ws = wsclient.handshake(env.port, loc + "&session_id=" + root)
            if not ws:
                check(what, False, f"upgrade refused: {st}")
                continue
            ws.raw(data)
            got = close_code(ws)
            check(f"{what}: close {code}", got == code, got)
            ws.close()
        # a UTF-8 character split across two frames is fine
        st, _, ws = wsclient.handshake(env.port, loc + "&session_id=" + root)
        ws.send(1, b"\r")                 # what the hostile frames left on the line
        ws.send(1, b"caf\xc3", fin=False)
        ws.send(0, b"\xa9\r")
        out = ws.read_until("idle: got café".encode())
        check("a character split between fragments is valid UTF-8",
              "idle: got café".encode() in out, out)
        # clients that leave right after asking (before or after the 101):
        # more of them than handshakes may be pending at once
        import socket
        for _ in range(300):
            c = socket.create_connection(("127.0.0.1", env.port))
            c.sendall((f"GET {loc}&session_id={root} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n").encode())
            c.close()
        st, _, ws = wsclient.handshake(env.port, loc + "&session_id=" + root)
        check("after 300 abandoned handshakes a console still opens and answers",
              ws is not None and b"idle: got still here" in
              (ws.send(1, b"still here\r") or ws.read_until(b"idle: got still here")), st)
        if ws:
            ws.close()
        # logging out closes the open console
        s2, _ = env.call("session.login_with_password", "root", "secret")
        st, _, ws = wsclient.handshake(env.port, loc + "&session_id=" + s2)
        env.call("session.logout", s2)
        check("logging out closes its console with 1008", close_code(ws) == 1008)
        ws.close()
        check("the daemon still serves", env.call("VM.get_all", root)[1] is None)
        env.call("VM.hard_shutdown", root, vm)
    check("xenon-xapi alive", env.alive())
finally:
    if failures:
        print(open(os.path.join(env.tmp, "xapi.log")).read())
    env.close()
if failures:
    print(f"{len(failures)} failed")
    sys.exit(1)
if not kvm:
    print("skipped: /dev/kvm missing: only the refusals ran")
    sys.exit(77)
