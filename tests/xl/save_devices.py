#!/usr/bin/env python3
"""A guest with a disk and a vif doing I/O through `xl save -c`, `xl save`
+ `xl restore` and `xl migrate` to localhost (docs/savefile.md), judged by
Linux's own network stack in a namespace of the test's own (ping and UDP
from the host's side of bridge xnbr0) and by the disk image itself.

The net guest runs with PV control and a raw disk (`pvsuspend disk`): it
suspends as Linux does when asked by control/shutdown and, resumed in a new
domain, maps its Xen state again and reconnects its vif and vbd. Between
the steps the host pings it and asks it by UDP to write a block of the disk
and read it back ("disk N"), or to read back a block written before the
move ("dchk N"). Shown: the checkpoint leaves the same domain serving (the
guest saw SCHEDOP_shutdown return 1); after the restore and after the
migration the guest answers on the network and reads back every block
written before, with a new domid each time; Debian's verify-stream-v2
accepts the file; the image holds every block's pattern, read by the host;
the guest's own count of suspends and resumes; its final PASS; and after it
powers off nothing is left (VMM, vif and vbd nodes, taps, bridge ports).
With the argument `qcow2` the disk is a qcow2 image served by qemu-nbd:
the migration to localhost then hands the source's server over to the
incoming copy (QEMU's write lock admits one server), and the image,
read by qemu-img after the guest ended, holds every block and passes
`qemu-img check`.
Root and /dev/kvm needed, else skipped (77)."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import net  # noqa: E402
from net import GUEST_IP, MAC, PING, ns  # noqa: E402
from migrate import domid_of, migrate, wrapper  # noqa: E402
from save_restore import verify  # noqa: E402
from xl_test import check, wait_for  # noqa: E402

ASK = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
for attempt in range(4):
    s.sendto(sys.argv[2].encode(), (sys.argv[1], 7))
    try:
        data, peer = s.recvfrom(4096)
    except socket.timeout:
        continue
    print(data.decode(errors="replace"))
    break
"""


def ask(msg):
    """The guest's answer to one datagram on port 7 (retried on loss)."""
    rc, out, err = ns(sys.executable, "-c", ASK, GUEST_IP, msg, timeout=60)
    return out.strip()


def block_byte(block, i):
    return (block * 131 + i * 7 + (i >> 9)) & 0xff


def pings(n=3):
    rc, out, err = ns(sys.executable, "-c", PING, GUEST_IP, str(n), timeout=90)
    return out.strip() == f"replies {n}"


def serving(env, step, written, new):
    """After a step: pings answered, every block written so far read back,
    and a new one written."""
    check(f"{step}: the host pings the guest", pings())
    for b in written:
        check(f"{step}: block {b}, written before, reads back", ask(f"dchk {b}") == f"disk {b} ok")
    check(f"{step}: block {new} written and read back", ask(f"disk {new}") == f"disk {new} ok")
    written.append(new)


QCOW2 = "qcow2" in sys.argv[1:]


def image_bytes(env, image):
    """The disk's contents as the guest sees them."""
    if not QCOW2:
        with open(image, "rb") as f:
            return f.read()
    raw = os.path.join(env.tmp, "xvda.raw")
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", image, raw],
                   check=True, timeout=60)
    with open(raw, "rb") as f:
        return f.read()


def servers_of(image):
    """Pids of live processes whose command line names the image."""
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if image.encode() in argv and state != "Z":
            found.append(int(pid))
    return found


