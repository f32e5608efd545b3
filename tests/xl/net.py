#!/usr/bin/env python3
"""PV network end to end, judged by Linux's own network stack.

In a network namespace made for the test (every address inside it), with
a bridge xnbr0 at 10.99.0.1/24: `xl create` of the net guest (our
netfront, 32- or 64-bit: `net.py 32|64`) with a vif on that bridge and a
given MAC (the 32-bit one with split event channels and rate=10Mb/s). Checked: the tap vif<domid>.0 exists and is a port of the
bridge with its MTU, the backend and frontend directories are libxl's with
netback's features and both ends Connected, the guest saw its MAC and
MTU; the host pings the guest (ARP and ICMP answered by it) and gets its
UDP datagrams echoed (sent back with a blank checksum that netback passes
to the tap as NEEDS_CSUM). Then the guest is ended (64: a "bye" datagram,
it closes its vif and powers off; 32: xl destroy with the vif up), and
nothing is left: no tap, no bridge port, no vif nodes, no VMM, no fds of
the domain's. `net.py hotplug`: the guest starts with no vif; xl
network-attach gives it one (xl network-list shows it Connected), it is
pinged, xl network-detach takes it away while UDP flows, the guest closes
its end, the tap and nodes are gone, and a second network-attach brings
it back. `net.py two`: two guests (64- and 32-bit) on the bridge; the
second finds the first by ARP and pings it, the host pings both, and both
end with nothing left. `net.py hostile`: the net-hostile guest attacks its
netback (bad grants, too many slots, a short packet, a wrapped size, then
a slot across its page) beside a good guest on the same bridge, which the
host keeps pinging: every bad request is answered or the vif disabled as
Linux's netback does, the VMMs live, the good guest never notices. Root
and /dev/kvm needed, else skipped (77)."""
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from xl_test import BUILD, SRC, XL, check, Env, exit_status, failures, need_kvm, skip, wait_for  # noqa: E402

MODE = sys.argv[1] if len(sys.argv) > 1 else "64"
BITS = "64" if MODE in ("hotplug", "two", "hostile") else MODE
NS = f"xenon-net-{os.getpid()}"
MAC = "00:16:3e:12:34:56"
HOST_IP, GUEST_IP, MTU = "10.99.0.1", "10.99.0.2", 1400


def ns(*cmd, timeout=60, check_rc=False):
    r = subprocess.run(["ip", "netns", "exec", NS, *cmd], capture_output=True,
                       timeout=timeout)
    if check_rc and r.returncode != 0:
        raise SystemExit(f"FAIL {' '.join(cmd)}: {r.stderr.decode(errors='replace')}")
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


class NetEnv(Env):
    def xl(self, *args, input=None, timeout=60):
        r = subprocess.run(["ip", "netns", "exec", NS, XL, *args], env=self.env, cwd=BUILD,
                           input=input, capture_output=True, timeout=timeout)
        return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


UDP_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
got = 0
for i in range(5):
    msg = b"echo %d from the host " % i + bytes(range(40))
    for attempt in range(3):
        s.sendto(msg, (sys.argv[1], 7))
        try:
            data, peer = s.recvfrom(4096)
        except socket.timeout:
            continue
        if data == msg and peer == (sys.argv[1], 7):
            got += 1
        break
print("echoed", got)
"""


# ping(8) as the kernel's raw ICMP socket (iputils is not on these hosts):
# echo requests through the host's own routing and ARP, replies checked
# (type, id, sequence, payload, and their checksum).
PING = r"""
import os, socket, struct, sys, time
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(10)
ident, ok = os.getpid() & 0xffff, 0
for seq in range(int(sys.argv[2])):
    payload = bytes(range(56))
    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    pkt = struct.pack("!BBHHH", 8, 0, csum(hdr + payload), ident, seq) + payload
    s.sendto(pkt, (sys.argv[1], 0))
    t0 = time.time()
    while time.time() - t0 < 10:
        try:
            data, peer = s.recvfrom(4096)
        except socket.timeout:
            break
        icmp = data[(data[0] & 15) * 4:]
        t, c, ck, i, q = struct.unpack("!BBHHH", icmp[:8])
        if peer[0] == sys.argv[1] and t == 0 and i == ident and q == seq:
            ok += icmp[8:] == payload and csum(icmp) == 0
            break
