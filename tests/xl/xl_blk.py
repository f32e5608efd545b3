#!/usr/bin/env python3
"""PV block devices end to end: `xl_blk.py SCENARIO`.

disk= entries become vbds as libxl makes them, served by blkback in the
domain's VMM; the guest's blkfront (guests/blk) writes, reads, flushes and
discards; the host reads back what it wrote; a read-only disk refuses
writes; an acknowledged flush survives SIGKILL of the VMM; a hostile
frontend (guests/hostile/blk_hostile.c) gets errors and a shut ring while
the VMM lives; nothing is left after the domain goes. Needs /dev/kvm."""
import os
import signal
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from xl_test import BUILD, Env, check, failures, need_kvm, wait_for  # noqa: E402

SECTORS = 2048                  # 1 MiB images
XVDA, XVDB = 51712, 51728


def make_image(e, name):
    path = os.path.join(e.tmp, name)
    with open(path, "wb") as f:
        f.truncate(SECTORS * 512)
        f.seek(64 * 512)
        f.write(b"XENON-HOST")
    os.chmod(path, 0o600)
    return path


def sector(path, n, length=512):
    with open(path, "rb") as f:
        f.seek(n * 512)
        return f.read(length)


def pattern(seed):
    """What the guest's fill() writes: 1024 little-endian words."""
    return b"".join(struct.pack("<I", (seed * 0x9e3779b9 + i) & 0xffffffff)
                    for i in range(1024))


def xs_perms(e, path):
    t, body = e.xs_call(3, path.encode() + b"\0")      # XS_GET_PERMS
    return [x.decode() for x in body.split(b"\0") if x] if t == 3 else None


def guest_cfg(e, name, guest, disks, extra=""):
    dl = ", ".join(f"'{d}'" for d in disks)
    return e.cfg(f"{name}.cfg", f'name = "{name}"\ntype = "pvh"\n'
                 f'kernel = "{os.path.join(BUILD, "guests", guest)}"\n'
                 f'memory = 32\nvcpus = 1\ndisk = [ {dl} ]\n{extra}')


def result(e, name, guest, secs=240):
    return wait_for(lambda: f"RESULT {guest}: " in e.console_log(name), secs)


def no_devices_left(e, what):
    check(f"{what}: no backend directory left",
          wait_for(lambda: not (e.xs_dir("/local/domain/0/backend/vbd") or []), 10),
          str(e.xs_dir("/local/domain/0/backend/vbd")))
    e.check_empty(what)


def t_disks(e, bits="64"):
    """Three disks: read-write, read-only, and read-write again (the last
    two with persistent grants): the guest's checks, the host reading what
    it wrote, nothing left once it powered off."""
    need_kvm()
    rw, ro, rw2 = make_image(e, "rw.img"), make_image(e, "ro.img"), make_image(e, "rw2.img")
    cfg = guest_cfg(e, "blk", f"guest-blk-{bits}",
                    [f"{rw},raw,xvda,rw", f"format=raw,vdev=xvdb,access=ro,target={ro}",
                     f"{rw2},raw,xvdc,rw"])
    rc, out, err = e.xl("create", cfg)
    check("create with two disks: exit 0", rc == 0, err)
    check("the guest finished", result(e, "blk", "blk"), e.console_log("blk")[-2000:])
    log = e.console_log("blk")
    print(log[-3000:])
    check(f"{bits}-bit blkfront: all checks pass", "RESULT blk: PASS" in log)
    check("the host reads what the guest wrote at sector 128",
          sector(rw, 128, 11) == b"XENON-GUEST", repr(sector(rw, 128, 16)))
    check("the host reads the guest's page at sector 0",
          sector(rw, 0, 4096) == pattern(XVDA))
    check("and on the third disk, written through persistent grants",
          sector(rw2, 128, 11) == b"XENON-GUEST" and sector(rw2, 0, 4096) == pattern(XVDA + 32))
    check("the read-only image is untouched", sector(ro, 0, 4096) == b"\0" * 4096 and
          sector(ro, 64, 10) == b"XENON-HOST")
    check("the domain went away after poweroff", wait_for(lambda: "blk" not in e.rows(), 30))
    vlog = open(os.path.join(e.env["XENON_LOG_DIR"], "xl-blk.log"), errors="replace").read()
    abi = "x86_64" if bits == "64" else "x86_32"
    check(f"the first disk ran a 4-page {abi} ring, the second a 1-page one",
          f"{abi} ring of 4 page(s), 128 entries, 1 queue(s)" in vlog and
          f"{abi} ring of 1 page(s), 32 entries, 1 queue(s)" in vlog, vlog[-1500:])
    check("the first disk again with two queues",
          f"{abi} ring of 1 page(s), 32 entries, 2 queue(s)" in vlog, vlog[-1500:])
    check("the second and third disks with persistent grants",
          "2048 sectors, read-only, persistent grants" in vlog and
          "vbd 51744 connected" in vlog and "2048 sectors, persistent grants" in vlog,
          vlog[-1500:])
    no_devices_left(e, "after poweroff")


