#!/usr/bin/env python3
"""The nodes a guest owns count against its memory quota (Xen 4.17's
accounting: a node's name, value, permissions and child list are charged
to its owner; a transaction's copies to the transaction's connection).

* A guest that writes ever more 2 KiB values (the nodes node quotas
  raised so that only memory limits it) gets ENOMEM near 2.5 MiB; nothing of a
  refused write lands; dom0 and other guests keep full service.
* Deleting nodes gives the room back; SET_PERMS by dom0 moves the charge
  to the new owner.
* Transactions: copies are charged while open, given back on abort, and
  settled on the owner at commit (no double count, no loss).
* A restart (journal replay and snapshot) recomputes the same totals: the
  guest is still refused afterwards."""
import sys

from xsutil import Client, Daemon, XS, XsError, attach_guest, quota_memory

MiB = 1 << 20
QUOTA = 2 * MiB + 512 * 1024     # the daemon's default, as Xen's
VALUE = b'v' * 2000


def guest_home(dom0, domid):
    dom0.call('INTRODUCE', b'%d\x000\x00%d\x00' % (domid, domid))
    dom0.mkdir('/local/domain/%d' % domid)
    dom0.set_perms('/local/domain/%d' % domid, ['n%d' % domid])


def fill(g, prefix, limit=4000, tx=0):
    """Write 2 KiB values at prefix-NNNN, 20 in flight, until refused.
    Returns (number written, set of error names)."""
    ok, errors = 0, set()
    for i in range(0, limit, 20):
        rids = [g.send(XS['WRITE'], b'%s%04d\0' % (prefix, j) + VALUE, tx=tx)
                for j in range(i, i + 20)]
        for rid in rids:
            typ, _, data = g.reply(rid)
            if typ == XS['ERROR']:
                errors.add(data.rstrip(b'\0').decode())
            else:
                ok += 1
        if errors:
            break
    return ok, errors


def served(dom0, other):
    dom0.write('/alive', VALUE)
    assert dom0.read('/alive') == VALUE
    other.write('served', VALUE)
    assert other.read('served') == VALUE


def refused(g, path, value):
    try:
        g.write(path, value)
    except XsError as e:
        return e.name
    return None


def guest_fills(d, dom0, other):
    g = attach_guest(d, 20)
    n, errors = fill(g, b'data/k')
    assert errors == {'ENOMEM'}, (n, errors)
    used = quota_memory(dom0, 20)
    print('guest: %d values of 2000 bytes written, then ENOMEM; memory %d '
          'of %d' % (n, used, QUOTA))
    assert 2 * MiB < n * len(VALUE) < QUOTA, n
    assert QUOTA - 8192 < used <= QUOTA, used
    # The refused write left nothing behind.
    assert g.err('READ', b'data/k%04d\0' % n) == 'ENOENT'
    assert g.read('data/k%04d' % (n - 1)) == VALUE
    # Small nodes fill what is left; then growing a value by 2000 bytes
    # is refused too; shrinking one is fine.
    for i in range(100):
        if refused(g, 'data/small%02d' % i, b'x' * 100):
            break
    assert refused(g, 'data/small%02d' % i, b'x' * 100) == 'ENOMEM', i
    assert refused(g, 'data/k0000', VALUE * 2) == 'ENOMEM'
    assert g.read('data/k0000') == VALUE
    g.write('data/k0000', b'x')
    assert quota_memory(dom0, 20) < used
    # Reads go on, and the others are served in full.
    assert g.read('data/k0001') == VALUE
    served(dom0, other)
    # Dom0 is exempt, even writing nodes the guest owns (they count).
    m = quota_memory(dom0, 20)
    dom0.write('/local/domain/20/data/bydom0', VALUE * 2)
    assert dom0.perms('/local/domain/20/data/bydom0')[0] == 'n20'
    assert quota_memory(dom0, 20) >= m + 2 * len(VALUE)
    assert refused(g, 'data/more', VALUE) == 'ENOMEM'
    return g


def delete_frees(dom0, g):
    before = quota_memory(dom0, 20)
    for i in range(1, 101):
        g.rm('data/k%04d' % i)
    dom0.rm('/local/domain/20/data/bydom0')
    after = quota_memory(dom0, 20)
    print('deleting 100 values gave back %d bytes' % (before - after))
    assert before - after > 100 * len(VALUE), (before, after)
    n, errors = fill(g, b'data/again', limit=80)
    assert n == 80 and not errors, (n, errors)
    # SET_PERMS (dom0 changes the owner) moves the charge.
    d23 = quota_memory(dom0, 23)
    m20 = quota_memory(dom0, 20)
    dom0.set_perms('/local/domain/20/data/again0000', ['n23'])
    assert quota_memory(dom0, 20) < m20 - len(VALUE), (m20, quota_memory(dom0, 20))
    assert quota_memory(dom0, 23) > d23 + len(VALUE), (d23, quota_memory(dom0, 23))
    dom0.set_perms('/local/domain/20/data/again0000', ['n20'])
    assert quota_memory(dom0, 20) == m20


