#!/usr/bin/env python3
"""The journal under torn writes and damage, through the real daemon.

* A transaction is one unit on disk: the journal is cut at every byte
  offset inside a 20-node commit's records, and after a restart either the
  whole commit is there or none of it.
* A torn last record is cut away and the start goes on.
* A value that carries a well-formed record (as a client can write one)
  never passes for a record when a write tears inside it: records' CRCs
  are keyed with a secret of the file.
* A flipped byte in a middle record, or in the header, refuses the start,
  says what and where at error level, and leaves the file as it was;
  --salvage keeps every intact record before and after the damage, keeps
  the damaged file, and reports what it dropped; the next start is clean."""
import os
import shutil
import struct
import subprocess
import sys
import zlib

from xsutil import Client, Daemon

NODES = 20


def journal(d):
    return os.path.join(d.data, 'journal')


def size(path):
    return os.path.getsize(path)


def start_fails(d, *extra):
    """The daemon refuses to start: exit status non-zero, and why."""
    if os.path.exists(d.sock):
        os.unlink(d.sock)
    p = subprocess.Popen([d.binary, '-N', '--socket', d.sock, '--pid-file',
                          '', '--data-dir', d.data, '--log-file', d.log] +
                         list(extra), stderr=subprocess.PIPE, text=True)
    try:
        err = p.communicate(timeout=30)[1]
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise AssertionError('daemon started on a damaged journal')
    assert p.returncode != 0, 'daemon started on a damaged journal'
    return err


def torn_commit(binary):
    d = Daemon(binary).start()
    c = Client(d.sock)
    c.write('/base', b'b')
    c.close()
    d.stop()
    before = size(journal(d))
    d.start()
    c = Client(d.sock)
    t = c.tx_start()
    for i in range(NODES):
        c.write('/tx/n%02d' % i, b'v', tx=t)
    c.tx_end(t)
    c.close()
    d.stop()
    after = size(journal(d))
    with open(journal(d), 'rb') as f:
        whole = f.read()
    assert after > before + NODES * 20
    seen = {}
    for cut in range(before, after + 1):
        with open(journal(d), 'wb') as f:
            f.write(whole[:cut])
        d.start()
        c = Client(d.sock)
        back = 0 if c.err_or_none('READ', b'/tx\0') else len(c.ls('/tx'))
        assert c.read('/base') == b'b'
        c.close()
        d.kill()        # quicker than a clean stop, 700 times over
        seen[back] = seen.get(back, 0) + 1
        assert back == (NODES if cut == after else 0), \
            'cut at %d of %d..%d: %d of %d nodes came back' % (
                cut, before, after, back, NODES)
    print('torn commit: cut at each of %d offsets: %s' %
          (after - before + 1, seen))


def flip(path, off):
    with open(path, 'r+b') as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0x40]))


def record_offsets(data):
    version = int.from_bytes(data[4:8], 'little')
    offs, off = [], 24 if version == 2 else 16
    while off + 8 <= len(data):
        n = int.from_bytes(data[off:off + 4], 'little')
        offs.append(off)
        off += 8 + n
    return offs


def damaged(binary, where):
    """where: 'middle' (a byte inside record 25 of 50) or 'header'."""
    d = Daemon(binary).start()
    c = Client(d.sock)
    for i in range(50):
        c.write('/d/k%02d' % i, b'value-%02d' % i)
    c.close()
    d.stop()
    with open(journal(d), 'rb') as f:
        data = f.read()
    offs = record_offsets(data)
    assert len(offs) >= 50, len(offs)
    # /d is created with /d/k00 (one group): record i is /d/k(i)
    victim = offs[25] + 12 if where == 'middle' else 2
    flip(journal(d), victim)
    with open(journal(d), 'rb') as f:
        broken = f.read()
    r = start_fails(d)
    log = d.logtext()
    assert 'error' in log and 'damaged' in log, log
    if where == 'middle':
        assert 'offsets %d-' % offs[25] in log, log
    assert '--salvage' in log, log
    with open(journal(d), 'rb') as f:
        assert f.read() == broken, 'the damaged journal was changed'
    print('%s damage refused: %s' % (where, r.strip()))

    d.extra = ['--salvage']
    d.start()
    d.extra = []
    c = Client(d.sock)
    lost = [i for i in range(50)
            if c.err_or_none('READ', b'/d/k%02d\0' % i)]
    c.close()
    d.stop()
    if where == 'middle':
        assert lost == [25], lost       # record 25 is /d/k25 (see above)
    else:
        assert lost == [], lost
    kept = [n for n in os.listdir(d.data) if n.startswith('journal.damaged')]
    assert kept, os.listdir(d.data)
    with open(os.path.join(d.data, kept[0]), 'rb') as f:
        assert f.read() == broken
    assert 'salvage: kept' in d.logtext(), d.logtext()
    print('%s damage salvaged: lost %s, kept %s' % (where, lost, kept))
    # The next start is a clean one.
    d.start()
    c = Client(d.sock)
    assert c.read('/d/k49') == b'value-49'
    assert c.call('CONTROL', b'check\0') == b'OK\0'
    c.close()
    d.stop()