def scenario(env):
    ssh = wrapper(env)
    image = os.path.join(env.tmp, "xvda.qcow2" if QCOW2 else "xvda.img")
    if QCOW2:
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", image, "8M"], check=True,
                       timeout=60)
    else:
        with open(image, "wb") as f:
            f.truncate(8 << 20)
    fmt = "qcow2" if QCOW2 else "raw"
    cfg = env.cfg("dev.cfg", 'name = "dev"\ntype = "pvh"\n'
                  'kernel = "guests/guest-net-64"\nmemory = 32\nvcpus = 1\n'
                  f'cmdline = "ip={GUEST_IP} pvsuspend disk"\n'
                  f'vif = [ "mac={MAC},bridge=xnbr0" ]\n'
                  f'disk = [ "format={fmt},vdev=xvda,access=rw,target={image}" ]\n')
    rc, out, err = env.xl("create", cfg, timeout=120)
    if not check("xl create a guest with a disk and a vif", rc == 0, err + out):
        return
    log = lambda: env.console_log("dev")  # noqa: E731
    if not check("the guest connected its vif and disk",
                 wait_for(lambda: " ready" in log(), 120), log()[-1500:]):
        return
    written = []
    serving(env, "created", written, 1)

    ckpt = os.path.join(env.tmp, "dev.ckpt")
    before = domid_of(env, "dev")
    rc, _, err = env.xl("save", "-c", "dev", ckpt, timeout=120)
    check("xl save -c: exit 0", rc == 0, err)
    check("xl save -c: the same domain goes on", domid_of(env, "dev") == before, str(env.rows()))
    check("xl save -c: the guest saw its suspend cancelled",
          wait_for(lambda: "suspend returned 1" in log(), 30), log()[-1500:])
    serving(env, "checkpoint", written, 2)

    saved = os.path.join(env.tmp, "dev.save")
    rc, _, err = env.xl("save", "dev", saved, timeout=120)
    check("xl save: exit 0, the domain gone", rc == 0 and "dev" not in env.rows(), err)
    v = verify(saved)
    if v is not None:
        check("verify-stream-v2 accepts the file", v.returncode == 0, v.stdout + v.stderr)
    rc, _, err = env.xl("restore", saved, timeout=120)
    check("xl restore: exit 0, a new domid", rc == 0 and domid_of(env, "dev") not in (None, before),
          err + str(env.rows()))
    if not check("restored: the guest resumed in a new domain and reconnected",
                 wait_for(lambda: "resumed in a new domain (1)" in log() and
                          log().count(" ready") >= 2, 60), log()[-1500:]):
        return
    serving(env, "restored", written, 3)

    before = domid_of(env, "dev")
    if QCOW2:
        # A receiver killed once it has taken the source's qemu-nbd over
        # (its domain is made, held, when the image begins; past the pipe's
        # 64 KiB, the bytes it was given are read by its VMM): its copy's
        # teardown must leave the server to the source, which resumes and
        # goes on reading and writing its disk.
        server = servers_of(image)
        rc, out, err = migrate(env, ssh, "dev", "kill", at=256 << 10)
        check("killed receiver: xl migrate fails, the source resumes under its domid",
              rc != 0 and "resuming at sender" in err and domid_of(env, "dev") == before,
              err + str(env.rows()))
        check("killed receiver: its copy is gone",
              wait_for(lambda: sorted(n for n in env.rows() if n != "Domain-0") == ["dev"], 30),
              str(env.rows()))
        check("killed receiver: the source's qemu-nbd serves on, the only one",
              len(server) == 1 and servers_of(image) == server, str([server, servers_of(image)]))
        check("killed receiver: the guest saw its suspend cancelled",
              wait_for(lambda: log().count("suspend returned 1") >= 2, 30), log()[-1500:])
        serving(env, "killed receiver", written, 5)
    rc, out, err = migrate(env, ssh, "dev")
    check("xl migrate: exit 0, one domain, a new domid",
          rc == 0 and domid_of(env, "dev") not in (None, before) and
          sorted(n for n in env.rows() if n != "Domain-0") == ["dev"], err + str(env.rows()))
    if not check("migrated: the guest resumed in a new domain and reconnected",
                 wait_for(lambda: "resumed in a new domain (2)" in log() and
                          log().count(" ready") >= 3, 60), log()[-1500:]):
        return
    serving(env, "migrated", written, 6 if QCOW2 else 4)

    vmm = env.vmm_pids()
    ns(sys.executable, "-c", "import socket,sys; socket.socket(socket.AF_INET, "
       "socket.SOCK_DGRAM).sendto(b'bye', (sys.argv[1], 7))", GUEST_IP)
    check("the guest passed", wait_for(lambda: "RESULT net: PASS" in log(), 60), log()[-1500:])
    suspends = 4 if QCOW2 else 3
    check(f"the guest counted {suspends} suspends, 2 of them resumed in a new domain",
          f"suspended {suspends} times, resumed in a new domain 2 times" in log(),
          log()[-1500:])
    check("the domain ended", wait_for(lambda: "dev" not in env.rows(), 30), str(env.rows()))
    if QCOW2:
        r = subprocess.run(["qemu-img", "check", "-f", "qcow2", image], capture_output=True,
                           text=True, timeout=60)
        check("qemu-img check: the qcow2 image is consistent", r.returncode == 0,
              r.stdout + r.stderr)
        check("no qemu-nbd left serving the image",
              wait_for(lambda: not servers_of(image), 10), str(servers_of(image)))
    data = image_bytes(env, image)
    for b in written:
        want = bytes(block_byte(b, i) for i in range(4096))
        check(f"the image holds block {b}'s pattern", data[b * 4096:(b + 1) * 4096] == want)
    wait_for(lambda: not env.state_files(), 10)
    env.check_empty("after it ended")
    check("no vif or vbd nodes left", not (env.xs_dir("/local/domain/0/backend/vif") or []) and
          not (env.xs_dir("/local/domain/0/backend/vbd") or []))
    rc, out, _ = ns("ip", "-o", "link", "show", "master", "xnbr0")
    check("no bridge port left", out.strip() == "", out)
    check("the VMMs are gone",
          wait_for(lambda: not any(os.path.exists(f"/proc/{p}") for p in vmm), 10), str(vmm))


if __name__ == "__main__":
    net.in_netns(scenario)
