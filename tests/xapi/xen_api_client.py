#!/usr/bin/env python3
"""Xen Orchestra's client (npm xen-api 4.7, in the oracle cache's npm/
directory: scripts/oracles.py npm) drives xenon-xapi: xen_api_client.mjs
does the checking. The part without a guest runs everywhere; the VM
lifecycle and the xl-created VM need /dev/kvm (else exit 77 after the
first part)."""
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
if not shutil.which("node"):
    print("skipped: node is missing (apt-get install nodejs)")
    sys.exit(77)
print(f"xen-api from {modules}")
kvm = os.access("/dev/kvm", os.R_OK | os.W_OK)

env = xapienv.Env()
rc = 0
try:
    # a halted VM with a disk and a vif, whose records the client links up
    disk = os.path.join(env.tmp, "stor.raw")
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
    env.define("stor", "guest-idle-64", f'disk = [ "{disk},raw,xvda,rw" ]\n'
               'vif = [ "bridge=xenbr9" ]\n')
    sess, _ = env.call("session.login_with_password", "root", "secret")
    xapienv.wait_for(lambda: env.call("VM.get_by_name_label", sess, "stor")[0], 10)
    # Over HTTPS (the self-signed certificate, allowUnauthorized) first:
    # connect, events, the records XO reads.
    r = subprocess.run(["node", os.path.join(HERE, "xen_api_client.mjs"), modules, env.https_url],
                       env=env.env, capture_output=True, text=True, timeout=120)
    print("over HTTPS:\n" + r.stdout + r.stderr, flush=True)
    if r.returncode:
        rc = 1
    # The client's XML-RPC transport (XAPI's int64s as strings, the
    # float timeout of event.from), forced.
    r = subprocess.run(["node", os.path.join(HERE, "xen_api_client.mjs"), modules, env.url],
                       env=dict(env.env, XAPI_TRANSPORT="xml-rpc"), capture_output=True,
                       text=True, timeout=120)
    print("over XML-RPC:\n" + r.stdout + r.stderr, flush=True)
    if r.returncode:
        rc = 1
    args = ["node", os.path.join(HERE, "xen_api_client.mjs"), modules, env.url]
    if kvm:
        env.define("pvc", "guest-pvcontrol-64", 'on_poweroff = "destroy"\non_reboot = "restart"\n')
        xlcfg = os.path.join(env.tmp, "other.cfg")
        with open(xlcfg, "w") as f:
            f.write(f'name = "fromxl"\ntype = "pvh"\nkernel = "{xapienv.BUILD}/guests/guest-idle-64"\n'
                    'memory = 16\nvcpus = 1\n')
        args += ["pvc", "fromxl"]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env.env)
    for line in p.stdout:
        print(line, end="", flush=True)
        if line.startswith("READY xl"):
            r = env.xl("create", xlcfg)
            print(f"xl create: {r.returncode} {r.stderr.strip()}")
        elif line.startswith("READY gm "):
            d = line.split()[2]
            for k, v in [("data/os_name", "TestOS"), ("data/os_uname", "u" * 1000),
                         ("attr/PVAddons/MajorVersion", "9"), ("attr/vif/0/ipv4/0", "10.0.0.2")]:
                env.xs_write(f"/local/domain/{d}/{k}", v)
        elif line.startswith("READY destroyed"):
            r = env.xl("destroy", "fromxl")
            print(f"xl destroy: {r.returncode} {r.stderr.strip()}")
    rc = p.wait(timeout=300) or rc
    if not env.alive():
        print("FAIL xenon-xapi died")
        rc = 1
finally:
    if rc:
        print(open(os.path.join(env.tmp, "xapi.log")).read())
    env.close()
if rc == 0 and not kvm:
    print("skipped: /dev/kvm missing: the VM lifecycle part did not run")
    sys.exit(77)
sys.exit(rc)
