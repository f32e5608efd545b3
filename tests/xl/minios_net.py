#!/usr/bin/env python3
"""Xen's Mini-OS netfront (the external oracle) against our netback.

The oracle is built as minios_blk.py builds it (a copy patched with
docs/minios-pvh-gnttab.patch and docs/minios-pvh-virtual-to-mfn.patch,
-fno-pie), with CONFIG_NETFRONT on and
CONFIG_BLKFRONT off, into BUILD/minios-net. In a network namespace of the
test's own with a bridge xnbr0, `xl create` gives it a vif with a given
MAC on that bridge. Judged: both ends of device/vif/0 reach Connected (4)
in xenstore; Mini-OS's netfront prints the backend's path and the MAC of
the vif= line; a raw Ethernet frame of an odd length that the host sends
on the bridge to that MAC reaches it (its default receive handler prints
"<len> bytes incoming at <addr>"); no fault on its console; and
`xl destroy` leaves no tap, bridge port, vif node or VMM.

Root and /dev/kvm needed, the oracle and its build tools too, else
skipped (77)."""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from xl_test import SRC, check, exit_status, failures, need_kvm, skip, wait_for  # noqa: E402
from minios import find_oracle  # noqa: E402
from minios_blk import build  # noqa: E402
from net import NS, NetEnv, check_vif_gone, ns  # noqa: E402

BUILD_ENV = {"DEF_CFLAGS": "-fno-pie", "MAKEFLAGS": "CONFIG_BLKFRONT=n"}
MAC = "00:16:3e:5a:17:c3"
FRAME_LEN = 77          # odd, and no other frame on this bridge has it

# One Ethernet frame (ethertype 0x88b5, IEEE's local experimental) from the
# bridge to the guest's MAC, through an AF_PACKET socket on xnbr0.
SEND_FRAME = r"""
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("xnbr0", 0))
dst = bytes.fromhex(sys.argv[1].replace(":", ""))
src = open("/sys/class/net/xnbr0/address").read().strip()
hdr = dst + bytes.fromhex(src.replace(":", "")) + b"\x88\xb5"
n = int(sys.argv[2])
s.send(hdr + bytes(i & 0xff for i in range(n - len(hdr))))
print("sent", n)
"""


def faults(text):
    """Mini-OS's trap handlers' and BUG()'s (do_exit) words."""
    return [k for k in ("Page fault", "GPF", "Unhandled Trap", "Do_exit called",
                        "ASSERTION FAILED") if k in text]


def main():
    need_kvm()
    if os.geteuid() != 0:
        skip("needs root (a network namespace, a bridge, taps)")
    oracle = find_oracle()
    if not oracle:
        skip("Mini-OS oracle (shared/oracles/mini-os) not found; set XENON_MINIOS_ORACLE")
    image = build(oracle, "minios-net", BUILD_ENV, None)
    if subprocess.run(["ip", "netns", "add", NS], capture_output=True).returncode != 0:
        skip("cannot make a network namespace")
    env = None
    try:
        ns("ip", "link", "set", "lo", "up", check_rc=True)
        ns("ip", "link", "add", "xnbr0", "type", "bridge", check_rc=True)
        ns("ip", "link", "set", "xnbr0", "up", check_rc=True)
        env = NetEnv()
        env.env["XENON_SCRIPT_DIR"] = os.path.join(SRC, "system", "scripts")
        cfg = env.cfg("mininet.cfg", 'name = "mininet"\ntype = "pvh"\n'
                      f'kernel = "{image}"\nmemory = 32\n'
                      f'vif = [ "mac={MAC},bridge=xnbr0" ]\n')
        rc, out, err = env.xl("create", cfg, timeout=120)
        if not check("xl create with a vif", rc == 0, err + out):
            return
        row = env.rows().get("mininet")
        if not check("listed", row is not None, str(env.rows())):
            return
        domid = int(row.group(2))
        vif = f"vif{domid}.0"
        vmm = env.vmm_pids()
        log = lambda: env.console_log("mininet").replace("\r", "")
        fe = f"/local/domain/{domid}/device/vif/0"
        be = f"/local/domain/0/backend/vif/{domid}/0"
        connected = wait_for(lambda: env.xs_read(fe + "/state") == "4" and
                             env.xs_read(be + "/state") == "4", 120)
        check("frontend and backend Connected (4)", connected,
              f"frontend {env.xs_read(fe + '/state')} backend {env.xs_read(be + '/state')}\n"
              + log()[-3000:])
        check("its netfront printed its rings, backend and MAC",
              wait_for(lambda: f"mac is {MAC}" in log(), 60) and
              re.search(r"^net TX ring size \d+$", log(), re.M) and
              f"backend at {be}" in log(), log()[-3000:])
        check(f"the tap {vif} is a port of the bridge",
              vif in ns("ip", "-o", "link", "show", "master", "xnbr0")[1])
        got = lambda: f"{FRAME_LEN} bytes incoming at" in log()
        for _ in range(3):          # a frame is lost if sent before its rx ring filled
            rc, out, err = ns(sys.executable, "-c", SEND_FRAME, MAC, str(FRAME_LEN))
            check("the host sent a frame", rc == 0, out + err)
            if wait_for(got, 10):
                break
        check(f"a {FRAME_LEN}-byte frame from the host reached it", got(), log()[-3000:])
        text = log()
        print(text[-4000:])
        check("no fault on its console", not faults(text), str(faults(text)))
        check("its VMM lives", env.vmm_pids())
        rc, out, err = env.xl("destroy", "mininet")
        check("xl destroy", rc == 0, err)
        wait_for(lambda: not env.state_files(), 10)
        env.check_empty("after destroy")
        check_vif_gone(env, vif, vmm)
    finally:
        if env:
            env.close()
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)
        sys.exit(exit_status())


if __name__ == "__main__":
    main()
