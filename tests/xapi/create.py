"""VDI.create/destroy, VBD.create/destroy, VIF.create/destroy of halted
VMs, and the setters and map calls of VDI, SR, network, VBD and VIF,
against a real xenon-xapi (no KVM needed: VMs are defined, not started).

The VM's definition is the one truth: every device call is checked in the
xl.cfg it edits and in what Xenon's xl makes of that file (`xl create -n`,
the dry run that prints the parsed domain config), not only in the API's
records."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xapienv import Env, wait_for  # noqa: E402


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)
    print("ok:", what)


def xl_view(e, cfg):
    """What xl parses the definition into: its disks and nics."""
    r = e.xl("create", "-n", cfg)
    assert r.returncode == 0, (r.stdout, r.stderr)
    j = json.loads(r.stdout)
    return j.get("disks", []), j.get("nics", [])


def vdis_and_files(e, s, img):
    vdis = e.call("VDI.get_all_records", s)[0]
    return vdis, sorted(f for f in os.listdir(img) if not f.startswith("."))


def vdi_tests(e, s, bob, img, sr):
    """VDI.create/destroy in the SR directory: raw and qcow2, errors."""
    free0 = os.statvfs(img).f_bavail * os.statvfs(img).f_frsize
    raw, err = e.call("VDI.create", s, {"SR": sr, "virtual_size": 10 << 20,
                                        "name_label": "data disk", "name_description": "d1",
                                        "read_only": False, "type": "user",
                                        "sharable": False, "other_config": {"a": "b"}})
    check(err is None, f"VDI.create of a raw image ({err})")
    r = e.call("VDI.get_record", s, raw)[0]
    path = os.path.join(img, "data_disk.raw")
    st = os.stat(path)
    check(r["location"] == path and r["virtual_size"] == 10 << 20 and
          r["name_label"] == "data disk" and r["name_description"] == "d1" and
          r["other_config"] == {"a": "b"} and r["sm_config"]["image-format"] == "raw" and
          not r["read_only"] and r["SR"] == sr and raw in e.call("SR.get_VDIs", s, sr)[0],
          "the VDI: its location in the SR, size, names, other_config, raw")
    check(st.st_size == 10 << 20 and st.st_blocks * 512 < 1 << 20 and
          (st.st_mode & 0o777) == 0o600, "the file: 10 MiB, sparse, mode 0600")

    q, err = e.call("VDI.create", s, {"SR": sr, "virtual_size": str((3 << 20) + 1),
                                      "name_label": "q", "sm_config": {"image-format": "qcow2"}})
    qpath = os.path.join(img, "q.qcow2")
    info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", qpath],
                                     capture_output=True, text=True).stdout or "{}")
    check(err is None and info.get("format") == "qcow2" and
          info.get("virtual-size") == (3 << 20) + 512 and
          e.call("VDI.get_virtual_size", s, q)[0] == (3 << 20) + 512 and
          e.call("VDI.get_sm_config", s, q)[0]["image-format"] == "qcow2",
          f"VDI.create with sm_config image-format=qcow2: qemu-img's image, the size "
          f"(an XML-RPC string) rounded up to 512 ({err})")

    check(e.call("SR.add_to_other_config", s, sr, "image-format", "qcow2")[1] is None,
          "the SR says qcow2 (SR.add_to_other_config image-format)")
    q2, err = e.call("VDI.create", s, {"SR": sr, "virtual_size": 1 << 20, "name_label": "q"})
    check(err is None and e.call("VDI.get_location", s, q2)[0] == os.path.join(img, "q-2.qcow2")
          and e.call("VDI.get_sm_config", s, q2)[0]["image-format"] == "qcow2",
          "... then a VDI without sm_config is qcow2; a taken file name gets -2")
    e.call("SR.remove_from_other_config", s, sr, "image-format")

    ro, err = e.call("VDI.create", s, {"SR": sr, "virtual_size": 1 << 20, "name_label": "../ro",
                                       "read_only": True})
    ropath = e.call("VDI.get_location", s, ro)[0] if ro else ""
    check(err is None and ropath == os.path.join(img, "_._ro.raw") and
          e.call("VDI.get_read_only", s, ro)[0] and (os.stat(ropath).st_mode & 0o777) == 0o400,
          "read_only: a file of mode 0400; a name_label's '/' and leading '.' do not reach "
          "the file name")

    before = vdis_and_files(e, s, img)
    big = 1 << 49
    r, err = e.call("VDI.create", s, {"SR": sr, "virtual_size": big, "name_label": "big"})
    check(err and err[0] == "SR_FULL" and err[1] == str(big) and
          0 < int(err[2]) <= free0 * 2, f"more than the host holds: SR_FULL [requested, "
          f"maximum] ({err})")
    check(vdis_and_files(e, s, img) == before, "... and nothing is made")
    for rec, code in [({"SR": sr, "virtual_size": 0}, "INVALID_VALUE"),
                      ({"SR": sr, "virtual_size": "lots"}, "INVALID_VALUE"),
                      ({"SR": sr, "virtual_size": 1 << 20, "sm_config": {"image-format": "vhd"}},
                       "INVALID_VALUE"),
                      ({"SR": "OpaqueRef:nosuch", "virtual_size": 1 << 20}, "HANDLE_INVALID"),
                      ({"SR": sr, "virtual_size": 1 << 20, "other_config": {"xenon_path": "x"}},
                       "INVALID_VALUE")]:
        r, err = e.call("VDI.create", s, rec)
        check(err and err[0] == code, f"VDI.create {rec}: {code}")
    ext = [ref for ref, x in e.call("SR.get_all_records", s)[0].items() if x["type"] == "udev"][0]
    r, err = e.call("VDI.create", s, {"SR": ext, "virtual_size": 1 << 20})
    check(err == ["SR_OPERATION_NOT_SUPPORTED", ext], "the SR of outside disks makes none")
    r, err = e.call("VDI.create", bob, {"SR": sr, "virtual_size": 1 << 20})
    check(err and err[0] == "RBAC_PERMISSION_DENIED", "a vm-operator may not create a VDI")
    check(vdis_and_files(e, s, img) == before, "none of those made a file or a VDI")

    r, err = e.call("VDI.destroy", s, q2)
    check(err is None and not os.path.exists(os.path.join(img, "q-2.qcow2")) and
          q2 not in e.call("VDI.get_all", s)[0], "VDI.destroy of an unused VDI: file and VDI go")
    r, err = e.call("VDI.destroy", s, q2)
    check(err == ["HANDLE_INVALID", "VDI", q2], "VDI.destroy again: HANDLE_INVALID")
    return raw, q, ro


def vbd_tests(e, s, bob, img, vm, cfg, raw, q, ro):
    r, err = e.call("VBD.create", s, {"VM": vm, "VDI": raw, "userdevice": "0", "bootable": True,
                                      "mode": "RW", "type": "Disk", "empty": False,
                                      "unpluggable": True, "other_config": {"x": "y"},
                                      "qos_algorithm_type": "", "qos_algorithm_params": {}})
    check(err is None, f"VBD.create of a halted VM ({err})")
    vbd = r
    rec = e.call("VBD.get_record", s, vbd)[0]
    rawpath = e.call("VDI.get_location", s, raw)[0]
    check(rec["VM"] == vm and rec["VDI"] == raw and rec["device"] == "xvda" and
          rec["userdevice"] == "0" and rec["mode"] == "RW" and rec["type"] == "Disk" and
          not rec["empty"] and not rec["currently_attached"] and rec["other_config"]["x"] == "y",
          "the VBD: its VM, VDI, xvda, userdevice 0, RW, Disk, detached, other_config")
    check(e.call("VM.get_VBDs", s, vm)[0] == [vbd] and e.call("VDI.get_VBDs", s, raw)[0] == [vbd],
          "VM.VBDs and VDI.VBDs list it")
    disks, _ = xl_view(e, cfg)
    check(len(disks) == 1 and disks[0]["pdev_path"] == rawpath and disks[0]["vdev"] == "xvda" and
          disks[0].get("readwrite") == 1, "xl reads the same disk from the definition")

    r, err = e.call("VBD.create", s, {"VM": vm, "VDI": q, "userdevice": "autodetect",
                                      "mode": "RO", "type": "Disk"})
    check(err is None and e.call("VBD.get_device", s, r)[0] == "xvdb" and
          e.call("VBD.get_userdevice", s, r)[0] == "1" and e.call("VBD.get_mode", s, r)[0] == "RO",
          "userdevice autodetect: the lowest free one (xvdb), RO")
    qvbd = r
    text = open(cfg).read()
    check("format=qcow2" in text and "vdev=xvdb" in text and "access=ro" in text,
          "a qcow2 VDI's entry declares its format")
    r, err = e.call("VBD.create", s, {"VM": vm, "VDI": "OpaqueRef:NULL", "userdevice": "3",
                                      "mode": "RO", "type": "CD", "empty": True})
    cd = e.call("VBD.get_record", s, r)[0] if r else {}
    check(err is None and cd["type"] == "CD" and cd["empty"] and cd["VDI"] == "OpaqueRef:NULL" and
          cd["device"] == "xvdd", f"an empty CD ({err})")
    disks, _ = xl_view(e, cfg)
    check([d["vdev"] for d in disks] == ["xvda", "xvdb", "xvdd"] and
          disks[2].get("is_cdrom") == 1, "xl sees three disks, the last an empty CD-ROM")

    for rec, code in [
            ({"VM": vm, "VDI": q, "userdevice": "0", "mode": "RO", "type": "Disk"},
             "DEVICE_ALREADY_EXISTS"),
            ({"VM": vm, "VDI": q, "userdevice": "99", "mode": "RO", "type": "Disk"},
             "INVALID_DEVICE"),
            ({"VM": vm, "VDI": q, "userdevice": "x,y", "mode": "RO", "type": "Disk"},
             "INVALID_DEVICE"),
            ({"VM": vm, "VDI": q, "userdevice": "5", "mode": "RW", "type": "CD"},
             "VBD_CDS_MUST_BE_READONLY"),
            ({"VM": vm, "VDI": ro, "userdevice": "5", "mode": "RW", "type": "Disk"},
             "VDI_READONLY"),
            ({"VM": vm, "VDI": "OpaqueRef:NULL", "userdevice": "5", "type": "Disk"},
             "INVALID_VALUE"),
            ({"VM": vm, "VDI": q, "userdevice": "5", "mode": "RW", "type": "Floppy"},
             "INVALID_VALUE"),
            ({"VM": vm, "VDI": "OpaqueRef:nosuch", "userdevice": "5", "type": "Disk"},
             "HANDLE_INVALID"),
            ({"VM": "OpaqueRef:nosuch", "VDI": q, "userdevice": "5", "type": "Disk"},
             "HANDLE_INVALID")]:
        before = open(cfg).read()
        r, err = e.call("VBD.create", s, rec)
        check(err and err[0] == code and open(cfg).read() == before,
              f"VBD.create {rec['userdevice']}/{rec.get('mode')}/{rec['type']}: {code}, the "
              "definition untouched")
    r, err = e.call("VBD.create", bob, {"VM": vm, "VDI": q, "userdevice": "5", "type": "Disk"})
    check(err and err[0] == "RBAC_PERMISSION_DENIED", "a vm-operator may not create a VBD")

    r, err = e.call("VDI.destroy", s, raw)
    check(err == ["VDI_IN_USE", raw, "destroy"] and os.path.exists(rawpath),
          "VDI.destroy of a VDI a VBD names: VDI_IN_USE [vdi, destroy], the file kept")
    r, err = e.call("VBD.destroy", bob, vbd)
    check(err and err[0] == "RBAC_PERMISSION_DENIED", "a vm-operator may not destroy a VBD")
    check(e.call("VBD.destroy", s, vbd)[1] is None and vbd not in e.call("VBD.get_all", s)[0] and
          "vdev=xvda" not in open(cfg).read() and
          [d["vdev"] for d in xl_view(e, cfg)[0]] == ["xvdb", "xvdd"],
          "VBD.destroy: the entry leaves the definition (xl agrees)")
    check(e.call("VBD.get_device", s, qvbd)[0] == "xvdb", "the other VBDs keep their references")
    r, err = e.call("VBD.destroy", s, vbd)
    check(err == ["HANDLE_INVALID", "VBD", vbd], "VBD.destroy again: HANDLE_INVALID")
    check(e.call("VDI.destroy", s, raw)[1] is None and not os.path.exists(rawpath),
          "... then the VDI may go")
    return qvbd


def vif_tests(e, s, bob, vm, cfg, net):
    r, err = e.call("VIF.create", s, {"VM": vm, "network": net, "device": "0", "MAC": "",
                                      "MTU": 1500, "other_config": {"o": "p"},
                                      "qos_algorithm_type": "", "qos_algorithm_params": {}})
    check(err is None, f"VIF.create of a halted VM ({err})")
    vif = e.call("VIF.get_record", s, r)[0]
    bridge = e.call("network.get_bridge", s, net)[0]
    check(vif["VM"] == vm and vif["network"] == net and vif["device"] == "0" and
          vif["MAC"].startswith("00:16:3e:") and len(vif["MAC"]) == 17 and
          int(vif["MAC"].split(":")[3], 16) < 0x80 and vif["other_config"]["o"] == "p" and
          r in e.call("network.get_VIFs", s, net)[0] and e.call("VM.get_VIFs", s, vm)[0] == [r],
          f"the VIF: its network, device 0, a random MAC in Xen's OUI ({vif['MAC']})")
    _, nics = xl_view(e, cfg)
    check(len(nics) == 1 and nics[0]["mac"] == vif["MAC"] and nics[0]["bridge"] == bridge and
          nics[0].get("devid") == 0, "xl reads the same vif (MAC, bridge, devid)")
    r2, err = e.call("VIF.create", s, {"VM": vm, "network": net, "device": "",
                                       "MAC": "00:16:3E:12:34:56", "MTU": "9000"})
    check(err is None and e.call("VIF.get_device", s, r2)[0] == "1" and
          e.call("VIF.get_MAC", s, r2)[0] == "00:16:3e:12:34:56" and "mtu=9000" in open(cfg).read(),
          "device \"\": the next free one; the MAC as given; an MTU other than 1500 written")
    for rec, code in [({"VM": vm, "network": net, "device": "0", "MAC": ""},
                       "DEVICE_ALREADY_EXISTS"),
                      ({"VM": vm, "network": net, "device": "2", "MAC": "zz"}, "MAC_INVALID"),
                      ({"VM": vm, "network": net, "device": "2", "MAC": "00:16:3e:00:00:01,x=1"},
                       "MAC_INVALID"),
                      ({"VM": vm, "network": net, "device": "x"}, "INVALID_DEVICE"),
                      ({"VM": vm, "network": net, "device": "2", "MTU": 10}, "INVALID_VALUE"),
                      ({"VM": vm, "network": "OpaqueRef:nosuch", "device": "2"}, "HANDLE_INVALID")]:
        before = open(cfg).read()
        r3, err = e.call("VIF.create", s, rec)
        check(err and err[0] == code and open(cfg).read() == before,
              f"VIF.create {rec}: {code}, the definition untouched")
    r3, err = e.call("VIF.create", bob, {"VM": vm, "network": net, "device": "5"})
    check(err and err[0] == "RBAC_PERMISSION_DENIED", "a vm-operator may not create a VIF")
    check(e.call("VIF.destroy", s, r)[1] is None and e.call("VM.get_VIFs", s, vm)[0] == [r2] and
          [n["mac"] for n in xl_view(e, cfg)[1]] == ["00:16:3e:12:34:56"],
          "VIF.destroy: the entry leaves the definition, the other VIF stays (xl agrees)")
    return r2


def pinned_devids(e, s, img):
    """VIFs without devid= are numbered by position: removing the first must
    not renumber (and so re-reference) the others."""
    cfg = e.define("pins", "guest-idle-64",
                   'vif = [ "bridge=xenbr9", "bridge=xenbr9,mac=00:16:3e:00:00:02", '
                   '"bridge=xenbr9,mac=00:16:3e:00:00:03" ]\n')
    wait_for(lambda: e.call("VM.get_by_name_label", s, "pins")[0], 10)
    vm = e.call("VM.get_by_name_label", s, "pins")[0][0]
    vifs = {e.call("VIF.get_device", s, v)[0]: v for v in e.call("VM.get_VIFs", s, vm)[0]}
    check(sorted(vifs) == ["0", "1", "2"], "three VIFs numbered by position")
    check(e.call("VIF.destroy", s, vifs["0"])[1] is None, "VIF.destroy of the first")
    after = {e.call("VIF.get_device", s, v)[0]: v for v in e.call("VM.get_VIFs", s, vm)[0]}
    check(after == {"1": vifs["1"], "2": vifs["2"]} and
          [n.get("devid") for n in xl_view(e, cfg)[1]] == [1, 2],
          "the others keep their devices and references (devid= pinned in the definition)")


def setter_tests(e, s, bob, alice, sr, net, vdi, vbd, vif):
    tok = e.call("event.from", s, ["vdi"], "", 0.1)[0]["token"]
    check(e.call("VDI.set_name_label", s, vdi, "renamed")[1] is None and
          e.call("VDI.get_name_label", s, vdi)[0] == "renamed", "VDI.set_name_label")
    r = e.call("event.from", s, ["vdi"], tok, 5.0)[0]
    check(any(x["ref"] == vdi and x["operation"] == "mod" and
              x["snapshot"]["name_label"] == "renamed" for x in r["events"]),
          "... arrives as a mod event")
    check(e.call("VDI.set_name_description", s, vdi, "about it")[1] is None and
          e.call("VDI.get_name_description", s, vdi)[0] == "about it", "VDI.set_name_description")
    check(e.call("VDI.add_to_other_config", s, vdi, "k", "v")[1] is None and
          e.call("VDI.get_other_config", s, vdi)[0] == {"k": "v"}, "VDI.add_to_other_config")
    r, err = e.call("VDI.add_to_other_config", s, vdi, "k", "w")
    check(err == ["MAP_DUPLICATE_KEY", "VDI", "other_config", vdi, "k"], "MAP_DUPLICATE_KEY")
    check(e.call("VDI.remove_from_other_config", s, vdi, "k")[1] is None and
          e.call("VDI.get_other_config", s, vdi)[0] == {} and
          e.call("VDI.remove_from_other_config", s, vdi, "absent")[1] is None,
          "VDI.remove_from_other_config (an absent key: no error)")
    check(e.call("VDI.set_other_config", s, vdi, {"a": "1", "b": "2"})[1] is None and
          e.call("VDI.get_other_config", s, vdi)[0] == {"a": "1", "b": "2"}, "VDI.set_other_config")
    r, err = e.call("VDI.set_other_config", s, vdi, ["not", "a", "map"])
    check(err and err[0] == "FIELD_TYPE_ERROR", "set_other_config of a list: FIELD_TYPE_ERROR")
    r, err = e.call("SR.add_to_other_config", s, sr, "xenon_path", "/elsewhere")
    check(err and err[0] == "INVALID_VALUE" and
          e.call("SR.get_other_config", s, sr)[0]["xenon_path"] != "/elsewhere",
          "the daemon's own xenon_* keys may not be set")
    check(e.call("SR.set_name_label", s, sr, "my SR")[1] is None and
          e.call("SR.set_name_description", s, sr, "images")[1] is None and
          e.call("SR.add_to_other_config", s, sr, "o", "1")[1] is None and
          e.call("SR.get_name_label", s, sr)[0] == "my SR" and
          e.call("SR.get_name_description", s, sr)[0] == "images" and
          e.call("SR.get_other_config", s, sr)[0]["o"] == "1" and
          "xenon_path" in e.call("SR.get_other_config", s, sr)[0],
          "SR names and other_config (its own keys kept beside)")
    check(e.call("network.set_name_label", s, net, "lan")[1] is None and
          e.call("network.set_name_description", s, net, "the LAN")[1] is None and
          e.call("network.set_other_config", s, net, {"vlan": "none"})[1] is None and
          e.call("network.get_name_label", s, net)[0] == "lan" and
          e.call("network.get_other_config", s, net)[0] == {"vlan": "none"},
          "network names and other_config")
    check(e.call("VBD.add_to_other_config", s, vbd, "owner", "me")[1] is None and
          e.call("VBD.get_other_config", s, vbd)[0]["owner"] == "me" and
          e.call("VBD.get_other_config", s, vbd)[0]["xenon_in_definition"] == "true",
          "VBD.add_to_other_config")
    check(e.call("VIF.set_other_config", s, vif, {"m": "n"})[1] is None and
          e.call("VIF.get_other_config", s, vif)[0].get("m") == "n" and
          "xenon_bridge" in e.call("VIF.get_other_config", s, vif)[0], "VIF.set_other_config")
    r, err = e.call("VBD.set_name_label", s, vbd, "x")
    check(err and err[0] == "MESSAGE_METHOD_UNKNOWN", "a VBD has no name, as in XAPI")
    r, err = e.call("VDI.set_name_label", s, "OpaqueRef:nosuch", "x")
    check(err == ["HANDLE_INVALID", "VDI", "OpaqueRef:nosuch"], "a setter of no object")
    # RBAC: vm-admin for VDI/VBD/VIF, pool-operator for SR and network
    for m, a in [("VDI.set_name_label", (vdi, "b")), ("VBD.add_to_other_config", (vbd, "b", "c")),
                 ("VIF.remove_from_other_config", (vif, "m")), ("SR.set_name_label", (sr, "b")),
                 ("network.add_to_other_config", (net, "b", "c"))]:
        r, err = e.call(m, bob, *a)
        check(err and err[0] == "RBAC_PERMISSION_DENIED", f"a vm-operator may not {m}")
    r, err = e.call("VDI.set_name_label", alice, vdi, "b")
    check(err and err[0] == "RBAC_PERMISSION_DENIED", "read-only may not set a name")
    check(e.call("VDI.get_name_label", s, vdi)[0] == "renamed", "... nothing changed")


def main():
    pre = tempfile.mkdtemp(prefix="xapi-create-")
    img = os.path.join(pre, "images")
    os.makedirs(img)
    e = Env(extra_args=["--sr-dir", img, "--rescan-interval", "0"])
    try:
        s, err = e.call("session.login_with_password", "root", "secret")
        check(err is None, "root logs in")
        alice, _ = e.call("session.login_with_password", "alice", "alicepw")
        bob, _ = e.call("session.login_with_password", "bob", "bobpw")
        pool = e.call("pool.get_all", s)[0][0]
        sr = e.call("pool.get_default_SR", s, pool)[0]
        check(e.call("SR.get_other_config", s, sr)[0].get("xenon_path") == img,
              "the pool's default SR is the image directory")
        raw, q, ro = vdi_tests(e, s, bob, img, sr)

        # a network: the bridge a VM's vif names (the host may have none)
        e.define("netref", "guest-idle-64", 'vif = [ "bridge=xenbr9" ]\n')
        wait_for(lambda: e.call("network.get_by_name_label", s, "xenbr9")[0], 10)
        nets = [n for n, r in e.call("network.get_all_records", s)[0].items()
                if r["bridge"] == "xenbr9"]
        check(len(nets) == 1, "the network of bridge xenbr9")

        cfg = e.define("vm1", "guest-idle-64")
        wait_for(lambda: e.call("VM.get_by_name_label", s, "vm1")[0], 10)
        vm = e.call("VM.get_by_name_label", s, "vm1")[0][0]
        qvbd = vbd_tests(e, s, bob, img, vm, cfg, raw, q, ro)
        vif = vif_tests(e, s, bob, vm, cfg, nets[0])
        pinned_devids(e, s, img)
        setter_tests(e, s, bob, alice, sr, nets[0], q, qvbd, vif)

        # all of it survives a restart: the definitions and the SR hold the
        # devices and images, STATE_DIR/xapi-meta the names and maps
        keep = {"vdi": e.call("VDI.get_record", s, q)[0], "sr": e.call("SR.get_record", s, sr)[0],
                "net": e.call("network.get_record", s, nets[0])[0],
                "vbd": e.call("VBD.get_record", s, qvbd)[0],
                "vif": e.call("VIF.get_record", s, vif)[0]}
        e.restart_daemon()
        s, _ = e.call("session.login_with_password", "root", "secret")
        now = {"vdi": e.call("VDI.get_record", s, q)[0], "sr": e.call("SR.get_record", s, sr)[0],
               "net": e.call("network.get_record", s, nets[0])[0],
               "vbd": e.call("VBD.get_record", s, qvbd)[0],
               "vif": e.call("VIF.get_record", s, vif)[0]}
        for k in keep:
            for f in ("name_label", "name_description", "other_config"):
                if f in keep[k]:
                    check(now[k][f] == keep[k][f], f"after a restart: {k} {f} as set")
        check(now["vif"]["MAC"] == keep["vif"]["MAC"], "after a restart: the VIF's MAC")
        # a destroyed device's overlay goes with it
        meta = os.path.join(e.tmp, "state", "xapi-meta")
        if not os.path.isdir(meta):
            meta = [os.path.join(dp, d) for dp, ds, _ in os.walk(e.tmp) for d in ds
                    if d == "xapi-meta"][0]
        vbd_uuid = now["vbd"]["uuid"]
        check(any(vbd_uuid in f for f in os.listdir(meta)), "the VBD's other_config is kept in "
              "the state directory")
        check(e.call("VBD.destroy", s, qvbd)[1] is None and
              not any(vbd_uuid in f for f in os.listdir(meta)),
              "VBD.destroy drops its other_config too")
        # VM.destroy takes its devices' other_config with the definition
        vif_uuid = now["vif"]["uuid"]
        check(any(vif_uuid in f for f in os.listdir(meta)), "the VIF's other_config is kept")
        check(e.call("VM.destroy", s, vm)[1] is None and
              not any(vif_uuid in f for f in os.listdir(meta)),
              "VM.destroy drops its VIFs' other_config too")
        check(e.alive(), "the daemon still serves")
    finally:
        e.close()
        shutil.rmtree(pre, ignore_errors=True)


if __name__ == "__main__":
    main()