print("replies", ok)
"""


def sanitizer_clean(env):
    """In the ASan+UBSan build: no report from any VMM or xl (their logs)."""
    logd = env.env["XENON_LOG_DIR"]
    bad = []
    for f in os.listdir(logd) if os.path.isdir(logd) else []:
        p = os.path.join(logd, f)
        if os.path.isfile(p):
            text = open(p, errors="replace").read()
            if any(k in text for k in ("AddressSanitizer", "LeakSanitizer", "runtime error:")):
                bad.append(f)
    check("no sanitizer report in the logs", not bad, str(bad))


def in_netns(scenario, bridges=(("xnbr0", HOST_IP, None),)):
    """Run scenario(env) as the network tests do: as root with /dev/kvm, in
    a network namespace of its own holding these bridges (name, host
    address on a /24, MTU or None), with our hotplug scripts; then check the
    logs for sanitizer reports, take it all down and exit with the result."""
    need_kvm()
    if os.geteuid() != 0:
        skip("needs root (a network namespace, a bridge, taps)")
    if subprocess.run(["ip", "netns", "add", NS], capture_output=True).returncode != 0:
        skip("cannot make a network namespace")
    env = None
    try:
        ns("ip", "link", "set", "lo", "up", check_rc=True)
        for br, host_ip, mtu in bridges:
            ns("ip", "link", "add", br, "type", "bridge", check_rc=True)
            if mtu:
                ns("ip", "link", "set", br, "mtu", str(mtu), check_rc=True)
            ns("ip", "addr", "add", f"{host_ip}/24", "dev", br, check_rc=True)
            ns("ip", "link", "set", br, "up", check_rc=True)
        env = NetEnv()
        env.env["XENON_SCRIPT_DIR"] = os.path.join(SRC, "system", "scripts")
        scenario(env)
        sanitizer_clean(env)
    finally:
        if env:
            env.close()
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)
        sys.exit(exit_status())

def links():
    rc, out, _ = ns("ip", "-o", "link", "show")
    return [l.split(":")[1].strip().split("@")[0] for l in out.splitlines()]


def check_vif_gone(env, vif, vmm):
    """After xl destroy: no vif nodes, no tap, no port in the test's bridge,
    the domain's VMM gone (its descriptors with it), no sanitizer report."""
    check("no vif nodes left", not (env.xs_dir("/local/domain/0/backend/vif") or []),
          str(env.xs_dir("/local/domain/0/backend/vif")))
    check("no tap left", wait_for(lambda: vif not in links(), 10), str(links()))
    rc, out, _ = ns("ip", "-o", "link", "show", "master", "xnbr0")
    check("no bridge port left", out.strip() == "", out)
    check("the VMM is gone (its fds with it)",
          wait_for(lambda: not any(os.path.exists(f"/proc/{p}") for p in vmm), 10), str(vmm))
    sanitizer_clean(env)


def udp_flood(stop):
    """Datagrams to the guest until stop is set (traffic in flight)."""
    return subprocess.Popen(["ip", "netns", "exec", NS, sys.executable, "-c",
                             "import socket,sys,time\n"
                             "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                             "end=time.time()+float(sys.argv[2])\n"
                             "while time.time()<end:\n"
                             "  s.sendto(b'x'*200,(sys.argv[1],7)); time.sleep(0.002)\n",
                             GUEST_IP, str(stop)])


