#!/usr/bin/env python3
"""The PV network topology issue 13 must show, in one run, judged by Linux's
own network stack in a network namespace of the test's own (every address
inside it):

- bridges xnbr0 (10.99.0.1/24) and xnbr1 (10.98.0.1/24); `xl create` of
  guest A (our netfront, 64-bit, `vifs=2`) with two vifs, one on each;
  the taps vifD.0 and vifD.1 are ports of their own bridge; the host pings
  A on each address and gets its UDP echoes on each;
- guest B (32-bit) on xnbr0 finds A by ARP and pings it: two guests on one
  bridge reach each other;
- while A runs and UDP flows to it on vif 0: `xl network-detach` of vif 1
  (network-list: one row; the tap, its bridge port, its nodes and the VMM's
  descriptor of it gone; A closes its end), `xl network-attach` of it again
  on xnbr1 (network-list: two rows, Connected; A connects it again; the host
  pings it); vif 0 answers all along;
- `xl destroy` of both with traffic in flight: no tap, no bridge port, no
  vif node, no VMM, no tap descriptor held by anything of the test's
  (xenstored included), no sanitizer report.
Root and /dev/kvm needed, else skipped (77)."""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import net  # noqa: E402  (its helpers: ns, PING, UDP_CLIENT, NetEnv, links)
from net import PING, UDP_CLIENT, links, ns  # noqa: E402
from xl_test import check, wait_for  # noqa: E402

BRIDGES = [("xnbr0", "10.99.0.1", "10.99.0.2", "00:16:3e:21:00:01"),
           ("xnbr1", "10.98.0.1", "10.98.0.2", "00:16:3e:21:00:02")]
B_IP, B_MAC = "10.99.0.3", "00:16:3e:21:00:03"
MTU = 1400


def ports(bridge):
    rc, out, _ = ns("ip", "-o", "link", "show", "master", bridge)
    return [l.split(":")[1].strip().split("@")[0] for l in out.splitlines() if ":" in l]


def tun_fds(pids):
    """How many descriptors of /dev/net/tun the processes hold."""
    n = 0
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    # "/dev/net/tun", or "/net/tun" for one opened in another
                    # mount namespace (each `ip netns exec` makes its own)
                    n += os.readlink(f"/proc/{pid}/fd/{fd}").endswith("/net/tun")
                except OSError:
                    pass
        except OSError:
            pass
    return n


def ping(ip, count):
    rc, out, err = ns(sys.executable, "-c", PING, ip, str(count), timeout=90)
    return out.strip() == f"replies {count}", out + err


def udp_echo(ip):
    rc, out, err = ns(sys.executable, "-c", UDP_CLIENT, ip, timeout=120)
    return out.strip() == "echoed 5", out + err


def flood(ip, secs):
    return subprocess.Popen(["ip", "netns", "exec", net.NS, sys.executable, "-c",
                             "import socket,sys,time\n"
                             "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                             "end=time.time()+float(sys.argv[2])\n"
                             "while time.time()<end:\n"
                             "  s.sendto(b'x'*200,(sys.argv[1],7)); time.sleep(0.01)\n",
                             ip, str(secs)])


def network_list(env, name):
    rc, out, err = env.xl("network-list", name)
    rows = [l.split() for l in out.splitlines()[1:] if l.strip()]
    return rc, rows, out + err


