#!/usr/bin/env python3
"""Host to guest over a vif, the guest's data loop in ring 3, beside a veth
pair between two network namespaces measured in the same run:

  - 64-byte UDP echo round trips per second (sequential: one in flight, so
    1 / round-trip time) and ping round-trip time (median of 50),
  - the packet rate of a 64-byte UDP flood (host to guest, counted by the
    guest) and the throughput of a flood of 1500-byte IP packets (1472
    bytes of UDP payload, the bridge's MTU),
  - wake-ups of the VMM's I/O thread per round trip in the echo and ping
    phase (its voluntary context switches: each is a sleep in epoll and a
    wake-up),
  - CPU per packet: the VMM's (netback, the vCPU) and the sender's on our
    side; the sink's and the sender's on the veth side.

    python3 bench/net/udp_echo.py [--json] [--secs N]     (root, /dev/kvm)

The guest is guests/net/net.c built with NET_RING3 (guest-bench-net-64):
its whole netfront and echo loop runs in ring 3 (native speed on these
build machines; the VMM runs with --bench-user-hypercalls), spinning 100 us
on its rx ring before it blocks. The floods come from bench/net/udp-blast
(sendmmsg as fast as it goes, for N seconds); the guest counts what
reaches it (UDP port 9), the veth side's sink is udp-blast with recvmmsg;
what a receiver cannot take is dropped, so the figure is what the path
delivers. 64 KiB GSO, TCP-free: the guest streams 64 KiB TCP/IPv4 GSO
packets (1448-byte segments, from 8 frames granted in place) one way to a closed port of the host, netback
writes them into its tap with a virtio-net GSO header, and the figure is
the bytes reaching the host's stack (the bridge device's rx_bytes); the
veth side writes the same frames with the same header into xbv1 through a
packet socket (PACKET_VNET_HDR) and counts xbv2's rx_bytes. The host's TCP
answers each with a reset, which the guest drops.
"""
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "xl"))
os.environ.setdefault("XENON_BUILD_ROOT", os.environ.get("XENON_BUILD", os.path.join(ROOT, "build")))
os.environ.setdefault("XENON_SOURCE_ROOT", ROOT)
import xl_test  # noqa: E402

JSON = "--json" in sys.argv
N = 300
SECS = int(sys.argv[sys.argv.index("--secs") + 1]) if "--secs" in sys.argv else 3
BUILD = os.environ["XENON_BUILD_ROOT"]
BLAST = os.path.join(BUILD, "bench", "net", "udp-blast")
NS, P1, P2 = f"xb-net-{os.getpid()}", f"xb-v1-{os.getpid()}", f"xb-v2-{os.getpid()}"

CLIENT = r"""
import os, socket, struct, sys, time
ip, n = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
msg = bytes(64 - 42)          # a 64-byte frame on the wire with its headers
for i in range(20):           # warm-up (ARP, caches)
    s.sendto(msg, (ip, 7)); s.recvfrom(2048)
t0 = time.perf_counter()
lost = 0
for i in range(n):
    s.sendto(msg, (ip, 7))
    try:
        s.recvfrom(2048)
    except socket.timeout:
        lost += 1
udp = time.perf_counter() - t0
def csum(b):
    s_ = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s_ >> 16:
        s_ = (s_ & 0xffff) + (s_ >> 16)
    return ~s_ & 0xffff
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
r.settimeout(5)
rtts = []
for seq in range(50):
    body = bytes(56)
    hdr = struct.pack("!BBHHH", 8, 0, 0, 0x4242, seq)
    pkt = struct.pack("!BBHHH", 8, 0, csum(hdr + body), 0x4242, seq) + body
    t = time.perf_counter()
    r.sendto(pkt, (ip, 0))
    while True:
        data, peer = r.recvfrom(2048)
        icmp = data[(data[0] & 15) * 4:]
        if icmp[0] == 0 and struct.unpack("!HH", icmp[4:8]) == (0x4242, seq):
            break
    rtts.append(time.perf_counter() - t)
rtts.sort()
print(udp, lost, rtts[len(rtts) // 2])
"""

ECHO_SERVER = r"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 7))
while True:
    d, a = s.recvfrom(4096)
    s.sendto(d, a)
