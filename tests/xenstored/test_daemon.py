#!/usr/bin/env python3
"""Daemon mode: without -N it forks, writes its pid file, serves, and on
SIGTERM removes the pid file and socket; the state it was given survives."""
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


def start(binary, tmp):
    args = [binary, '--socket', os.path.join(tmp, 'run', 'sock'),
            '--pid-file', os.path.join(tmp, 'run', 'xs.pid'),
            '--data-dir', os.path.join(tmp, 'data'),
            '--log-file', os.path.join(tmp, 'log')]
    r = subprocess.run(args, timeout=30)
    assert r.returncode == 0, r.returncode   # the parent returns at once
    pidfile = os.path.join(tmp, 'run', 'xs.pid')
    assert wait_for(lambda: os.path.exists(pidfile))
    with open(pidfile) as f:
        pid = int(f.read())
    assert alive(pid)
    return pid


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