def hotplug(env, name, log):
    rc, out, err = env.xl("network-attach", name, f"mac={MAC}", "bridge=xnbr0",
                          f"ip={GUEST_IP}")
    if not check("xl network-attach", rc == 0, err + out):
        return None
    if not check("the guest connected the hotplugged vif",
                 wait_for(lambda: log().count(" ready") >= 1, 60), log()[-1500:]):
        return None
    rc, out, err = env.xl("network-list", name)
    print(out)
    lines = out.splitlines()
    check("network-list: xl's header", lines and lines[0].split() ==
          ["Idx", "BE", "Mac", "Addr.", "handle", "state", "evt-ch", "tx-/rx-ring-ref",
           "BE-path"], out)
    row = lines[1].split() if len(lines) > 1 else []
    check("network-list: vif 0 Connected with its MAC and backend",
          len(row) == 8 and row[0] == "0" and row[1] == "0" and row[2] == MAC and
          row[4] == "4" and row[7].endswith("/backend/vif/%s/0" % row[7].split("/")[-2]), out)
    return True


def two_guests(env):
    """Guest A answers; guest B pings A through the bridge; the host pings both."""
    peers = [("netA", "64", GUEST_IP, MAC, ""),
             ("netB", "32", "10.99.0.3", "00:16:3e:12:34:57", f" peer={GUEST_IP}")]
    for name, bits, ip, mac, extra in peers:
        cfg = env.cfg(f"{name}.cfg", f'name = "{name}"\ntype = "pvh"\n'
                      f'kernel = "guests/guest-net-{bits}"\nmemory = 32\nvcpus = 1\n'
                      f'cmdline = "ip={ip}{extra}"\nvif = [ "mac={mac},bridge=xnbr0" ]\n')
        rc, out, err = env.xl("create", cfg, timeout=120)
        if not check(f"xl create {name}", rc == 0, err + out):
            return
        log = lambda n=name: env.console_log(n)
        if not check(f"{name} connected", wait_for(lambda: " ready" in log(), 120), log()):
            return
    logb = lambda: env.console_log("netB")
    check("guest B found guest A by ARP and pinged it",
          wait_for(lambda: "CHECK pinged the peer guest" in logb(), 60) and
          "CHECK pinged the peer guest: ok" in logb(), logb()[-1500:])
    rc, out, _ = ns("ip", "-o", "link", "show", "master", "xnbr0")
    check("two ports on the bridge", len(out.strip().splitlines()) == 2, out)
    vmm = env.vmm_pids()
    for name, bits, ip, mac, extra in peers:
        rc, out, err = ns(sys.executable, "-c", PING, ip, "2", timeout=90)
        check(f"the host pings {name}", out.strip() == "replies 2", out + err)
        rc, out, err = ns(sys.executable, "-c", UDP_CLIENT, ip, timeout=120)
        check(f"{name} echoes UDP", out.strip() == "echoed 5", out + err)
        ns(sys.executable, "-c",
           "import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
           ".sendto(b'bye', (sys.argv[1], 7))", ip)
        check(f"{name} passed", wait_for(lambda n=name: "RESULT net: PASS" in
                                         env.console_log(n), 60), env.console_log(name)[-800:])
    check("both ended", wait_for(lambda: not env.rows().keys() - {"Domain-0"}, 30),
          str(env.rows()))
    wait_for(lambda: not env.state_files(), 10)     # the monitors' teardown
    env.check_empty("after both")
    rc, out, _ = ns("ip", "-o", "link", "show", "master", "xnbr0")
    check("no bridge port left", out.strip() == "", out)
    check("no vif nodes left", not (env.xs_dir("/local/domain/0/backend/vif") or []))
    check("the VMMs are gone",
          wait_for(lambda: not any(os.path.exists(f"/proc/{p}") for p in vmm), 10), str(vmm))


