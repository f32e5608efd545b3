#!/usr/bin/env python3
"""MAC and address filtering (docs/net.md, "MAC filtering"), judged by
Linux's own network stack in a network namespace of the test's own (every
address inside it), bridge xnbr0 at 10.99.0.1/24.

The victim (the net guest, 10.99.0.2, 00:16:3e:12:34:56) and the spoofer
(net-spoof, 64-bit) are on xnbr0. The spoofer's vif has ip=10.99.0.66, so
our vif-bridge asks netback for anti-spoofing. An AF_PACKET capture on every
interface of the namespace (the bridge, both taps, either direction) runs
throughout. The spoofer sends frames with the victim's MAC, ARP claiming
the victim's address or naming the victim's MAC, a datagram from the
victim's address and a VLAN-tagged forged ARP, each three times (marked
SPOOF-n), then its own frames and a DHCP discover (LEGIT-n). Shown: no
SPOOF frame anywhere, every LEGIT one seen, the host's neighbour entry for
the victim still the victim's MAC, the victim answering pings before and
after, netback's count of dropped frames exactly the 15 forged ones, the
backend's antispoof node, the VMMs alive and (in the ASan build) no
sanitizer report. The control: the same spoofer on a vif without ip= (the
script asks nothing) gets its SPOOF frames onto the bridge, so the capture
can see them. Root and /dev/kvm needed, else skipped (77)."""
import os
import socket
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import net  # noqa: E402
from net import PING, UDP_CLIENT, ns  # noqa: E402
from xl_test import check, wait_for  # noqa: E402

VICTIM_IP, VICTIM_MAC = "10.99.0.2", "00:16:3e:12:34:56"
SPOOF_IP, SPOOF_MAC = "10.99.0.66", "00:16:3e:66:66:66"
FORGED = 15             # five kinds, three times each (guests/net/net_spoof.c)

CAPTURE = r"""
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))   # ETH_P_ALL
s.settimeout(1)
seen = set()
print("capturing", flush=True)
while True:
    try:
        data, addr = s.recvfrom(65535)
    except socket.timeout:
        if sys.stdin.closed:
            break
        continue
    for mark in (b"SPOOF-1", b"SPOOF-2", b"SPOOF-3", b"SPOOF-4", b"SPOOF-5",
                 b"LEGIT-1", b"LEGIT-2", b"LEGIT-3", b"LEGIT-DONE"):
        if mark in data and (mark, addr[0]) not in seen:
            seen.add((mark, addr[0]))
            print(mark.decode(), addr[0], flush=True)
"""


