#!/usr/bin/env python3
"""SIGKILL at random moments must never lose an acknowledged change.

A writer pipelines writes, permission changes, transactions and domain
introductions; the daemon is SIGKILLed while it runs; after a restart every
acknowledged change must be there. Repeated over several kill cycles, with
a forced snapshot (CONTROL compact) in between so both the snapshot and the
journal paths are recovered. Finally times the recovery of a 100,000-node
tree (printed, not asserted)."""
import os
import random
import sys
import threading
import time

from xsutil import Client, Daemon, XS, XsError

CYCLES = int(os.environ.get('XS_KILL_CYCLES', '6'))
BIG = int(os.environ.get('XS_RECOVERY_NODES', '100000'))


class Writer(threading.Thread):
    def __init__(self, sock, start_at, wid):
        super().__init__(daemon=True)
        self.sock, self.i, self.wid = sock, start_at, wid
        self.acked = {}       # path -> value
        self.acked_perms = {}
        self.acked_tx = []    # (path_a, path_b, value)

    def run(self):
        try:
            c = Client(self.sock)
            while True:
                # a pipelined batch of writes
                batch = []
                for _ in range(20):
                    self.i += 1
                    path = '/dur/w%d/k%d' % (self.wid, self.i)
                    val = b'v%d' % self.i
                    rid = c.send(XS['WRITE'], path.encode() + b'\0' + val)
                    batch.append((rid, path, val))
                for rid, path, val in batch:
                    typ, _, _ = c.reply(rid)
                    assert typ == XS['WRITE']
                    self.acked[path] = val
                # a permission change
                path = batch[0][1]
                c.set_perms(path, ['n0', 'r%d' % (self.i % 100)])
                self.acked_perms[path] = ['n0', 'r%d' % (self.i % 100)]
                # a transaction touching two nodes (retried on conflict)
                a = '/dur/tx%d/%d/a' % (self.wid, self.i)
                b = '/dur/tx%d/%d/b' % (self.wid, self.i)
                while True:
                    t = c.tx_start()
                    c.write(a, b'A', tx=t)
                    c.write(b, b'B', tx=t)
                    try:
                        c.tx_end(t)
                        break
                    except XsError as e:
                        assert e.name == 'EAGAIN', e.name
                self.acked_tx.append((a, b))
        except (EOFError, ConnectionError, OSError):
            return


def check(d, writers, domains):
    c = Client(d.sock)
    for w in writers:
        for path, val in w.acked.items():
            got = c.read(path)
            assert got == val, (path, got, val)
        for path, perms in w.acked_perms.items():
            assert c.perms(path) == perms, (path, c.perms(path))
        for a, b in w.acked_tx:
            assert c.read(a) == b'A' and c.read(b) == b'B', (a, b)
    for dom in domains:
        assert c.call('IS_DOMAIN_INTRODUCED', b'%d\0' % dom) == b'T\0', dom
    assert c.call('CONTROL', b'check\0') == b'OK\0'
    n = sum(len(w.acked) + len(w.acked_tx) for w in writers)
    c.close()
    return n


def main():
    d = Daemon(sys.argv[1]).start()
    rng = random.Random(int(os.environ.get('XS_SEED', '1')))
    writers_all = []
    domains = []
    i = 0
    try:
        for cycle in range(CYCLES):
            c = Client(d.sock)
            dom = 10 + cycle
            c.call('INTRODUCE', b'%d\x00%d\x00%d\x00' % (dom, 1000 + dom, 5))
            domains.append(dom)
            if cycle % 2 == 1:
                c.call('CONTROL', b'compact\0')
            c.close()
            ws = [Writer(d.sock, i + k * 10**6, k) for k in range(3)]
            i += 10**7
            for w in ws:
                w.start()
            time.sleep(rng.uniform(0.3, 1.5))
            d.kill()
            for w in ws:
                w.join(30)
            writers_all += ws
            d.start()
            n = check(d, writers_all, domains)
            print('cycle %d: %d acknowledged writes/commits survived SIGKILL' %
                  (cycle, n))
        assert n > 0

        # Recovery time of a large tree.
        conns = [Client(d.sock, timeout=120) for _ in range(4)]
        per = BIG // len(conns)
        t0 = time.time()

        def fill(k):
            c = conns[k]
            for start in range(0, per, 500):
                rids = []
                for j in range(start, min(per, start + 500)):
                    n_ = k * per + j
                    p = '/big/%d/%d' % (n_ // 1000, n_ % 1000)
                    rids.append(c.send(XS['WRITE'], p.encode() + b'\0x'))
                for rid in rids:
                    c.reply(rid)
        ts = [threading.Thread(target=fill, args=(k,)) for k in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        print('created %d nodes in %.1f s' % (per * 4, time.time() - t0))
        for c in conns:
            c.close()
        d.kill()
        t0 = time.time()
        d.start()
        t_journal = time.time() - t0
        c = Client(d.sock)
        assert len(c.ls('/big')) == (per * 4 + 999) // 1000
        assert c.read('/big/%d/%d' % ((per * 4 - 1) // 1000,
                                      (per * 4 - 1) % 1000)) == b'x'
        c.call('CONTROL', b'compact\0')
        c.close()
        d.kill()
        t0 = time.time()
        d.start()
        t_snap = time.time() - t0
        c = Client(d.sock)
        assert len(c.ls('/big')) == (per * 4 + 999) // 1000
        c.close()
        check(d, writers_all, domains)
        print('recovery of a %d-node tree: %.3f s from the journal, '
              '%.3f s from a snapshot (until the socket accepts)' %
              (per * 4, t_journal, t_snap))
    finally:
        if d.proc:
            d.stop()
    print('durability: ok')


if __name__ == '__main__':
    main()
