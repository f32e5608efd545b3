#!/usr/bin/env python3
"""Many clients at once: thousands of idle connections, slow clients that
send half a request head or half a body and stop, and many event.from
calls blocked at the same time. The daemon keeps answering a newcomer
and stays up."""
import os
import resource
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xapienv  # noqa: E402

IDLE, SLOW, WAITERS = 3000, 100, 50
failures = []



def rss_kib(env):
    with open(f"/proc/{env.xapi.pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))

def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f": {detail}" if detail and not ok else ""))
    if not ok:
        failures.append(what)


soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
need = IDLE + 2 * SLOW + WAITERS + 200
if hard != resource.RLIM_INFINITY and hard < need:
    print(f"skipped: the file limit ({hard}) is below {need}")
    sys.exit(77)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))

env = xapienv.Env()
socks = []
try:
    s, _ = env.call("session.login_with_password", "root", "secret")
    for _ in range(IDLE):
        socks.append(socket.create_connection(("127.0.0.1", env.port)))
    for i in range(SLOW):
        c = socket.create_connection(("127.0.0.1", env.port))
        c.sendall(b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Type: appl")
        socks.append(c)
        c = socket.create_connection(("127.0.0.1", env.port))
        c.sendall(b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"meth")
        socks.append(c)
    # 100 clients each 3 MiB into a body (under the 4 MiB limit), then
    # stalled: 300 MiB in all, over the daemon-wide 256 MiB budget.
    chunk = b"a" * (1 << 20)
    rss_before_bodies = rss_kib(env)
    big = []
    for i in range(100):
        c = socket.create_connection(("127.0.0.1", env.port))
        c.sendall(b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000\r\n\r\n")
        for _ in range(3):
            c.sendall(chunk)
        big.append(c)
    socks += big
    print(f"{len(socks)} idle or stalled connections open")
    r, e = env.call("VM.get_all", s)
    check("small calls still pass while large bodies hold the whole budget", e is None, e)
    results = []

    def wait():
        r, e = env.call("event.from", s, ["VM"], "00000000000000000001,00000000000000000000", 3.0)
        results.append(e is None and "token" in r)
    ths = [threading.Thread(target=wait) for _ in range(WAITERS)]
    for t in ths:
        t.start()
    r, e = env.call("session.login_with_password", "root", "secret")
    check(f"a newcomer logs in beside {len(socks)} idle/slow connections and {WAITERS} blocked event.from",
          e is None, e)
    r, e = env.call("VM.get_all_records", r)
    check("and is answered", e is None and len(r) >= 1, e)
    for t in ths:
        t.join(60)
    check(f"all {WAITERS} blocked event.from calls returned", len(results) == WAITERS and all(results),
          f"{len(results)} returned")
    # Finish every big body: each is answered, not hung, and those that
    # found the budget spent get 503. Which ones those are depends on the
    # order the daemon read them in (data still in a socket's buffers is
    # read later), so the test counts them rather than naming one.
    # The socket buffers may still hold part of each 3 MiB: wait until the
    # daemon has taken the budget's worth into its own memory (a body past
    # 2 MiB holds a 4 MiB buffer: 64 of them spend 256 MiB), else the
    # bodies could all be read, answered and freed one after the other.
    # The budget is spent once the bodies' buffers hold 256 MiB: about 200
    # MiB of them resident (the 4 MiB buffers hold 3 MiB each, the 2 MiB
    # ones 2), counted above what the daemon held before the bodies came
    # (its RSS alone may pass 256 MiB with fewer bodies read, and then they
    # could all be answered one after the other).
    deadline = time.monotonic() + 60
    while rss_kib(env) < rss_before_bodies + 200 * 1024 and time.monotonic() < deadline:
        time.sleep(0.05)
    print(f"daemon RSS before the bodies finish: {rss_kib(env)} KiB "
          f"({rss_before_bodies} KiB before they came)")
    heads = []
    for c in big:
        c.sendall(b"a" * (4000000 - 3 * (1 << 20)))
    for c in big:
        c.settimeout(60)
        try:
            heads.append(c.recv(100))
        except OSError as ex:
            heads.append(repr(ex).encode())
    codes = [h[9:12] for h in heads]
    check("every big body is answered", all(h.startswith(b"HTTP/1.1 ") for h in heads),
          [h for h in heads if not h.startswith(b"HTTP/1.1 ")][:3])
    check("big bodies past the daemon-wide budget: 503", codes.count(b"503") >= 1,
          sorted(set(codes)))
    for c in socks:
        c.close()
    socks = []
    check("the daemon is up after they all went", env.alive() and
          env.call("session.login_with_password", "root", "secret")[1] is None)
finally:
    for c in socks:
        c.close()
    env.close()
sys.exit(1 if failures else 0)