class Capture:
    """AF_PACKET on every interface of the namespace; marks seen, by ifname."""
    def __init__(self):
        self.p = subprocess.Popen(["ip", "netns", "exec", net.NS, sys.executable, "-c",
                                   CAPTURE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True)
        self.marks = []
        assert self.p.stdout.readline().strip() == "capturing"
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            self.marks.append(line.split())

    def seen(self, prefix):
        return sorted({m[0] for m in self.marks if m[0].startswith(prefix)})

    def close(self):
        self.p.kill()
        self.p.wait()


def ping(ip, n):
    rc, out, err = ns(sys.executable, "-c", PING, ip, str(n), timeout=90)
    return out.strip() == f"replies {n}", out + err


def run_spoofer(env, name, vif):
    cfg = env.cfg(f"{name}.cfg", f'name = "{name}"\ntype = "pvh"\n'
                  'kernel = "guests/guest-net-spoof-64"\nmemory = 32\nvcpus = 1\n'
                  f'vif = [ "{vif}" ]\n')
    rc, out, err = env.xl("create", cfg, timeout=120)
    if not check(f"xl create {name}", rc == 0, err + out):
        return None
    domid = int(env.rows()[name].group(2))
    log = lambda: env.console_log(name)
    check(f"{name} sent its frames and passed",
          wait_for(lambda: "RESULT net-spoof" in log(), 120) and
          "RESULT net-spoof: PASS" in log() and f"{FORGED} forged frames sent" in log(),
          log()[-1500:])
    return domid


def scenario(env):
    vcfg = env.cfg("victim.cfg", 'name = "victim"\ntype = "pvh"\n'
                   'kernel = "guests/guest-net-64"\nmemory = 32\nvcpus = 1\n'
                   f'cmdline = "ip={VICTIM_IP}"\n'
                   f'vif = [ "mac={VICTIM_MAC},bridge=xnbr0,ip={VICTIM_IP}" ]\n')
    rc, out, err = env.xl("create", vcfg, timeout=120)
    if not check("xl create the victim", rc == 0, err + out):
        return
    if not check("the victim connected",
                 wait_for(lambda: " ready" in env.console_log("victim"), 120)):
        return
    ok, detail = ping(VICTIM_IP, 2)
    check("the host pings the victim", ok, detail)

    cap = Capture()
    try:
        domid = run_spoofer(env, "spoofer", f"mac={SPOOF_MAC},bridge=xnbr0,ip={SPOOF_IP}")
        if domid is None:
            return
        check("the LEGIT-DONE datagram came through",
              wait_for(lambda: "LEGIT-DONE" in cap.seen("LEGIT-DONE"), 20), str(cap.marks))
    finally:
        cap.close()
    print("seen:", cap.marks)
    check("no forged frame anywhere on the host (bridge, taps, either way)",
          cap.seen("SPOOF") == [], str(cap.seen("SPOOF")))
    check("its own frames and the DHCP discover passed",
          cap.seen("LEGIT") == ["LEGIT-1", "LEGIT-2", "LEGIT-3", "LEGIT-DONE"],
          str(cap.seen("LEGIT")))
    xl_log = open(os.path.join(env.env["XENON_LOG_DIR"], "xl-spoofer.log")).read()
    check("our vif-bridge asked for anti-spoofing, netback took it",
          f"vif 0 plugged; anti-spoofing on ({SPOOF_MAC}, 1 networks)" in xl_log,
          xl_log[-1500:])
    check(f"netback counted exactly the {FORGED} forged frames as dropped",
          wait_for(lambda: f"vif 0: {FORGED} frames dropped by the anti-spoofing filter" in
                   open(os.path.join(env.env["XENON_LOG_DIR"], "xl-spoofer.log")).read(), 30),
          xl_log[-1500:])
    rc, out, _ = ns("ip", "neigh", "show", VICTIM_IP, "dev", "xnbr0")
    check("the host still has the victim's MAC for its address", VICTIM_MAC in out, out)
    ok, detail = ping(VICTIM_IP, 2)
    check("the victim answers after the attack", ok, detail)
    check("the spoofer powered off", wait_for(lambda: "spoofer" not in env.rows(), 30),
          str(env.rows()))

    # The control: no ip=, our vif-bridge asks nothing, the forged frames go.
    cap = Capture()
    try:
        domid = run_spoofer(env, "control", f"mac={SPOOF_MAC},bridge=xnbr0")
        if domid is not None:
            check("control: the LEGIT-DONE datagram came through",
                  wait_for(lambda: "LEGIT-DONE" in cap.seen("LEGIT-DONE"), 20), str(cap.marks))
    finally:
        cap.close()
    check("control: without anti-spoofing the capture sees the forged frames",
          cap.seen("SPOOF") == ["SPOOF-1", "SPOOF-2", "SPOOF-3", "SPOOF-4", "SPOOF-5"],
          str(cap.seen("SPOOF")))
    xl_log = open(os.path.join(env.env["XENON_LOG_DIR"], "xl-control.log")).read()
    check("control: netback filtered nothing", "anti-spoofing" not in xl_log, xl_log[-800:])
    check("the victim's VMM lived through it all", "victim" in env.rows(), str(env.rows()))
    rc, out, err = ns(sys.executable, "-c", UDP_CLIENT, VICTIM_IP, timeout=120)
    check("the victim echoes UDP", out.strip() == "echoed 5", out + err)
    ns(sys.executable, "-c", "import socket,sys; socket.socket(socket.AF_INET, "
       "socket.SOCK_DGRAM).sendto(b'bye', (sys.argv[1], 7))", VICTIM_IP)
    check("the victim passed", wait_for(lambda: "RESULT net: PASS" in
                                        env.console_log("victim"), 60),
          env.console_log("victim")[-800:])
    check("all gone", wait_for(lambda: not env.rows().keys() - {"Domain-0"}, 30),
          str(env.rows()))
    wait_for(lambda: not env.state_files(), 10)
    env.check_empty("after the end")


def main():
    net.in_netns(scenario)


if __name__ == "__main__":
    main()
