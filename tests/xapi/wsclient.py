"""A small RFC 6455 client on a raw socket, for the console tests (the
Python websockets module is not installed here, and a raw client can
also send what a well-behaved library never would)."""
import base64
import hashlib
import os
import socket
import ssl
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Closed(Exception):
    pass


def handshake(port, path, tls=False, headers=None, key=None):
    """(status, headers dict, WS or None). headers: extra request headers;
    the defaults (Upgrade, Connection, Key, Version) can be overridden."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    key = key or base64.b64encode(os.urandom(16)).decode()
    h = {"Host": f"127.0.0.1:{port}", "Upgrade": "websocket", "Connection": "Upgrade",
         "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"}
    h.update(headers or {})
    req = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()
                                               if v is not None) + "\r\n"
    s.sendall(req.encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            break
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if status != 101:
        s.close()
        return status, hdrs, None
    want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    assert hdrs.get("sec-websocket-accept") == want, (hdrs, want)
    return status, hdrs, WS(s, rest)


class WS:
    def __init__(self, sock, rest=b""):
        self.s = sock
        self.buf = rest

    def raw(self, data):
        self.s.sendall(data)

    @staticmethod
    def frame(op, payload=b"", fin=True, mask=True, rsv=0, length=None):
        n = len(payload) if length is None else length
        b0 = (0x80 if fin else 0) | rsv << 4 | op
        mbit = 0x80 if mask else 0
        if n < 126:
            h = struct.pack("!BB", b0, mbit | n)
        elif n <= 0xffff:
            h = struct.pack("!BBH", b0, mbit | 126, n)
        else:
            h = struct.pack("!BBQ", b0, mbit | 127, n)
        if not mask:
            return h + payload
        m = os.urandom(4)
        return h + m + bytes(c ^ m[i & 3] for i, c in enumerate(payload))

    def send(self, op, payload=b"", **kw):
        self.s.sendall(self.frame(op, payload, **kw))

    def _need(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise Closed()
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        """(opcode, payload) of the next frame from the server."""
        b0, b1 = self._need(2)
        assert not b1 & 0x80, "server frames are not masked"
        n = b1 & 0x7f
        if n == 126:
            n = struct.unpack("!H", self._need(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._need(8))[0]
        return b0 & 0x0f, self._need(n)

    def read_until(self, needle, limit=1 << 20):
        """Console output (binary frames) until needle shows; the text."""
        out = b""
        while needle not in out and len(out) < limit:
            op, p = self.recv()
            if op == 8:
                raise Closed(p)
            if op == 2:
                out += p
        return out

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass
