"""A private world for the XenAPI server's tests: its own xenon-xenstored,
state/run/log directories, a directory of VM definitions, and a PAM stack
of its own (pam_start_confdir: --pam-dir), so no test touches the host's
accounts: pam_exec runs check-password.sh, which accepts root/secret,
alice/alicepw (a read-only user in the roles file) and bob/bobpw (a
vm-operator) and nobody else."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "lib"))
from xenonenv import (BUILD, SRC, VMM, XAPI, XENSTORED, XL, private_env,  # noqa: E402,F401
                      start_xenstored, wait_for)

CHECK = """#!/bin/sh
# pam_exec expose_authtok: the password on stdin (NUL-terminated)
pw=$(tr -d '\\000')
case "$PAM_USER:$pw" in
  root:secret|alice:alicepw|bob:bobpw) exit 0 ;;
esac
exit 1
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Env:
    def __init__(self, session_timeout=None, extra_args=()):
        self.tmp = tempfile.mkdtemp(prefix="xapi-test-")
        self.xs_sock = os.path.join(self.tmp, "xs.sock")
        self.vm_dir = os.path.join(self.tmp, "vms")
        os.makedirs(self.vm_dir)
        self.env = private_env(self.tmp, self.xs_sock)
        pam = os.path.join(self.tmp, "pam.d")
        os.makedirs(pam)
        check = os.path.join(self.tmp, "check-password.sh")
        with open(check, "w") as f:
            f.write(CHECK)
        os.chmod(check, 0o755)
        with open(os.path.join(pam, "xenon-xapi-test"), "w") as f:
            f.write(f"auth required pam_exec.so expose_authtok quiet {check}\n"
                    "account required pam_permit.so\n")
        roles = os.path.join(self.tmp, "roles")
        with open(roles, "w") as f:
            f.write("alice read-only\nbob vm-operator\n")
        self.xs = start_xenstored(self.tmp, self.xs_sock)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.https_port = free_port()
        self.https_url = f"https://127.0.0.1:{self.https_port}"
        self.cert = os.path.join(self.tmp, "tls", "xapi-ssl.pem")
        os.makedirs(os.path.dirname(self.cert))
        args = [XAPI, "--listen", "127.0.0.1", "--http-port", str(self.port),
                "--https-listen", "127.0.0.1", "--https-port", str(self.https_port),
                "--cert", self.cert,
                "--vm-dir", self.vm_dir, "--pam-service", "xenon-xapi-test",
                "--pam-dir", pam, "--roles", roles, "--login-delay-ms", "100"]
        if session_timeout:
            args += ["--session-timeout", str(session_timeout)]
        web = os.path.join(BUILD, "xapi", "web")       # the web console, as built
        args += ["--web-dir", web]
        args += list(extra_args)
        self.args = args
        self.log = open(os.path.join(self.tmp, "xapi.log"), "w")
        self.start_daemon()

    def start_daemon(self):
        self.xapi = subprocess.Popen(self.args, env=self.env, stdout=self.log, stderr=self.log)
        if not wait_for(self.up, 10):
            self.close()
            raise SystemExit("xenon-xapi did not start")

    def restart_daemon(self):
        """Stop the daemon (SIGTERM) and start it again on the same world."""
        self.xapi.send_signal(signal.SIGTERM)
        self.xapi.wait(timeout=10)
        self.start_daemon()

    def up(self):
        try:
            urllib.request.urlopen(self.url + "/", timeout=1).read()
            return True
        except OSError:
            return False

    def define(self, name, guest, extra=""):
        path = os.path.join(self.vm_dir, name + ".cfg")
        with open(path, "w") as f:
            f.write(f'name = "{name}"\ntype = "pvh"\n'
                    f'kernel = "{os.path.join(BUILD, "guests", guest)}"\n'
                    f'memory = 16\nvcpus = 1\n{extra}')
        return path

    def post(self, path, body, ctype="application/json"):
        req = urllib.request.Request(self.url + path, data=body, method="POST",
                                     headers={"Content-Type": ctype})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.headers.get("Content-Type"), r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type"), e.read()

    def call(self, method, *params):
        """JSON-RPC 2.0: (result, None) or (None, [CODE, params...])."""
        st, ct, body = self.post("/jsonrpc", json.dumps(
            {"jsonrpc": "2.0", "method": method, "params": list(params), "id": 1}).encode())
        assert st == 200 and ct == "application/json", (st, ct, body)
        r = json.loads(body)
        if "error" in r:
            return None, [r["error"]["message"]] + r["error"].get("data", [])
        return r["result"], None

    def xs_write(self, path, value):
        """One XS_WRITE as dom0 on the raw xenstore protocol."""
        import struct
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.xs_sock)
        body = path.encode() + b"\0" + value.encode()
        s.sendall(struct.pack("<IIII", 11, 0, 0, len(body)) + body)
        typ, _, _, n = struct.unpack("<IIII", s.recv(16, socket.MSG_WAITALL))
        s.recv(n, socket.MSG_WAITALL)
        s.close()
        assert typ == 11, typ

    def xl(self, *args):
        return subprocess.run([XL, *args], env=self.env, capture_output=True, text=True,
                              timeout=60, cwd=BUILD)

    def alive(self):
        return self.xapi.poll() is None

    def close(self):
        # domains left behind (a failed test): destroyed through xl while
        # xenstored still runs
        if self.xs.poll() is None:
            r = self.xl("list")
            for line in r.stdout.splitlines()[1:]:
                w = line.split()
                if len(w) > 1 and w[1] != "0":
                    self.xl("destroy", w[1])
        for p in (getattr(self, "xapi", None), self.xs):
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)