def t_disks32(e):
    t_disks(e, "32")


def t_nodes_durable(e):
    """While the guest runs: libxl's nodes and permissions. After an
    acknowledged flush the VMM is killed: the data is in the image."""
    need_kvm()
    rw = make_image(e, "rw.img")
    cfg = guest_cfg(e, "dur", "guest-blk-64", [f"{rw},raw,xvda,w"], 'cmdline = "durable"\n')
    rc, out, err = e.xl("create", cfg)
    check("create: exit 0", rc == 0, err)
    check("the guest flushed", wait_for(lambda: "BLK durable" in e.console_log("dur"), 120),
          e.console_log("dur")[-2000:])
    domid = int(e.rows()["dur"].group(2))
    be = f"/local/domain/0/backend/vbd/{domid}/{XVDA}"
    fe = f"/local/domain/{domid}/device/vbd/{XVDA}"
    want_be = {"frontend": fe, "frontend-id": str(domid), "online": "1", "state": "4",
               "params": rw, "type": "phy", "mode": "w", "device-type": "disk",
               "removable": "0", "sectors": str(SECTORS), "sector-size": "512",
               "physical-sector-size": "512", "info": "0", "feature-flush-cache": "1", "feature-barrier": "1",
               "feature-discard": "1", "discard-granularity": "4096",
               "discard-alignment": "0", "max-ring-page-order": "4",
               "feature-max-indirect-segments": "256",
               "multi-queue-max-queues": "4", "feature-persistent": "1"}
    for k, v in want_be.items():
        check(f"backend {k} = {v}", e.xs_read(f"{be}/{k}") == v, repr(e.xs_read(f"{be}/{k}")))
    want_fe = {"backend": be, "backend-id": "0", "state": "4",
               "virtual-device": str(XVDA), "device-type": "disk", "protocol": "x86_64-abi"}
    for k, v in want_fe.items():
        check(f"frontend {k} = {v}", e.xs_read(f"{fe}/{k}") == v, repr(e.xs_read(f"{fe}/{k}")))
    check("backend owned by dom0, readable by the domain",
          xs_perms(e, be) == ["n0", f"r{domid}"], str(xs_perms(e, be)))
    check("frontend owned by the domain, readable by dom0",
          xs_perms(e, fe) == [f"n{domid}", "r0"], str(xs_perms(e, fe)))
    check("libxl's record", e.xs_read(f"/libxl/{domid}/device/vbd/{XVDA}/backend") == be)
    pids = e.vmm_pids()
    check("one VMM", len(pids) == 1, str(pids))
    os.kill(pids[0], signal.SIGKILL)
    check("the VMM is gone", wait_for(lambda: not e.vmm_pids(), 10))
    check("after SIGKILL, the flushed page is in the image", sector(rw, 0, 4096) == pattern(XVDA))
    rc, out, err = e.xl("destroy", "dur")
    no_devices_left(e, "after destroy")


