"""The device, storage and network classes, the VM setters and map calls,
RBAC on them, /rrd_updates and the inotify-watched VM directory, against a
real xenon-xapi (no KVM needed: VMs are defined, not started).

The daemon runs with --rescan-interval 0: no periodic scan, so a
definition that shows up does so because inotify saw it."""
import os
import subprocess
import sys
import urllib.request
import uuid as uuid_mod
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xapienv import Env, wait_for  # noqa: E402


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)
    print("ok:", what)


def vdi_of(e, s, vm, dev):
    for vbd in e.call("VM.get_VBDs", s, vm)[0]:
        r = e.call("VBD.get_record", s, vbd)[0]
        if r["device"] == dev:
            return r["VDI"], e.call("VDI.get_location", s, r["VDI"])[0]
    return None, None


def qemu_info(path):
    import json
    return json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", path],
                                     check=True, capture_output=True, text=True).stdout)


def same_content(a, b):
    return subprocess.run(["qemu-img", "compare", "-q", a, b]).returncode == 0


def clones(e, s, bob, vm, img):
    """VM.clone / VM.copy / VM.snapshot of a halted VM, templates and
    VM.provision. vm: a halted VM with a raw rw disk (xvda), a qcow2 ro
    disk (xvdb) and a VIF with a MAC."""
    with open(os.path.join(img, "a.raw"), "r+b") as f:
        f.write(b"the raw disk's first bytes")
    _, a_path = vdi_of(e, s, vm, "xvda")
    b_vdi, _ = vdi_of(e, s, vm, "xvdb")
    name = e.call("VM.get_name_label", s, vm)[0]
    tok = e.call("event.from", s, ["vm"], "", 0.1)[0]["token"]

    c, err = e.call("VM.clone", s, vm, "clone1")
    check(err is None and c != vm, f"VM.clone of a halted VM: a new VM ({err})")
    rc = e.call("VM.get_record", s, c)[0]
    check(rc["name_label"] == "clone1" and rc["uuid"] != e.call("VM.get_uuid", s, vm)[0] and
          not rc["is_a_template"] and not rc["is_a_snapshot"] and rc["power_state"] == "Halted" and
          "start" in rc["allowed_operations"], "the clone: its own name and uuid, a halted VM")
    check(os.path.exists(os.path.join(e.vm_dir, "clone1.cfg")), "... with a definition of its own")
    c_vdi, c_path = vdi_of(e, s, c, "xvda")
    check(c_path == os.path.join(img, "clone1-xvda.raw") and same_content(c_path, a_path) and
          qemu_info(c_path)["format"] == "raw" and
          (os.stat(c_path).st_mode & 0o777) == 0o600,
          "a raw disk is copied (raw, the same bytes, mode 0600) into the SR")
    check(vdi_of(e, s, c, "xvdb")[0] == b_vdi, "a read-only disk is shared, not copied")
    vifs = e.call("VM.get_VIFs", s, c)[0]
    text = open(os.path.join(e.vm_dir, "clone1.cfg")).read()
    check(len(vifs) == 1 and "xenbr7" in text and "00:16:3e:00:00:01" not in text,
          "the VIF keeps its bridge and loses its MAC")
    with open(c_path, "r+b") as f:
        f.write(b"changed in the clone")
    check(open(a_path, "rb").read(9) == b"the raw d", "the original's disk is its own")
    r = e.call("event.from", s, ["vm"], tok, 5.0)[0]
    check(any(x["operation"] == "add" and x["ref"] == c for x in r["events"]),
          "the clone arrives as an add event")

    cp, err = e.call("VM.copy", s, vm, "copy1", "OpaqueRef:NULL")
    cp_path = vdi_of(e, s, cp, "xvda")[1] if cp else None
    check(err is None and cp_path == os.path.join(img, "copy1-xvda.raw") and
          same_content(cp_path, a_path), "VM.copy (SR NULL): disks copied into the SR")
    cp2, err = e.call("VM.copy", s, vm, "copy3", "")
    check(err is None and os.path.exists(os.path.join(img, "copy3-xvda.raw")),
          "VM.copy with SR \"\" (as XO sends it): into the SR")
    e.define("broken", "guest-idle-64", f'disk = [ "{img}/missing.raw,raw,xvda,rw" ]\n')
    from xapienv import wait_for
    wait_for(lambda: e.call("VM.get_by_name_label", s, "broken")[0], 10)
    br = e.call("VM.get_by_name_label", s, "broken")[0][0]
    r, err = e.call("VM.clone", s, br, "brokenclone")
    check(err and err[0] == "INTERNAL_ERROR" and "missing.raw" in err[1] and
          not os.path.exists(os.path.join(e.vm_dir, "brokenclone.cfg")) and
          not e.call("VM.get_by_name_label", s, "brokenclone")[0] and
          not [f for f in os.listdir(img) if f.startswith("brokenclone")],
          f"a disk that cannot be copied fails the clone, and nothing is left ({err})")
    # task.cancel interrupts a copy: the disk is a FIFO nobody writes, so
    # qemu-img blocks opening it and the task stays pending until cancelled
    fifo = os.path.join(e.tmp, "never.raw")
    os.mkfifo(fifo)
    e.define("slow", "guest-idle-64", f'disk = [ "{fifo},raw,xvda,rw" ]\n')
    wait_for(lambda: e.call("VM.get_by_name_label", s, "slow")[0], 10)
    sl = e.call("VM.get_by_name_label", s, "slow")[0][0]
    task, err = e.call("Async.VM.copy", s, sl, "slowcopy", "")
    check(err is None and e.call("task.get_status", s, task)[0] == "pending",
          "Async.VM.copy of a disk that never ends: pending")
    check(e.call("task.cancel", bob, task)[1][0] == "RBAC_PERMISSION_DENIED",
          "task.cancel by another (non-admin) user is refused")
    check(e.call("task.cancel", s, task)[1] is None, "task.cancel")
    wait_for(lambda: e.call("task.get_status", s, task)[0] not in ("pending", "cancelling"), 30)
    check(e.call("task.get_status", s, task)[0] == "cancelled" and
          e.call("task.get_error_info", s, task)[0] == ["TASK_CANCELLED", task],
          "the copy stops: the task ends cancelled, error_info TASK_CANCELLED [task]")
    check(not os.path.exists(os.path.join(e.vm_dir, "slowcopy.cfg")) and
          not [f for f in os.listdir(img) if f.startswith("slowcopy")] and
          not e.call("VM.get_by_name_label", s, "slowcopy")[0],
          "... and leaves neither a definition nor an image")
    r, err = e.call("VM.copy", s, vm, "copy2", "OpaqueRef:nosuch")
    check(err == ["HANDLE_INVALID", "SR", "OpaqueRef:nosuch"], "VM.copy to no such SR")
    r, err = e.call("VM.clone", s, vm, "clone1")
    check(err and err[0] == "INVALID_VALUE", "a clone's name must be free")
    r, err = e.call("VM.clone", s, vm, "bad name!")
    check(err and err[0] == "INVALID_VALUE", "a clone's name must be one xl takes")
    r, err = e.call("VM.clone", bob, vm, "clone9")
    check(err and err[0] == "RBAC_PERMISSION_DENIED", "a vm-operator may not clone")
    r, err = e.call("VM.snapshot", bob, vm, "snap9")
    check(err and err[0] == "RBAC_PERMISSION_DENIED", "a vm-operator may not snapshot")

    # --- snapshot: is_a_snapshot, snapshot_of, snapshots ---
    snap, err = e.call("VM.snapshot", s, vm, "snap1")
    check(err is None, f"VM.snapshot of a halted VM ({err})")
    rs = e.call("VM.get_record", s, snap)[0]
    check(rs["is_a_snapshot"] and rs["is_a_template"] and rs["snapshot_of"] == vm and
          rs["snapshot_time"] != "19700101T00:00:00Z" and "start" not in rs["allowed_operations"],
          "the snapshot: is_a_snapshot, a template, snapshot_of the VM, snapshot_time")
    check(e.call("VM.get_snapshots", s, vm)[0] == [snap], "the VM's snapshots lists it")
    check(same_content(vdi_of(e, s, snap, "xvda")[1], a_path), "its disk holds the VM's")
    r, err = e.call("VM.start", s, snap, False, False)
    check(err == ["VM_IS_TEMPLATE", snap], "a snapshot does not start: VM_IS_TEMPLATE")
    r, err = e.call("VM.set_is_a_template", s, snap, False)
    check(err and err[0] == "OPERATION_NOT_ALLOWED", "a snapshot stays a template")
    fs, err = e.call("VM.clone", s, snap, "fromsnap")
    rf = e.call("VM.get_record", s, fs)[0] if fs else {}
    check(err is None and not rf["is_a_template"] and not rf["is_a_snapshot"] and
          rf["snapshot_of"] == "OpaqueRef:NULL", "a snapshot's clone is a VM")
    check(e.call("VM.destroy", s, snap)[1] is None and
          e.call("VM.get_snapshots", s, vm)[0] == [], "a destroyed snapshot leaves snapshots")

    # --- templates: a qcow2 disk's clone is an overlay on it ---
    raw = os.path.join(img, "t.raw")
    with open(raw, "wb") as f:
        f.write(b"template data" * 1000)
        f.truncate(4 << 20)
    base = os.path.join(img, "t.qcow2")
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, base], check=True)
    os.unlink(raw)
    e.define("tmpl", "guest-idle-64", f'disk = [ "{base},qcow2,xvda,rw" ]\n')
    wait_for(lambda: e.call("VM.get_by_name_label", s, "tmpl")[0], 10)
    t = e.call("VM.get_by_name_label", s, "tmpl")[0][0]
    check(e.call("VM.set_is_a_template", s, t, True)[1] is None and
          e.call("VM.get_is_a_template", s, t)[0] and
          "start" not in e.call("VM.get_allowed_operations", s, t)[0],
          "VM.set_is_a_template: a template (it may not start)")
    r, err = e.call("VM.start", s, t, False, False)
    check(err == ["VM_IS_TEMPLATE", t], "VM.start of a template: VM_IS_TEMPLATE")
    n, err = e.call("VM.clone", s, t, "fromtmpl")
    check(err is None and e.call("VM.get_is_a_template", s, n)[0],
          "a template's clone is a template")
    n_path = vdi_of(e, s, n, "xvda")[1]
    info = qemu_info(n_path)
    check(info["format"] == "qcow2" and
          info.get("full-backing-filename", info.get("backing-filename")) == base and
          same_content(n_path, base), "its qcow2 disk is an overlay backed by the template's")
    check(e.call("VM.provision", s, n)[1] is None and not e.call("VM.get_is_a_template", s, n)[0] and
          "start" in e.call("VM.get_allowed_operations", s, n)[0],
          "VM.provision: a VM that may start")
    r, err = e.call("VM.set_is_a_template", s, t, False)
    check(err and err[0] == "OPERATION_NOT_ALLOWED",
          "a template whose disk backs a clone stays a template")
    check(e.call("VM.get_snapshots", s, vm)[0] == [] and
          e.call("VM.get_name_label", s, vm)[0] == name, "the source is as it was")