def hostile(env):
    good = env.cfg("good.cfg", 'name = "good"\ntype = "pvh"\n'
                   'kernel = "guests/guest-net-64"\nmemory = 32\n'
                   f'cmdline = "ip={GUEST_IP}"\nvif = [ "mac={MAC},bridge=xnbr0" ]\n')
    bad = env.cfg("bad.cfg", 'name = "bad"\ntype = "pvh"\n'
                  'kernel = "guests/guest-net-hostile-64"\nmemory = 32\n'
                  'on_poweroff = "preserve"\nvif = [ "bridge=xnbr0" ]\n')
    rc, out, err = env.xl("create", good, timeout=120)
    check("xl create good", rc == 0, err + out)
    check("good connected", wait_for(lambda: " ready" in env.console_log("good"), 120),
          env.console_log("good"))
    rc, out, err = env.xl("create", bad, timeout=120)
    check("xl create bad", rc == 0, err + out)
    pings = 0
    end = time.time() + 120
    while time.time() < end and "RESULT" not in env.console_log("bad"):
        rc, out, _ = ns(sys.executable, "-c", PING, GUEST_IP, "1", timeout=60)
        pings += out.strip() == "replies 1"
    blog = env.console_log("bad")
    print(blog)
    check("the hostile frontend got netback's answers", "RESULT net-hostile: PASS" in blog,
          blog[-2000:])
    check("the good guest answered pings all along", pings > 0 and
          "FAIL" not in env.console_log("good"), str(pings))
    rc, out, err = ns(sys.executable, "-c", PING, GUEST_IP, "3", timeout=60)
    check("the good guest answers after the attack", out.strip() == "replies 3", out + err)
    rc, out, err = env.xl("destroy", "bad")
    check("xl destroy bad", rc == 0, err)
    rc, out, err = ns(sys.executable, "-c", UDP_CLIENT, GUEST_IP, timeout=120)
    check("the good guest echoes UDP", out.strip() == "echoed 5", out + err)
    ns(sys.executable, "-c", "import socket,sys; socket.socket(socket.AF_INET, "
       "socket.SOCK_DGRAM).sendto(b'bye', (sys.argv[1], 7))", GUEST_IP)
    check("the good guest passed", wait_for(lambda: "RESULT net: PASS" in
                                            env.console_log("good"), 60),
          env.console_log("good")[-1000:])
    check("both gone", wait_for(lambda: not env.rows().keys() - {"Domain-0"}, 30),
          str(env.rows()))
    wait_for(lambda: not env.state_files(), 10)     # the monitors' teardown
    env.check_empty("after both")
    rc, out, _ = ns("ip", "-o", "link", "show", "master", "xnbr0")
    check("no bridge port left", out.strip() == "", out)


