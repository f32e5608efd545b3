#!/usr/bin/env python3
"""Model-based random test of permissions: dom0 and an attached guest
(domain 5) and a second guest (domain 6) read, write, mkdir, rm, list and
change permissions on a small tree with random permissions. Every result,
error code included (EACCES vs ENOENT, EPERM), must match a model of Xen's
rules. Seeded (XS_SEED), XS_MODEL_STEPS steps (default 3000)."""
import os
import random
import sys

from xsutil import Client, Daemon, XsError

NAMES = ['a', 'b']
R, W = 1, 2


def parse(perms):
    return [(p[0], int(p[1:])) for p in perms]


def bits(c):
    return {'n': 0, 'r': R, 'w': W, 'b': R | W}[c]


class Model:
    def __init__(self):
        # path -> [value, children, perms [(letter, domid)]]
        self.nodes = {'/': [b'', ['g'], [('n', 0)]],
                      '/g': [b'', [], [('b', 0)]]}

    def perm(self, path, dom):
        perms = self.nodes[path][2]
        if dom == 0 or perms[0][1] == dom:
            return R | W | 4
        for letter, d in perms[1:]:
            if d == dom:
                return bits(letter)
        return bits(perms[0][0])

    @staticmethod
    def parent(p):
        return p.rsplit('/', 1)[0] or '/'

    def ancestor(self, p):
        p = self.parent(p)
        while p not in self.nodes:
            p = self.parent(p)
        return p

    def missing_err(self, p, dom, need):
        return 'ENOENT' if self.perm(self.ancestor(p), dom) & need \
            else 'EACCES'

    def read(self, dom, p):
        if p not in self.nodes:
            return self.missing_err(p, dom, R)
        if not self.perm(p, dom) & R:
            return 'EACCES'
        return self.nodes[p][0]

    def ls(self, dom, p):
        r = self.read(dom, p)
        return r if isinstance(r, str) else list(self.nodes[p][1])

    def write(self, dom, p, v=b'', mkdir=False):
        if p in self.nodes:
            if not self.perm(p, dom) & W:
                return 'EACCES'
            if not mkdir:
                self.nodes[p][0] = v
            return 'OK'
        a = self.ancestor(p)
        if not self.perm(a, dom) & W:
            return 'EACCES'
        perms = list(self.nodes[a][2])
        if dom != 0:
            perms[0] = (perms[0][0], dom)
        rest = p[len(a):].strip('/').split('/')
        cur = a
        for name in rest:
            nxt = (cur.rstrip('/') + '/' + name)
            self.nodes[cur][1].append(name)
            self.nodes[nxt] = [b'', [], list(perms)]
            cur = nxt
        self.nodes[p][0] = v
        return 'OK'

    def rm(self, dom, p):
        if p not in self.nodes:
            err = self.missing_err(p, dom, W)
            if err == 'ENOENT' and self.parent(p) in self.nodes:
                return 'OK'
            return err
        if not self.perm(p, dom) & W:
            return 'EACCES'
        for k in [k for k in self.nodes if k == p or k.startswith(p + '/')]:
            del self.nodes[k]
        self.nodes[self.parent(p)][1].remove(p.rsplit('/', 1)[1])
        return 'OK'

    def get_perms(self, dom, p):
        r = self.read(dom, p)
        return r if isinstance(r, str) else \
            ['%s%d' % x for x in self.nodes[p][2]]

    def set_perms(self, dom, p, perms):
        if p not in self.nodes:
            return self.missing_err(p, dom, W | 4)
        if (self.perm(p, dom) & (W | 4)) != (W | 4):
            return 'EACCES'
        new = parse(perms)
        if dom != 0 and new[0][1] != self.nodes[p][2][0][1]:
            return 'EPERM'
        self.nodes[p][2] = new
        return 'OK'


def call(c, op, p, arg):
    try:
        if op == 'read':
            return c.read(p)
        if op == 'ls':
            return c.ls(p)
        if op == 'get_perms':
            return c.perms(p)
        if op == 'write':
            c.write(p, arg)
        elif op == 'mkdir':
            c.mkdir(p)
        elif op == 'rm':
            c.rm(p)
        else:
            c.set_perms(p, arg)
        return 'OK'
    except XsError as e:
        return e.name


def main():
    rng = random.Random(int(os.environ.get('XS_SEED', '3')))
    steps = int(os.environ.get('XS_MODEL_STEPS', '3000'))
    d = Daemon(sys.argv[1]).start()
    counts = {}
    try:
        dom0 = Client(d.sock)
        dom0.mkdir('/g')
        dom0.set_perms('/g', ['b0'])
        clients = {0: dom0}
        for dom in (5, 6):
            c = Client(d.sock)
            c.call('CONTROL', b'ring-attach\x00%d\x00' % dom)
            clients[dom] = c
        m = Model()
        ops = ['read', 'ls', 'get_perms', 'write', 'write', 'mkdir', 'rm',
               'set_perms', 'set_perms']
        for i in range(steps):
            dom = rng.choice([0, 5, 5, 6])
            op = rng.choice(ops)
            p = '/g/' + '/'.join(rng.choice(NAMES)
                                 for _ in range(rng.randint(1, 3)))
            if op == 'set_perms':
                owner = rng.choice([0, 5, 6]) if dom == 0 or rng.random() < .2 \
                    else None
                if owner is None:
                    cur = m.nodes.get(p)
                    owner = cur[2][0][1] if cur else dom
                arg = ['%s%d' % (rng.choice('nrwb'), owner)] + \
                    ['%s%d' % (rng.choice('nrwb'), rng.choice([5, 6]))
                     for _ in range(rng.randint(0, 2))]
            else:
                arg = b'%d' % i
            got = call(clients[dom], op, p, arg)
            if op == 'write':
                want = m.write(dom, p, arg)
            elif op == 'mkdir':
                want = m.write(dom, p, mkdir=True)
            elif op == 'set_perms':
                want = m.set_perms(dom, p, arg)
            else:
                want = getattr(m, op)(dom, p)
            assert got == want, (i, dom, op, p, arg, got, want)
            key = '%s:%s' % (op, want if isinstance(want, str) else 'data')
            counts[key] = counts.get(key, 0) + 1
        # Final state, as dom0 sees it.
        for p in sorted(m.nodes):
            assert dom0.read(p) == m.nodes[p][0], p
            assert dom0.perms(p) == ['%s%d' % x for x in m.nodes[p][2]], p
        assert dom0.call('CONTROL', b'check\0') == b'OK\0'
    finally:
        d.stop()
    for k in ('read:EACCES', 'read:ENOENT', 'write:EACCES', 'set_perms:EPERM'):
        assert counts.get(k, 0) > 0, (k, counts)
    print('permissions model: %d steps agreed; %s' %
          (steps, ', '.join('%s %d' % kv for kv in sorted(counts.items()))))


if __name__ == '__main__':
    main()
