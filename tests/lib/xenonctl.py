"""The VMM control channel (include/xenon/contract.h) for tests: one
message = header (magic, version, type, id, len) + payload, host order."""
import contextlib
import os
import socket
import struct
import subprocess
import sys
import time

MAGIC = 0x4c54434e


def _contract_version():
    """XENON_CONTRACT_VERSION, read from the one header that defines it."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "include",
                        "xenon", "contract.h")
    for line in open(path):
        if line.startswith("#define XENON_CONTRACT_VERSION "):
            return int(line.split()[2])
    raise RuntimeError(f"no XENON_CONTRACT_VERSION in {path}")


VERSION = _contract_version()
HDR = struct.Struct("=IHHII")
REPLY = 0x8000
HELLO, PAUSE, UNPAUSE, SHUTDOWN, INFO, GO = 1, 2, 3, 4, 5, 6
STATE_CHECK = 7
NOTICE_BUILT = 0x4001
STATES = {0: "held", 1: "running", 2: "paused", 3: "shutdown"}
VCPU_STATES = {0: "running", 1: "blocked", 2: "paused", 3: "down"}


def encode(typ, payload=b"", id=1, magic=MAGIC, version=VERSION, length=None):
    return HDR.pack(magic, version, typ, id, len(payload) if length is None else length) + payload


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("control channel closed")
        b += c
    return b


def read_message(s):
    """(type, id, payload)."""
    magic, version, typ, id, n = HDR.unpack(recv_exact(s, HDR.size))
    assert magic == MAGIC and version == VERSION, (magic, version)
    return typ, id, recv_exact(s, n) if n else b""


def read_reply(s):
    """Skip notices; (request type, id, status, body)."""
    while True:
        typ, id, payload = read_message(s)
        if typ & REPLY:
            status, _ = struct.unpack("=iI", payload[:8])
            return typ & ~REPLY, id, status, payload[8:]


def call(s, typ, payload=b"", id=1):
    s.sendall(encode(typ, payload, id))
    rtyp, rid, status, body = read_reply(s)
    assert rtyp == typ and rid == id, (rtyp, rid, typ, id)
    return status, body


def connect(path, timeout=10):
    """A connection; retried while the VMM's backlog is full (a unix
    socket's connect says EAGAIN then instead of waiting)."""
    end = time.time() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        try:
            s.connect(path)
            return s
        except BlockingIOError:
            s.close()
            if time.time() > end:
                raise
            time.sleep(0.01)


def decode_info(body):
    state, reason, nr, _, mem, uptime = struct.unpack("=IiIIQQ", body[:32])
    vcpus = []
    for i in range(nr):
        t, st, cpu = struct.unpack("=QIi", body[32 + 16 * i:48 + 16 * i])
        vcpus.append({"time_ns": t, "state": VCPU_STATES.get(st, st), "cpu": cpu})
    return {"state": STATES.get(state, state), "shutdown_reason": reason,
            "memory": mem, "uptime_ns": uptime, "vcpus": vcpus}


def info(path):
    with connect(path) as s:
        status, body = call(s, INFO)
        assert status == 0, status
        return decode_info(body)


def need_kvm():
    """Skip the test (exit 77, the reason printed) without /dev/kvm."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skipped: /dev/kvm is missing or not accessible")
        sys.exit(77)


@contextlib.contextmanager
def vmm_serving(argv, path, log, show_log):
    """The VMM run as argv (which names path as its --control-socket), once
    path is there (up to 30 s). On leaving: killed if it still runs, reaped,
    and the last 3000 bytes of its log printed when show_log() is true."""
    vm = subprocess.Popen(argv)
    end = time.time() + 30
    while not os.path.exists(path) and time.time() < end:
        time.sleep(0.02)
    try:
        yield vm
    finally:
        if vm.poll() is None:
            vm.kill()
        vm.wait()
        if show_log():
            with open(log) as f:
                print(f.read()[-3000:])
