#!/usr/bin/env python3
"""Multi-queue vifs (io/netif.h "Multi-queue support"), judged by Linux's
own network stack in a network namespace of the test's own (every address
inside it), bridge xnbr0 at 10.99.0.1/24.

- The net guest with `queues=2` connects vif 0 with two queues (its
  frontend directory has multi-queue-num-queues = 2 and queue-0/, queue-1/
  with their ring refs and event channels); the host pings it and gets UDP
  echoes from 16 source ports (16 flows, spread over the queues by their
  hash); the guest answers each packet on the queue it came in on; at
  "bye" it checks both queues carried traffic both ways, and netback's log
  shows both queues' counts.
- Beside it, net-mq-hostile asks for 9 queues (more than offered), for 2
  with the keys at the root only, for 0, and for 2 with queue-1 lacking
  its event channel: each time the backend goes Closing with the reason in
  its error node, and comes back to InitWait when the frontend starts over;
  then it connects two queues properly and a packet on each is answered.
  The first guest never notices, the VMMs live, no sanitizer report.
- The control ring (feature-ctrl-ring): the net guest with `queues=2 ctrl`
  sets Toeplitz hashing, IPv4 and IPv4/TCP flags, a key and an 8-entry
  table that sends everything to queue 1 (an unknown message, flags before
  an algorithm, a 41-byte key, a table naming queue 2 and one past its size
  answered as netback answers them); pinged and 16 UDP flows later, every
  IPv4 packet came in on queue 1.
Root and /dev/kvm needed, else skipped (77)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import net  # noqa: E402
from net import PING, ns  # noqa: E402
from xl_test import check, wait_for  # noqa: E402

IP, MAC = "10.99.0.2", "00:16:3e:12:34:56"

UDP_FLOWS = r"""
import socket, sys
got = 0
for port in range(40000, 40016):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    s.settimeout(5)
    msg = b"flow %d" % port
    for attempt in range(3):
        s.sendto(msg, (sys.argv[1], 7))
        try:
            data, peer = s.recvfrom(4096)
        except socket.timeout:
            continue
        got += data == msg
        break
    s.close()
