#!/usr/bin/env python3
"""The ring-3 benchmark guests still work: `bench_guests.py blk|net`.

Content only, never timing (the benchmarks in bench/ time them). Both run
under `xl create` with the VMM allowing ring-3 hypercalls (a XENON_VMM
wrapper adding --bench-user-hypercalls, as the benchmarks do).

blk: guest-bench-blk-64 with "check" on its command line, on an 8 MiB raw
disk: 128 distinct 4 KiB blocks written at QD32, read back at QD32 and
QD1, 4 MiB written and read back in 1 MiB indirect requests, each read
compared in the guest (its CHECK lines); then the host reads the image and
finds the guest's pattern where its last writes put it.

net: guest-bench-net-64 on a bridge in a network namespace of the test's
own: the host pings it, gets its UDP datagrams echoed byte for byte, sends
ten datagrams to its counting sink (port 9) and reads back "sink=10
bytes=<their payload>", asks it for a second of 64 KiB TCP GSO packets
and finds every byte it sent in the bridge's rx_bytes, and ends it with
"bye". Root and /dev/kvm needed,
else skipped (77)."""
import os
import socket
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from xl_test import BUILD, SRC, Env, check, failures, need_kvm, skip, wait_for  # noqa: E402

VMM = os.path.join(BUILD, "vmm", "xenon-vmm")
K = 0x9e3779b97f4a7c15


def bench_vmm(env):
    wrapper = os.path.join(env.tmp, "xenon-vmm-bench")
    with open(wrapper, "w") as f:
        f.write(f'#!/bin/sh\nexec "{VMM}" --bench-user-hypercalls "$@"\n')
    os.chmod(wrapper, 0o755)
    env.env["XENON_VMM"] = wrapper


def page_pattern(block, page):
    """What the blk bench guest's fill() writes into page `page` of block
    `block`: 512 little-endian words."""
    base = (block * K) & (2 ** 64 - 1) ^ (page << 32)
    return b"".join(struct.pack("<Q", base ^ i) for i in range(512))


def t_blk():
    need_kvm()
    e = Env()
    try:
        bench_vmm(e)
        img = os.path.join(e.tmp, "bench.img")
        with open(img, "wb") as f:
            f.truncate(8 << 20)
        os.chmod(img, 0o600)
        cfg = e.cfg("bb.cfg", 'name = "bb"\ntype = "pvh"\n'
                    f'kernel = "{os.path.join(BUILD, "guests", "guest-bench-blk-64")}"\n'
                    f'memory = 32\nvcpus = 1\ncmdline = "check"\n'
                    f'disk = [ "{img},raw,xvda,rw" ]\n')
        rc, out, err = e.xl("create", cfg)
        check("xl create of the blk bench guest", rc == 0, err)
        log = lambda: e.console_log("bb")
        check("the guest finished", wait_for(lambda: "RESULT bench-blk:" in log(), 240),
              log()[-2000:])
        print(log())
        check("it passed", "RESULT bench-blk: PASS" in log(), log()[-2000:])
        for what in ("4 KiB writes at QD32", "4 KiB reads at QD32", "4 KiB reads at QD1",
                     "1 MiB writes", "1 MiB reads"):
            check(f"{what}: the guest's data check ran and passed",
                  f"CHECK {what}: no error, data as written: ok" in log())
        check("persistent grants, a ring of at least 32", "persistent grants" in log())
        # The 1 MiB writes came last: block b (1 MiB) page p holds
        # page_pattern(b, p).
        with open(img, "rb") as f:
            for b, p in ((0, 0), (1, 7), (3, 255)):
                f.seek(b * (1 << 20) + p * 4096)
                check(f"the host reads the guest's data in MiB {b} page {p}",
                      f.read(4096) == page_pattern(b, p))
        check("the domain is gone", wait_for(lambda: "bb" not in e.rows(), 30), str(e.rows()))
        e.check_empty("after the blk bench guest")
    finally:
        e.close()


SINK_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
for i in range(10):
    s.sendto(b"%02d" % i + bytes(30), (sys.argv[1], 9))