def t_hostile(e):
    """A lying frontend: errors and a shut ring, the VMM unharmed."""
    need_kvm()
    rw, ro = make_image(e, "rw.img"), make_image(e, "ro.img")
    before = sector(rw, 0, SECTORS * 512)
    # A neighbour with its own disk, running at the same time.
    nb = make_image(e, "neighbour.img")
    ncfg = guest_cfg(e, "neighbour", "guest-blk-64", [f"{nb},raw,xvda,rw"])
    rc, out, err = e.xl("create", ncfg)
    check("create the neighbour: exit 0", rc == 0, err)
    cfg = guest_cfg(e, "hostile", "guest-blk-hostile-64",
                    [f"{rw},raw,xvda,rw", f"{ro},raw,xvdb,ro"])
    rc, out, err = e.xl("create", cfg)
    check("create: exit 0", rc == 0, err)
    check("the guest finished", result(e, "hostile", "blk-hostile"),
          e.console_log("hostile")[-2000:])
    log = e.console_log("hostile")
    print(log[-3000:])
    check("every hostile request refused, the VMM serving on",
          "RESULT blk-hostile: PASS" in log)
    vlog = open(os.path.join(e.env["XENON_LOG_DIR"], "xl-hostile.log"), errors="replace").read()
    check("the VMM shut the ring down", "ring shut down" in vlog, vlog[-2000:])
    check("no byte of the images changed", sector(rw, 0, SECTORS * 512) == before and
          sector(ro, 64, 10) == b"XENON-HOST")
    check("the neighbour never noticed: all its checks pass",
          result(e, "neighbour", "blk") and "RESULT blk: PASS" in e.console_log("neighbour"),
          e.console_log("neighbour")[-1500:])
    check("and its disk holds what it wrote", sector(nb, 128, 11) == b"XENON-GUEST")
    wait_for(lambda: "neighbour" not in e.rows(), 30)
    wait_for(lambda: "hostile" not in e.rows(), 30)
    rc, out, err = e.xl("destroy", "hostile")
    no_devices_left(e, "after the hostile guest")


def t_bad_disks(e):
    """Disks that cannot be attached fail the create, leaving nothing."""
    need_kvm()
    cfg = guest_cfg(e, "bad", "guest-blk-64", [f"{e.tmp}/missing.img,raw,xvda,rw"])
    rc, out, err = e.xl("create", cfg)
    check("a missing image fails the create", rc != 0 and "missing.img" in err, err)
    q = os.path.join(e.tmp, "q.qcow2")
    open(q, "wb").close()
    cfg = guest_cfg(e, "bad", "guest-blk-64", [f"{q},qcow2,xvda,rw"])
    rc, out, err = e.xl("create", cfg)
    check("qcow2 is refused (not yet)", rc != 0 and "qcow2" in err, err)
    no_devices_left(e, "after failed creates")


def block_list(e, dom):
    rc, out, err = e.xl("block-list", dom)
    lines = out.splitlines()
    return rc, lines[0] if lines else "", [l.split() for l in lines[1:]], err