print("echoed", got)
"""


def scenario(env):
    cfg = env.cfg("mq.cfg", 'name = "mq"\ntype = "pvh"\n'
                  'kernel = "guests/guest-net-64"\nmemory = 32\nvcpus = 1\n'
                  f'cmdline = "ip={IP} queues=2"\n'
                  f'vif = [ "mac={MAC},bridge=xnbr0" ]\n')
    rc, out, err = env.xl("create", cfg, timeout=120)
    if not check("xl create", rc == 0, err + out):
        return
    domid = int(env.rows()["mq"].group(2))
    log = lambda: env.console_log("mq")
    if not check("the guest connected two queues",
                 wait_for(lambda: " ready" in log() or "RESULT" in log(), 120) and
                 "two queues: ok" in log(), log()[-1500:]):
        return
    be, fe = f"/local/domain/0/backend/vif/{domid}/0", f"/local/domain/{domid}/device/vif/0"
    check("netback offers 4 queues", env.xs_read(f"{be}/multi-queue-max-queues") == "4")
    check("the frontend asked for 2", env.xs_read(f"{fe}/multi-queue-num-queues") == "2")
    check("per-queue keys under queue-0/ and queue-1/",
          all(env.xs_read(f"{fe}/queue-{q}/{k}") is not None
              for q in (0, 1) for k in ("tx-ring-ref", "rx-ring-ref", "event-channel")) and
          env.xs_read(f"{fe}/tx-ring-ref") is None, str(env.xs_dir(fe)))
    check("both ends Connected", env.xs_read(f"{be}/state") == "4" and
          env.xs_read(f"{fe}/state") == "4")

    hcfg = env.cfg("mqh.cfg", 'name = "mqh"\ntype = "pvh"\n'
                   'kernel = "guests/guest-net-mq-hostile-64"\nmemory = 32\nvcpus = 1\n'
                   'on_poweroff = "preserve"\nvif = [ "bridge=xnbr0" ]\n')
    rc, out, err = env.xl("create", hcfg, timeout=120)
    check("xl create the hostile frontend", rc == 0, err + out)

    rc, out, err = ns(sys.executable, "-c", PING, IP, "3", timeout=90)
    check("the host pings the two-queue guest", out.strip() == "replies 3", out + err)
    rc, out, err = ns(sys.executable, "-c", UDP_FLOWS, IP, timeout=200)
    check("16 UDP flows echoed", out.strip() == "echoed 16", out + err)

    hlog = lambda: env.console_log("mqh")
    check("the hostile frontend's lies were each refused, then two queues worked",
          wait_for(lambda: "RESULT" in hlog(), 120) and "RESULT net-mq-hostile: PASS" in hlog(),
          hlog()[-2500:])
    print(hlog())
    rc, out, err = ns(sys.executable, "-c", PING, IP, "2", timeout=90)
    check("the two-queue guest answers after it", out.strip() == "replies 2", out + err)

    ns(sys.executable, "-c", "import socket,sys; socket.socket(socket.AF_INET, "
       "socket.SOCK_DGRAM).sendto(b'bye', (sys.argv[1], 7))", IP)
    check("both queues carried traffic both ways; the guest passed",
          wait_for(lambda: "RESULT net" in log(), 60) and "RESULT net: PASS" in log(),
          log()[-1500:])
    print(log())
    xl_log = open(os.path.join(env.env["XENON_LOG_DIR"], "xl-mq.log")).read()
    check("netback connected 2 queues", "vif 0 connected: 2 queues" in xl_log, xl_log[-1500:])
    for q in (0, 1):
        line = [l for l in xl_log.splitlines() if f"vif 0 queue {q}: tx" in l]
        check(f"netback's queue {q} carried packets both ways",
              line and " tx 0 " not in line[0] and not line[0].endswith("rx 0 packets"),
              str(line))
    rc, out, err = env.xl("destroy", "mqh")
    check("xl destroy the hostile guest", rc == 0, err)
    check("all gone", wait_for(lambda: not env.rows().keys() - {"Domain-0"}, 30),
          str(env.rows()))
    wait_for(lambda: not env.state_files(), 10)
    env.check_empty("after the end")
    rc, out, _ = ns("ip", "-o", "link", "show", "master", "xnbr0")
    check("no bridge port left", out.strip() == "", out)
    ctrl_ring(env)


def ctrl_ring(env):
    """The control ring: the guest steers every IPv4 packet to queue 1."""
    cfg = env.cfg("mqc.cfg", 'name = "mqc"\ntype = "pvh"\n'
                  'kernel = "guests/guest-net-64"\nmemory = 32\nvcpus = 1\n'
                  f'cmdline = "ip={IP} queues=2 ctrl"\n'
                  f'vif = [ "mac={MAC},bridge=xnbr0" ]\n')
    rc, out, err = env.xl("create", cfg, timeout=120)
    if not check("xl create (control ring)", rc == 0, err + out):
        return
    domid = int(env.rows()["mqc"].group(2))
    log = lambda: env.console_log("mqc")
    if not check("the guest connected two queues and a control ring, its messages answered",
                 wait_for(lambda: " ready" in log() or "RESULT" in log(), 120) and
                 " ready" in log() and "FAIL" not in log(), log()[-2500:]):
        return
    fe = f"/local/domain/{domid}/device/vif/0"
    check("netback offers feature-ctrl-ring",
          env.xs_read(f"/local/domain/0/backend/vif/{domid}/0/feature-ctrl-ring") == "1")
    check("the frontend wrote ctrl-ring-ref and event-channel-ctrl",
          env.xs_read(f"{fe}/ctrl-ring-ref") is not None and
          env.xs_read(f"{fe}/event-channel-ctrl") is not None)
    ns("ip", "neigh", "flush", "dev", "xnbr0")
    rc, out, err = ns(sys.executable, "-c", PING, IP, "3", timeout=90)
    check("the host pings it", out.strip() == "replies 3", out + err)
    rc, out, err = ns(sys.executable, "-c", UDP_FLOWS, IP, timeout=200)
    check("16 UDP flows echoed", out.strip() == "echoed 16", out + err)
    ns(sys.executable, "-c", "import socket,sys; socket.socket(socket.AF_INET, "
       "socket.SOCK_DGRAM).sendto(b'bye', (sys.argv[1], 7))", IP)
    check("every IPv4 packet came on queue 1, as the frontend asked; it passed",
          wait_for(lambda: "RESULT net" in log(), 60) and "RESULT net: PASS" in log(),
          log()[-2500:])
    print(log())
    xl_log = open(os.path.join(env.env["XENON_LOG_DIR"], "xl-mqc.log")).read()
    check("netback served the control ring", "vif 0: control ring: 12 requests" in xl_log,
          xl_log[-1500:])
    check("gone", wait_for(lambda: "mqc" not in env.rows(), 30), str(env.rows()))
    wait_for(lambda: not env.state_files(), 10)
    env.check_empty("after the control-ring guest")


def main():
    net.in_netns(scenario)


if __name__ == "__main__":
    main()
