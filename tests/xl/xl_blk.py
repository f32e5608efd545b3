#!/usr/bin/env python3
"""PV block devices end to end: `xl_blk.py SCENARIO`.

disk= entries become vbds as libxl makes them, served by blkback in the
domain's VMM; the guest's blkfront (guests/blk) writes, reads, flushes and
discards; the host reads back what it wrote; a read-only disk refuses
writes; an acknowledged flush survives SIGKILL of the VMM; a hostile
frontend (guests/hostile/blk_hostile.c) gets errors and a shut ring while
the VMM lives; nothing is left after the domain goes. Needs /dev/kvm."""
import os
import shutil
import signal
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from xl_test import BUILD, XL, Env, check, failures, need_kvm, wait_for  # noqa: E402

SECTORS = 2048                  # 1 MiB images
XVDA, XVDB, XVDC = 51712, 51728, 51744


def make_image(e, name):
    path = os.path.join(e.tmp, name)
    with open(path, "wb") as f:
        f.truncate(SECTORS * 512)
        f.seek(64 * 512)
        f.write(b"XENON-HOST")
    os.chmod(path, 0o600)
    return path


def convert(src, dst, fmt_in, fmt_out):
    subprocess.run(["qemu-img", "convert", "-f", fmt_in, "-O", fmt_out, src, dst], check=True)
    os.chmod(dst, 0o600)
    return dst


def make_formatted(e, name, fmt):
    """A qcow2 (vhd: QEMU's vpc) image holding what make_image writes: the
    host's "XENON-HOST" at sector 64, converted by qemu-img."""
    raw = make_image(e, name + ".src")
    path = convert(raw, os.path.join(e.tmp, name), "raw", fmt)
    os.unlink(raw)
    return path


def formatted_sector(e, path, fmt, n, length=512):
    """Read an image through QEMU's block layer (qemu-img convert to raw)."""
    out = os.path.join(e.tmp, "readback.raw")
    convert(path, out, fmt, "raw")
    data = sector(out, n, length)
    os.unlink(out)
    return data


def nbd_servers(e):
    """Live (not zombie) qemu-nbd processes serving under this test's run dir."""
    found = []
    run = e.env["XENON_RUN_DIR"]
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            argv = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")
            state = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if argv and argv[0].endswith(b"qemu-nbd") and state != "Z" and \
                any(a.startswith(run.encode()) for a in argv):
            found.append((int(p), [a.decode(errors="replace") for a in argv if a]))
    return found


def holders(paths):
    """Processes with one of these files open."""
    want = {os.path.realpath(x) for x in paths}
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{p}/fd"):
                try:
                    if os.readlink(f"/proc/{p}/fd/{fd}") in want:
                        found.append(int(p))
                except OSError:
                    pass
        except OSError:
            continue
    return found


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


def nbd_left(e, what, images):
    check(f"{what}: no qemu-nbd left", wait_for(lambda: not nbd_servers(e), 10),
          str(nbd_servers(e)))
    check(f"{what}: no process holds an image open", not holders(images), str(holders(images)))
    d = os.path.join(e.env["XENON_RUN_DIR"], "nbd")
    left = [os.path.join(r, f) for r, ds, fs in os.walk(d) for f in fs + ds]
    check(f"{what}: nothing left under RUN_DIR/nbd", not left, str(left))


