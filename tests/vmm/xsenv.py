"""A private xenon-xenstored for VMM tests, with a domain introduced to it
the way a toolstack would (until libxenon does this for the tests)."""
import os
import signal
import socket
import struct
import subprocess
import time

XS_INTRODUCE, XS_WRITE, XS_SET_PERMS = 8, 11, 14     # xs_wire.h
STORE_PFN, STORE_PORT = 0xfeffd, 1   # the VMM's layout: special page 1, port 1


def wait_for(cond, secs):
    end = time.time() + secs
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.1)
    return False


class Xenstored:
    def __init__(self, binary, tmp):
        self.sock = os.path.join(tmp, "xs.sock")
        self.proc = subprocess.Popen([binary, "-N", "--socket", self.sock,
                                      "--data-dir", os.path.join(tmp, "xsdata"),
                                      "--pid-file", os.path.join(tmp, "xs.pid"),
                                      "--log-file", os.path.join(tmp, "xs.log")])
        if not wait_for(lambda: os.path.exists(self.sock), 10):
            raise SystemExit("xenstored did not start")

    def call(self, typ, payload):
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.sock)
        s.sendall(struct.pack("<IIII", typ, 0, 0, len(payload)) + payload)
        rtype, _, _, n = struct.unpack("<IIII", s.recv(16, socket.MSG_WAITALL))
        body = s.recv(n, socket.MSG_WAITALL) if n else b""
        s.close()
        if rtype != typ:
            raise SystemExit(f"xenstored refused request {typ}: {body!r}")
        return body

    def introduce(self, domid, name):
        """Create /local/domain/N owned by the domain, then introduce it."""
        home = f"/local/domain/{domid}"
        self.call(XS_WRITE, f"{home}/name\0{name}".encode())
        for node in (home, f"{home}/name"):
            self.call(XS_SET_PERMS, f"{node}\0n{domid}\0".encode())
        self.call(XS_INTRODUCE, f"{domid}\0{STORE_PFN}\0{STORE_PORT}\0".encode())

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