def main():
    import tempfile
    pre = tempfile.mkdtemp(prefix="xapi-sr-")
    img = os.path.join(pre, "images")
    os.makedirs(img)
    with open(os.path.join(img, "a.raw"), "wb") as f:
        f.truncate(8 << 20)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2",
                    os.path.join(img, "b.qcow2"), "64M"], check=True)
    e = Env(extra_args=["--sr-dir", img, "--rescan-interval", "0"])
    try:
        s, err = e.call("session.login_with_password", "root", "secret")
        check(err is None, "root logs in")
        alice, _ = e.call("session.login_with_password", "alice", "alicepw")
        bob, _ = e.call("session.login_with_password", "bob", "bobpw")

        # --- inotify: a definition written now shows up by event ---
        tok = e.call("event.from", s, ["vm"], "", 0.1)[0]["token"]
        e.define("vm1", "guest-idle-64",
                 f'disk = [ "{img}/a.raw,raw,xvda,rw", "{img}/b.qcow2,qcow2,xvdb,ro" ]\n'
                 'vif = [ "bridge=xenbr7,mac=00:16:3e:00:00:01" ]\n')
        seen = False
        for _ in range(10):     # each call blocks until an event comes (or 30 s)
            r, err = e.call("event.from", s, ["vm"], tok, 30.0)
            assert err is None, err
            tok = r["token"]
            if any(ev["operation"] == "add" and ev["snapshot"].get("name_label") == "vm1"
                   for ev in r["events"]):
                seen = True
                break
        check(seen, "a VM written into the VM directory arrives as an add event (inotify)")

        vm = e.call("VM.get_by_name_label", s, "vm1")[0][0]
        recs = {c: e.call(c + ".get_all_records", s)[0]
                for c in ["VBD", "VDI", "SR", "PBD", "VIF", "network", "PIF"]}
        vbds = e.call("VM.get_VBDs", s, vm)[0]
        check(len(vbds) == 2 and set(vbds) <= set(recs["VBD"]), "VM.VBDs lists its two disks")
        byname = {r["device"]: r for r in (recs["VBD"][v] for v in vbds)}
        check(byname["xvda"]["mode"] == "RW" and byname["xvdb"]["mode"] == "RO" and
              byname["xvda"]["userdevice"] == "0" and not byname["xvda"]["currently_attached"],
              "VBD device, mode, userdevice, detached while halted")
        vdi_a = recs["VDI"][byname["xvda"]["VDI"]]
        vdi_b = recs["VDI"][byname["xvdb"]["VDI"]]
        check(vdi_a["virtual_size"] == 8 << 20 and vdi_b["virtual_size"] == 64 << 20,
              "VDI virtual_size: raw file size, qcow2 from qemu-img")
        check(vdi_a["sm_config"]["image-format"] == "raw" and
              vdi_b["sm_config"]["image-format"] == "qcow2", "VDI image formats")
        sr = recs["SR"][vdi_a["SR"]]
        check(vdi_b["SR"] == vdi_a["SR"] and set(sr["VDIs"]) ==
              {byname["xvda"]["VDI"], byname["xvdb"]["VDI"]}, "the SR lists the directory's VDIs")
        check(vdi_a["VBDs"] == [v for v in vbds if recs["VBD"][v]["device"] == "xvda"],
              "VDI.VBDs points back at the VBD")
        pbd = recs["PBD"][sr["PBDs"][0]]
        check(pbd["SR"] == vdi_a["SR"] and pbd["currently_attached"], "the SR's PBD")
        host = e.call("host.get_all", s)[0][0]
        check(sr["PBDs"][0] in e.call("host.get_PBDs", s, host)[0], "host.PBDs")
        check(e.call("SR.get_by_uuid", s, sr["uuid"])[0] == vdi_a["SR"], "SR.get_by_uuid")
        check(e.call("VDI.get_by_name_label", s, "b.qcow2")[0] == [byname["xvdb"]["VDI"]],
              "VDI.get_by_name_label")
        check(e.call("VBD.get_by_name_label", s, "x")[1][0] == "MESSAGE_METHOD_UNKNOWN",
              "VBD has no get_by_name_label, as in XAPI")
        vifs = e.call("VM.get_VIFs", s, vm)[0]
        check(len(vifs) == 1, "VM.VIFs")
        vif = recs["VIF"][vifs[0]]
        net = recs["network"][vif["network"]]
        check(vif["MAC"] == "00:16:3e:00:00:01" and vif["device"] == "0" and
              net["bridge"] == "xenbr7" and vifs[0] in net["VIFs"], "VIF MAC, device, network")
        for ref, pif in recs["PIF"].items():
            check(ref in recs["network"][pif["network"]]["PIFs"], "PIF %s on its network" %
                  pif["device"])
        check(e.call("VBD.get_mode", s, vbds[0])[0] in ("RW", "RO"), "a VBD field getter")
        # uuids derive from what names each object (UUIDv5 in the daemon's
        # namespace), so they are the same after a restart
        ns = uuid_mod.UUID("6b1e0c55-7a3d-4f52-9e8b-58656e6f6e21")
        vmu = e.call("VM.get_uuid", s, vm)[0]
        check(byname["xvda"]["uuid"] == str(uuid_mod.uuid5(ns, f"vbd:{vmu}/xvda")) and
              vdi_a["uuid"] == str(uuid_mod.uuid5(ns, f"vdi:{img}/a.raw")) and
              recs["VIF"][vifs[0]]["uuid"] == str(uuid_mod.uuid5(ns, f"vif:{vmu}/0")) and
              net["uuid"] == str(uuid_mod.uuid5(ns, "network:xenbr7")) and
              sr["uuid"] == str(uuid_mod.uuid5(ns, f"sr:{img}")),
              "UUIDs are UUIDv5 of vbd:<vm>/<vdev>, vdi:<path>, vif:<vm>/<devid>, "
              "network:<bridge>, sr:<dir>")
        e.call("VM.add_tags", s, vm, "again")
        check(e.call("VBD.get_uuid", s, vbds[0])[0] == recs["VBD"][vbds[0]]["uuid"],
              "VBD uuid stable across rescans")

        # SR.scan sees an image grown in place (no inotify event for an
        # open writer's growth until it closes: here it closes, so either
        # path works; the call must answer and the size follow)
        with open(os.path.join(img, "a.raw"), "r+b") as f:
            f.truncate(16 << 20)
        check(e.call("SR.scan", s, vdi_a["SR"])[1] is None and
              e.call("VDI.get_virtual_size", s, byname["xvda"]["VDI"])[0] == 16 << 20,
              "SR.scan: the VDI's new size")
        r, err = e.call("SR.scan", alice, vdi_a["SR"])
        check(err and err[0] == "RBAC_PERMISSION_DENIED", "read-only may not scan an SR")

        # --- disks outside the SR: a qcow2's virtual_size from qemu-img,
        # a qcow2 file declared raw its file's size (the declared format
        # counts, never the file's first bytes) ---
        outq = os.path.join(e.tmp, "out.qcow2")
        outr = os.path.join(e.tmp, "outraw.img")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", outq, "32M"], check=True)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", outr, "48M"], check=True)
        e.define("ext", "guest-idle-64",
                 f'disk = [ "{outq},qcow2,xvda,rw", "{outr},raw,xvdb,rw" ]\n')
        check(wait_for(lambda: e.call("VM.get_by_name_label", s, "ext")[0], 10), "VM ext listed")
        ext = e.call("VM.get_by_name_label", s, "ext")[0][0]
        evbd = {e.call("VBD.get_device", s, v)[0]: v for v in e.call("VM.get_VBDs", s, ext)[0]}

        def vsize(dev):
            return e.call("VDI.get_virtual_size", s, e.call("VBD.get_VDI", s, evbd[dev])[0])[0]
        wait_for(lambda: vsize("xvda") == 32 << 20, 10)
        check(vsize("xvda") == 32 << 20 and vsize("xvdb") == os.path.getsize(outr) and
              os.path.getsize(outq) < 32 << 20,
              "outside the SR: a qcow2's virtual_size is qemu-img's, a qcow2 file declared "
              f"raw its file size ({vsize('xvda')}, {vsize('xvdb')})")
        os.unlink(os.path.join(e.vm_dir, "ext.cfg"))

        # --- plug on a halted VM: XAPI's error ---
        r, err = e.call("VBD.plug", s, vbds[0])
        check(err and err[0] == "VM_BAD_POWER_STATE" and err[2:] == ["running", "halted"],
              "VBD.plug of a halted VM: VM_BAD_POWER_STATE")
        r, err = e.call("VIF.unplug", s, vifs[0])
        check(err and err[0] == "VM_BAD_POWER_STATE", "VIF.unplug of a halted VM")

        # --- setters and maps ---
        check(e.call("VM.add_to_other_config", s, vm, "k", 'v"x')[1] is None, "add_to_other_config")
        r, err = e.call("VM.add_to_other_config", s, vm, "k", "other")
        check(err == ["MAP_DUPLICATE_KEY", "VM", "other_config", vm, "k"], "MAP_DUPLICATE_KEY")
        check(e.call("VM.get_other_config", s, vm)[0]["k"] == 'v"x', "other_config kept, quoted")
        e.call("VM.add_to_xenstore_data", s, vm, "vm-data/x", "1")
        check(e.call("VM.get_xenstore_data", s, vm)[0] == {"vm-data/x": "1"}, "xenstore_data")
        r, err = e.call("VM.add_to_xenstore_data", s, vm, "control/shutdown", "poweroff")
        check(err and err[0] == "INVALID_VALUE", "xenstore_data outside vm-data/: INVALID_VALUE")
        e.call("VM.remove_from_other_config", s, vm, "k")
        check("k" not in e.call("VM.get_other_config", s, vm)[0], "remove_from_other_config")
        check(e.call("VM.remove_from_other_config", s, vm, "absent")[1] is None,
              "removing an absent key is no error")
        e.call("VM.add_tags", s, vm, "web")
        check("web" in e.call("VM.get_tags", s, vm)[0], "add_tags")
        e.call("VM.remove_tags", s, vm, "web")
        check("web" not in e.call("VM.get_tags", s, vm)[0], "remove_tags")
        e.call("VM.set_name_description", s, vm, "a test VM")
        check(e.call("VM.get_name_description", s, vm)[0] == "a test VM", "set_name_description")
        check(e.call("VM.set_memory", s, vm, 32 << 20)[1] is None and
              e.call("VM.get_memory_static_max", s, vm)[0] == 32 << 20, "set_memory when halted")
        check(e.call("VM.set_VCPUs_max", s, vm, 2)[1] is None and
              e.call("VM.get_VCPUs_max", s, vm)[0] == 2, "set_VCPUs_max when halted")
        r, err = e.call("VM.set_VCPUs_at_startup", s, vm, 3)
        check(err and err[0] == "VCPUS_AT_STARTUP_GREATER_THAN_VCPUS_MAX", "VCPUs above max")
        r, err = e.call("VM.set_memory", s, vm, "lots")
        check(err and err[0] == "FIELD_TYPE_ERROR", "set_memory of a non-number: FIELD_TYPE_ERROR")
        r, err = e.call("VM.set_other_config", s, vm, ["not", "a", "map"])
        check(err and err[0] == "FIELD_TYPE_ERROR", "set_other_config of a list: FIELD_TYPE_ERROR")
        r, err = e.call("VM.set_name_label", s, vm, "bad name!")
        check(err and err[0] == "INVALID_VALUE", "a name xl refuses: INVALID_VALUE")
        uuid = e.call("VM.get_uuid", s, vm)[0]
        check(e.call("VM.set_name_label", s, vm, "vm2")[1] is None and
              e.call("VM.get_name_label", s, vm)[0] == "vm2" and
              e.call("VM.get_uuid", s, vm)[0] == uuid, "renamed: same ref, same uuid")
        text = open(os.path.join(e.vm_dir, "vm1.cfg")).read()
        check('name = "vm2"' in text and "xapi_name_description" in text and
              not any(n.startswith(".") for n in os.listdir(e.vm_dir)),
              "the definition file holds it all, no temporary left")
        dom0 = [v for v, r in e.call("VM.get_all_records", s)[0].items()
                if r["is_control_domain"]][0]
        r, err = e.call("VM.add_tags", s, dom0, "x")
        check(err and err[0] == "OPERATION_NOT_ALLOWED", "the control domain has no definition")

        # --- RBAC ---
        r, err = e.call("VM.set_name_label", bob, vm, "vm3")
        check(err and err[0] == "RBAC_PERMISSION_DENIED", "vm-operator may not rename")
        r, err = e.call("VM.add_tags", alice, vm, "x")
        check(err and err[0] == "RBAC_PERMISSION_DENIED", "read-only may not tag")
        check(e.call("VM.add_tags", bob, vm, "ops")[1] is None, "vm-operator may tag")
        r, err = e.call("VBD.plug", bob, vbds[0])
        check(err and err[0] == "RBAC_PERMISSION_DENIED", "vm-operator may not plug")
        check(e.call("VDI.get_all_records", alice)[1] is None, "read-only may read VDIs")

        clones(e, s, bob, vm, img)

        # --- rrd_updates ---
        def rrd(q):
            try:
                with urllib.request.urlopen(e.url + "/rrd_updates?" + q, timeout=10) as r:
                    return r.status, r.read()
            except urllib.error.HTTPError as x:
                return x.code, x.read()
        st, _ = rrd("start=0&host=true")
        check(st == 403, "rrd_updates without a session: 403")
        st, _ = rrd("start=0&host=true&session_id=OpaqueRef:forged")
        check(st == 403, "rrd_updates with a forged session: 403")
        st, body = rrd("start=0&cf=AVERAGE&interval=5&host=true&session_id=" + s)
        check(st == 200, "rrd_updates answers")
        x = ET.fromstring(body)
        meta = x.find("meta")
        legend = [en.text for en in meta.find("legend")]
        huuid = e.call("host.get_uuid", s, host)[0]
        check(f"AVERAGE:host:{huuid}:memory_total_kib" in legend and
              f"AVERAGE:host:{huuid}:memory_free_kib" in legend and
              f"AVERAGE:host:{huuid}:cpu0" in legend, "host legend: cpu0, memory_*_kib")
        check(f"AVERAGE:host:{huuid}:cpu_avg" in legend and
              f"AVERAGE:host:{huuid}:loadavg" in legend and
              f"AVERAGE:host:{huuid}:pif_aggr_rx" in legend and
              f"AVERAGE:host:{huuid}:pif_aggr_tx" in legend, "host legend: cpu_avg, loadavg, pif_aggr_*")
        pif_devs = [e.call("PIF.get_device", s, r)[0] for r in e.call("PIF.get_all", s)[0]]
        missing = [d for d in pif_devs for k in ("rx", "tx")
                   if f"AVERAGE:host:{huuid}:pif_{d}_{k}" not in legend]
        check(not missing, f"host legend: pif_<device>_rx/_tx of every PIF record {missing}")
        rows = x.find("data").findall("row")
        check(int(meta.find("rows").text) == len(rows) >= 1 and
              int(meta.find("columns").text) == len(legend) and
              all(len(r.findall("v")) == len(legend) for r in rows) and
              int(meta.find("step").text) == 5, "meta rows/columns/step match the data")
        st, _ = rrd("start=abc&session_id=" + s)
        check(st == 400, "rrd_updates start=abc: 400")
        st, body = rrd(f"start=0&vm_uuid={uuid}&session_id=" + s)
        check(st == 200 and not [en for en in ET.fromstring(body).find("meta").find("legend")
                                 if ":host:" in en.text], "vm_uuid: no host sources")
        # --- references survive a restart of the daemon (derived from uuids) ---
        classes = ["VM", "VM_metrics", "VBD", "VDI", "SR", "PBD", "VIF", "network", "PIF",
                   "host", "host_metrics", "host_cpu", "pool", "role"]
        before = {c: {r: e.call(c + ".get_uuid", s, r)[0] for r in e.call(c + ".get_all", s)[0]}
                  for c in classes}
        e.restart_daemon()
        s, _ = e.call("session.login_with_password", "root", "secret")
        after = {c: {r: e.call(c + ".get_uuid", s, r)[0] for r in e.call(c + ".get_all", s)[0]}
                 for c in classes}
        check(before == after and len(before["VM"]) >= 5,
              "after a restart every VM, device, storage, network and host object has the "
              "reference and uuid it had")
        check(e.call("VM.get_by_name_label", s, "vm2")[0] == [vm] and
              e.call("VM.get_snapshots", s, vm)[0] == [], "a renamed VM too")
        check(e.alive(), "the daemon still serves")
    finally:
        e.close()
        import shutil
        shutil.rmtree(pre, ignore_errors=True)


if __name__ == "__main__":
    main()