for attempt in range(3):
    s.sendto(b"stats", (sys.argv[1], 7))
    try:
        print(s.recvfrom(256)[0].decode())
        break
    except socket.timeout:
        pass
"""


GSO_ASK = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(30)
s.sendto(b"gso 1", (sys.argv[1], 7))
print(s.recvfrom(256)[0].decode())
"""


def t_net():
    need_kvm()
    if os.geteuid() != 0:
        skip("needs root (a network namespace, a bridge, taps)")
    import net as nt
    if subprocess.run(["ip", "netns", "add", nt.NS], capture_output=True).returncode != 0:
        skip("cannot make a network namespace")
    env = None
    try:
        nt.ns("ip", "link", "set", "lo", "up", check_rc=True)
        nt.ns("ip", "link", "add", "xnbr0", "type", "bridge", check_rc=True)
        nt.ns("ip", "addr", "add", f"{nt.HOST_IP}/24", "dev", "xnbr0", check_rc=True)
        nt.ns("ip", "link", "set", "xnbr0", "up", check_rc=True)
        env = nt.NetEnv()
        env.env["XENON_SCRIPT_DIR"] = os.path.join(SRC, "system", "scripts")
        bench_vmm(env)
        cfg = env.cfg("nb.cfg", 'name = "nb"\ntype = "pvh"\n'
                      'kernel = "guests/guest-bench-net-64"\nmemory = 32\nvcpus = 1\n'
                      f'cmdline = "ip={nt.GUEST_IP}"\n'
                      f'vif = [ "mac={nt.MAC},bridge=xnbr0" ]\n')
        rc, out, err = env.xl("create", cfg, timeout=120)
        if not check("xl create of the net bench guest", rc == 0, err + out):
            return
        log = lambda: env.console_log("nb")
        if not check("connected from ring 3", wait_for(lambda: " ready" in log(), 120), log()):
            return
        check("it runs in ring 3", "in ring 3" in log(), log())
        rc, out, err = nt.ns(sys.executable, "-c", nt.PING, nt.GUEST_IP, "3", timeout=90)
        check("the host pings it", out.strip() == "replies 3", out + err)
        rc, out, err = nt.ns(sys.executable, "-c", nt.UDP_CLIENT, nt.GUEST_IP, timeout=120)
        check("it echoes UDP byte for byte", out.strip() == "echoed 5", out + err)
        rc, out, err = nt.ns(sys.executable, "-c", SINK_CLIENT, nt.GUEST_IP, timeout=120)
        check("its sink counted the ten datagrams and their bytes",
              out.strip() == "sink=10 bytes=320", out + err)
        # One second of 64 KiB GSO packets (netback's GSO tx path): every
        # byte the guest says it sent reaches the host's stack.
        rx = lambda: int(nt.ns("cat", "/sys/class/net/xnbr0/statistics/rx_bytes")[1])
        before = rx()
        rc, out, err = nt.ns(sys.executable, "-c", GSO_ASK, nt.GUEST_IP, timeout=60)
        f = dict(kv.split("=") for kv in out.split()[1:]) if out.startswith("gso ") else {}
        sent = int(f.get("bytes", 0))
        check("it streamed 64 KiB GSO packets", int(f.get("frames", 0)) > 0 and
              sent == int(f["frames"]) * (40 + 1448 * 44), out + err)
        check("every byte of them reached the host's stack",
              wait_for(lambda: rx() - before >= sent, 10), f"{rx() - before} of {sent}")
        nt.ns(sys.executable, "-c",
              "import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
              ".sendto(b'bye', (sys.argv[1], 7))", nt.GUEST_IP)
        check("it passed", wait_for(lambda: "RESULT net: PASS" in log(), 60), log()[-1500:])
        nt.sanitizer_clean(env)
    finally:
        if env:
            env.close()
        subprocess.run(["ip", "netns", "del", nt.NS], capture_output=True)


def main():
    {"blk": t_blk, "net": t_net}[sys.argv[1]]()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
