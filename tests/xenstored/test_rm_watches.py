#!/usr/bin/env python3
"""Removing a node fires the watches below it, found through the index by
ancestor rather than by a walk of every watch of every connection (issue
16: a domain's teardown removes /local/domain/N, /vm/UUID and /libxl/N,
and with thousands of guests each watching a few nodes the walk grew with
all of them).

200 clients watch two nodes below /local/domain/I each, one watches
/local/domain itself and a guest watches relative paths in its home.
Removing /local/domain/I must fire exactly client I's two watches (and
the ancestor's), CONTROL stats must say the removal looked at those two
watches only, and unwatched or closed connections' watches must be gone
from the index."""
import socket
import sys

from xsutil import Client, Daemon, attach_guest

N = 200


def stats(dom0):
    out = {}
    for line in dom0.call('CONTROL', b'stats\0').rstrip(b'\0').decode().splitlines():
        k, v = line.split(':')
        out[k.strip()] = int(v)
    return out


def events(c, quiet=0.3):
    """Every watch event c has been sent until it has been quiet a while."""
    got = list(c.events)
    c.events.clear()
    while True:
        try:
            got.append(c.wait_event(timeout=quiet))
        except socket.timeout:
            return got


def main():
    d = Daemon(sys.argv[1]).start()
    try:
        dom0 = Client(d.sock)
        for i in range(N):
            dom0.write('/local/domain/%d/control/shutdown' % i, b'')
            dom0.write('/local/domain/%d/memory/target' % i, b'1')
        clients = []
        for i in range(N):
            c = Client(d.sock)
            for sub in ('control/shutdown', 'memory/target'):
                c.watch('/local/domain/%d/%s' % (i, sub), 't%d' % i)
            clients.append(c)
        top = Client(d.sock)
        top.watch('/local/domain', 'top')
        guest_id = N + 7
        dom0.write('/local/domain/%d/control/shutdown' % guest_id, b'')
        dom0.set_perms('/local/domain/%d' % guest_id, ['n0', 'r%d' % guest_id])
        dom0.set_perms('/local/domain/%d/control' % guest_id, ['n0', 'r%d' % guest_id])
        dom0.set_perms('/local/domain/%d/control/shutdown' % guest_id,
                       ['n0', 'r%d' % guest_id])
        g = attach_guest(d, guest_id)
        assert g.call('GET_DOMAIN_PATH', b'%d\0' % guest_id) == \
            b'/local/domain/%d\0' % guest_id
        g.watch('control/shutdown', 'rel')
        # the event every watch fires at once
        for i, c in enumerate(clients):
            assert {c.wait_event(), c.wait_event()} == {
                (b'/local/domain/%d/control/shutdown' % i, b't%d' % i),
                (b'/local/domain/%d/memory/target' % i, b't%d' % i)}
        assert top.wait_event() == (b'/local/domain', b'top')
        events(top)     # and those of the guest's home, written since
        assert g.wait_event() == (b'control/shutdown', b'rel')
        assert stats(dom0)['watches'] == 2 * N + 2

        # /local/domain/5: client 5's two watches, and the ancestor's
        dom0.rm('/local/domain/5')
        want = {(b'/local/domain/5/control/shutdown', b't5'),
                (b'/local/domain/5/memory/target', b't5')}
        assert set(events(clients[5])) == want
        assert set(events(top)) == {(b'/local/domain/5', b'top')}
        for i in (0, 4, 6, 50, N - 1):
            assert events(clients[i]) == [], i
        assert stats(dom0)['rm-watch-visited'] == 2

        # a subtree with one watch below: /local/domain/6/memory
        dom0.rm('/local/domain/6/memory')
        assert events(clients[6]) == [(b'/local/domain/6/memory/target', b't6')]
        assert stats(dom0)['rm-watch-visited'] == 1

        # the guest's relative watch, with its relative path
        dom0.rm('/local/domain/%d' % guest_id)
        assert events(g) == [(b'control/shutdown', b'rel')]
        assert stats(dom0)['rm-watch-visited'] == 1

        # unwatched: out of the index
        for sub in ('control/shutdown', 'memory/target'):
            clients[9].call('UNWATCH', b'/local/domain/9/%s\0t9\0' % sub.encode())
        dom0.rm('/local/domain/9')
        assert events(clients[9]) == []
        assert stats(dom0)['rm-watch-visited'] == 0

        # a closed connection's watches: out of the index too
        clients[10].close()
        for _ in range(1000):                   # dom0, top, guest, N - 1 clients
            if stats(dom0)['connections'] == N + 2:
                break
        assert stats(dom0)['connections'] == N + 2
        dom0.rm('/local/domain/10')
        assert stats(dom0)['rm-watch-visited'] == 0
        assert stats(dom0)['watches'] == 2 * N + 2 - 4

        # Removing all of /local/domain reaches every watch left strictly
        # below it (those of removed nodes too: watches outlive nodes):
        # all clients' but 9's and 10's, and the guest's.
        dom0.rm('/local/domain')
        s = stats(dom0)
        assert s['rm-watch-visited'] == 2 * (N - 2) + 1, s
        for i in (0, 5, 6, N - 1):
            got = events(clients[i])
            assert (b'/local/domain/%d/control/shutdown' % i, b't%d' % i) in got, (i, got)
        assert dom0.call('CONTROL', b'check\0') == b'OK\0'
        for c in clients + [top, g, dom0]:
            c.close()
    finally:
        d.stop()
    print('rm watches: ok')


if __name__ == '__main__':
    main()