def transactions(d, dom0):
    g = attach_guest(d, 22)
    guest_home(dom0, 22)
    base = quota_memory(dom0, 22)
    # Copies count while open: one transaction cannot hold more.
    t = g.tx_start()
    n, errors = fill(g, b'tx/a', tx=t)
    assert errors == {'ENOMEM'}, errors
    print('transaction: %d values written inside it, then ENOMEM' % n)
    assert 2 * MiB < n * len(VALUE) < QUOTA, n
    g.tx_end(t, commit=False)
    assert quota_memory(dom0, 22) < base + 4096, (base, quota_memory(dom0, 22))
    # Commit settles the copies on the owner: about the same total.
    t = g.tx_start()
    n1, errors = fill(g, b'tx/b', limit=500, tx=t)
    assert n1 == 500 and not errors, (n1, errors)
    open_mem = quota_memory(dom0, 22)
    g.tx_end(t)
    committed = quota_memory(dom0, 22)
    print('transaction of 500 values: %d bytes open, %d committed' %
          (open_mem, committed))
    assert 500 * len(VALUE) < committed, committed
    assert abs(committed - open_mem) < open_mem // 5, (open_mem, committed)
    # What was committed counts against the next one.
    t = g.tx_start()
    n2, errors = fill(g, b'tx/c', tx=t)
    assert errors == {'ENOMEM'} and n1 + n2 < QUOTA // len(VALUE), (n2,
                                                                   errors)
    g.tx_end(t, commit=False)
    # And a guest cannot get past it by committing small transactions.
    n3 = 0
    for k in range(100):
        t = g.tx_start()
        ok, errors = fill(g, b'tx/d%02d-' % k, limit=20, tx=t)
        try:
            g.tx_end(t, commit=not errors)
        except XsError:
            pass
        if errors:
            break
        n3 += ok
    assert errors == {'ENOMEM'}, errors
    total = quota_memory(dom0, 22)
    print('small commits: %d more values, then ENOMEM; memory %d' %
          (n3, total))
    assert total <= QUOTA, total
    assert (n1 + n3) * len(VALUE) < QUOTA
    return g


def restart(d, dom0, g20, g22):
    g20.close()
    g22.close()
    dom0.call('CONTROL', b'compact\0')       # part from the snapshot ...
    dom0.rm('/local/domain/20/data/again0001')  # ... part from the journal
    dom0.rm('/local/domain/20/data/again0002')
    before = {dom: quota_memory(dom0, dom) for dom in (20, 22)}
    dom0.close()
    d.stop()
    d.start()
    dom0 = Client(d.sock)
    after = {dom: quota_memory(dom0, dom) for dom in (20, 22)}
    print('memory before restart %s, after %s' % (before, after))
    assert after == before, (before, after)
    assert dom0.call('CONTROL', b'check\0') == b'OK\0'
    g = attach_guest(d, 20)
    # Only the room left before the restart: 2000 values would fit in a
    # daemon that forgot.
    n, errors = fill(g, b'data/after', limit=2000)
    room = QUOTA - before[20]
    print('after restart: %d values fit in the %d bytes left' % (n, room))
    assert errors == {'ENOMEM'} and n <= room // len(VALUE), (n, errors)
    assert quota_memory(dom0, 20) <= QUOTA
    g.close()
    # Release removes the guest's nodes and their charge.
    dom0.call('RELEASE', b'20\0')
    dom0.call('INTRODUCE', b'20\x000\x0020\x00')
    assert quota_memory(dom0, 20) < 1024, quota_memory(dom0, 20)
    return dom0


def main():
    # Only memory limits the guests here.
    d = Daemon(sys.argv[1], extra=['-Q', 'nodes=10000', '-Q',
                                   'transaction-nodes=10000', '-Q',
                                   'node-size=8192']).start()
    try:
        dom0 = Client(d.sock)
        for dom in (20, 21, 23):
            guest_home(dom0, dom)
        other = attach_guest(d, 21)
        g20 = guest_fills(d, dom0, other)
        delete_frees(dom0, g20)
        g22 = transactions(d, dom0)
        served(dom0, other)
        other.close()
        dom0 = restart(d, dom0, g20, g22)
        assert dom0.call('CONTROL', b'check\0') == b'OK\0'
        dom0.close()
    finally:
        d.stop()
    print('node memory: ok')


if __name__ == '__main__':
    main()
