#!/usr/bin/env python3
"""xenon-vmm's control socket against hostile clients: every malformed or
oversized message gets an error reply or the connection closed, never a
crash, and the VMM goes on serving (the domain keeps running, and a new
client is answered).
    control_channel.py VMM IDLE_GUEST
"""
import errno
import os
import random
import socket
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import xenonctl as ctl  # noqa: E402

failures = []


def check(name, ok, detail=""):
    print(f"{'ok' if ok else 'FAIL'}: {name}{': ' + str(detail) if detail and not ok else ''}")
    if not ok:
        failures.append(name)


def error_then_close(path, msg):
    """Send msg; (reply status or None, whether the VMM closed the socket)."""
    with ctl.connect(path) as s:
        s.sendall(msg)
        try:
            _, _, status, _ = ctl.read_reply(s)
        except (EOFError, ConnectionResetError):
            return None, True
        try:
            closed = s.recv(1) == b""
        except socket.timeout:
            closed = False
        return status, closed


def reply_and_stay(path, msg):
    """Send msg, then a HELLO on the same connection: (status, hello ok)."""
    with ctl.connect(path) as s:
        s.sendall(msg)
        _, _, status, _ = ctl.read_reply(s)
        st, body = ctl.call(s, ctl.HELLO, struct.pack("=II", ctl.VERSION, 0), id=77)
        return status, st == 0 and len(body) == 16


def main():
    vmm, guest = sys.argv[1], sys.argv[2]
    ctl.need_kvm()
    tmp = tempfile.mkdtemp(prefix="ctl-test-")
    path = os.path.join(tmp, "ctl.sock")
    vmm_log = os.path.join(tmp, "vmm.log")
    with ctl.vmm_serving([vmm, "--kernel", guest, "--memory", "16", "--console-log",
                          os.path.join(tmp, "console.log"), "--log-file", vmm_log,
                          "--control-socket", path], path, vmm_log, lambda: failures) as vm:
        run(vm, path)
    sys.exit(1 if failures else 0)


