#!/usr/bin/env python3
"""Xen's own conformance tool, test-xenstore, against our daemon: every
test once, then random mode (XS_RANDOM_SECONDS, default 10; the issue asks
for -r 60, which is what a full run should use)."""
import os
import sys

from xsutil import Daemon, xen_tool


def main():
    TEST_XENSTORE = xen_tool('test-xenstore')
    secs = os.environ.get('XS_RANDOM_SECONDS', '10')
    d = Daemon(sys.argv[1]).start()
    try:
        r = d.run(TEST_XENSTORE, timeout=600)
        print(r.stdout, end='')
        names = [l.split(':')[0].strip() for l in r.stdout.splitlines()]
        expect = ['read 1', 'read 2000', 'write 1', 'write 2000', 'dir',
                  'rm node', 'rm dir', 'ta empty', 'ta empty x', 'ta rmw',
                  'ta rmw x', 'ta err']
        assert names == expect, names
        assert 'failed' not in r.stdout
        r = d.run(TEST_XENSTORE, '-r', secs, timeout=int(secs) + 300)
        print('random mode (-r %s): exit %d %s' % (secs, r.returncode,
                                                 r.stdout.strip()))
        assert 'failed' not in r.stdout
        # test-xenstore cleans up after itself
        r = d.run('xenstore-ls', '/local/domain/0', check=False)
        assert 'xenstore-test' not in r.stdout, r.stdout
    finally:
        d.stop()
    print('test-xenstore: all tests and random mode passed')


if __name__ == '__main__':
    main()
