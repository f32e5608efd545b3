#!/usr/bin/env python3
"""Guest connections relayed by a VMM: CONTROL ring-attach, then the
connection is the guest's (unprivileged, relative paths, quotas)."""
import sys

from xsutil import Client, Daemon, XS, XsError


def attach(d, domid):
    vmm = Client(d.sock)
    assert vmm.call('CONTROL', b'ring-attach\x00%d\x00' % domid) == b'OK\0'
    return vmm          # from now on: the guest's byte stream


def dropped(c):
    try:
        c.call('READ', b'x\0')
    except (EOFError, ConnectionError):
        return True
    return False


def main():
    d = Daemon(sys.argv[1]).start()
    try:
        dom0 = Client(d.sock)
        # Toolstack layout for domain 7, as libxl does it.
        dom0.mkdir('/local/domain/7')
        dom0.set_perms('/local/domain/7', ['n0', 'r7'])
        dom0.mkdir('/local/domain/7/data')
        dom0.set_perms('/local/domain/7/data', ['n7'])
        dom0.write('/local/domain/7/name', b'guest7')

        # Attach before introduce.
        g = attach(d, 7)
        assert dom0.call('IS_DOMAIN_INTRODUCED', b'7\0') == b'F\0'
        assert Client(d.sock).err('CONTROL', b'ring-attach\x007\x00') == \
            'EEXIST'
        dom0.call('INTRODUCE', b'7\x001234\x003\x00')
        assert dom0.call('IS_DOMAIN_INTRODUCED', b'7\0') == b'T\0'

        # Relative paths and permissions.
        assert g.read('name') == b'guest7'
        assert g.read('/local/domain/7/name') == b'guest7'
        g.write('data/x', b'1')
        assert dom0.read('/local/domain/7/data/x') == b'1'
        assert dom0.perms('/local/domain/7/data/x') == ['n7']
        assert g.err('WRITE', b'name\0v') == 'EACCES'   # read-only for 7
        assert g.err('WRITE', b'/local/domain/0/x\0v') == 'EACCES'
        assert g.err('READ', b'/tool\0') == 'EACCES'
        assert g.err('READ', b'/tool/nothing\0') == 'EACCES'
        assert g.err('READ', b'data/nothing\0') == 'ENOENT'
        assert g.err('INTRODUCE', b'9\x001\x001\x00') == 'EACCES'
        assert g.err('CONTROL', b'ring-attach\x009\x00') == 'EACCES'
        assert g.err('SET_PERMS', b'data/x\0n0\0') == 'EPERM'
        g.set_perms('data/x', ['n7', 'r0'])
        assert g.perms('data/x') == ['n7', 'r0']
        assert g.call('GET_DOMAIN_PATH', b'7\0') == b'/local/domain/7\0'

        # Relative watches report relative paths; unreadable nodes are
        # not reported.
        g.watch('data', 'tok')
        assert g.wait_event() == (b'data', b'tok')
        dom0.write('/local/domain/7/data/y', b'2')
        assert g.wait_event() == (b'data/y', b'tok')
        g.watch('/local/domain/7', 'all')
        assert g.wait_event() == (b'/local/domain/7', b'all')
        dom0.write('/local/domain/7/secret', b'')
        dom0.set_perms('/local/domain/7/secret', ['n0'])
        ev = {g.wait_event(), g.wait_event()}   # create + perms change
        assert ev == {(b'/local/domain/7/secret', b'all')}, ev
        dom0.write('/local/domain/7/secret', b'hidden')
        dom0.write('/local/domain/7/data/z', b'3')
        evs = [g.wait_event(), g.wait_event()]
        assert (b'/local/domain/7/secret', b'all') not in evs, evs
        assert set(evs) == {(b'data/z', b'tok'),
                            (b'/local/domain/7/data/z', b'all')}, evs

        # Quotas (Xen's names and errors), set through CONTROL quota.
        dom0.call('CONTROL', b'quota\x00set\x00nodes\x008\x00')
        dom0.call('CONTROL', b'quota\x00set\x00watches\x003\x00')
        dom0.call('CONTROL', b'quota\x00set\x00transactions\x002\x00')
        owned = 3        # data, data/x, data/y... count from the daemon
        q = dom0.call('CONTROL', b'quota\x007\x00').decode()
        owned = int(q.split('nodes')[1].split()[1])
        n = 0
        try:
            while True:
                g.write('data/q%d' % n, b'')
                n += 1
        except XsError as e:
            assert e.name == 'ENOSPC', e.name
        assert owned + n == 8, (owned, n)
        g.watch('w3', 't')                          # the third of 3
        assert g.err('WATCH', b'w4\0t\0') == 'E2BIG'
        t1, t2 = g.tx_start(), g.tx_start()
        assert g.err('TRANSACTION_START', b'\0') == 'ENOSPC'
        g.tx_end(t1, False)
        g.tx_end(t2, False)
        assert g.err('WRITE', b'data/x\0' + b'v' * 2100) == 'ENOSPC'
        assert g.err('SET_PERMS', b'data/x\0n7\0r1\0r2\0r3\0r4\0r5\0') == \
            'ENOSPC'
        # transaction-nodes: past the quota the transaction takes no more
        # requests (it would otherwise copy in every new path it is sent).
        dom0.call('CONTROL', b'quota\x00set\x00transaction-nodes\x004\x00')
        t = g.tx_start()
        g.read('data/x', t)
        errs = [g.err('READ', b'data/r%d\0' % i, t) for i in range(8)]
        assert errs[0] == 'ENOENT' and errs[-1] == 'ENOSPC', errs
        assert g.err('READ', b'data/x\0', t) == 'ENOSPC'
        assert g.err('READ', b'data/new\0', t) == 'ENOSPC'
        g.tx_end(t, False)
        g.read('data/x')
        dom0.call('CONTROL', b'quota\x00set\x00transaction-nodes\x001024\x00')
        dom0.call('CONTROL', b'quota\x00set\x00nodes\x001000\x00')

        # Outstanding requests: a guest pipelining more than the quota
        # still gets every reply, in order.
        rids = [g.send(XS['READ'], b'name\0') for _ in range(60)]
        for rid in rids:
            typ, _, data = g.reply(rid)
            assert typ == XS['READ'] and data == b'guest7'

        # Transactions work for the guest too.
        t = g.tx_start()
        g.write('data/t', b'tx', tx=t)
        g.tx_end(t)
        assert dom0.read('/local/domain/7/data/t') == b'tx'

        # Attach after introduce (domain 8).
        dom0.call('INTRODUCE', b'8\x001\x004\x00')
        dom0.write('/local/domain/8/data', b'')
        dom0.set_perms('/local/domain/8/data', ['n8'])
        g8 = attach(d, 8)
        g8.write('data/hello', b'8')
        assert dom0.read('/local/domain/8/data/hello') == b'8'
        assert g8.err('READ', b'/local/domain/7/data/x\0') == 'EACCES'
        # SET_TARGET: 8 may act as 7 (e.g. a device model).
        assert g8.err('SET_TARGET', b'8\x007\x00') == 'EACCES'
        assert dom0.err('SET_TARGET', b'8\x0099\x00') == 'ENOENT'
        dom0.call('SET_TARGET', b'8\x007\x00')
        assert g8.read('/local/domain/7/data/x') == b'1'
        g8.write('/local/domain/7/data/x', b'from8')
        assert g.read('data/x') == b'from8'

        # Release: the connection is closed, @releaseDomain fires, the
        # domain's own nodes go, the toolstack's remain.
        w = Client(d.sock)
        w.watch('@releaseDomain', 'r')
        assert w.wait_event() == (b'@releaseDomain', b'r')
        g8.watch('@releaseDomain', 'g8r')     # the initial event always
        assert g8.wait_event() == (b'@releaseDomain', b'g8r')
        dom0.call('RELEASE', b'7\0')
        assert w.wait_event() == (b'@releaseDomain', b'r')
        g8.read('data/hello')                 # round trip: nothing for 8
        assert not [e for e in g8.events if e[0] == b'@releaseDomain'], \
            g8.events
        assert dropped(g)
        assert dom0.err('READ', b'/local/domain/7/data\0') == 'ENOENT'
        assert dom0.read('/local/domain/7/name') == b'guest7'
        assert dom0.call('IS_DOMAIN_INTRODUCED', b'7\0') == b'F\0'
        # domain 8 is unaffected
        assert g8.read('data/hello') == b'8'
        # ... and gets @releaseDomain once the special node allows it.
        assert g8.err('SET_PERMS', b'@releaseDomain\0n0\0r8\0') == 'EACCES'
        dom0.set_perms('@releaseDomain', ['n0', 'r8'])
        assert dom0.perms('@releaseDomain') == ['n0', 'r8']
        dom0.call('INTRODUCE', b'9\x001\x005\x00')
        dom0.call('RELEASE', b'9\0')
        g8.read('data/hello')
        assert (b'@releaseDomain', b'g8r') in g8.events, g8.events
        g8.events = []
        # A VMM that goes away leaves the domain introduced.
        g8.close()
        assert dom0.call('IS_DOMAIN_INTRODUCED', b'8\0') == b'T\0'
        g8 = attach(d, 8)
        assert g8.read('data/hello') == b'8'

        # Re-attaching after a restart: transaction ids start where the
        # VMM says (one past those its guest held).
        g8.close()
        vmm = Client(d.sock)
        assert vmm.err('CONTROL', b'ring-attach\x008\x000\x00') == 'EINVAL'
        assert vmm.call('CONTROL', b'ring-attach\x008\x0050\x00') == b'OK\0'
        assert vmm.tx_start() == 50
        g8 = vmm

        # Dropped for breaking the protocol (a header announcing more than
        # 4096 bytes): the re-attach says so with EPROTO, until the domain
        # is released and introduced anew.
        import struct
        g8.send_raw(struct.pack('<IIII', XS['READ'], 1, 0, 4097))
        assert dropped(g8)
        assert Client(d.sock).err('CONTROL', b'ring-attach\x008\x00') == \
            'EPROTO'
        assert dom0.call('IS_DOMAIN_INTRODUCED', b'8\0') == b'T\0'
        dom0.call('RELEASE', b'8\0')
        dom0.call('INTRODUCE', b'8\x001\x004\x00')
        g8 = attach(d, 8)
        assert g8.call('GET_DOMAIN_PATH', b'8\0') == b'/local/domain/8\0'
    finally:
        d.stop()
    print('ring-attach: ok')


if __name__ == '__main__':
    main()
