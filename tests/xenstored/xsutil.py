"""Helpers for the xenstored integration tests: start the daemon on a
temporary socket/data dir and talk xs_wire to it directly."""
import atexit
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'lib'))
import oracles  # noqa: E402  (Xen's tools, from the oracle cache)

XS = dict(CONTROL=0, DIRECTORY=1, READ=2, GET_PERMS=3, WATCH=4, UNWATCH=5,
          TRANSACTION_START=6, TRANSACTION_END=7, INTRODUCE=8, RELEASE=9,
          GET_DOMAIN_PATH=10, WRITE=11, MKDIR=12, RM=13, SET_PERMS=14,
          WATCH_EVENT=15, ERROR=16, IS_DOMAIN_INTRODUCED=17, RESUME=18,
          SET_TARGET=19, RESET_WATCHES=21, DIRECTORY_PART=22)


def skip(reason):
    print(reason)
    sys.exit(77)


class Daemon:
    """The daemon under test, in the foreground, with its own dirs."""

    def __init__(self, binary, tmpdir=None, extra=(), preexec=None):
        self.binary = binary
        if tmpdir is None:
            tmpdir = tempfile.mkdtemp(prefix='xs-test-')
            if not os.environ.get('XS_KEEP_TMP'):
                atexit.register(shutil.rmtree, tmpdir, True)
        self.tmp = tmpdir
        self.sock = os.path.join(self.tmp, 'sock')
        self.data = os.path.join(self.tmp, 'data')
        self.log = os.path.join(self.tmp, 'log')
        self.extra = list(extra)
        self.preexec = preexec      # run in the child before exec
        self.proc = None

    def start(self):
        args = [self.binary, '-N', '--socket', self.sock,
                '--pid-file', os.path.join(self.tmp, 'pid'),
                '--data-dir', self.data, '--log-file', self.log] + self.extra
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.proc = subprocess.Popen(args, preexec_fn=self.preexec)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('daemon exited: %d\n%s' %
                                   (self.proc.returncode, self.logtext()))
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.sock)
                s.close()
                return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError('daemon did not start')

    def logtext(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ''

    def stop(self):
        """SIGTERM; the daemon must exit 0 (under ASan: without leaks)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.proc.wait(60)
            assert rc == 0, 'daemon exit status %d\n%s' % (rc, self.logtext())
        self.proc = None

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.proc = None

    def env(self):
        e = oracles.env()
        e['XENSTORED_PATH'] = self.sock
        return e

    def run(self, *cmd, check=True, timeout=60):
        """Run one of Xen's tools (by name, from the oracle cache) against
        the daemon."""
        cmd = [xen_tool(cmd[0])] + list(cmd[1:])
        r = subprocess.run(cmd, env=self.env(), capture_output=True,
                           text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError('%s failed (%d): %s%s' %
                                 (cmd, r.returncode, r.stdout, r.stderr))
        return r


_shown = set()


def xen_tool(name):
    """The cached path of a Xen tool (skips the test without it); the first
    use of each is printed, so a log shows which copy ran."""
    path = name if '/' in name else oracles.xen_tool(name)
    if path not in _shown:
        _shown.add(path)
        print('oracle: %s' % path)
    return path


class XsError(Exception):
    def __init__(self, name):
        super().__init__(name)
        self.name = name


class Client:
    """A raw xs_wire client; watch events are collected on the side."""

    def __init__(self, path, timeout=20):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.rid = 0
        self.events = []
        self.buf = b''

    def close(self):
        self.s.close()

    def send_raw(self, data):
        self.s.sendall(data)

    def send(self, typ, payload, tx=0, rid=None):
        if rid is None:
            self.rid += 1
            rid = self.rid
        self.s.sendall(struct.pack('<IIII', typ, rid, tx, len(payload)) +
                       payload)
        return rid

    def _fill(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise EOFError('connection closed by daemon')
            self.buf += d

    def recv_msg(self):
        self._fill(16)
        typ, rid, tx, ln = struct.unpack('<IIII', self.buf[:16])
        self._fill(16 + ln)
        data = self.buf[16:16 + ln]
        self.buf = self.buf[16 + ln:]
        return typ, rid, tx, data

    def reply(self, rid):
        while True:
            typ, r, tx, data = self.recv_msg()
            if typ == XS['WATCH_EVENT']:
                self.events.append(tuple(data.split(b'\0')[:2]))
                continue
            assert r == rid, 'reply for %d, expected %d' % (r, rid)
            return typ, tx, data

    def call(self, typ, payload, tx=0):
        if isinstance(typ, str):
            typ = XS[typ]
        rid = self.send(typ, payload, tx)
        rtyp, rtx, data = self.reply(rid)
        if rtyp == XS['ERROR']:
            raise XsError(data.rstrip(b'\0').decode())
        assert rtyp == typ, 'reply type %d for %d' % (rtyp, typ)
        return data

    def err(self, typ, payload, tx=0):
        """The error name a request fails with (asserts it fails)."""
        try:
            data = self.call(typ, payload, tx)
        except XsError as e:
            return e.name
        raise AssertionError('expected an error, got %r' % data)

    def err_or_none(self, typ, payload, tx=0):
        """The error name a request fails with, or None if it succeeds."""
        try:
            self.call(typ, payload, tx)
        except XsError as e:
            return e.name
        return None

    def wait_event(self, timeout=10):
        if self.events:
            return self.events.pop(0)
        old = self.s.gettimeout()
        self.s.settimeout(timeout)
        try:
            typ, rid, tx, data = self.recv_msg()
        finally:
            self.s.settimeout(old)
        assert typ == XS['WATCH_EVENT'], typ
        return tuple(data.split(b'\0')[:2])

    # conveniences
    def write(self, path, value, tx=0):
        return self.call('WRITE', path.encode() + b'\0' + value, tx)

    def read(self, path, tx=0):
        return self.call('READ', path.encode() + b'\0', tx)

    def ls(self, path, tx=0):
        d = self.call('DIRECTORY', path.encode() + b'\0', tx)
        return [x.decode() for x in d.split(b'\0')[:-1]]

    def rm(self, path, tx=0):
        return self.call('RM', path.encode() + b'\0', tx)

    def mkdir(self, path, tx=0):
        return self.call('MKDIR', path.encode() + b'\0', tx)

    def perms(self, path):
        d = self.call('GET_PERMS', path.encode() + b'\0')
        return [x.decode() for x in d.split(b'\0')[:-1]]

    def set_perms(self, path, perms):
        return self.call('SET_PERMS', path.encode() + b'\0' +
                         b''.join(p.encode() + b'\0' for p in perms))

    def watch(self, path, token):
        return self.call('WATCH', path.encode() + b'\0' + token.encode() +
                         b'\0')

    def tx_start(self):
        return int(self.call('TRANSACTION_START', b'\0').rstrip(b'\0'))

    def tx_end(self, tx, commit=True):
        return self.call('TRANSACTION_END', b'T\0' if commit else b'F\0', tx)


def attach_guest(d, domid):
    """A connection to daemon d that speaks for domain domid, as a VMM's
    relayed ring does (CONTROL ring-attach)."""
    g = Client(d.sock)
    assert g.call('CONTROL', b'ring-attach\x00%d\x00' % domid) == b'OK\0'
    return g


def quota_memory(dom0, domid):
    """The bytes charged to domid, from CONTROL quota's memory line."""
    q = dom0.call('CONTROL', b'quota\x00%d\x00' % domid).decode()
    for line in q.splitlines():
        if line.startswith('memory'):
            return int(line.split(':')[1])
    raise AssertionError('no memory line in %r' % q)
