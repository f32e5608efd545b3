#!/usr/bin/env python3
"""Hostile clients get an error reply or are dropped; everyone else keeps
being served."""
import socket
import struct
import sys
import time

from xsutil import Client, Daemon, XS


def served(d):
    """A fresh, well-behaved client gets a correct answer promptly."""
    c = Client(d.sock, timeout=5)
    c.write('/alive', b'yes')
    assert c.read('/alive') == b'yes'
    c.close()


def dropped(c):
    try:
        c.s.settimeout(5)
        while True:
            if not c.s.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def main():
    d = Daemon(sys.argv[1], extra=['--max-output', '1048576',
                                   '--stall-timeout', '1']).start()
    try:
        good = Client(d.sock)
        good.write('/g', b'1')

        # Errors that only earn an error reply; the connection stays usable.
        c = Client(d.sock)
        assert c.err(1000, b'') == 'ENOSYS'
        assert c.err(XS['WATCH_EVENT'], b'/a\0t\0') == 'ENOSYS'
        assert c.err(XS['ERROR'], b'EINVAL\0') == 'ENOSYS'
        assert c.err('READ', b'/g') == 'EINVAL'           # no NUL
        assert c.err('READ', b'') == 'EINVAL'
        assert c.err('READ', b'/g\0\0') == 'EINVAL'       # two NULs
        assert c.err('WRITE', b'/bad path\0v') == 'EINVAL'
        assert c.err('WRITE', b'/a/../b\0v') == 'EINVAL'
        assert c.err('WRITE', b'/' + b'a' * 3500 + b'\0v') == 'EINVAL'
        assert c.err('READ', b'/g\0', tx=0xdeadbeef) == 'ENOENT'
        assert c.err('WATCH', b'/g\0') == 'EINVAL'        # no token
        assert c.err('INTRODUCE', b'x\0y\0z\0') == 'EINVAL'
        assert c.err('SET_PERMS', b'/g\0q1\0') == 'EINVAL'
        assert c.err('DIRECTORY_PART', b'/g\0abc\0') == 'EINVAL'
        assert c.read('/g') == b'1'

        # A header announcing more than 4096 bytes: dropped.
        bad = Client(d.sock)
        bad.send_raw(struct.pack('<IIII', XS['READ'], 1, 0, 4097))
        assert dropped(bad)
        served(d)

        # Garbage bytes with a huge length field: dropped.
        bad = Client(d.sock)
        bad.send_raw(b'\xff' * 64)
        assert dropped(bad)

        # Half a message, then silence: others are not blocked.
        stall = Client(d.sock)
        stall.send_raw(struct.pack('<IIII', XS['WRITE'], 1, 0, 100) + b'/x')
        served(d)
        stall2 = Client(d.sock)
        stall2.send_raw(b'\x02\x00\x00')
        served(d)
        # ... and when the rest arrives the message is handled.
        stall.send_raw(b'\0' + b'v' * 97)
        typ, _, data = stall.reply(1)
        assert typ == XS['WRITE'] and data == b'OK\0', (typ, data)

        # A client that never reads: flood it with watch events until its
        # queue passes the limit; it is dropped, others keep working.
        lazy = socket.socket(socket.AF_UNIX)
        lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        lazy.connect(d.sock)
        lazy.sendall(struct.pack('<IIII', XS['WATCH'], 1, 0, 9) +
                     b'/flood\0t\0')
        time.sleep(0.2)
        w = Client(d.sock)
        # Events carry the path: make them ~2 KB each.
        long_name = 'p' * 1900
        for i in range(700):    # ~1.4 MB of events, limit 1 MB
            w.write('/flood/%s/%d' % (long_name, i), b'')
        served(d)
        lazy.settimeout(5)
        total = 0
        try:
            while True:
                chunk = lazy.recv(65536)
                if not chunk:
                    break
                total += len(chunk)
        except socket.timeout:
            raise AssertionError('non-reading client was not dropped')
        # It got at most what fit before the limit, then end of file.
        assert total < 700 * 1900, total

        # A client that sends requests but never reads the replies: its
        # queue stops growing (its requests wait), and after the stall
        # timeout it is dropped. Others are served meanwhile.
        good.write('/big', b'B' * 4000)
        hog = socket.socket(socket.AF_UNIX)
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hog.connect(d.sock)
        req = struct.pack('<IIII', XS['READ'], 1, 0, 5) + b'/big\0'
        hog.setblocking(False)
        sent = 0
        t0 = time.time()
        while time.time() - t0 < 1:
            try:
                sent += hog.send(req * 100)
            except BlockingIOError:
                time.sleep(0.01)
        served(d)
        hog.setblocking(True)
        hog.settimeout(10)
        total = 0
        t0 = time.time()
        try:
            while True:
                chunk = hog.recv(65536)
                if not chunk:
                    break
                total += len(chunk)
                time.sleep(0.5)     # read a little, far too slowly
        except ConnectionResetError:
            pass
        except socket.timeout:
            raise AssertionError('non-reading client was not dropped')
        # Far fewer replies than requests reached it.
        assert total < sent // 21 * 4016, (total, sent)
        print('stalled client dropped after %.1f s, got %d of %d replies' %
              (time.time() - t0, total // 4016, sent // 21))

        # The well-behaved client from the start is still fine.
        assert good.read('/g') == b'1'
        served(d)
    finally:
        d.stop()
    print('hostile input: ok')


if __name__ == '__main__':
    main()