def run(vm, path):
    st, body = ctl.call(ctl.connect(path), ctl.HELLO, struct.pack("=II", ctl.VERSION, 0))
    hello = struct.unpack("=IIII", body) if st == 0 and len(body) == 16 else None
    check("HELLO names the version, domid, vCPUs and pid",
          hello is not None and hello[0] == ctl.VERSION and hello[1] == 1 and hello[2] == 1 and
          hello[3] == vm.pid, hello)

    # Bad framing: an error reply (where the header was readable), then closed.
    st, closed = error_then_close(path, b"GARBAGE!" * 4)
    check("bad magic: -EPROTO and closed", st == -errno.EPROTO and closed, (st, closed))
    st, closed = error_then_close(path, ctl.encode(ctl.INFO, version=99))
    check("another version: -EPROTONOSUPPORT and closed",
          st == -errno.EPROTONOSUPPORT and closed, (st, closed))
    st, closed = error_then_close(path, ctl.encode(ctl.INFO, length=0xffffffff))
    check("oversized length: -EMSGSIZE and closed", st == -errno.EMSGSIZE and closed, (st, closed))
    st, closed = error_then_close(path, ctl.encode(ctl.INFO, length=4097))
    check("one byte above the limit: -EMSGSIZE and closed",
          st == -errno.EMSGSIZE and closed, (st, closed))

    # Well framed but wrong: an error reply, and the connection stays.
    for what, msg, want in [
            ("unknown type", ctl.encode(99), -errno.ENOSYS),
            ("a reply sent to the VMM", ctl.encode(ctl.INFO | ctl.REPLY), -errno.ENOSYS),
            ("a notice sent to the VMM", ctl.encode(ctl.NOTICE_BUILT), -errno.ENOSYS),
            ("save without its payload", ctl.encode(16), -errno.EINVAL),
            ("a live save without a descriptor", ctl.encode(16, struct.pack("=IIQ", 1, 1, 0)),
             -errno.EBADF),
            ("a live save of the devices part", ctl.encode(16, struct.pack("=IIQ", 2, 1, 0)),
             -errno.EINVAL),
            ("save without a descriptor", ctl.encode(16, struct.pack("=IIQ", 1, 0, 0)),
             -errno.EBADF),
            ("reserved: migrate", ctl.encode(18), -errno.EOPNOTSUPP),
            ("device attach without a payload", ctl.encode(32), -errno.EINVAL),
            ("PAUSE with a payload", ctl.encode(ctl.PAUSE, b"\0\0\0\0"), -errno.EINVAL),
            ("HELLO too short", ctl.encode(ctl.HELLO, b"\1\0\0\0"), -errno.EINVAL),
            ("HELLO reserved field set", ctl.encode(ctl.HELLO, struct.pack("=II", 1, 5)),
             -errno.EINVAL),
            ("SHUTDOWN reason 6", ctl.encode(ctl.SHUTDOWN, struct.pack("=II", 6, 0)), -errno.EINVAL),
            ("SHUTDOWN reason 2^32-1", ctl.encode(ctl.SHUTDOWN, struct.pack("=II", 0xffffffff, 0)),
             -errno.EINVAL),
            ("SHUTDOWN reserved field set", ctl.encode(ctl.SHUTDOWN, struct.pack("=II", 0, 1)),
             -errno.EINVAL),
            ("the largest payload, unknown type", ctl.encode(200, b"x" * 4096), -errno.ENOSYS)]:
        st, ok = reply_and_stay(path, msg)
        check(f"{what}: {want} and the connection stays", st == want and ok, (st, ok))

    # A message in pieces, byte by byte.
    with ctl.connect(path) as s:
        for b in ctl.encode(ctl.INFO, id=5):
            s.send(bytes([b]))
            time.sleep(0.001)
        _, rid, st, body = ctl.read_reply(s)
        check("a request sent byte by byte is answered", rid == 5 and st == 0, (rid, st))

    # A client that pipelines: 300 requests in one write, then the replies.
    with ctl.connect(path) as s:
        s.sendall(b"".join(ctl.encode(ctl.INFO, id=1000 + i) for i in range(300)))
        ids = []
        try:
            for _ in range(300):
                _, rid, st, _ = ctl.read_reply(s)
                ids.append(rid if st == 0 else -1)
        except (EOFError, ConnectionResetError):
            pass
        check("300 pipelined requests: 300 replies, in order",
              ids == list(range(1000, 1300)), (len(ids), ids[-3:]))

    # Truncated messages, then gone.
    for n in range(1, 16):
        with ctl.connect(path) as s:
            s.sendall(ctl.encode(ctl.INFO)[:n])
    # More clients than the VMM serves at once: some refused, none harmful.
    many = [ctl.connect(path) for _ in range(20)]
    for s in many:
        s.close()
    # A client that sends without reading: dropped or throttled, never
    # holding more than its buffer.
    flood = ctl.connect(path, timeout=2)
    flood.setblocking(False)
    sent = 0
    try:
        for _ in range(20000):
            sent += flood.send(ctl.encode(ctl.INFO))
    except (BlockingIOError, BrokenPipeError, ConnectionResetError):
        pass
    # Random garbage.
    rnd = random.Random(9)
    for _ in range(200):
        with ctl.connect(path) as s:
            try:
                if rnd.random() < 0.5:
                    s.sendall(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 64))))
                else:   # a valid header with random type and length
                    s.sendall(ctl.encode(rnd.randrange(65536), length=rnd.randrange(5000)) +
                              bytes(rnd.randrange(256) for _ in range(rnd.randrange(64))))
            except (BrokenPipeError, ConnectionResetError):
                pass
    flood.close()

    descriptors(vm, path)

    check("the VMM survives it all", vm.poll() is None, vm.poll())
    i = ctl.info(path)
    check("and answers INFO: running, one vCPU, 16 MiB",
          i["state"] == "running" and len(i["vcpus"]) == 1 and i["memory"] == 16 << 20, i)
    # Several clients at once: each gets its own answers.
    a, b = ctl.connect(path), ctl.connect(path)
    a.sendall(ctl.encode(ctl.INFO, id=1))
    b.sendall(ctl.encode(ctl.INFO, id=2))
    ra, rb = ctl.read_reply(a), ctl.read_reply(b)
    check("two clients at once, each answered", ra[1] == 1 and rb[1] == 2 and ra[2] == rb[2] == 0,
          (ra[:3], rb[:3]))
    # Pause from one client, unpause from another.
    st, _ = ctl.call(a, ctl.PAUSE, id=3)
    check("PAUSE: 0", st == 0, st)
    check("INFO: paused", ctl.info(path)["state"] == "paused")
    st, _ = ctl.call(b, ctl.UNPAUSE, id=4)
    check("UNPAUSE from another client: 0", st == 0, st)
    check("INFO: running", ctl.info(path)["state"] == "running")
    # GO on a domain that is not held: nothing to do.
    st, _ = ctl.call(a, ctl.GO, id=5)
    check("GO when not held: 0", st == 0, st)
    a.close()
    b.close()
    # SHUTDOWN with a reason: the VMM ends with 100 + reason.
    with ctl.connect(path) as s:
        st, _ = ctl.call(s, ctl.SHUTDOWN, struct.pack("=II", 1, 0), id=6)
    check("SHUTDOWN reboot: 0", st == 0, st)
    rc = vm.wait(timeout=30)
    check("the VMM ends with status 101 (reboot)", rc == 101, rc)
    check("and removes its socket", not os.path.exists(path))