def torn_last(binary):
    d = Daemon(binary).start()
    c = Client(d.sock)
    for i in range(5):
        c.write('/t/k%d' % i, b'v')
    c.close()
    d.stop()
    with open(journal(d), 'rb') as f:
        data = f.read()
    last = record_offsets(data)[-1]
    with open(journal(d), 'wb') as f:
        f.write(data[:last + 5])
    d.start()
    c = Client(d.sock)
    assert c.read('/t/k3') == b'v'
    assert c.err('READ', b'/t/k4\0') == 'ENOENT'
    c.close()
    d.stop()
    assert size(journal(d)) == last
    print('torn last record: cut, start goes on')


def forged_record(binary):
    path = b'/tool/forged'
    body = (b'\x01' + struct.pack('<I', len(path)) + path +
            struct.pack('<IIBI', 1, 0, 3, 1) + b'x')
    forged = struct.pack('<II', len(body), zlib.crc32(body)) + body
    d = Daemon(binary).start()
    c = Client(d.sock)
    c.write('/base', b'b')
    c.write('/v', b'A' * 8 + forged + b'B' * 64)
    c.close()
    d.stop()
    with open(journal(d), 'rb') as f:
        data = f.read()
    at = data.rindex(forged) + len(forged)
    with open(journal(d), 'wb') as f:
        f.write(data[:at + 4])          # a write torn inside the value
    d.start()
    c = Client(d.sock)
    assert c.read('/base') == b'b'
    assert c.err('READ', b'/v\0') == 'ENOENT'
    assert c.err('READ', path + b'\0') == 'ENOENT'
    c.close()
    d.stop()
    print('a record forged inside a value: a torn tail, never a record')


def version1_journal(binary):
    """A journal written before records were keyed (version 1) is read,
    appended to, and replaced by version 2 at the next compaction."""
    def put(path, val):
        body = (b'\x01' + struct.pack('<I', len(path)) + path +
                struct.pack('<IIBI', 1, 0, 0, len(val)) + val)
        return struct.pack('<II', len(body), zlib.crc32(body)) + body
    d = Daemon(binary)
    os.makedirs(d.data)
    with open(journal(d), 'wb') as f:
        f.write(b'XSJ1' + struct.pack('<IQ', 1, 1) + put(b'/old', b'o'))
    d.start()
    c = Client(d.sock)
    assert c.read('/old') == b'o'
    c.write('/new', b'n')
    c.close()
    d.kill()
    for compact in (True, False):
        d.start()
        c = Client(d.sock)
        assert c.read('/old') == b'o' and c.read('/new') == b'n'
        if compact:
            c.call('CONTROL', b'compact\0')
        c.close()
        d.kill()
    with open(journal(d), 'rb') as f:
        assert struct.unpack('<I', f.read(8)[4:])[0] == 2
    print('version 1 journal: read, appended to, compacted to version 2')


def main():
    binary = sys.argv[1]
    version1_journal(binary)
    forged_record(binary)
    torn_last(binary)
    damaged(binary, 'middle')
    damaged(binary, 'header')
    torn_commit(binary)
    print('journal faults: ok')


if __name__ == '__main__':
    main()