"""


def sh(*cmd, ns=None):
    full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
    r = subprocess.run(full, capture_output=True, text=True, timeout=120)
    if r.returncode:
        raise SystemExit(f"{' '.join(full)}: {r.stderr}")
    return r.stdout


def cpu_s(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def main_thread_cpu_s(pid):
    """The VMM's main thread alone (its I/O loop: netback), exact."""
    with open(f"/proc/{pid}/task/{pid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


def io_wakeups(pid):
    """Times the VMM's main thread (its I/O loop) went to sleep and was woken."""
    with open(f"/proc/{pid}/task/{pid}/status") as f:
        return int(re.search(r"^voluntary_ctxt_switches:\s+(\d+)", f.read(), re.M).group(1))


def emit(**r):
    if JSON:
        print(json.dumps(r), flush=True)
    else:
        print(r)


def measure(ns, ip):
    out = sh(sys.executable, "-c", CLIENT, ip, str(N), ns=ns)
    udp, lost, rtt = out.split()
    return N / float(udp), int(lost), float(rtt) * 1e6


STATS = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
for _ in range(5):
    s.sendto(b"stats", (sys.argv[1], 7))
    try:
        print(s.recvfrom(256)[0].decode())
        break
    except socket.timeout:
        pass
"""


def guest_stats(ns, ip):
    out = sh(sys.executable, "-c", STATS, ip, ns=ns)
    f = dict(kv.split("=") for kv in out.split())
    return int(f["sink"]), int(f["bytes"])


def blast(ns, ip, payload):
    """udp-blast send for SECS: (sent, sender CPU ns)."""
    out = sh(BLAST, "send", ip, "9", str(payload), str(SECS), ns=ns)
    f = dict(line.split() for line in out.splitlines())
    return int(f["sent"]), int(f["cpu_ns"])


def flood_guest(ns, ip, payload, vmm):
    p0, b0 = guest_stats(ns, ip)
    c0, m0, t0 = cpu_s(vmm), main_thread_cpu_s(vmm), time.monotonic()
    sent, send_cpu = blast(ns, ip, payload)
    time.sleep(0.2)             # what is still in flight lands
    vmm_cpu, io_cpu = cpu_s(vmm) - c0, main_thread_cpu_s(vmm) - m0
    io_busy = io_cpu / (time.monotonic() - t0)
    p1, b1 = guest_stats(ns, ip)
    got = p1 - p0
    return dict(rate=got / SECS, mbs=(b1 - b0) / SECS / 1e6, sent=sent, got=got,
                recv_cpu_us=vmm_cpu / max(got, 1) * 1e6, send_cpu_us=send_cpu / 1e3 / max(got, 1),
                io_cpu_us=io_cpu / max(got, 1) * 1e6, io_busy=io_busy)


def flood_veth(payload):
    sink = subprocess.Popen(["ip", "netns", "exec", P2, BLAST, "sink", "9", str(SECS)],
                            stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    sent, send_cpu = blast(P1, "10.98.0.2", payload)
    out, _ = sink.communicate(timeout=60)
    f = {line.split()[0]: line.split()[1:] for line in out.splitlines()}
    got, nbytes, ns = map(int, f["got"])
    secs = ns / 1e9 if ns else SECS
    return dict(rate=got / secs, mbs=nbytes / secs / 1e6, sent=sent, got=got,
                recv_cpu_us=int(f["cpu_ns"][0]) / 1e3 / max(got, 1),
                send_cpu_us=send_cpu / 1e3 / max(got, 1))


GSO_ASK = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(int(sys.argv[2]) + 30)
s.sendto(b"gso %d" % int(sys.argv[2]), (sys.argv[1], 7))
print(s.recvfrom(256)[0].decode())
"""

# The veth side's 64 KiB GSO stream: the same TCP/IPv4 frames the guest
# sends, written with a virtio-net header (PACKET_VNET_HDR) into xbv1, as
# netback writes the guest's into its tap.
GSO_VETH = r"""
import os, resource, socket, struct, sys, time
dev, dst_mac, secs = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", "")), int(sys.argv[3])
src_mac = bytes.fromhex(open(f"/sys/class/net/{dev}/address").read().strip().replace(":", ""))
MSS, PAY = 1448, 1448 * 44
src, dst = socket.inet_aton("10.98.0.1"), socket.inet_aton("10.98.0.2")
def fold(x):
    while x >> 16:
        x = (x & 0xffff) + (x >> 16)
    return x
ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + PAY, 0, 0x4000, 64, 6, 0, src, dst))
struct.pack_into("!H", ip, 10, ~fold(sum(struct.unpack("!10H", ip))) & 0xffff)
ps = fold(sum(struct.unpack("!4H", src + dst)) + 6 + 20 + PAY)
tcp = bytearray(struct.pack("!HHIIBBHHH", 40000, 5001, 1, 0, 5 << 4, 0x18, 65535, ps, 0))
frame = bytearray(dst_mac + src_mac + b"\x08\x00" + ip + tcp + bytes(i & 255 for i in range(PAY)))
hdr = struct.pack("=BBHHHH", 1, 1, 54, MSS, 34, 16)     # NEEDS_CSUM, GSO_TCPV4
pkt = bytearray(hdr + frame)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.setsockopt(263, 15, 1)                                 # SOL_PACKET, PACKET_VNET_HDR
s.bind((dev, 0))
n, seq, end = 0, 1, time.monotonic() + secs
while time.monotonic() < end:
    struct.pack_into("!I", pkt, 10 + 14 + 20 + 4, seq)
    s.send(pkt)
    seq = (seq + PAY) & 0xffffffff
    n += 1
r = resource.getrusage(resource.RUSAGE_SELF)
print(n, len(frame) - 14, int((r.ru_utime + r.ru_stime) * 1e9))
"""


def rx_bytes(ns, dev):
    return int(sh("cat", f"/sys/class/net/{dev}/statistics/rx_bytes", ns=ns))


def gso_guest(vmm):
    b0, c0 = rx_bytes(NS, "xnbr0"), cpu_s(vmm)
    m0 = main_thread_cpu_s(vmm)
    out = sh(sys.executable, "-c", GSO_ASK, "10.99.0.2", str(SECS), ns=NS)
    time.sleep(0.2)
    got = rx_bytes(NS, "xnbr0") - b0
    f = dict(kv.split("=") for kv in out.split()[1:])
    frames = int(f["frames"])
    return dict(mbs=got / SECS / 1e6, frames=frames, sent_bytes=int(f["bytes"]),
                cpu_us=(cpu_s(vmm) - c0) / max(frames, 1) * 1e6,
                io_cpu_us=(main_thread_cpu_s(vmm) - m0) / max(frames, 1) * 1e6)


def gso_veth():
    mac = sh("cat", "/sys/class/net/xbv2/address", ns=P2).strip()
    b0 = rx_bytes(P2, "xbv2")
    out = sh(sys.executable, "-c", GSO_VETH, "xbv1", mac, str(SECS), ns=P1)
    time.sleep(0.2)
    got = rx_bytes(P2, "xbv2") - b0
    frames, size, cpu = map(int, out.split())
    return dict(mbs=got / SECS / 1e6, frames=frames, sent_bytes=frames * size,
                cpu_us=cpu / 1e3 / max(frames, 1))


def main():
    if os.geteuid() != 0 or not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("# net bench: needs root and /dev/kvm; skipped", file=sys.stderr)
        return
    made = []
    env = server = None
    try:
        # The peer: a veth pair between two namespaces.
        for n in (P1, P2):
            sh("ip", "netns", "add", n)
            made.append(n)
        sh("ip", "link", "add", "xbv1", "netns", P1, "type", "veth", "peer", "name", "xbv2",
           "netns", P2)
        sh("ip", "addr", "add", "10.98.0.1/24", "dev", "xbv1", ns=P1)
        sh("ip", "addr", "add", "10.98.0.2/24", "dev", "xbv2", ns=P2)
        for n, dev in ((P1, "xbv1"), (P2, "xbv2")):
            sh("ip", "link", "set", dev, "up", ns=n)
            sh("ip", "link", "set", "lo", "up", ns=n)
        server = subprocess.Popen(["ip", "netns", "exec", P2, sys.executable, "-c", ECHO_SERVER])
        time.sleep(0.5)
        # Ours: the net guest on a bridge.
        sh("ip", "netns", "add", NS)
        made.append(NS)
        sh("ip", "link", "add", "xnbr0", "type", "bridge", ns=NS)
        sh("ip", "addr", "add", "10.99.0.1/24", "dev", "xnbr0", ns=NS)
        sh("ip", "link", "set", "xnbr0", "up", ns=NS)
        xl_test.failures.clear()
        env = xl_test.Env()
        env.env["XENON_SCRIPT_DIR"] = os.path.join(ROOT, "system", "scripts")
        wrapper = os.path.join(env.tmp, "xenon-vmm-bench")
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\nexec "{os.path.join(BUILD, "vmm", "xenon-vmm")}" '
                    '--bench-user-hypercalls "$@"\n')
        os.chmod(wrapper, 0o755)
        env.env["XENON_VMM"] = wrapper
        cfg = env.cfg("nb.cfg", 'name = "nb"\ntype = "pvh"\nkernel = "guests/guest-bench-net-64"\n'
                      'memory = 32\ncmdline = "ip=10.99.0.2"\n'
                      'vif = [ "mac=00:16:3e:00:00:42,bridge=xnbr0" ]\n')
        r = subprocess.run(["ip", "netns", "exec", NS, xl_test.XL, "create", cfg], env=env.env,
                           cwd=xl_test.BUILD, capture_output=True, text=True, timeout=120)
        if r.returncode or not xl_test.wait_for(lambda: " ready" in env.console_log("nb"), 120):
            raise SystemExit(f"net bench: the guest did not come up: {r.stderr}")
        vmm = env.vmm_pids()[0]
        m = re.search(r"BENCH bare-exit ns=(\d+)", env.console_log("nb"))
        bare_us = int(m.group(1)) / 1e3 if m else None
        c0, w0 = cpu_s(vmm), io_wakeups(vmm)
        g_rate, g_lost, g_rtt = measure(NS, "10.99.0.2")
        vmm_cpu, wakeups = cpu_s(vmm) - c0, io_wakeups(vmm) - w0
        v_rate, v_lost, v_rtt = measure(P1, "10.98.0.2")
        note = "sequential 64-byte UDP echoes; the guest's echo loop runs in ring 3"
        emit(bench="net", metric="UDP echo round trips/s, 64 B (host to guest and back)",
             value=round(g_rate), unit="1/s", peer="veth pair", peer_value=round(v_rate),
             ratio=round(g_rate / v_rate, 3), ratio_means="xenon / veth",
             note=note, lost=g_lost + v_lost)
        lim = v_rtt + 2 * bare_us if bare_us else None
        emit(bench="net", metric="ping round-trip time (median of 50)", value=round(g_rtt),
             unit="us", peer="veth pair", peer_value=round(v_rtt),
             ratio=round(g_rtt / v_rtt, 2), ratio_means="xenon / veth",
             goal=(f"<= veth + 2 bare exits = {lim:.0f} us: "
                   f"{'met' if g_rtt <= lim else 'not met'}") if lim else None,
             bare_exit_us=bare_us)
        # CPU of the VMM (netback and the vCPU together) per packet moved.
        emit(bench="net", metric="VMM CPU per packet (echo+ping phase, both directions)",
             value=round(vmm_cpu / ((N + 20 + 50) * 2) * 1e6, 1), unit="us")
        emit(bench="net", metric="I/O thread wake-ups per round trip (echo+ping phase)",
             value=round(wakeups / (N + 20 + 50), 2), unit="1")
        for what, payload, metric in (("64 B", 22, "rate"), ("1500 B", 1472, "mbs")):
            g = flood_guest(NS, "10.99.0.2", payload, vmm)
            v = flood_veth(payload)
            unit = "packets/s" if metric == "rate" else "MB/s (UDP payload)"
            emit(bench="net", metric=f"UDP flood host to guest, {what} frames: "
                 f"{'packet rate' if metric == 'rate' else 'throughput'}",
                 value=round(g[metric], 1), unit=unit, peer="veth pair",
                 peer_value=round(v[metric], 1), ratio=round(g[metric] / v[metric], 3),
                 ratio_means="xenon / veth", goal=">= 0.5",
                 sent=g["sent"], got=g["got"], veth_sent=v["sent"], veth_got=v["got"])
            emit(bench="net", metric=f"CPU per packet received, {what} flood "
                 "(receiver: VMM / veth sink)", value=round(g["recv_cpu_us"], 2), unit="us",
                 peer="veth sink", peer_value=round(v["recv_cpu_us"], 2),
                 ratio=round(g["recv_cpu_us"] / v["recv_cpu_us"], 2), ratio_means="xenon / veth",
                 sender_us=round(g["send_cpu_us"], 2), veth_sender_us=round(v["send_cpu_us"], 2),
                 io_thread_us=round(g["io_cpu_us"], 2), io_thread_busy=round(g["io_busy"], 2))
        g, v = gso_guest(vmm), gso_veth()
        emit(bench="net", metric="64 KiB TCP/IPv4 GSO packets, guest to host: throughput "
             "(IP bytes reaching the host's stack)", value=round(g["mbs"], 1), unit="MB/s",
             peer="veth pair (the same frames through PACKET_VNET_HDR)",
             peer_value=round(v["mbs"], 1), ratio=round(g["mbs"] / v["mbs"], 3),
             ratio_means="xenon / veth", goal=">= 0.5", frames=g["frames"],
             veth_frames=v["frames"],
             delivered=round(g["mbs"] * SECS * 1e6 / max(g["sent_bytes"], 1), 3))
        emit(bench="net", metric="CPU per 64 KiB GSO packet (sender: VMM / veth's writer)",
             value=round(g["cpu_us"], 1), unit="us", peer="veth writer (Python)",
             peer_value=round(v["cpu_us"], 1), io_thread_us=round(g["io_cpu_us"], 1))
    finally:
        if server:
            server.kill()
        if env:
            env.close()
        for n in made:
            subprocess.run(["ip", "netns", "del", n], capture_output=True)


if __name__ == "__main__":
    main()
