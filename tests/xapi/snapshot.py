#!/usr/bin/env python3
"""VM.snapshot of a running VM, VM.checkpoint, VM.revert, task.cancel of
Async VM.start/suspend/pool_migrate (queued, and start/suspend under way),
driven by Xen Orchestra's own client (npm xen-api, from the oracle cache): snapshot.mjs
does the checking. The world: a counting guest (guests/counter: "count N"
every 2 ms, no PV control) with a raw disk whose bytes the test changes
from the host between the steps (standing for the guest's writes), and a
second VM with a writable qcow2 disk, moved by VM.pool_migrate and its
image checked after. Skips (77) without /dev/kvm, node
or the npm client."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import oracles  # noqa: E402
import xapienv  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
modules = os.path.join(oracles.cache_dir(), "npm", "node_modules")
if not os.path.exists(os.path.join(modules, "xen-api", "index.mjs")):
    print(f"skipped: npm xen-api missing in {modules} (run scripts/oracles.py npm)")
    sys.exit(77)
if not shutil.which("node") or not shutil.which("qemu-img"):
    print("skipped: node or qemu-img is missing")
    sys.exit(77)
if not os.access("/dev/kvm", os.R_OK | os.W_OK):
    print("skipped: /dev/kvm missing")
    sys.exit(77)

env = xapienv.Env()
rc = 1
try:
    disk = os.path.join(env.tmp, "ctr.raw")
    with open(disk, "wb") as f:
        f.write(b"A" * 4096)
        f.truncate(1 << 20)
    env.define("ctr", "guest-counter-64", f'disk = [ "{disk},raw,xvda,rw" ]\n')
    # its first block 'Q' (0x51), written before it runs: checked after
    # its move to a new domain
    q = os.path.join(env.tmp, "qc.qcow2")
    qraw = os.path.join(env.tmp, "qc.raw")
    with open(qraw, "wb") as f:
        f.write(b"Q" * 4096)
        f.truncate(1 << 20)
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", qraw, q], check=True)
    env.define("qc", "guest-idle-64", f'disk = [ "{q},qcow2,xvda,rw" ]\n')
    # A halted VM "blk" and a snapshot of it whose disk is a FIFO nobody
    # writes: a revert to it holds the image lock while its qemu-img
    # blocks opening the FIFO, until it is cancelled.
    blk = os.path.join(env.tmp, "blk.raw")
    with open(blk, "wb") as f:
        f.write(b"K" * 4096)
    fifo = os.path.join(env.tmp, "blocks.raw")
    os.mkfifo(fifo)
    u = "6f2c1d0e-5b8a-4c3e-9a7d-1e2f3a4b5c6d"
    env.define("blk", "guest-idle-64", f'uuid = "{u}"\ndisk = [ "{blk},raw,xvda,rw" ]\n')
    env.define("blksnap", "guest-idle-64", f'uuid = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"\n'
               f'disk = [ "{fifo},raw,xvda,rw" ]\nxapi_is_a_snapshot = 1\n'
               f'xapi_snapshot_of = "{u}"\n')
    s, _ = env.call("session.login_with_password", "root", "secret")
    xapienv.wait_for(lambda: env.call("VM.get_by_name_label", s, "qc")[0] and
                     env.call("VM.get_by_name_label", s, "blksnap")[0], 10)
    console = os.path.join(env.env["XENON_LOG_DIR"], "console", "guest-ctr.log")
    suspend_dir = os.path.join(env.env["XENON_STATE_DIR"], "suspend")
    p = subprocess.run(["node", os.path.join(HERE, "snapshot.mjs"), modules, env.url, disk,
                        console, suspend_dir, fifo, q], env=env.env, capture_output=True, text=True,
                       timeout=240)
    print(p.stdout + p.stderr, flush=True)
    rc = p.returncode
    if not env.alive():
        print("FAIL xenon-xapi died")
        rc = 1
finally:
    if rc:
        print(open(os.path.join(env.tmp, "xapi.log")).read())
    env.close()
sys.exit(rc)
