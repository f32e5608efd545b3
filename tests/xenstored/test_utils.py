#!/usr/bin/env python3
"""Debian's xenstore-utils against the daemon, as documented."""
import subprocess
import sys
import time

from xsutil import Client, Daemon, xen_tool


def main():
    ctl = xen_tool('xenstore-control')
    d = Daemon(sys.argv[1]).start()
    try:
        run = d.run
        run('xenstore-write', '/vm/a', 'one', '/vm/b', 'two')
        assert run('xenstore-read', '/vm/a').stdout == 'one\n'
        assert run('xenstore-read', '/vm/a', '/vm/b').stdout == 'one\ntwo\n'
        r = run('xenstore-read', '/vm/missing', check=False)
        assert r.returncode != 0 and 'missing' in r.stderr, r
        assert run('xenstore-exists', '/vm/a').returncode == 0
        assert run('xenstore-exists', '/vm/zz', check=False).returncode == 1
        assert run('xenstore-list', '/vm').stdout == 'a\nb\n'
        out = run('xenstore-ls', '/vm').stdout
        assert out == 'a = "one"\nb = "two"\n', out
        run('xenstore-chmod', '/vm/a', 'n0', 'r3')
        out = run('xenstore-ls', '-p', '/vm').stdout
        assert '(n0,r3)' in out, out
        run('xenstore-chmod', '-r', '/vm', 'b0')
        out = run('xenstore-ls', '-p', '/vm').stdout
        assert out.count('(b0)') == 2, out
        # relative paths go below /local/domain/0 for a socket client
        run('xenstore-write', 'relnode', 'x')
        assert run('xenstore-read', '/local/domain/0/relnode').stdout == \
            'x\n'
        run('xenstore-rm', '/vm/a')
        assert run('xenstore-list', '/vm').stdout == 'b\n'
        run('xenstore-rm', '/vm')
        assert run('xenstore-exists', '/vm', check=False).returncode == 1
        # xenstore-watch: the initial event, then changes below
        w = subprocess.Popen([xen_tool('xenstore-watch'), '-n', '3', '/wt'],
                             env=d.env(), stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        run('xenstore-write', '/wt/x', '1')
        run('xenstore-rm', '/wt')
        out, _ = w.communicate(timeout=30)
        assert out.split() == ['/wt', '/wt/x', '/wt'], out
        assert w.returncode == 0
        # A directory larger than one message: libxenstore falls back to
        # DIRECTORY_PART and must get every name, in order.
        c = Client(d.sock)
        names = ['entry-with-a-rather-long-name-%04d' % i for i in range(400)]
        for n in names:
            c.write('/bigdir/' + n, b'')
        c.close()
        out = run('xenstore-list', '/bigdir').stdout.split()
        assert out == names, (len(out), out[:3])
        out = run(ctl, 'quota').stdout
        assert 'nodes' in out and 'watches' in out, out
        assert run(ctl, 'print', 'hi').stdout.strip() == 'OK'
    finally:
        d.stop()
    print('xenstore-utils: ok')


if __name__ == '__main__':
    main()