def t_hotplug(e):
    """xl block-list, block-detach and block-attach while the guest runs:
    the guest closes on detach and connects to the disk attached again; a
    disk attached to a domain that never connects it is detached at once."""
    need_kvm()
    rw = make_image(e, "rw.img")
    cfg = guest_cfg(e, "hp", "guest-blk-64", [f"{rw},raw,xvda,w"], 'cmdline = "hotplug"\n')
    rc, out, err = e.xl("create", cfg)
    check("create: exit 0", rc == 0, err)
    check("the guest is connected", wait_for(lambda: "BLK ready" in e.console_log("hp"), 120),
          e.console_log("hp")[-2000:])
    domid = int(e.rows()["hp"].group(2))
    rc, head, rows, err = block_list(e, "hp")
    check("block-list: xl's header", head.split() ==
          ["Vdev", "BE", "handle", "state", "evt-ch", "ring-ref", "BE-path"], head)
    check("block-list: the connected disk", rc == 0 and len(rows) == 1 and
          rows[0][:4] == [str(XVDA), "0", str(domid), "4"] and int(rows[0][4]) > 0 and
          rows[0][6] == f"/local/domain/0/backend/vbd/{domid}/{XVDA}", rows)
    rc, out, err = e.xl("block-detach", "hp", "xvda")
    check("block-detach: exit 0", rc == 0, err)
    check("the guest closed its frontend", wait_for(lambda: "BLK detached" in e.console_log("hp"), 60))
    check("the nodes are gone", e.xs_dir(f"/local/domain/{domid}/device/vbd") in (None, []) and
          e.xs_dir(f"/local/domain/0/backend/vbd/{domid}") is None and
          e.xs_dir(f"/libxl/{domid}/device/vbd") in (None, []),
          str(e.xs_dir(f"/local/domain/0/backend/vbd/{domid}")))
    rc, head, rows, err = block_list(e, "hp")
    check("block-list: nothing after the detach", rc == 0 and rows == [], rows)
    rc, out, err = e.xl("block-detach", "hp", "xvda")
    check("block-detach of no device: xl's error", rc != 0 and
          "Error: Device xvda not connected." in err, err)
    rc, out, err = e.xl("block-attach", "hp", f"format=raw,vdev=xvdb,access=rw,target={rw}")
    check("block-attach: exit 0", rc == 0, err)
    check("the guest connected the attached disk and read it",
          wait_for(lambda: "RESULT blk: " in e.console_log("hp"), 120) and
          "BLK reattached" in e.console_log("hp"), e.console_log("hp")[-2000:])
    check("hotplug: all guest checks pass", "RESULT blk: PASS" in e.console_log("hp"),
          e.console_log("hp")[-2000:])
    wait_for(lambda: "hp" not in e.rows(), 30)
    no_devices_left(e, "after the hotplug guest")

    # A frontend that never connects: the idle guest.
    cfg = e.cfg("idle.cfg", f'name = "idle"\ntype = "pvh"\n'
                f'kernel = "{os.path.join(BUILD, "guests", "guest-idle-64")}"\nmemory = 16\n')
    rc, out, err = e.xl("create", cfg)
    check("create an idle domain", rc == 0, err)
    rc, out, err = e.xl("block-attach", "idle", f"{rw},raw,xvdc,r")
    check("block-attach to a domain that never connects: exit 0", rc == 0, err)
    rc, head, rows, err = block_list(e, "idle")
    check("block-list: frontend Initialising, no ring", len(rows) == 1 and
          rows[0][0] == "51744" and rows[0][3:6] == ["1", "-1", "-1"], rows)
    rc, out, err = e.xl("block-attach", "idle", f"{rw},raw,xvdc,r")
    check("block-attach of a vdev in use: refused", rc != 0, err)
    rc, out, err = e.xl("block-detach", "idle", "51744")
    check("block-detach of a never-connected disk: exit 0, no wait", rc == 0, err)
    rc, head, rows, err = block_list(e, "idle")
    check("block-list: empty", rows == [], rows)
    rc, out, err = e.xl("block-attach", "idle", f"format=raw,vdev=xvdd,access=rw,no-discard,target={rw}")
    check("block-attach with no-discard: exit 0", rc == 0, err)
    domid = int(e.rows()["idle"].group(2))
    be = f"/local/domain/0/backend/vbd/{domid}/51760"
    check("no-discard: discard-enable 0, no feature-discard offered",
          e.xs_read(f"{be}/discard-enable") == "0" and e.xs_read(f"{be}/feature-discard") is None
          and e.xs_read(f"{be}/feature-flush-cache") == "1", str(e.xs_dir(be)))
    rc, out, err = e.xl("destroy", "idle")
    no_devices_left(e, "after destroy")


def t_restart(e):
    """A domain restarted by its monitor (on_poweroff = "restart") gets its
    disks again: the guest passes its checks in the second life too."""
    need_kvm()
    rw = make_image(e, "rw.img")
    cfg = guest_cfg(e, "rs", "guest-blk-64", [f"{rw},raw,xvda,w"], 'on_poweroff = "restart"\n')
    rc, out, err = e.xl("create", cfg)
    check("create: exit 0", rc == 0, err)
    check("the guest passed twice (restarted with its disk)",
          wait_for(lambda: e.console_log("rs").count("RESULT blk: PASS") >= 2, 240),
          e.console_log("rs")[-2000:])
    rc, out, err = e.xl("destroy", "rs")
    check("destroy: exit 0", rc == 0, err)
    no_devices_left(e, "after destroy")


SCENARIOS = {n[2:]: f for n, f in globals().items() if n.startswith("t_")}


def main():
    name = sys.argv[1].replace("-", "_")
    e = Env()
    try:
        SCENARIOS[name](e)
    finally:
        e.close()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
