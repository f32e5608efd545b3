#!/usr/bin/env python3
"""The web console (xapi/web, served by xenon-xapi at /ui/) in headless
Chromium: Debian's chromium unpacked in the oracle cache (scripts/oracles.py
chromium), driven by puppeteer-core (scripts/oracles.py npm), over HTTP
and then HTTPS (the console as wss:). See web_console.mjs for what it
checks. The screenshot goes to
XENON_SCREENSHOT, else web-console.png in the build tree. Skips (77) when
the browser, puppeteer-core, node or /dev/kvm is missing."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xapienv  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
import oracles  # noqa: E402

modules = os.path.join(oracles.cache_dir(), "npm", "node_modules")
chromium = os.path.join(oracles.ROOT, "usr", "lib", "chromium", "chromium")
why = None
if not os.access(chromium, os.X_OK):
    why = f"chromium missing in {oracles.ROOT} (run scripts/oracles.py chromium)"
elif not os.path.isdir(os.path.join(modules, "puppeteer-core")):
    why = f"puppeteer-core missing in {modules} (run scripts/oracles.py npm)"
elif subprocess.run(["which", "node"], capture_output=True).returncode:
    why = "node is missing (apt-get install nodejs)"
elif not os.access("/dev/kvm", os.R_OK | os.W_OK):
    why = "/dev/kvm missing: the test starts a VM"
if why:
    print("skipped: " + why)
    sys.exit(77)
# libpulse finds its private library through a RUNPATH into /usr: give
# the cache's copy.
lib = oracles.lib_path() + ":" + os.path.join(oracles.ROOT, "usr", "lib", "x86_64-linux-gnu",
                                              "pulseaudio")
shot = os.environ.get("XENON_SCREENSHOT") or os.path.join(xapienv.BUILD, "web-console.png")

env = xapienv.Env()
rc = 1
try:
    env.define("webvm", "guest-idle-64")
    # never started: its vif makes the network of bridge xenweb0, the one
    # the create form gives the VM it makes
    env.define("netholder", "guest-idle-64", 'vif = [ "bridge=xenweb0" ]\n')
    kernel = os.path.join(xapienv.BUILD, "guests", "guest-idle-64")
    # Over plain HTTP (loopback; the screenshot), then over HTTPS with the
    # self-signed certificate: the console as wss:.
    rc = 0
    for i, (url, out) in enumerate([(env.url, shot), (env.https_url, "-")]):
        print(f"== {url}", flush=True)
        r = subprocess.run(["node", os.path.join(HERE, "web_console.mjs"), modules, chromium, lib,
                            url, "webvm", out, kernel, f"formvm{i}", "xenweb0"],
                           env=dict(env.env, HOME=env.tmp),
                           capture_output=True, text=True, timeout=240)
        print(r.stdout + r.stderr, flush=True)
        rc = rc or r.returncode
    if not env.alive():
        print("FAIL xenon-xapi died")
        rc = 1
finally:
    if rc:
        print(open(os.path.join(env.tmp, "xapi.log")).read())
    env.close()
sys.exit(rc)
