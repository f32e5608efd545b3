#!/usr/bin/env python3
"""No guest pins the daemon's memory (Xen 4.17's XSA-326 accounting, with
the daemon's default quotas: memory 2.5 MiB per guest, watch events unread
after 20 s dropped).

* Transactions: a guest's open transactions' copies count against its
  quota; past it the guest gets ENOMEM, and ending them gives it all back.
* Watch events another guest's writes cause, queued for a guest that does
  not read, are dropped past its quota; the writer, dom0 and other guests
  are served as usual.
* A guest that trickles 64 KiB every few seconds does not keep its queue:
  events it has not read after 20 s are dropped."""
import socket
import sys
import time

from xsutil import Client, Daemon, XS, XsError, attach_guest, quota_memory

MiB = 1 << 20


def guest_home(dom0, domid):
    dom0.mkdir('/local/domain/%d' % domid)
    dom0.set_perms('/local/domain/%d' % domid, ['n%d' % domid])


def drain(c, quiet=2.0):
    """Every byte the daemon has sent c, until it has been quiet a while."""
    c.s.settimeout(quiet)
    n = len(c.buf)
    c.buf = b''
    try:
        while True:
            d = c.s.recv(1 << 20)
            if not d:
                break
            n += len(d)
    except socket.timeout:
        pass
    c.s.settimeout(20)
    return n


def served(dom0, other):
    dom0.write('/alive', b'1')
    assert dom0.read('/alive') == b'1'
    assert other.read('/shared/n0000')[:1] == b's'


def transactions(d, dom0, other):
    g = attach_guest(d, 8)
    # 10 transactions x 1000 nodes x 2 KiB would pin 20 MiB.
    errors = []
    txs = [g.tx_start() for _ in range(10)]
    for t in txs:
        for i in range(0, 1000, 20):
            rids = [g.send(XS['READ'], b'/shared/n%04d\0' % j, tx=t)
                    for j in range(i, i + 20)]
            for rid in rids:
                typ, _, data = g.reply(rid)
                if typ == XS['ERROR']:
                    errors.append(data.rstrip(b'\0').decode())
        served(dom0, other)
    assert errors and set(errors) == {'ENOMEM'}, set(errors)
    assert quota_memory(dom0, 8) <= 2 * 2.5 * MiB
    print('transactions: %d reads refused with ENOMEM' % len(errors))
    for t in txs:
        g.tx_end(t, commit=False)
    assert quota_memory(dom0, 8) < 64 * 1024, quota_memory(dom0, 8)
    t = g.tx_start()
    assert g.read('/shared/n0999', tx=t)[:1] == b's'
    g.tx_end(t, commit=False)
    g.close()


def flood(writer, path, n):
    for i in range(n):
        writer.write(path, b'%d' % i)


def non_reader(d, dom0, other):
    g = attach_guest(d, 9)
    w = attach_guest(d, 10)
    guest_home(dom0, 10)
    w.write('data', b'0')
    w.set_perms('data', ['n10', 'r9'])
    token = b't' * 2000
    for k in range(100):
        g.call('WATCH', b'/local/domain/10/data\0' + token + b'%03d\0' % k)
    # 50 writes by domain 10: 100 events of 2 KiB each for domain 9,
    # about 10 MiB, which it does not read.
    flood(w, 'data', 50)
    served(dom0, other)
    assert w.read('data') == b'49'
    assert quota_memory(dom0, 9) <= 2.5 * MiB, quota_memory(dom0, 9)
    got = drain(g)
    print('non-reading guest: %.1f MiB of 10 MiB of events queued' %
          (got / MiB))
    assert got < 4 * MiB, got
    g.close()
    w.close()


def trickler(d, dom0, other):
    g = attach_guest(d, 11)
    w = attach_guest(d, 12)
    guest_home(dom0, 12)
    w.write('data', b'0')
    w.set_perms('data', ['n12', 'r11'])
    token = b't' * 2000
    for k in range(20):
        g.call('WATCH', b'/local/domain/12/data\0' + token + b'%03d\0' % k)
    # About 2 MiB of events, under the memory quota.
    sent = 50 * 20 * (len(b'/local/domain/12/data') + 2005 + 16)
    flood(w, 'data', 50)
    g.s.settimeout(10)
    got, t0 = 0, time.time()
    while time.time() - t0 < 30:
        try:
            got += len(g.s.recv(64 * 1024))
        except socket.timeout:
            pass
        served(dom0, other)
        time.sleep(3)
    got += drain(g)
    print('trickling guest: received %.2f of %.2f MiB of events' %
          (got / MiB, sent / MiB))
    assert got < 0.75 * sent, (got, sent)
    g.close()
    w.close()


def main():
    d = Daemon(sys.argv[1]).start()
    try:
        dom0 = Client(d.sock)
        dom0.mkdir('/shared')
        dom0.set_perms('/shared', ['n0', 'r8', 'r13'])
        for i in range(0, 1000, 50):
            rids = [dom0.send(XS['WRITE'], b'/shared/n%04d\0' % j +
                              b's' * 2000) for j in range(i, i + 50)]
            for rid in rids:
                dom0.reply(rid)
        other = attach_guest(d, 13)
        transactions(d, dom0, other)
        non_reader(d, dom0, other)
        trickler(d, dom0, other)
        assert dom0.call('CONTROL', b'check\0') == b'OK\0'
        other.close()
        dom0.close()
    finally:
        d.stop()
    print('memory quota: ok')


if __name__ == '__main__':
    main()