def main():
    need_kvm()
    if os.geteuid() != 0:
        skip("needs root (a network namespace, a bridge, taps)")
    if subprocess.run(["ip", "netns", "add", NS], capture_output=True).returncode != 0:
        skip("cannot make a network namespace")
    env = None
    try:
        ns("ip", "link", "set", "lo", "up", check_rc=True)
        ns("ip", "link", "add", "xnbr0", "type", "bridge", check_rc=True)
        ns("ip", "link", "set", "xnbr0", "mtu", str(MTU), check_rc=True)
        ns("ip", "addr", "add", f"{HOST_IP}/24", "dev", "xnbr0", check_rc=True)
        ns("ip", "link", "set", "xnbr0", "up", check_rc=True)

        env = NetEnv()
        env.env["XENON_SCRIPT_DIR"] = os.path.join(SRC, "system", "scripts")
        if MODE == "two":
            two_guests(env)
            sanitizer_clean(env)
            return
        if MODE == "hostile":
            hostile(env)
            sanitizer_clean(env)
            return
        name = f"net{BITS}"
        rate = ",rate=10Mb/s" if MODE == "32" else ""        # netback's credit scheduler
        vifs = "" if MODE == "hotplug" else \
            f'vif = [ "mac={MAC},bridge=xnbr0,ip={GUEST_IP}{rate}" ]\n'
        cfg = env.cfg(f"{name}.cfg", f'name = "{name}"\ntype = "pvh"\n'
                      f'kernel = "guests/guest-net-{BITS}"\nmemory = 32\nvcpus = 1\n'
                      f'cmdline = "ip={GUEST_IP}{" hotplug" if MODE == "hotplug" else ""}'
                      f'{" split" if MODE == "32" else ""}"\n'
                      + vifs)
        rc, out, err = env.xl("create", cfg, timeout=120)
        if not check("xl create with a vif", rc == 0, err + out):
            return
        row = env.rows().get(name)
        if not check("listed", row is not None, str(env.rows())):
            return
        domid = int(row.group(2))
        vif = f"vif{domid}.0"
        log = lambda: env.console_log(name).replace("\r", "")
        if MODE == "hotplug":
            if not hotplug(env, name, log):
                return
        ready = wait_for(lambda: " ready" in log() or "RESULT" in log(), 120)
        print(log())
        if not check("guest netfront connected", ready and "connected: ok" in log(),
                     log()[-2000:]):
            return
        check("guest saw the vif= MAC and the bridge's MTU",
              f"mac {MAC} mtu {MTU} ip {GUEST_IP} ready" in log(), log()[-500:])

        be = f"/local/domain/0/backend/vif/{domid}/0"
        fe = f"/local/domain/{domid}/device/vif/0"
        want_be = {"frontend": fe, "frontend-id": str(domid), "online": "1", "state": "4",
                   "mac": MAC, "bridge": "xnbr0", "handle": "0", "type": "vif",
                   "ip": GUEST_IP, "hotplug-status": "connected",
                   "feature-sg": "1", "feature-gso-tcpv4": "1", "feature-gso-tcpv6": "1",
                   "feature-rx-copy": "1", "feature-rx-flip": "0",
                   "feature-split-event-channels": "1", "multi-queue-max-queues": "4",
                   "script": os.path.join(SRC, "system", "scripts", "vif-bridge")}
        if MODE == "32":
            want_be["rate"] = "62500,50000"     # 10 Mb/s in libxl's 50 ms windows
            # The 32-bit guest asks for split event channels.
            check("split event channels", env.xs_read(f"{fe}/event-channel-tx") is not None and
                  env.xs_read(f"{fe}/event-channel-rx") is not None and
                  env.xs_read(f"{fe}/event-channel") is None)
        got_be = {k: env.xs_read(f"{be}/{k}") for k in want_be}
        check("backend directory as libxl writes it, netback's features", got_be == want_be,
              str({k: (got_be[k], v) for k, v in want_be.items() if got_be[k] != v}))
        want_fe = {"backend": be, "backend-id": "0", "state": "4", "handle": "0", "mac": MAC,
                   "mtu": str(MTU), "request-rx-copy": "1"}
        got_fe = {k: env.xs_read(f"{fe}/{k}") for k in want_fe}
        check("frontend directory", got_fe == want_fe,
              str({k: (got_fe[k], v) for k, v in want_fe.items() if got_fe[k] != v}))

        check(f"tap {vif} exists", vif in links(), str(links()))
        rc, out, _ = ns("ip", "-o", "link", "show", "master", "xnbr0")
        check(f"{vif} is a port of xnbr0", f" {vif}:" in out, out)
        rc, out, _ = ns("cat", f"/sys/class/net/{vif}/mtu")
        check(f"{vif} has the bridge's MTU", out.strip() == str(MTU), out)

        ns("ip", "neigh", "flush", "dev", "xnbr0")     # ARP asked afresh
        rc, out, err = ns(sys.executable, "-c", PING, GUEST_IP, "3", timeout=90)
        check("the host pings the guest (ARP and ICMP answered by it)",
              out.strip() == "replies 3", out + err)
        rc, out, _ = ns("ip", "neigh", "show", GUEST_IP, "dev", "xnbr0")
        check("the host learnt the guest's MAC by ARP", MAC in out, out)
        rc, out, err = ns(sys.executable, "-c", UDP_CLIENT, GUEST_IP, timeout=120)
        check("the guest echoes the host's UDP datagrams", out.strip() == "echoed 5", out + err)
        if MODE == "32":
            xl_log = open(os.path.join(env.env["XENON_LOG_DIR"], f"xl-{name}.log")).read()
            check("netback took the rate and the split channels",
                  "rate-limited" in xl_log and "split event channels" in xl_log, xl_log[-800:])

        if MODE in ("64", "32"):
            # The frontend closes and connects again; the backend follows.
            ns(sys.executable, "-c",
               "import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
               ".sendto(b'reconnect', (sys.argv[1], 7))", GUEST_IP)
            check("the frontend reconnected", wait_for(lambda: log().count(" ready") >= 2 and
                                                       "CHECK reconnected: ok" in log(), 60),
                  log()[-1000:])
            rc, out, err = ns(sys.executable, "-c", PING, GUEST_IP, "2", timeout=90)
            check("pinged after the reconnect", out.strip() == "replies 2", out + err)
        vmm = env.vmm_pids()
        if MODE == "hotplug":
            flood = udp_flood(5)
            time.sleep(0.5)
            rc, out, err = env.xl("network-detach", name, "0", timeout=60)
            check("xl network-detach while traffic flows", rc == 0, err + out)
            flood.wait()
            check("the guest saw its vif go and closed it",
                  wait_for(lambda: "vif 0 went away, closed (0)" in log(), 30), log()[-1500:])
            check("the tap went with it", wait_for(lambda: vif not in links(), 10), str(links()))
            check("its nodes went with it",
                  not (env.xs_dir(f"/local/domain/0/backend/vif/{domid}") or []) and
                  not (env.xs_dir(f"/local/domain/{domid}/device/vif") or []) and
                  not (env.xs_dir(f"/libxl/{domid}/device/vif") or []))
            rc, out, err = env.xl("network-list", name)
            check("network-list shows none", len(out.splitlines()) == 1, out)
            rc, out, err = env.xl("network-detach", name, "0")
            check("detaching it again: Unknown device", rc != 0 and "Unknown device 0." in err,
                  err)
            rc, out, err = env.xl("network-attach", name, f"mac={MAC}", "bridge=xnbr0")
            check("xl network-attach again", rc == 0, err + out)
            check("the guest connected it again",
                  wait_for(lambda: log().count(" ready") >= 2, 60), log()[-1500:])
            rc, out, err = ns(sys.executable, "-c", PING, GUEST_IP, "2", timeout=90)
            check("the host pings the guest on the new vif", out.strip() == "replies 2",
                  out + err)
        if BITS == "64":
            ns(sys.executable, "-c",
               "import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
               ".sendto(b'bye', (sys.argv[1], 7))", GUEST_IP)
            check("the guest closed its vif and passed",
                  wait_for(lambda: "RESULT net: PASS" in log(), 60), log()[-1500:])
            if MODE == "hotplug":
                check("it served two hotplugged vifs",
                      "CHECK served more than one hotplugged vif: ok" in log(), log()[-800:])
            check("it powered off and was destroyed",
                  wait_for(lambda: name not in env.rows(), 30), str(env.rows()))
        else:
            flood = udp_flood(3)
            time.sleep(0.5)
            rc, out, err = env.xl("destroy", name)
            check("xl destroy with the vif up and traffic in flight", rc == 0, err)
            flood.wait()
        wait_for(lambda: not env.state_files(), 10)     # the monitor's teardown
        env.check_empty("after the end")
        check_vif_gone(env, vif, vmm)
    finally:
        if env:
            env.close()
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)
        sys.exit(exit_status())


if __name__ == "__main__":
    main()
