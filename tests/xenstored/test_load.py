#!/usr/bin/env python3
"""Load: many clients, many watches, many writes; every watch event must be
delivered exactly as often as its watched node was written (plus the
initial event on registration). Then the daemon is SIGKILLed and restarted
from its data directory, and every node must hold its last written value.

CI scale: 100 clients / 1,000 watches / 100,000 writes. XS_LOAD_FULL=1
runs the issue's full scale (1,000 clients / 10,000 watches / 1,000,000
writes); XS_LOAD_CLIENTS, XS_LOAD_WATCHES, XS_LOAD_OPS override each."""
import collections
import os
import sys
import threading
import time

from xsutil import Client, Daemon, XS

FULL = os.environ.get('XS_LOAD_FULL') == '1'
CLIENTS = int(os.environ.get('XS_LOAD_CLIENTS', 1000 if FULL else 100))
WATCHES = int(os.environ.get('XS_LOAD_WATCHES', 10000 if FULL else 1000))
OPS = int(os.environ.get('XS_LOAD_OPS', 1000000 if FULL else 100000))
BATCH = 100


def main():
    d = Daemon(sys.argv[1]).start()
    per_watch = WATCHES // CLIENTS
    ops_per_client = OPS // CLIENTS
    ready = threading.Barrier(CLIENTS + 1)
    errors = []
    got = [collections.Counter() for _ in range(CLIENTS)]
    expected = [collections.Counter() for _ in range(CLIENTS)]
    # Client i writes into the watched nodes of client (i+1) % CLIENTS.
    for i in range(CLIENTS):
        k = (i + 1) % CLIENTS
        for n in range(ops_per_client):
            expected[k][b't%d' % (n % per_watch)] += 1
    for k in range(CLIENTS):
        for j in range(per_watch):
            expected[k][b't%d' % j] += 1          # the initial event

    def client(i):
        try:
            c = Client(d.sock, timeout=300)
            rids = [c.send(XS['WATCH'], b'/load/c%d/n%d\0t%d\0' % (i, j, j))
                    for j in range(per_watch)]
            for rid in rids:
                c.reply(rid)
            ready.wait()
            k = (i + 1) % CLIENTS
            for start in range(0, ops_per_client, BATCH):
                rids = []
                for n in range(start, min(ops_per_client, start + BATCH)):
                    p = b'/load/c%d/n%d/v\0%d' % (k, n % per_watch, n)
                    rids.append(c.send(XS['WRITE'], p))
                for rid in rids:
                    typ, _, _ = c.reply(rid)
                    assert typ == XS['WRITE'], typ
            total = sum(expected[i].values())
            deadline = time.time() + 300
            while True:
                for path, token in c.events:
                    got[i][token] += 1
                c.events = []
                if sum(got[i].values()) >= total or time.time() > deadline:
                    break
                ev = c.wait_event(timeout=max(1, deadline - time.time()))
                c.events.append(ev)
            c.close()
        except Exception as e:   # reported by the main thread
            errors.append('client %d: %r' % (i, e))
            try:
                ready.abort()
            except Exception:
                pass

    threads = [threading.Thread(target=client, args=(i,))
               for i in range(CLIENTS)]
    try:
        for t in threads:
            t.start()
        ready.wait()
        t0 = time.time()
        for t in threads:
            t.join()
        secs = time.time() - t0
        assert not errors, errors[:5]
        missing = sum(1 for i in range(CLIENTS) if got[i] != expected[i])
        assert missing == 0, '%d clients with wrong event counts' % missing
        # The last write to each node is what the tree holds; and it still
        # is after a SIGKILL and a restart from the same data directory.
        last = {}
        for n in range(ops_per_client):
            last[n % per_watch] = n

        def check_tree(when):
            c = Client(d.sock)
            for k in range(CLIENTS):
                for j, n in last.items():
                    v = c.read('/load/c%d/n%d/v' % (k, j))
                    assert v == b'%d' % n, '%s: c%d/n%d is %r' % (when, k, j, v)
            assert c.call('CONTROL', b'check\0') == b'OK\0'
            c.close()

        check_tree('under load')
        d.proc.kill()
        d.proc.wait()
        t1 = time.time()
        d.start()
        restart = time.time() - t1
        check_tree('after SIGKILL and restart')
        events = sum(sum(e.values()) for e in expected)
        print('%d clients, %d watches, %d writes in %.1f s (%.0f writes/s); '
              'all %d watch events delivered; after SIGKILL the restart '
              'took %.2f s and every node held its last value' %
              (CLIENTS, per_watch * CLIENTS, ops_per_client * CLIENTS, secs,
               ops_per_client * CLIENTS / secs, events, restart))
    finally:
        d.stop()


if __name__ == '__main__':
    main()
