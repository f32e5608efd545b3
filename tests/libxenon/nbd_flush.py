#!/usr/bin/env python3
"""libxenon's NBD flush (vbd_nbd_flush_socket, nbd_flush.c) against
Debian's qemu-nbd and against lying servers.

- qemu-nbd serving a qcow2 image to two clients: the first (this script,
  speaking NBD itself) writes a cluster into an L2 table already on the
  file and does not flush; a copy of the image read beside the server
  (qemu-img convert -U) lacks the write, since qemu-nbd caches the L2
  update. After the flush, sent as the second client, the copy has it and
  `qemu-img check` finds the image consistent.
- Servers that lie (a wrong greeting, an oversized option reply, a reply
  to the wrong option, a read-only export, a reply with a wrong handle, a
  failed flush, silence): each flush fails with a message, in bounded
  time, nothing crashes.
Skips (77) without qemu-nbd/qemu-img."""
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading

CLI = sys.argv[1]
failures = []


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + ("" if ok or not detail else ": " + str(detail)))
    if not ok:
        failures.append(what)


class Client:
    """Just enough of an NBD client to write without flushing."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.rd(18)
        self.s.sendall(struct.pack(">I", 3))
        self.s.sendall(struct.pack(">QII", 0x49484156454F5054, 7, 6) + struct.pack(">IH", 0, 0))
        while True:
            _, _, rep, ln = struct.unpack(">QIII", self.rd(20))
            self.rd(ln)
            if rep == 1:
                break

    def rd(self, n):
        b = b""
        while len(b) < n:
            c = self.s.recv(n - len(b))
            assert c, "the server closed"
            b += c
        return b

    def write(self, off, data):
        self.s.sendall(struct.pack(">IHHQQI", 0x25609513, 0, 1, 9, off, len(data)) + data)
        _, err, _ = struct.unpack(">IIQ", self.rd(16))
        return err


def flush(sock):
    return subprocess.run([CLI, sock], capture_output=True, text=True, timeout=30)


def real_server(tmp):
    img = os.path.join(tmp, "d.qcow2")
    sock = os.path.join(tmp, "d.sock")
    pidf = os.path.join(tmp, "d.pid")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", img, "8M"], check=True)
    subprocess.run(["qemu-nbd", "--fork", "--pid-file", pidf, "--socket", sock,
                    "--format=qcow2", "--shared=2", "--cache=writeback", "--", img], check=True)
    pid = int(open(pidf).read())
    try:
        a = Client(sock)
        # the L2 table on the file first (its allocation is written at
        # once), then a second cluster under it: that entry is cached
        check("the first client's writes", a.write(0, b"A" * 65536) == 0)
        raw = os.path.join(tmp, "copy.raw")

        def copy_has_b():
            subprocess.run(["qemu-img", "convert", "-U", "-f", "qcow2", "-O", "raw", img, raw],
                           check=True)
            with open(raw, "rb") as f:
                f.seek(1 << 20)
                return f.read(65536) == b"B" * 65536
        a.s.sendall(struct.pack(">IHHQQI", 0x25609513, 0, 3, 10, 0, 0))
        a.rd(16)
        check("... its second write", a.write(1 << 20, b"B" * 65536) == 0)
        check("unflushed, a copy beside the server lacks the write", not copy_has_b())
        r = flush(sock)
        check("the flush as a second client: acknowledged", r.returncode == 0, r.stderr)
        check("flushed, the copy has the write", copy_has_b())
        c = subprocess.run(["qemu-img", "check", "-U", "-q", "-f", "qcow2", img],
                           capture_output=True, text=True)
        check("qemu-img check: consistent", c.returncode == 0, c.stdout + c.stderr)
        check("the first client still served", a.write(2 << 20, b"C" * 4096) == 0)
        a.s.close()
    finally:
        try:
            os.kill(pid, 15)
        except ProcessLookupError:
            pass


GREETING = struct.pack(">QQH", 0x4e42444d41474943, 0x49484156454F5054, 3)
REP = 0x0003e889045565a9


def rep(opt, typ, data=b""):
    return struct.pack(">QIII", REP, opt, typ, len(data)) + data


def info(flags):
    return rep(7, 3, struct.pack(">HQH", 0, 8 << 20, flags))


def fake(tmp, name, script):
    """A server on its own socket running script(conn); the socket path."""
    path = os.path.join(tmp, name + ".sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)

    def run():
        conn, _ = srv.accept()
        try:
            script(conn)
        except OSError:
            pass
        finally:
            conn.close()
            srv.close()
    threading.Thread(target=run, daemon=True).start()
    return path


def recv_exact(c, n):
    b = b""
    while len(b) < n:
        k = c.recv(n - len(b))
        if not k:
            raise OSError("closed")
        b += k
    return b


def after_go(c):
    recv_exact(c, 4 + 16 + 6)


def liars(tmp):
    def bad_greeting(c):
        c.sendall(b"NBDMAGIC" + b"X" * 10)

    def huge_reply(c):
        c.sendall(GREETING)
        after_go(c)
        c.sendall(struct.pack(">QIII", REP, 7, 3, 1 << 30))

    def wrong_option(c):
        c.sendall(GREETING)
        after_go(c)
        c.sendall(rep(1, 1))

    def read_only(c):
        c.sendall(GREETING)
        after_go(c)
        c.sendall(info(1 | 2 | 4) + rep(7, 1))

    def wrong_handle(c):
        c.sendall(GREETING)
        after_go(c)
        c.sendall(info(1 | 4) + rep(7, 1))
        recv_exact(c, 28)
        c.sendall(struct.pack(">IIQ", 0x67446698, 0, 12345))

    def failed_flush(c):
        c.sendall(GREETING)
        after_go(c)
        c.sendall(info(1 | 4) + rep(7, 1))
        _, _, _, handle, _, _ = struct.unpack(">IHHQQI", recv_exact(c, 28))
        c.sendall(struct.pack(">IIQ", 0x67446698, 5, handle))

    def silent(c):
        c.sendall(GREETING)
        after_go(c)
        c.recv(1)       # blocks until the client gives up

    def endless(c):
        c.sendall(GREETING)
        after_go(c)
        for _ in range(100):
            c.sendall(rep(7, 3, b"\0\7xx"))

    cases = [("a wrong greeting", bad_greeting, "not a fixed-newstyle"),
             ("an option reply of 1 GiB", huge_reply, "malformed option reply"),
             ("a reply to another option", wrong_option, "malformed option reply"),
             ("a read-only export", read_only, "read-only"),
             ("a reply with another handle", wrong_handle, "malformed reply"),
             ("a failed flush", failed_flush, "failed the flush"),
             ("a silent server", silent, "no option reply"),
             ("endless option replies", endless, "too many option replies")]
    for what, script, msg in cases:
        r = flush(fake(tmp, script.__name__, script))
        check(f"{what}: the flush fails, saying so", r.returncode == 1 and msg in r.stderr,
              (r.returncode, r.stderr))


if not shutil.which("qemu-nbd") or not shutil.which("qemu-img"):
    print("skipped: qemu-nbd or qemu-img missing")
    sys.exit(77)
with tempfile.TemporaryDirectory() as tmp:
    real_server(tmp)
    liars(tmp)
print(f"{len(failures)} failed" if failures else "all passed")
sys.exit(1 if failures else 0)