def scenario(env):
    a_cfg = env.cfg("netA.cfg", 'name = "netA"\ntype = "pvh"\n'
                    'kernel = "guests/guest-net-64"\nmemory = 32\nvcpus = 1\n'
                    f'cmdline = "ip={BRIDGES[0][2]} ip1={BRIDGES[1][2]} vifs=2"\n'
                    f'vif = [ "mac={BRIDGES[0][3]},bridge=xnbr0,ip={BRIDGES[0][2]}", '
                    f'"mac={BRIDGES[1][3]},bridge=xnbr1,ip={BRIDGES[1][2]}" ]\n')
    rc, out, err = env.xl("create", a_cfg, timeout=120)
    if not check("xl create with two vifs on two bridges", rc == 0, err + out):
        return
    domid = int(env.rows()["netA"].group(2))
    log = lambda: env.console_log("netA").replace("\r", "")
    if not check("guest A connected both vifs",
                 wait_for(lambda: "vif 0 mac" in log() and "vif 1 mac" in log(), 120),
                 log()[-1500:]):
        return
    for i, (br, _, ip, mac) in enumerate(BRIDGES):
        check(f"vif {i}: the guest saw its MAC and {br}'s MTU",
              f"vif {i} mac {mac} mtu {MTU} ip {ip} ready" in log(), log()[-800:])
        check(f"vif{domid}.{i} is the only port of {br}", ports(br) == [f"vif{domid}.{i}"],
              str(ports(br)))
        check(f"vif {i}: both ends Connected",
              env.xs_read(f"/local/domain/0/backend/vif/{domid}/{i}/state") == "4" and
              env.xs_read(f"/local/domain/{domid}/device/vif/{i}/state") == "4")
    vmm = env.vmm_pids()
    check("the VMM holds one tap descriptor per vif", tun_fds(vmm) == 2, str(tun_fds(vmm)))

    for i, (br, _, ip, _) in enumerate(BRIDGES):
        ok, detail = ping(ip, 3)
        check(f"the host pings guest A on {br} ({ip})", ok, detail)
        ok, detail = udp_echo(ip)
        check(f"guest A echoes UDP on {br}", ok, detail)
        rc, out, _ = ns("ip", "neigh", "show", ip, "dev", br)
        check(f"the host learnt vif {i}'s MAC by ARP on {br}", BRIDGES[i][3] in out, out)

    # Guest B, on xnbr0 beside A's vif 0: it finds A by ARP and pings it.
    b_cfg = env.cfg("netB.cfg", 'name = "netB"\ntype = "pvh"\n'
                    'kernel = "guests/guest-net-32"\nmemory = 32\nvcpus = 1\n'
                    f'cmdline = "ip={B_IP} peer={BRIDGES[0][2]}"\n'
                    f'vif = [ "mac={B_MAC},bridge=xnbr0" ]\n')
    rc, out, err = env.xl("create", b_cfg, timeout=120)
    if check("xl create guest B on xnbr0", rc == 0, err + out):
        logb = lambda: env.console_log("netB")
        check("guest B found guest A by ARP and pinged it",
              wait_for(lambda: "CHECK pinged the peer guest" in logb(), 120) and
              "CHECK pinged the peer guest: ok" in logb(), logb()[-1500:])
        check("xnbr0 has A's and B's ports", len(ports("xnbr0")) == 2, str(ports("xnbr0")))
        ok, detail = ping(B_IP, 2)
        check("the host pings guest B", ok, detail)

    # Hotplug while A runs and traffic flows on vif 0.
    rc, rows, detail = network_list(env, "netA")
    check("network-list: two vifs Connected",
          rc == 0 and [(r[0], r[2], r[4]) for r in rows] ==
          [("0", BRIDGES[0][3], "4"), ("1", BRIDGES[1][3], "4")], detail)
    tap1 = f"vif{domid}.1"
    # (Each flood is waited for before pinging: a slow guest's backlog is
    # load, not a verdict.)
    f = flood(BRIDGES[0][2], 3)
    time.sleep(0.5)
    rc, out, err = env.xl("network-detach", "netA", "1", timeout=60)
    check("xl network-detach vif 1 while UDP flows on vif 0", rc == 0, err + out)
    check("guest A saw vif 1 go and closed it",
          wait_for(lambda: "vif 1 went away, closed (0)" in log(), 30), log()[-1500:])
    check("its tap went", wait_for(lambda: tap1 not in links(), 10), str(links()))
    check("xnbr1 has no port", ports("xnbr1") == [], str(ports("xnbr1")))
    check("its nodes went",
          env.xs_read(f"/local/domain/0/backend/vif/{domid}/1/state") is None and
          env.xs_read(f"/local/domain/{domid}/device/vif/1/state") is None and
          not env.xs_dir(f"/libxl/{domid}/device/vif/1"))
    check("the VMM let its tap descriptor go", tun_fds(vmm) == 1, str(tun_fds(vmm)))
    rc, rows, detail = network_list(env, "netA")
    check("network-list: vif 0 alone", rc == 0 and [r[0] for r in rows] == ["0"], detail)
    f.wait()
    ok, detail = ping(BRIDGES[0][2], 2)
    check("vif 0 answers with vif 1 detached", ok, detail)
    f = flood(BRIDGES[0][2], 3)
    time.sleep(0.5)
    rc, out, err = env.xl("network-attach", "netA", f"mac={BRIDGES[1][3]}", "bridge=xnbr1",
                          f"ip={BRIDGES[1][2]}", timeout=60)
    check("xl network-attach on xnbr1 while UDP flows on vif 0", rc == 0, err + out)
    f.wait()
    check("guest A connected vif 1 again",
          wait_for(lambda: log().count(f"vif 1 mac {BRIDGES[1][3]}") >= 2, 60), log()[-1500:])
    rc, rows, detail = network_list(env, "netA")
    check("network-list: two vifs again, Connected",
          rc == 0 and [(r[0], r[2], r[4]) for r in rows] ==
          [("0", BRIDGES[0][3], "4"), ("1", BRIDGES[1][3], "4")], detail)
    check(f"{tap1} is xnbr1's port again", ports("xnbr1") == [tap1], str(ports("xnbr1")))
    check("the VMM holds two tap descriptors again", tun_fds(vmm) == 2, str(tun_fds(vmm)))
    ns("ip", "neigh", "flush", "dev", "xnbr1")
    ok, detail = ping(BRIDGES[1][2], 2)
    check("the host pings guest A on the reattached vif", ok, detail)
    ok, detail = ping(BRIDGES[0][2], 2)
    check("vif 0 answered through it all", ok, detail)
    check("guest A never failed a check", "FAIL" not in log(), log()[-1500:])

    # xl destroy of both, traffic in flight.
    vmm = env.vmm_pids()
    f = flood(BRIDGES[0][2], 3)
    time.sleep(0.5)
    for name in ("netA", "netB"):
        rc, out, err = env.xl("destroy", name)
        check(f"xl destroy {name} with traffic in flight", rc == 0, err)
    f.wait()
    wait_for(lambda: not env.state_files(), 10)     # the monitors' teardown
    env.check_empty("after xl destroy")
    check("no vif nodes left", not (env.xs_dir("/local/domain/0/backend/vif") or []),
          str(env.xs_dir("/local/domain/0/backend/vif")))
    check("no tap left", wait_for(lambda: not [l for l in links() if l.startswith("vif")], 10),
          str(links()))
    for br, _, _, _ in BRIDGES:
        check(f"no port left on {br}", ports(br) == [], str(ports(br)))
    check("the VMMs are gone",
          wait_for(lambda: not any(os.path.exists(f"/proc/{p}") for p in vmm), 10), str(vmm))
    check("xenstored holds no tap descriptor", tun_fds([env.xs.pid]) == 0)


def main():
    net.in_netns(scenario, [(br, host_ip, MTU) for br, host_ip, _, _ in BRIDGES])


if __name__ == "__main__":
    main()