def t_qcow2(e, bits="64"):
    """The must-show: two disks, raw read-write and qcow2 read-only; the
    guest uses both, the qcow2 one detached and another attached while it
    runs; block-list; nothing left after destroy."""
    need_kvm()
    rw = make_image(e, "rw.img")
    q = make_formatted(e, "ro.qcow2", "qcow2")
    q2 = make_formatted(e, "hot.qcow2", "qcow2")
    cfg = guest_cfg(e, "qc", f"guest-blk-{bits}",
                    [f"{rw},raw,xvda,rw", f"format=qcow2,vdev=xvdb,access=ro,target={q}"],
                    'cmdline = "hotplug"\n')
    rc, out, err = e.xl("create", cfg)
    check("create with a raw and a qcow2 disk: exit 0", rc == 0, err)
    check("the guest used both", wait_for(lambda: "BLK ready" in e.console_log("qc"), 120),
          e.console_log("qc")[-2000:])
    domid = int(e.rows()["qc"].group(2))
    be = f"/local/domain/0/backend/vbd/{domid}/{XVDB}"
    check("the qcow2 disk: libxl's qdisk keys", e.xs_read(f"{be}/type") == "qdisk" and
          e.xs_read(f"{be}/params") == f"qcow2:{q}" and e.xs_read(f"{be}/mode") == "r",
          str([e.xs_read(f"{be}/{k}") for k in ("type", "params", "mode")]))
    check("its size is the image's virtual size, from the export",
          e.xs_read(f"{be}/sectors") == str(SECTORS) and e.xs_read(f"{be}/info") == "4" and
          e.xs_read(f"{be}/feature-discard") is None, str(e.xs_read(f"{be}/sectors")))
    srv = nbd_servers(e)
    check("one qemu-nbd, read-only, the format given", len(srv) == 1 and
          "--read-only" in srv[0][1] and "--format=qcow2" in srv[0][1] and
          srv[0][1][-1] == q, str(srv))
    sockdir = os.path.join(e.env["XENON_RUN_DIR"], "nbd", str(domid))
    check("its directory 0700, its socket not reachable by path",
          os.stat(sockdir).st_mode & 0o777 == 0o700 and
          not [f for f in os.listdir(sockdir) if f.endswith(".sock")], str(os.listdir(sockdir)))
    rc, head, rows, err = block_list(e, "qc")
    check("block-list: both disks connected", rc == 0 and len(rows) == 2 and
          sorted(r[0] for r in rows) == [str(XVDA), str(XVDB)] and
          all(r[3] == "4" for r in rows), rows)
    rc, out, err = e.xl("block-detach", "qc", "xvdb")
    check("block-detach of the qcow2 disk: exit 0", rc == 0, err)
    check("the guest closed it", wait_for(lambda: "BLK detached" in e.console_log("qc"), 60))
    check("its qemu-nbd is gone", wait_for(lambda: not nbd_servers(e), 10), str(nbd_servers(e)))
    rc, out, err = e.xl("block-attach", "qc", f"format=qcow2,vdev=xvdc,access=ro,target={q2}")
    check("block-attach of another qcow2 disk: exit 0", rc == 0, err)
    rc, head, rows, err = block_list(e, "qc")
    check("block-list: the raw disk and the attached one", rc == 0 and
          sorted(r[0] for r in rows) == [str(XVDA), "51744"], rows)
    check("the guest read the attached qcow2 disk",
          wait_for(lambda: "RESULT blk: " in e.console_log("qc"), 120) and
          "BLK reattached" in e.console_log("qc"), e.console_log("qc")[-2000:])
    log = e.console_log("qc")
    print(log[-2500:])
    check(f"{bits}-bit guest: all checks pass (writes to the qcow2 disk refused)",
          "RESULT blk: PASS" in log and
          f"vbd {XVDB}: {SECTORS} sectors of 512 bytes, info 4" in log, log[-2000:])
    check("the host reads what the guest wrote on the raw disk",
          sector(rw, 128, 11) == b"XENON-GUEST" and sector(rw, 0, 4096) == pattern(XVDA))
    check("the qcow2 images are unchanged",
          formatted_sector(e, q, "qcow2", 64, 10) == b"XENON-HOST" and
          formatted_sector(e, q, "qcow2", 0, 4096) == b"\0" * 4096)
    wait_for(lambda: "qc" not in e.rows(), 30)
    rc, out, err = e.xl("destroy", "qc")
    no_devices_left(e, "after the guest")
    nbd_left(e, "after the guest", [rw, q, q2])

    # xl destroy of a domain with qcow2 disks attached and served.
    cfg = e.cfg("idle.cfg", f'name = "idle"\ntype = "pvh"\n'
                f'kernel = "{os.path.join(BUILD, "guests", "guest-idle-64")}"\nmemory = 16\n'
                f"disk = [ 'format=qcow2,vdev=xvda,access=ro,target={q}' ]\n")
    rc, out, err = e.xl("create", cfg)
    check("create an idle domain with a qcow2 disk", rc == 0, err)
    rc, out, err = e.xl("block-attach", "idle", f"format=qcow2,vdev=xvdb,access=rw,target={q2}")
    check("block-attach a read-write qcow2 disk", rc == 0, err)
    # A qcow2 file given as raw is served raw: never probed for its format.
    rc, out, err = e.xl("block-attach", "idle", f"format=raw,vdev=xvdc,access=ro,target={q}")
    check("block-attach the qcow2 file as raw", rc == 0, err)
    domid = int(e.rows()["idle"].group(2))
    check("as raw, its size is the file's, not the image's",
          e.xs_read(f"/local/domain/0/backend/vbd/{domid}/51744/sectors") ==
          str(os.path.getsize(q) // 512), str(e.xs_read(f"/local/domain/0/backend/vbd/{domid}/51744/sectors")))
    check("two qemu-nbd running, one read-write", len(nbd_servers(e)) == 2 and
          sum("--read-only" in a for p, a in nbd_servers(e)) == 1, str(nbd_servers(e)))
    # Media change, as xl: libxl changes a cdrom's medium only in an HVM
    # domain's device model, and refuses any other domain.
    rc, out, err = e.xl("cd-insert", "idle", "xvda", f"{e.tmp}/no-such.iso")
    check("cd-insert of a missing file: xl's message", rc == 1 and
          err == f"Cannot stat file: {e.tmp}/no-such.iso\n", (rc, err))
    rc, out, err = e.xl("cd-insert", "idle", "xvda", q2)
    check("cd-insert into a PVH domain: refused as libxl refuses it", rc == 1 and
          f"Domain {domid}:cdrom-insert requires an HVM domain" in err, (rc, err))
    rc, out, err = e.xl("cd-eject", "idle", "xvda")
    check("cd-eject likewise", rc == 1 and "cdrom-insert requires an HVM domain" in err,
          (rc, err))
    check("the disk is still served", e.xs_read(f"/local/domain/0/backend/vbd/{domid}/{XVDA}/params")
          == f"qcow2:{q}", str(e.xs_read(f"/local/domain/0/backend/vbd/{domid}/{XVDA}/params")))
    rc, out, err = e.xl("destroy", "idle")
    check("destroy: exit 0", rc == 0, err)
    no_devices_left(e, "after destroy")
    nbd_left(e, "after destroy", [rw, q, q2])


def nbd_never_answers(e, name, image, vmm, vlog_path):
    """block-attach through a qemu-nbd stopped (SIGSTOP) once it listens:
    its handshake never comes. The VMM answers the attach while the
    handshake is still pending (it runs on the I/O loop, not inside the
    attach), fails it at its bound, and the attach fails with nothing
    left."""
    real = shutil.which("qemu-nbd")
    bindir = os.path.join(e.tmp, "stuck-nbd")
    os.makedirs(bindir, exist_ok=True)
    with open(os.path.join(bindir, "qemu-nbd"), "w") as f:
        f.write(f'#!/bin/sh\n"{real}" "$@" || exit $?\n'
                'while [ $# -gt 0 ]; do [ "$1" = --pid-file ] && pidf="$2"; shift; done\n'
                'kill -STOP "$(cat "$pidf")"\n')
    os.chmod(os.path.join(bindir, "qemu-nbd"), 0o755)
    path = e.env["PATH"]
    e.env["PATH"] = bindir + ":" + path
    try:
        rc, out, err = e.xl("block-attach", name, f"format=qcow2,vdev=xvdc,access=ro,target={image}")
    finally:
        e.env["PATH"] = path
    check("block-attach through a server that never answers fails",
          rc != 0 and "Input/output error" in err, err)
    vlog = open(vlog_path, errors="replace").read()
    answered = vlog.find(f"vbd {XVDC} attached")
    failed = vlog.find(f"vbd {XVDC}: NBD: no handshake in time")
    check("the attach was answered before the handshake ended", 0 <= answered < failed,
          vlog[-2000:])
    check("the VMM lives", e.vmm_pids() == vmm, str(e.vmm_pids()))
    rc, head, rows, err = block_list(e, name)
    check("block-list: that disk is gone", rc == 0 and not any(str(XVDC) in r for r in rows),
          rows)


def t_nbd_killed(e):
    """The NBD server of a connected disk is SIGKILLed: the VMM drops that
    connection and lives, the raw disk beside it is untouched, detach and
    destroy leave nothing."""
    need_kvm()
    rw = make_image(e, "rw.img")
    q = make_formatted(e, "k.qcow2", "qcow2")
    cfg = guest_cfg(e, "nk", "guest-blk-64",
                    [f"{rw},raw,xvda,rw", f"format=qcow2,vdev=xvdb,access=rw,target={q}"],
                    'cmdline = "hotplug"\n')
    rc, out, err = e.xl("create", cfg)
    check("create: exit 0", rc == 0, err)
    check("the guest used both", wait_for(lambda: "BLK ready" in e.console_log("nk"), 120),
          e.console_log("nk")[-2000:])
    srv = nbd_servers(e)
    check("one qemu-nbd", len(srv) == 1, str(srv))
    vmm = e.vmm_pids()
    os.kill(srv[0][0], signal.SIGKILL)
    vlog_path = os.path.join(e.env["XENON_LOG_DIR"], "xl-nk.log")
    check("the VMM drops the connection",
          wait_for(lambda: "NBD connection dropped: the server is gone" in
                   open(vlog_path, errors="replace").read(), 10),
          open(vlog_path, errors="replace").read()[-2000:])
    check("the VMM lives", e.vmm_pids() == vmm, str(e.vmm_pids()))
    rc, head, rows, err = block_list(e, "nk")
    check("block-list still answers, both disks listed", rc == 0 and len(rows) == 2, rows)
    rc, out, err = e.xl("block-detach", "nk", "xvdb")
    check("block-detach of the dead disk: exit 0", rc == 0, err)
    check("the guest closed it and went on",
          wait_for(lambda: "BLK detached" in e.console_log("nk"), 60))
    nbd_never_answers(e, "nk", q, vmm, vlog_path)
    rc, out, err = e.xl("destroy", "nk")
    check("destroy: exit 0", rc == 0, err)
    check("the raw disk holds what the guest wrote", sector(rw, 128, 11) == b"XENON-GUEST")
    no_devices_left(e, "after destroy")
    nbd_left(e, "after destroy", [rw, q])


def raw_reads(e, name):
    """How many reads of its raw disk the drain guest has seen answered."""
    n = 0
    for line in e.console_log(name).splitlines():
        if line.startswith("BLK raw "):
            try:
                n = max(n, int(line.split()[2]))
            except (IndexError, ValueError):
                pass
    return n


def t_nbd_drain(e, resume=True):
    """A disk served over NBD is detached while one of its requests is in
    flight at a server that does not answer (SIGSTOPped). The backend waits
    for that request without holding the VMM's I/O loop: the raw disk
    beside it goes on answering the guest's reads while the backend stays
    Closing and the server stopped, and before any drop of the connection.
    The server resumed, the request completes, the backend reports Closed
    and the detach ends; nothing left after destroy. Not resumed
    (nbd-drain-stuck): the wait ends at its bound or at the toolstack's
    forced detach, whichever comes first, the connection dropped, and the
    detach still ends with the VMM alive."""
    need_kvm()
    rw = make_image(e, "rw.img")
    q = make_formatted(e, "d.qcow2", "qcow2")
    cfg = guest_cfg(e, "nd", "guest-blk-64",
                    [f"{rw},raw,xvda,rw", f"format=qcow2,vdev=xvdb,access=rw,target={q}"],
                    'cmdline = "drain"\n')
    rc, out, err = e.xl("create", cfg)
    check("create: exit 0", rc == 0, err)
    check("the guest connected both", wait_for(lambda: "BLK ready" in e.console_log("nd"), 120),
          e.console_log("nd")[-2000:])
    domid = int(e.rows()["nd"].group(2))
    srv = nbd_servers(e)
    check("one qemu-nbd", len(srv) == 1, str(srv))
    if len(srv) != 1:
        return
    vlog_path = os.path.join(e.env["XENON_LOG_DIR"], "xl-nd.log")
    vmm = e.vmm_pids()
    os.kill(srv[0][0], signal.SIGSTOP)
    resumed = False
    det = None
    try:
        t, body = e.xs_call(11, f"/local/domain/{domid}/data/drain".encode() + b"\0go")
        check("go written", t == 11, body)
        check("a read in flight at the stopped server",
              wait_for(lambda: "BLK inflight" in e.console_log("nd"), 60))
        det = subprocess.Popen([XL, "block-detach", "nd", "xvdb"], env=e.env, cwd=BUILD,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        check("the guest closed the NBD disk's frontend",
              wait_for(lambda: "BLK nbd closed" in e.console_log("nd"), 60),
              e.console_log("nd")[-2000:])
        n0 = raw_reads(e, "nd")
        progressed = wait_for(lambda: raw_reads(e, "nd") >= n0 + 20, 60)
        vlog = open(vlog_path, errors="replace").read()
        be_state = e.xs_read(f"/local/domain/0/backend/vbd/{domid}/{XVDB}/state")
        check("the raw disk answered while the NBD disk drained",
              progressed and "NBD connection dropped" not in vlog and be_state == "5",
              f"reads {n0} -> {raw_reads(e, 'nd')}, backend state {be_state}, "
              f"log: {vlog[-1500:]}")
        check("the VMM says what it waits for",
              f"vbd {XVDB}: disconnect waits for 1 request(s) in flight" in vlog, vlog[-1500:])
        if resume:
            os.kill(srv[0][0], signal.SIGCONT)
            resumed = True
        out, err = det.communicate(timeout=60)
        check("block-detach: exit 0", det.returncode == 0, err)
        if not resume:
            vlog = open(vlog_path, errors="replace").read()
            check("the drain ended without the server: the connection dropped",
                  "NBD connection dropped: the server does not answer" in vlog or
                  "NBD connection dropped: the device goes with requests in flight" in vlog,
                  vlog[-1500:])
    finally:
        if not resumed:
            os.kill(srv[0][0], signal.SIGCONT)
        if det and det.returncode is None:
            det.kill()
            det.wait()
    vlog = open(vlog_path, errors="replace").read()
    if resume:
        check("the request completed: no connection dropped",
              "NBD connection dropped" not in vlog, vlog[-1500:])
    check("the guest saw the backend close and passed",
          result(e, "nd", "blk") and "RESULT blk: PASS" in e.console_log("nd"),
          e.console_log("nd")[-2000:])
    check("the VMM lives", e.vmm_pids() == vmm or "nd" not in e.rows(), str(e.vmm_pids()))
    wait_for(lambda: "nd" not in e.rows(), 30)
    rc, out, err = e.xl("destroy", "nd")
    no_devices_left(e, "after the drain guest")
    nbd_left(e, "after the drain guest", [rw, q])


def t_nbd_drain_stuck(e):
    t_nbd_drain(e, resume=False)


def t_qcow2_32(e):
    t_qcow2(e, "32")


def t_qcow2_rw(e):
    """Writes through NBD: a read-write qcow2 disk first (a 4-page ring, a
    32-page indirect request, two queues, flush, discard), a read-only vhd,
    a raw one; the host reads the images through qemu-img."""
    need_kvm()
    q = make_formatted(e, "rw.qcow2", "qcow2")
    vhd = make_formatted(e, "ro.vhd", "vpc")
    rw = make_image(e, "rw.img")
    cfg = guest_cfg(e, "qrw", "guest-blk-64",
                    [f"format=qcow2,vdev=xvda,access=rw,target={q}",
                     f"format=vhd,vdev=xvdb,access=ro,target={vhd}", f"{rw},raw,xvdc,rw"])
    rc, out, err = e.xl("create", cfg)
    check("create with qcow2, vhd and raw disks: exit 0", rc == 0, err)
    check("the guest finished", result(e, "qrw", "blk"), e.console_log("qrw")[-2000:])
    log = e.console_log("qrw")
    print(log[-3000:])
    check("all guest checks pass on qcow2, vhd and raw", "RESULT blk: PASS" in log)
    check("the domain went away after poweroff", wait_for(lambda: "qrw" not in e.rows(), 30))
    check("the qcow2 image holds the guest's page at sector 0",
          formatted_sector(e, q, "qcow2", 0, 4096) == pattern(XVDA))
    check("and its sector 128 (written before a flush)",
          formatted_sector(e, q, "qcow2", 128, 11) == b"XENON-GUEST")
    check("the discarded page reads as zeroes through QEMU too",
          formatted_sector(e, q, "qcow2", 8, 4096) == b"\0" * 4096)
    check("the vhd image is untouched",
          formatted_sector(e, vhd, "vpc", 64, 10) == b"XENON-HOST" and
          formatted_sector(e, vhd, "vpc", 0, 4096) == b"\0" * 4096)
    check("the raw disk beside them", sector(rw, 128, 11) == b"XENON-GUEST")
    vlog = open(os.path.join(e.env["XENON_LOG_DIR"], "xl-qrw.log"), errors="replace").read()
    check("the qcow2 disk over NBD with flush, FUA and zeroing",
          f"vbd {XVDA}: NBD export of {SECTORS * 512} bytes, flush, fua, trim, zero" in vlog,
          vlog[-2000:])
    check("and on a 4-page ring, then two queues",
          f"vbd {XVDA} connected: x86_64 ring of 4 page(s)" in vlog and
          "1 page(s), 32 entries, 2 queue(s)" in vlog, vlog[-2000:])
    no_devices_left(e, "after poweroff")
    nbd_left(e, "after poweroff", [q, vhd, rw])


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


def t_durable_qcow2(e):
    """A qcow2 disk: after the guest's acknowledged flush its qemu-nbd and
    then its VMM are SIGKILLed; QEMU reads the page back from the image."""
    need_kvm()
    q = make_formatted(e, "dur.qcow2", "qcow2")
    cfg = guest_cfg(e, "dq", "guest-blk-64", [f"format=qcow2,vdev=xvda,access=rw,target={q}"],
                    'cmdline = "durable"\n')
    rc, out, err = e.xl("create", cfg)
    check("create: exit 0", rc == 0, err)
    check("the guest flushed", wait_for(lambda: "BLK durable" in e.console_log("dq"), 120),
          e.console_log("dq")[-2000:])
    srv = nbd_servers(e)
    check("one qemu-nbd", len(srv) == 1, str(srv))
    for pid, _ in srv:
        os.kill(pid, signal.SIGKILL)
    for pid in e.vmm_pids():
        os.kill(pid, signal.SIGKILL)
    check("both gone", wait_for(lambda: not e.vmm_pids() and not nbd_servers(e), 10))
    check("after SIGKILL, the flushed page is in the qcow2 image",
          formatted_sector(e, q, "qcow2", 0, 4096) == pattern(XVDA))
    chk = subprocess.run(["qemu-img", "check", "-f", "qcow2", q], capture_output=True, text=True)
    check("and the image is consistent (qemu-img check)", chk.returncode == 0, chk.stdout)
    rc, out, err = e.xl("destroy", "dq")
    no_devices_left(e, "after destroy")
    nbd_left(e, "after destroy", [q])


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
    q = make_formatted(e, "third.qcow2", "qcow2")
    q_before = formatted_sector(e, q, "qcow2", 0, SECTORS * 512)
    cfg = guest_cfg(e, "hostile", "guest-blk-hostile-64",
                    [f"{rw},raw,xvda,rw", f"{ro},raw,xvdb,ro",
                     f"format=qcow2,vdev=xvdc,access=rw,target={q}"])
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
    check("and each lying queue's ring alone",
          vlog.count("the frontend's req_prod runs past the ring; ring shut down") >= 3,
          vlog[-2000:])
    check("lying multi-queue connects refused with a reason",
          "multi-queue-num-queues not in 1..4" in vlog and "no queue-2/event-channel" in vlog,
          vlog[-3000:])
    check("no byte of the images changed", sector(rw, 0, SECTORS * 512) == before and
          sector(ro, 64, 10) == b"XENON-HOST" and
          formatted_sector(e, q, "qcow2", 0, SECTORS * 512) == q_before)
    check("the neighbour never noticed: all its checks pass",
          result(e, "neighbour", "blk") and "RESULT blk: PASS" in e.console_log("neighbour"),
          e.console_log("neighbour")[-1500:])
    check("and its disk holds what it wrote", sector(nb, 128, 11) == b"XENON-GUEST")
    wait_for(lambda: "neighbour" not in e.rows(), 30)
    wait_for(lambda: "hostile" not in e.rows(), 30)
    rc, out, err = e.xl("destroy", "hostile")
    no_devices_left(e, "after the hostile guest")
    nbd_left(e, "after the hostile guest", [rw, ro, nb, q])


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
    check("an empty file given as qcow2 fails the create, with qemu-nbd's reason",
          rc != 0 and "qemu-nbd could not serve" in err and "qcow2" in err, err)
    # A raw image is never probed: a raw file named qcow2 is no qcow2.
    raw = make_image(e, "raw.img")
    cfg = guest_cfg(e, "bad", "guest-blk-64", [f"{raw},qcow2,xvda,rw"])
    rc, out, err = e.xl("create", cfg)
    check("a raw image given as qcow2 is refused by QEMU, not guessed", rc != 0 and
          "qemu-nbd could not serve" in err, err)
    no_devices_left(e, "after failed creates")
    nbd_left(e, "after failed creates", [q, raw])


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
