#!/usr/bin/env python3
"""Xenstore protocol semantics against the daemon, over the raw socket."""
import sys

from xsutil import Client, Daemon, XS


def main():
    d = Daemon(sys.argv[1]).start()
    try:
        c = Client(d.sock)
        # Initial tree as Xen's.
        assert c.ls('/') == ['tool'], c.ls('/')
        assert c.ls('/tool') == ['xenstored']
        assert c.perms('/') == ['n0']

        # write/read, implicit parents with empty values, order of children.
        c.write('/a/b/c', b'v1')
        assert c.read('/a/b/c') == b'v1'
        assert c.read('/a/b') == b''
        c.write('/a/x', b'')
        c.write('/a/b/c', b'bin\0ary')
        assert c.read('/a/b/c') == b'bin\0ary'
        assert c.ls('/a') == ['b', 'x']
        # relative paths for dom0 go below /local/domain/0
        c.write('rel', b'r')
        assert c.read('/local/domain/0/rel') == b'r'
        assert c.read('rel') == b'r'
        # mkdir keeps existing values
        c.mkdir('/a/b/c')
        assert c.read('/a/b/c') == b'bin\0ary'
        c.mkdir('/m/n')
        assert c.ls('/m') == ['n']

        # errors
        assert c.err('READ', b'/nope\0') == 'ENOENT'
        assert c.err('DIRECTORY', b'/nope\0') == 'ENOENT'
        for bad in (b'/a/\0', b'/a//b\0', b'/a b\0', b'/a*\0', b'\0',
                    b'/a', b'/a\0b\0'):
            assert c.err('READ', bad) == 'EINVAL', bad
        assert c.err('WRITE', b'/no-nul') == 'EINVAL'
        assert c.err('RM', b'/\0') == 'EINVAL'
        assert c.err(99, b'/a\0') == 'ENOSYS'
        assert c.err('READ', b'/a\0', tx=12345) == 'ENOENT'
        long_path = b'/' + b'x' * 2100
        assert c.err('WRITE', long_path + b'\0v') == 'EINVAL'

        # rm: recursive; absent node with existing parent is fine
        c.rm('/a/b')
        assert c.ls('/a') == ['x']
        c.rm('/a/b')
        assert c.err('RM', b'/zz/yy\0') == 'ENOENT'

        # permissions
        c.write('/p', b'')
        c.set_perms('/p', ['r5', 'w6', 'b7'])
        assert c.perms('/p') == ['r5', 'w6', 'b7']
        c.write('/p/child', b'')
        assert c.perms('/p/child') == ['r5', 'w6', 'b7']  # inherited
        assert c.err('SET_PERMS', b'/p\0x5\0') == 'EINVAL'
        assert c.err('SET_PERMS', b'/p\0') == 'EINVAL'

        # directory_part
        for i in range(300):
            c.write('/big/child-with-a-long-name-%04d' % i, b'')
        assert c.err('DIRECTORY', b'/big\0') == 'E2BIG'
        names, off, gen = [], 0, None
        while True:
            d0 = c.call('DIRECTORY_PART', b'/big\0' + str(off).encode() +
                        b'\0')
            parts = d0.split(b'\0')
            g = parts[0]
            assert gen in (None, g)
            gen = g
            chunk = parts[1:-1]
            if chunk and chunk[-1] == b'':
                names += chunk[:-1]
                break
            names += chunk
            off += sum(len(n) + 1 for n in chunk)
        assert [n.decode() for n in names] == \
            ['child-with-a-long-name-%04d' % i for i in range(300)], names[:3]

        # watches: fire at once, then on changes at or below
        w = Client(d.sock)
        w.watch('/w', 'tok')
        assert w.wait_event() == (b'/w', b'tok')
        assert w.err('WATCH', b'/w\0tok\0') == 'EEXIST'
        c.write('/w/a/b', b'1')
        assert w.wait_event() == (b'/w/a/b', b'tok')
        c.write('/wx', b'1')          # sibling prefix: no event
        c.write('/w', b'2')
        assert w.wait_event() == (b'/w', b'tok')
        w.watch('/w/a/b/deep', 'deep')
        assert w.wait_event() == (b'/w/a/b/deep', b'deep')
        c.rm('/w/a')
        evs = {w.wait_event(), w.wait_event()}
        assert evs == {(b'/w/a', b'tok'), (b'/w/a/b/deep', b'deep')}, evs
        w.call('UNWATCH', b'/w\0tok\0')
        assert w.err('UNWATCH', b'/w\0tok\0') == 'ENOENT'
        w.watch('rel', 'r')
        assert w.wait_event() == (b'rel', b'r')
        c.write('/local/domain/0/rel/sub', b'')
        assert w.wait_event() == (b'rel/sub', b'r')
        w.call('RESET_WATCHES', b'')
        c.write('/w/after', b'')
        c.write('/local/domain/0/rel/x', b'')
        w.watch('/sentinel', 's')
        assert w.wait_event() == (b'/sentinel', b's')  # nothing before it
        # An event that would not fit in one message is not sent.
        w.watch('/big', 'T' * 3000)
        assert w.wait_event() == (b'/big', b'T' * 3000)
        c.write('/big/' + 'a' * 1200, b'')
        c.write('/big/b', b'')
        assert w.wait_event() == (b'/big/b', b'T' * 3000)
        w.call('UNWATCH', b'/big\0' + b'T' * 3000 + b'\0')

        # transactions: isolation, commit, abort, conflict
        t = c.tx_start()
        assert t != 0
        c.write('/t/a', b'in-tx', tx=t)
        assert c.read('/t/a', tx=t) == b'in-tx'
        assert c.err('READ', b'/t/a\0') == 'ENOENT'
        assert c.ls('/t', tx=t) == ['a']
        w.watch('/t', 'tw')
        assert w.wait_event() == (b'/t', b'tw')
        c.tx_end(t)
        assert w.wait_event() == (b'/t/a', b'tw')   # fired at commit
        assert c.read('/t/a') == b'in-tx'
        t = c.tx_start()
        c.rm('/t/a', tx=t)
        c.tx_end(t, commit=False)
        assert c.read('/t/a') == b'in-tx'
        t = c.tx_start()
        assert c.read('/t/a', tx=t) == b'in-tx'
        c2 = Client(d.sock)
        c2.write('/t/a', b'other')
        c.write('/t/a', b'mine', tx=t)
        assert c.err('TRANSACTION_END', b'T\0', tx=t) == 'EAGAIN'
        assert c.read('/t/a') == b'other'
        assert c.err('TRANSACTION_END', b'T\0', tx=t) == 'ENOENT'
        # a transaction that does not conflict commits
        t = c.tx_start()
        c.read('/t/a', tx=t)
        c2.write('/unrelated', b'x')
        c.write('/t/b', b'b', tx=t)
        c.tx_end(t)
        assert c.read('/t/b') == b'b'
        # rm + recreate inside a transaction
        t = c.tx_start()
        c.rm('/t', tx=t)
        c.write('/t/new', b'n', tx=t)
        c.tx_end(t)
        assert c.ls('/t') == ['new'], c.ls('/t')
        t = c.tx_start()
        assert c.err('TRANSACTION_END', b'X\0', tx=t) == 'EINVAL'
        c.tx_end(t, commit=False)
        assert c.err('TRANSACTION_START', b'\0', tx=777) == 'ENOENT'

        # domains
        w.close()
        w = Client(d.sock)
        w.watch('@introduceDomain', 'intro')
        assert w.wait_event() == (b'@introduceDomain', b'intro')
        w.watch('@releaseDomain', 'rel')
        assert w.wait_event() == (b'@releaseDomain', b'rel')
        assert c.call('IS_DOMAIN_INTRODUCED', b'5\0') == b'F\0'
        c.call('INTRODUCE', b'5\x0012345\x007\0')
        assert w.wait_event() == (b'@introduceDomain', b'intro')
        assert c.call('IS_DOMAIN_INTRODUCED', b'5\0') == b'T\0'
        assert c.call('GET_DOMAIN_PATH', b'5\0') == b'/local/domain/5\0'
        c.call('RESUME', b'5\0')
        assert c.err('RESUME', b'6\0') == 'ENOENT'
        assert c.err('RELEASE', b'6\0') == 'ENOENT'
        c.write('/local/domain/5/owned', b'')
        c.set_perms('/local/domain/5/owned', ['n5'])
        c.call('RELEASE', b'5\0')
        assert w.wait_event() == (b'@releaseDomain', b'rel')
        assert c.call('IS_DOMAIN_INTRODUCED', b'5\0') == b'F\0'
        # Xen's xenstored removes the nodes the released domain owned
        assert c.err('READ', b'/local/domain/5/owned\0') == 'ENOENT'
        assert c.err('INTRODUCE', b'0\x001\x001\0') == 'EINVAL'
        assert c.err('INTRODUCE', b'6\x001\x000\0') == 'EINVAL'  # port 0
        c.call('INTRODUCE', b'6\x00-1\x009\0')   # gfn is signed decimal
        c.call('RELEASE', b'6\0')

        # control
        q = c.call('CONTROL', b'quota\0').decode()
        assert 'nodes' in q and '1000' in q, q
        c.call('CONTROL', b'quota\x00set\x00nodes\x00500\x00')
        assert '500' in c.call('CONTROL', b'quota\0').decode()
        c.call('CONTROL', b'print\0hello from the test\0')
        assert c.err('CONTROL', b'no-such-command\0') == 'EINVAL'

        assert c.call('CONTROL', b'check\0') == b'OK\0'
        for x in (c, c2, w):
            x.close()
    finally:
        d.stop()
    print('protocol: ok')


if __name__ == '__main__':
    main()
