"""VBD and VIF unplug/plug of a running VM, VBD/VIF.create and destroy on it through libxenon's hot-plug
(as xl block-detach / block-attach and network-detach / network-attach),
seen both in the API and by xl block-list / network-list and the host's
bridge, and the VM's own rows in /rrd_updates. The whole test (daemons
included) runs in a network namespace of its own with a bridge xnbr0.
Needs root and /dev/kvm (skips, 77, without them)."""
import os
import subprocess
import sys
import urllib.request
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xapienv import SRC, Env, wait_for  # noqa: E402

BRIDGE = "xnbr0"
MAC = "00:16:3e:00:00:02"


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)
    print("ok:", what)


def outer():
    if not os.access("/dev/kvm", os.R_OK | os.W_OK) or os.geteuid() != 0:
        print("SKIP: needs root and /dev/kvm")
        sys.exit(77)
    ns = f"xenon-xapi-hp-{os.getpid()}"
    if subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode != 0:
        print("SKIP: cannot make a network namespace")
        sys.exit(77)
    try:
        for cmd in (["ip", "link", "set", "lo", "up"],
                    ["ip", "link", "add", BRIDGE, "type", "bridge"],
                    ["ip", "link", "set", BRIDGE, "up"]):
            subprocess.run(["ip", "netns", "exec", ns, *cmd], check=True)
        rc = subprocess.run(["ip", "netns", "exec", ns, sys.executable,
                             os.path.abspath(__file__), "inner"]).returncode
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    sys.exit(rc)


def xs_read(e, path):
    """One XS_READ as dom0 on the raw xenstore protocol: the value or None."""
    import socket
    import struct
    c = socket.socket(socket.AF_UNIX)
    c.connect(e.xs_sock)
    body = path.encode() + b"\0"
    c.sendall(struct.pack("<IIII", 2, 0, 0, len(body)) + body)
    typ, _, _, n = struct.unpack("<IIII", c.recv(16, socket.MSG_WAITALL))
    data = c.recv(n, socket.MSG_WAITALL)
    c.close()
    return data.decode() if typ == 2 else None


def ports():
    return os.listdir(f"/sys/class/net/{BRIDGE}/brif")


def created(e, s, vm, domid, net):
    """VBD.create / VIF.create on the running VM: the entry joins its
    definition, the device is detached until plugged (libxenon's
    hot-plug), and may not be destroyed while attached."""
    pool = e.call("pool.get_all", s)[0][0]
    sr = e.call("pool.get_default_SR", s, pool)[0]
    vdi, err = e.call("VDI.create", s, {"SR": sr, "virtual_size": 4 << 20, "name_label": "hot"})
    check(err is None, f"VDI.create for the running VM ({err})")
    vbd, err = e.call("VBD.create", s, {"VM": vm, "VDI": vdi, "userdevice": "1", "mode": "RW",
                                        "type": "Disk"})
    check(err is None and not e.call("VBD.get_currently_attached", s, vbd)[0] and
          "vdev=xvdb" in open(os.path.join(e.vm_dir, "hp.cfg")).read(),
          f"VBD.create on a running VM: in its definition, detached ({err})")
    check(e.call("VBD.plug", s, vbd)[1] is None and e.call("VBD.get_currently_attached", s, vbd)[0]
          and len(e.xl("block-list", domid).stdout.splitlines()) == 3,
          "VBD.plug attaches it (xl block-list: two)")
    r, err = e.call("VBD.destroy", s, vbd)
    check(err and err[0] == "OPERATION_NOT_ALLOWED", "an attached VBD may not be destroyed")
    r, err = e.call("VDI.destroy", s, vdi)
    check(err == ["VDI_IN_USE", vdi, "destroy"], "nor its VDI")
    check(e.call("VBD.unplug", s, vbd)[1] is None and e.call("VBD.destroy", s, vbd)[1] is None and
          "vdev=xvdb" not in open(os.path.join(e.vm_dir, "hp.cfg")).read() and
          len(e.xl("block-list", domid).stdout.splitlines()) == 2 and
          e.call("VDI.destroy", s, vdi)[1] is None, "unplugged it goes, and then its VDI")
    vif, err = e.call("VIF.create", s, {"VM": vm, "network": net, "device": "1", "MAC": ""})
    check(err is None and not e.call("VIF.get_currently_attached", s, vif)[0],
          f"VIF.create on a running VM: detached ({err})")
    tap = f"vif{domid}.1"
    check(e.call("VIF.plug", s, vif)[1] is None and e.call("VIF.get_currently_attached", s, vif)[0]
          and tap in ports(), "VIF.plug attaches it: its tap a port of the bridge")
    r, err = e.call("VIF.destroy", s, vif)
    check(err and err[0] == "OPERATION_NOT_ALLOWED", "an attached VIF may not be destroyed")
    check(e.call("VIF.unplug", s, vif)[1] is None and e.call("VIF.destroy", s, vif)[1] is None and
          tap not in ports() and len(e.call("VM.get_VIFs", s, vm)[0]) == 1,
          "unplugged it goes")


