#!/usr/bin/env python3
"""The once-a-second scan for stalled clients and expired watch events
visits only the connections with output queued, not every connection
(issue 16: nothing per tick may grow with the number of idle domains).

With 300 idle clients and 40 idle guest connections up, CONTROL stats
must report scans that visited none of them; with two clients that stop
reading their replies (output queued past the soft limit), scans visit
exactly those two; the scan still does its job on them (with -S 2 they
are dropped as not reading), and afterwards it visits none again while
every idle connection is still served."""
import struct
import sys
import time

from xsutil import Client, Daemon, XS, attach_guest

IDLE, GUESTS = 300, 40


def stats(dom0):
    out = {}
    for line in dom0.call('CONTROL', b'stats\0').rstrip(b'\0').decode().splitlines():
        k, v = line.split(':')
        out[k.strip()] = int(v)
    return out


def next_scan(dom0, timeout=30):
    """The stats right after a scan that started after this call."""
    s0 = stats(dom0)['stall-scans']
    deadline = time.time() + timeout
    while time.time() < deadline:
        s = stats(dom0)
        if s['stall-scans'] >= s0 + 2:      # one whole scan after the call
            return s
        time.sleep(0.1)
    raise AssertionError('no stall scan in %d s' % timeout)


def wait_for(dom0, what, pred, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        s = stats(dom0)
        if pred(s):
            return s
        time.sleep(0.1)
    raise AssertionError('%s: not within %d s: %r' % (what, timeout, stats(dom0)))


def main():
    d = Daemon(sys.argv[1], extra=['-S', '2'] + sys.argv[2:]).start()
    try:
        dom0 = Client(d.sock)
        dom0.write('/big', b'b' * 2000)
        idle = [Client(d.sock) for _ in range(IDLE)]
        for c in idle:
            assert c.read('/big') == b'b' * 2000
        guests = [attach_guest(d, 100 + i) for i in range(GUESTS)]

        s = next_scan(dom0)
        assert s['connections'] == 1 + IDLE + GUESTS, s
        assert s['output-pending'] == 0, s
        assert s['stall-scan-visited'] == 0, s

        # Two clients send 1000 reads of a 2 KB node each and read
        # nothing: 2 MB of replies, far past the socket buffer and the
        # 256 KiB soft limit, stay queued.
        busy = [Client(d.sock) for _ in range(2)]
        req = b'/big\0'
        for b in busy:      # one write: a socket's buffer holds ~350 small ones
            b.send_raw(b''.join(struct.pack('<IIII', XS['READ'], i + 1, 0, len(req)) +
                                req for i in range(1000)))
        wait_for(dom0, 'two connections with output queued',
                 lambda s: s['output-pending'] == 2)
        s = next_scan(dom0)
        # Dropped by that scan or not yet (-S 2), they were what it visited.
        assert s['stall-scan-visited'] == 2, s

        # The scan drops them as not reading (-S 2)...
        s = wait_for(dom0, 'the non-readers dropped',
                     lambda s: s['connections'] == 1 + IDLE + GUESTS)
        assert s['output-pending'] == 0, s
        # ...and visits nothing again.
        s = next_scan(dom0)
        assert s['stall-scan-visited'] == 0, s
        for b in busy:      # closed by the daemon: what was sent, then EOF
            b.s.settimeout(10)
            while b.s.recv(1 << 20):
                pass

        for c in idle:
            assert c.read('/big') == b'b' * 2000
        for g in guests:
            assert g.err('READ', b'/big\0') == 'EACCES'
        s = next_scan(dom0)
        assert s['connections'] == 1 + IDLE + GUESTS, s
        assert s['stall-scan-visited'] == 0, s
        assert dom0.call('CONTROL', b'check\0') == b'OK\0'
        for c in idle + guests + busy + [dom0]:
            c.close()
    finally:
        d.stop()
    print('idle scan: ok')


if __name__ == '__main__':
    main()
