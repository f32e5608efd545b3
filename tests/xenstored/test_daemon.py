#!/usr/bin/env python3
"""Daemon mode: without -N it forks, writes its pid file (complete when the
parent returns), serves, and on SIGTERM removes the pid file and socket; the
state it was given survives. A second daemon on the same socket, data
directory or pid file refuses to start and the first keeps serving."""
import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from xsutil import Client


def wait_for(cond, secs=30):
    deadline = time.time() + secs
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purposes
    with open('/proc/%d/stat' % pid) as f:
        return f.read().split(')')[-1].split()[0] != 'Z'


def daemon_args(binary, tmp, sock='sock', pidf='xs.pid', data='data'):
    return [binary, '--socket', os.path.join(tmp, 'run', sock),
            '--pid-file', os.path.join(tmp, 'run', pidf),
            '--data-dir', os.path.join(tmp, data),
            '--log-file', os.path.join(tmp, 'log')]


def start(binary, tmp):
    r = subprocess.run(daemon_args(binary, tmp), timeout=30)
    assert r.returncode == 0, r.returncode   # the parent returns at once
    # ... and only once the pid file names the daemon: no waiting here.
    with open(os.path.join(tmp, 'run', 'xs.pid')) as f:
        pid = int(f.read())
    assert alive(pid)
    return pid


def second_start_refused(binary, tmp, pid, **names):
    """A second daemon sharing one of the names exits non-zero with a
    message saying why; the first one still serves its socket."""
    r = subprocess.run(daemon_args(binary, tmp, **names) + ['-N'],
                       timeout=30, capture_output=True, text=True)
    assert r.returncode != 0, ('second daemon started', names)
    assert 'not starting' in r.stderr, r.stderr
    assert alive(pid)
    with open(os.path.join(tmp, 'run', 'xs.pid')) as f:
        assert int(f.read()) == pid
    c = Client(os.path.join(tmp, 'run', 'sock'))
    assert c.read('/kept') == b'value'
    c.write('/kept', b'value')
    c.close()
    return r.stderr.strip()


def main():
    tmp = tempfile.mkdtemp(prefix='xs-daemon-')
    atexit.register(shutil.rmtree, tmp, True)
    sock = os.path.join(tmp, 'run', 'sock')
    pid = None
    try:
        pid = start(sys.argv[1], tmp)
        c = Client(sock)
        c.write('/kept', b'value')
        c.close()
        for names in ({}, dict(sock='sock2', pidf='pid2'),
                      dict(pidf='pid3', data='data3'),
                      dict(sock='sock4', data='data4')):
            print('second start with', names or 'the same names', ':',
                  second_start_refused(sys.argv[1], tmp, pid, **names))
        os.kill(pid, signal.SIGTERM)
        assert wait_for(lambda: not alive(pid)), 'daemon did not exit'
        assert not os.path.exists(os.path.join(tmp, 'run', 'xs.pid'))
        assert not os.path.exists(sock)
        pid = start(sys.argv[1], tmp)
        c = Client(sock)
        assert c.read('/kept') == b'value'
        c.close()
        os.kill(pid, signal.SIGTERM)
        assert wait_for(lambda: not alive(pid)), 'daemon did not exit'
    finally:
        # Never leave a daemon behind, whatever failed above.
        if pid is not None and alive(pid):
            os.kill(pid, signal.SIGKILL)
    print('daemon mode: ok')


if __name__ == '__main__':
    main()