def main():
    # the tree's hotplug scripts, not an installed copy
    os.environ["XENON_SCRIPT_DIR"] = os.path.join(SRC, "system", "scripts")
    e = Env()
    try:
        disk = os.path.join(e.tmp, "d.raw")
        with open(disk, "wb") as f:
            f.truncate(4 << 20)
        e.define("hp", "guest-idle-64", f'memory = 32\ndisk = [ "{disk},raw,xvda,rw" ]\n'
                 f'vif = [ "bridge={BRIDGE},mac={MAC}" ]\n')
        s, _ = e.call("session.login_with_password", "root", "secret")
        wait_for(lambda: e.call("VM.get_by_name_label", s, "hp")[0], 10)
        vm = e.call("VM.get_by_name_label", s, "hp")[0][0]
        check(e.call("VM.add_to_xenstore_data", s, vm, "vm-data/greeting", "hi")[1] is None,
              "xenstore_data set while halted")
        r, err = e.call("VM.start", s, vm, False, False)
        check(err is None, "VM.start %s" % err)
        domid = str(e.call("VM.get_domid", s, vm)[0])
        check(xs_read(e, f"/local/domain/{domid}/vm-data/greeting") == "hi" and
              e.call("VM.get_power_state", s, vm)[0] == "Running",
              "xenstore_data written into the domain's xenstore at start; the VM runs")
        vbd = e.call("VM.get_VBDs", s, vm)[0][0]
        check(e.call("VBD.get_currently_attached", s, vbd)[0], "the running VM's disk is attached")
        r, err = e.call("VBD.plug", s, vbd)
        check(err == ["DEVICE_ALREADY_ATTACHED", vbd], "plug of an attached VBD")
        domid = str(e.call("VM.get_domid", s, vm)[0])
        check(e.call("VBD.unplug", s, vbd)[1] is None, "VBD.unplug")
        check(not e.call("VBD.get_currently_attached", s, vbd)[0], "detached in the API")
        bl = e.xl("block-list", domid)
        check(bl.returncode == 0 and len(bl.stdout.splitlines()) == 1, "xl block-list: none")
        r, err = e.call("VBD.unplug", s, vbd)
        check(err == ["DEVICE_ALREADY_DETACHED", vbd], "unplug of a detached VBD")
        check(e.call("VBD.plug", s, vbd)[1] is None, "VBD.plug")
        check(e.call("VBD.get_currently_attached", s, vbd)[0], "attached again in the API")
        bl = e.xl("block-list", domid)
        check(bl.returncode == 0 and len(bl.stdout.splitlines()) == 2, "xl block-list: one")

        vif = e.call("VM.get_VIFs", s, vm)[0][0]
        tap = f"vif{domid}.0"
        check(e.call("VIF.get_currently_attached", s, vif)[0] and
              e.call("VIF.get_MAC", s, vif)[0] == MAC and tap in ports(),
              "the running VM's vif is attached, its tap a port of the bridge")
        net = e.call("VIF.get_network", s, vif)[0]
        check(e.call("network.get_bridge", s, net)[0] == BRIDGE, "VIF.network is the bridge")
        r, err = e.call("VIF.plug", s, vif)
        check(err == ["DEVICE_ALREADY_ATTACHED", vif], "plug of an attached VIF")
        check(e.call("VIF.unplug", s, vif)[1] is None, "VIF.unplug")
        check(not e.call("VIF.get_currently_attached", s, vif)[0] and tap not in ports(),
              "detached: in the API, and its tap gone from the bridge")
        check(e.call("VIF.plug", s, vif)[1] is None, "VIF.plug")
        nl = e.xl("network-list", domid)
        check(e.call("VIF.get_currently_attached", s, vif)[0] and tap in ports() and
              MAC in nl.stdout, "attached again: the API, the bridge, xl network-list")

        # the VM's sources in rrd_updates, once the sampler has seen it run
        uuid = e.call("VM.get_uuid", s, vm)[0]

        def xport():
            q = f"{e.url}/rrd_updates?start=0&cf=AVERAGE&vm_uuid={uuid}&session_id={s}"
            with urllib.request.urlopen(q, timeout=10) as r:
                return ET.fromstring(r.read())

        def legend():
            return [en.text for en in xport().find("meta").find("legend")]
        want = [f"AVERAGE:vm:{uuid}:{n}" for n in
                ("cpu0", "memory", "vif_0_rx", "vif_0_tx", "vbd_xvda_read", "vbd_xvda_write")]
        check(wait_for(lambda: all(w in legend() for w in want), 30),
              "rrd_updates: the VM's cpu0, memory, vif_0_rx/tx, vbd_xvda_read/write")
        x = xport()
        names = [en.text for en in x.find("meta").find("legend")]
        newest = [v.text for v in x.find("data").find("row").findall("v")]
        mem = newest[names.index(f"AVERAGE:vm:{uuid}:memory")]
        print("memory:", mem, "VM.memory_target:", e.call("VM.get_memory_target", s, vm)[0])
        check(float(mem) == 32 << 20,
              "rrd_updates: the newest row's memory is the VM's 32 MiB")
        created(e, s, vm, domid, net)
        check(e.call("VM.hard_shutdown", s, vm)[1] is None, "VM.hard_shutdown")
    finally:
        e.close()


if __name__ == "__main__":
    if sys.argv[1:] == ["inner"]:
        main()
    else:
        outer()
