#!/usr/bin/env python3
"""The daemon on a disk that fills up (a small tmpfs mounted for the test).

* Disk full: changes get ENOSPC (Xen's error string), reads and every
  connection go on, changes resume once space returns, and after a SIGKILL
  every acknowledged change is there and no refused one is.
* A compaction with room for the snapshot but not for the new journal
  fails cleanly: the changes acknowledged after it survive a SIGKILL."""
import atexit
import errno
import os
import shutil
import subprocess
import sys
import tempfile
import time

from xsutil import Client, Daemon, XsError, skip

PAGE = 4096


def mount_tmpfs(size):
    mnt = tempfile.mkdtemp(prefix='xs-full-')
    atexit.register(shutil.rmtree, mnt, True)
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=%d' % size,
                        'tmpfs', mnt], capture_output=True, text=True)
    if r.returncode != 0:
        skip('cannot mount a tmpfs here (%s): the disk-full tests need one'
             % r.stderr.strip())
    atexit.register(subprocess.run, ['umount', '-l', mnt])
    return mnt


def free_pages(path):
    s = os.statvfs(path)
    return s.f_bavail * s.f_frsize // PAGE


class Filler:
    """Takes every free page of a file system, and gives some back."""

    def __init__(self, mnt):
        self.path = os.path.join(mnt, 'filler')
        self.size = 0
        chunk = b'\xaa' * (1 << 20)
        with open(self.path, 'wb', buffering=0) as f:
            for blk in (chunk, b'\xaa' * PAGE):
                while True:
                    try:
                        n = f.write(blk)    # may be short at the end
                    except OSError as e:
                        assert e.errno == errno.ENOSPC, e
                        break
                    self.size += n
                    if n < len(blk):
                        break
        # A short last write may have taken part of a block: round down.
        self.size -= self.size % PAGE
        os.truncate(self.path, self.size)

    def leave_free(self, mnt, pages):
        now = free_pages(mnt)
        self.size -= (pages - now) * PAGE
        os.truncate(self.path, self.size)
        assert free_pages(mnt) == pages, (free_pages(mnt), pages)

    def remove(self):
        os.unlink(self.path)


def daemon_on(binary, mnt, name):
    d = Daemon(binary)
    d.data = os.path.join(mnt, name)
    # Never leave a daemon behind (nor the tmpfs busy), whatever fails.
    atexit.register(lambda: d.proc and d.proc.poll() is None and d.kill())
    return d.start()


def disk_full(binary, mnt):
    d = daemon_on(binary, mnt, 'full')
    c = Client(d.sock)
    other = Client(d.sock)
    c.write('/before', b'b')
    fill = Filler(mnt)
    acked, refused = {}, []
    for i in range(400):
        path = '/full/k%03d' % i
        try:
            c.write(path, b'%03d' % i + b'x' * 1000)
            acked[path] = b'%03d' % i + b'x' * 1000
        except XsError as e:
            assert e.name == 'ENOSPC', e.name
            refused.append(path)
    assert refused, 'no write was refused on a full disk'
    print('full disk: %d writes acknowledged, %d refused with ENOSPC' %
          (len(acked), len(refused)))
    # Reads go on, on every connection, and so do transactions' reads.
    assert c.read('/before') == b'b'
    assert other.read('/before') == b'b'
    for path, val in acked.items():
        assert other.read(path) == val
    for path in refused:
        assert other.err('READ', path.encode() + b'\0') == 'ENOENT'
    t = other.tx_start()
    assert other.read('/before', tx=t) == b'b'
    other.write('/in-tx', b'x', tx=t)
    assert other.err('TRANSACTION_END', b'T\0', tx=t) == 'ENOSPC'
    assert other.err('READ', b'/before\0', tx=t) == 'ENOENT'   # it ended
    t = other.tx_start()
    other.write('/in-tx', b'x', tx=t)
    other.tx_end(t, commit=False)       # an abort goes through
    refused.append('/in-tx')
    assert other.err('MKDIR', b'/full/dir\0') == 'ENOSPC'
    # Space returns: changes resume.
    fill.remove()
    deadline = time.time() + 120
    while True:
        try:
            c.write('/resumed', b'r')
            break
        except XsError as e:
            assert e.name == 'ENOSPC', e.name
            assert time.time() < deadline, 'writes did not resume'
            time.sleep(0.2)
    c.close()
    other.close()
    d.kill()
    d.start()
    c = Client(d.sock)
    for path, val in acked.items():
        assert c.read(path) == val, path
    for path in refused:
        assert c.err('READ', path.encode() + b'\0') == 'ENOENT', path
    assert c.read('/resumed') == b'r'
    assert c.read('/before') == b'b'
    assert c.call('CONTROL', b'check\0') == b'OK\0'
    c.close()
    d.stop()
    print('disk full: ok')


def snapshot_size(binary, mnt, fill_tree):
    """The size of the snapshot of the tree fill_tree makes (measured on a
    twin data dir, removed afterwards)."""
    d = daemon_on(binary, mnt, 'twin')
    c = Client(d.sock)
    fill_tree(c)
    c.call('CONTROL', b'compact\0')
    c.close()
    d.stop()
    snap = os.path.getsize(os.path.join(d.data, 'snapshot'))
    shutil.rmtree(d.data)
    return snap


def failed_compaction(binary, mnt):
    def fill_tree(c):
        for i in range(300):
            c.write('/c/k%03d' % i, b'y' * 1000)
    snap = snapshot_size(binary, mnt, fill_tree)
    d = daemon_on(binary, mnt, 'compact')
    c = Client(d.sock)
    fill_tree(c)
    # Room for the first snapshot, not for one more file.
    fill = Filler(mnt)
    fill.leave_free(mnt, (snap + PAGE - 1) // PAGE)
    assert c.err('CONTROL', b'compact\0') == 'EIO'
    acked = []
    for i in range(10):
        try:
            c.write('/after/%d' % i, b'a')
            acked.append(i)
        except XsError as e:
            assert e.name == 'ENOSPC', e.name
    assert acked, 'nothing was acknowledged after the failed compaction'
    c.close()
    fill.remove()
    d.kill()
    d.start()
    c = Client(d.sock)
    for i in acked:
        assert c.read('/after/%d' % i) == b'a', 'lost /after/%d' % i
    assert c.read('/c/k299') == b'y' * 1000
    c.close()
    d.stop()
    print('failed compaction: %d writes acknowledged after it survived' %
          len(acked))


def main():
    if os.geteuid() != 0:
        skip('not root: cannot mount the tmpfs the disk-full tests need')
    binary = sys.argv[1]
    failed_compaction(binary, mount_tmpfs(48 << 20))
    disk_full(binary, mount_tmpfs(48 << 20))
    print('disk full tests: ok')


if __name__ == '__main__':
    main()
