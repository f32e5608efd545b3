#!/usr/bin/env python3
"""Model-based random test: random reads, writes, mkdirs, rms, directory
listings and transactions (commit and abort, with and without a second
client writing meanwhile) on a small path space; the daemon must agree
with a simple model of xenstore semantics at every step, also after being
SIGKILLed and restarted (from the journal, then from a snapshot). Seeded
(XS_SEED), XS_MODEL_STEPS steps (default 3000)."""
import copy
import os
import random
import sys

from xsutil import Client, Daemon, XsError

NAMES = ['a', 'b', 'c']


class Model:
    def __init__(self):
        self.nodes = {'/m': [b'', []]}     # path -> [value, children]

    @staticmethod
    def parent(p):
        return p.rsplit('/', 1)[0] or '/'

    def create(self, p):
        if p in self.nodes:
            return
        par = self.parent(p)
        self.create(par)
        self.nodes[par][1].append(p.rsplit('/', 1)[1])
        self.nodes[p] = [b'', []]

    def write(self, p, v):
        self.create(p)
        self.nodes[p][0] = v
        return 'OK'

    def mkdir(self, p):
        self.create(p)
        return 'OK'

    def rm(self, p):
        if p not in self.nodes:
            return 'OK' if self.parent(p) in self.nodes else 'ENOENT'
        for k in [k for k in self.nodes if k == p or k.startswith(p + '/')]:
            del self.nodes[k]
        self.nodes[self.parent(p)][1].remove(p.rsplit('/', 1)[1])
        return 'OK'

    def read(self, p):
        return self.nodes[p][0] if p in self.nodes else 'ENOENT'

    def ls(self, p):
        return list(self.nodes[p][1]) if p in self.nodes else 'ENOENT'


def rand_path(rng):
    depth = rng.randint(1, 3)
    return '/m/' + '/'.join(rng.choice(NAMES) for _ in range(depth))


def do(c, op, p, v, tx=0):
    try:
        if op == 'write':
            c.write(p, v, tx)
            return 'OK'
        if op == 'mkdir':
            c.mkdir(p, tx)
            return 'OK'
        if op == 'rm':
            c.rm(p, tx)
            return 'OK'
        if op == 'read':
            return c.read(p, tx)
        return c.ls(p, tx)
    except XsError as e:
        return e.name


def step(m, op, p, v):
    return getattr(m, op)(p, v) if op == 'write' else getattr(m, op)(p)


WATCHES = ['/m', '/m/a', '/m/a/b', '/m/c/c/c', '/m/b/a', '/m/a/a/a']


def is_child(child, parent):
    return child == parent or child.startswith(parent + '/')


def expected_events(m, op, p):
    """Events an operation on model m (state before it) must cause."""
    if op in ('read', 'ls') or (op == 'mkdir' and p in m.nodes):
        return []
    if op == 'rm' and p not in m.nodes:
        return []
    ev = []
    for i, w in enumerate(WATCHES):
        if is_child(p, w):
            ev.append((p.encode(), b'w%d' % i))
        elif op == 'rm' and is_child(w, p):
            ev.append((w.encode(), b'w%d' % i))   # removal of a parent
    return ev


CHECKED = [0]


def check_events(w, expect):
    """All events queued for w before now, compared as a multiset."""
    CHECKED[0] += len(expect)
    w.call('READ', b'/m\0')          # a round trip: events come first
    got = sorted(w.events)
    w.events = []
    assert got == sorted(expect), (got, sorted(expect))


def compare_all(c, m):
    for p in sorted(m.nodes):
        assert c.read(p) == m.nodes[p][0], p
        assert c.ls(p) == m.nodes[p][1], (p, c.ls(p), m.nodes[p][1])


def main():
    rng = random.Random(int(os.environ.get('XS_SEED', '7')))
    steps = int(os.environ.get('XS_MODEL_STEPS', '3000'))
    d = Daemon(sys.argv[1]).start()
    ops = ['write', 'write', 'mkdir', 'rm', 'read', 'ls']
    stats = {'ops': 0, 'commits': 0, 'aborts': 0, 'eagain': 0}
    try:
        c, other = Client(d.sock), Client(d.sock)
        c.mkdir('/m')
        m = Model()

        def new_watcher():
            w = Client(d.sock)
            for i, path in enumerate(WATCHES):
                w.watch(path, 'w%d' % i)
            check_events(w, [(path.encode(), b'w%d' % i)
                             for i, path in enumerate(WATCHES)])
            return w
        w = new_watcher()
        for i in range(steps):
            if rng.random() < 0.15:
                # A transaction of a few operations.
                tx = c.tx_start()
                view = copy.deepcopy(m)
                log = []
                tx_events = []
                concurrent = rng.random() < 0.3
                for _ in range(rng.randint(1, 6)):
                    op, p = rng.choice(ops), rand_path(rng)
                    v = b'%d' % rng.randint(0, 99)
                    got = do(c, op, p, v, tx)
                    if got not in ('ENOENT',):
                        tx_events += expected_events(view, op, p)
                    want = step(view, op, p, v)
                    if not concurrent:
                        assert got == want, (op, p, got, want)
                    log.append((op, p, v))
                    if concurrent and rng.random() < 0.5:
                        op2, p2 = rng.choice(['write', 'rm']), rand_path(rng)
                        ev = expected_events(m, op2, p2)
                        step(m, op2, p2, b'x')
                        do(other, op2, p2, b'x')
                        check_events(w, ev)
                if rng.random() < 0.2:
                    c.tx_end(tx, commit=False)
                    stats['aborts'] += 1
                    check_events(w, [])
                else:
                    try:
                        c.tx_end(tx)
                        stats['commits'] += 1
                        # No conflict: the same operations on the current
                        # state give the same result.
                        for op, p, v in log:
                            step(m, op, p, v)
                        if not concurrent:
                            check_events(w, tx_events)
                        else:
                            w.call('READ', b'/m\0')
                            w.events = []
                    except XsError as e:
                        assert e.name == 'EAGAIN' and concurrent, e.name
                        stats['eagain'] += 1
                        check_events(w, [])
            else:
                op, p = rng.choice(ops), rand_path(rng)
                v = b'%d' % rng.randint(0, 99)
                ev = expected_events(m, op, p)
                got = do(c, op, p, v)
                want = step(m, op, p, v)
                assert got == want, (i, op, p, got, want)
                check_events(w, ev)
                stats['ops'] += 1
            if i % 100 == 0:
                compare_all(c, m)
            if i in (steps // 3, 2 * steps // 3):
                # Restart from the journal (and then from a snapshot): the
                # recovered tree, child order included, is the same.
                if i == 2 * steps // 3:
                    c.call('CONTROL', b'compact\0')
                d.kill()
                d.start()
                c, other = Client(d.sock), Client(d.sock)
                w = new_watcher()
                compare_all(c, m)
        compare_all(c, m)
        assert c.call('CONTROL', b'check\0') == b'OK\0'
    finally:
        d.stop()
    stats['events'] = CHECKED[0]
    assert stats['events'] > 0
    print('model test: %(ops)d operations, %(commits)d commits, '
          '%(aborts)d aborts, %(eagain)d conflicts, %(events)d watch events; '
          'daemon agreed' % stats)


if __name__ == '__main__':
    main()