def attach_msg(flags=0, id=1, devid=51712):
    payload = struct.pack("=IIII", 1, devid, flags, 0) + \
        f"/local/domain/0/backend/vbd/1/{devid}".encode().ljust(128, b"\0")
    return ctl.encode(32, payload, id=id)


def send_fds(s, msg, fds):
    s.sendmsg([msg], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack(f"={len(fds)}i", *fds))])


def nr_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def descriptors(vm, path):
    """DEVICE_ATTACH and its descriptor: checked, and never kept by a VMM
    that cannot use it (this one has no xenstore, so no backend runs)."""
    st, ok = reply_and_stay(path, attach_msg())
    check("attach without its descriptor: -EBADF, the connection stays",
          st == -errno.EBADF and ok, (st, ok))
    before = nr_fds(vm.pid)
    with ctl.connect(path) as s:
        for i in range(20):
            fd = os.open("/dev/null", os.O_RDONLY)
            send_fds(s, attach_msg(id=100 + i), [fd])
            os.close(fd)
            _, _, st, _ = ctl.read_reply(s)
        check("attach with no xenstore to serve it: -ENOTCONN", st == -errno.ENOTCONN, st)
        fd = os.open("/dev/null", os.O_RDONLY)
        send_fds(s, attach_msg(flags=0x6, id=200), [fd])     # cdrom | empty
        os.close(fd)
        _, _, st, _ = ctl.read_reply(s)
        check("an empty cdrom sent a descriptor: -EBADF", st == -errno.EBADF, st)
        st, _ = ctl.call(s, 33, struct.pack("=II", 1, 51712), id=201)
        check("detach of no device: -ENOENT", st == -errno.ENOENT, st)
    with ctl.connect(path) as s:
        fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(2)]
        send_fds(s, attach_msg(id=300), fds)
        for fd in fds:
            os.close(fd)
        try:
            closed = s.recv(4096) == b"" or s.recv(4096) == b""
        except (ConnectionResetError, socket.timeout):
            closed = True
        check("two descriptors in one message: the connection is closed", closed)
    time.sleep(0.2)
    check("no descriptor kept by the VMM", nr_fds(vm.pid) <= before,
          (before, nr_fds(vm.pid)))


if __name__ == "__main__":
    main()
