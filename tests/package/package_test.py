#!/usr/bin/env python3
"""The Debian package, end to end (suite 'package', as root):

1. build it from a copy of the source tree with dpkg-buildpackage (debhelper);
2. `apt-get install ./xenon_*.deb`;
3. run the demo from the installed files only: the installed init script
   starts xenon-xenstored, `xenon create -c` of an installed example shows
   the guest's console; the installed xenon-domains service starts and
   stops a domain from its auto directory; the man pages, completion and
   units are where man, bash and systemd look;
4. `apt-get remove`: every file but the conffiles is gone; `apt-get purge`:
   nothing of the package is left.

Other work may share this machine: everything the demo runs uses private
directories (XENSTORED_PATH, XENON_*_DIR pointing into a temp dir), the
package is on the system only between steps 2 and 4, and a failure purges
it too. Skips unless root, with /dev/kvm, dpkg-buildpackage and debhelper.
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("XENON_SOURCE_ROOT", os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
APT = ["apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=600"]
failures = []


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f": {detail}" if detail and not ok else ""),
          flush=True)
    if not ok:
        failures.append(what)
    return ok


def skip(why):
    print(f"skipped: {why}")
    sys.exit(77)


def run(cmd, env=None, timeout=600, quiet=False, **kw):
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, **kw)
    if not quiet:
        print(f"$ {' '.join(cmd)}  (exit {r.returncode})\n{r.stdout[-3000:]}{r.stderr[-3000:]}",
              end="", flush=True)
    return r


def installed():
    r = run(["dpkg-query", "-W", "-f", "${Status}", "xenon"], quiet=True)
    return r.returncode == 0 and "installed" in r.stdout and "not-installed" not in r.stdout


def build(tmp):
    """The .deb, built from a copy of the tree (dpkg-buildpackage writes
    beside the source directory, and must not touch the worktree)."""
    src = os.path.join(tmp, "src")
    os.makedirs(src)
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=SRC,
                           capture_output=True, text=True, check=True).stdout.split("\n")
    for f in files:
        if not f or f.startswith("build") or not os.path.lexists(os.path.join(SRC, f)):
            continue
        os.makedirs(os.path.dirname(os.path.join(src, f)), exist_ok=True)
        shutil.copy2(os.path.join(SRC, f), os.path.join(src, f), follow_symlinks=False)
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck parallel=%d" % (os.cpu_count() or 1))
    r = run(["dpkg-buildpackage", "-b", "-us", "-uc"], env=env, timeout=3000, cwd=src,
            quiet=True)
    print(f"dpkg-buildpackage: exit {r.returncode}")
    if r.returncode:
        print(r.stdout[-5000:], r.stderr[-5000:])
        return None
    debs = glob.glob(os.path.join(tmp, "xenon_*_amd64.deb"))
    return debs[0] if debs else None


def demo(tmp):
    """Steps 3: everything from installed paths, in private directories."""
    priv = os.path.join(tmp, "demo")
    auto = os.path.join(priv, "auto")
    os.makedirs(auto)
    shutil.copy("/usr/share/xenon/examples/idle.cfg", os.path.join(auto, "idle.cfg"))
    defaults = os.path.join(priv, "default")
    with open(defaults, "w") as f:
        f.write("XENON_DOMAINS_STOP_MAXWAIT=2\n")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": priv,
           "XENSTORED_PATH": os.path.join(priv, "run", "xenstored", "socket"),
           "XENON_STATE_DIR": os.path.join(priv, "state"),
           "XENON_RUN_DIR": os.path.join(priv, "run"),
           "XENON_LOG_DIR": os.path.join(priv, "log"),
           "XENON_DEFAULTS": defaults, "XENON_DOMAINS_AUTO": auto}
    try:
        check("xenon is /usr/bin/xenon", shutil.which("xenon", path=env["PATH"]) == "/usr/bin/xenon")
        check("the package installs no xl", not os.path.exists("/usr/bin/xl") and
              not os.path.exists("/usr/local/bin/xl") and
              run(["dpkg", "-S", "/usr/bin/xl"], quiet=True).returncode != 0)
        r = run(["/etc/init.d/xenon-xenstored", "start"], env=env)
        check("installed init script starts xenon-xenstored",
              r.returncode == 0 and os.path.exists(env["XENSTORED_PATH"]))
        pid = open(os.path.join(priv, "run", "xenstored.pid")).read().strip()
        check("the daemon is the installed one",
              os.readlink(f"/proc/{pid}/exe") == "/usr/bin/xenon-xenstored")
        hello = "Hello from Xenon on the PV console (64-bit PVH guest)"
        r = run(["xenon", "create", "-c", "/usr/share/xenon/examples/hello.cfg"], env=env,
                stdin=subprocess.DEVNULL, timeout=120)
        log = os.path.join(env["XENON_LOG_DIR"], "console", "guest-hello.log")
        logged = os.path.exists(log) and hello in open(log, errors="replace").read()
        if hello not in r.stdout and logged:
            # The guest printed and powered off before -c attached: the
            # console race issue 11 names (fixed apart from packaging).
            print("note: create -c missed the guest's line; it is in its console log")
        check("xenon create of the installed hello example: the guest's console line",
              hello in r.stdout or logged, r.stdout + r.stderr)
        # The console both ways, with the installed idle example, which
        # stays up and echoes what it is sent.
        r = run(["xenon", "create", "/usr/share/xenon/examples/idle.cfg"], env=env)
        check("xenon create of the installed idle example", r.returncode == 0)
        con = subprocess.Popen(["xenon", "console", "idle"], env=env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        con.stdin.write(b"ping from the package test\n")
        con.stdin.flush()
        seen = b""
        deadline = time.time() + 60
        os.set_blocking(con.stdout.fileno(), False)
        while time.time() < deadline and b"idle: got ping from the package test" not in seen:
            time.sleep(0.1)
            seen += con.stdout.read() or b""
        con.kill()
        con.wait()
        check("xenon console idle: typed text echoed by the guest",
              b"idle: got ping from the package test" in seen, seen.decode(errors="replace"))
        r = run(["xenon", "destroy", "idle"], env=env)
        check("xenon destroy idle", r.returncode == 0)
        r = run(["/etc/init.d/xenon-domains", "start"], env=env)
        rows = run(["xenon", "list"], env=env).stdout
        check("installed xenon-domains starts the auto config (the installed idle example)",
              r.returncode == 0 and "\nidle " in rows)
        r = run(["/etc/init.d/xenon-domains", "stop"], env=env)
        rows = run(["xenon", "list"], env=env).stdout
        check("xenon-domains stop leaves no domain", r.returncode == 0 and
              len(rows.strip().splitlines()) == 2, rows)
        r = run(["/etc/init.d/xenon-xenstored", "stop"], env=env)
        check("installed init script stops xenon-xenstored",
              r.returncode == 0 and not os.path.exists(f"/proc/{pid}"))

        r = run(["man", "-w", "xenon"], quiet=True)
        check("man finds xenon(1)", r.stdout.strip() == "/usr/share/man/man1/xenon.1.gz", r.stdout)
        r = run(["man", "-w", "5", "xenon-xl.cfg"], quiet=True)
        check("man finds xenon-xl.cfg(5)", r.stdout.strip() == "/usr/share/man/man5/xenon-xl.cfg.5.gz",
              r.stdout)
        check("completion where bash-completion loads it by name",
              os.path.exists("/usr/share/bash-completion/completions/xenon"))
        for u in ("xenon-xenstored", "xenon-domains"):
            check(f"{u}.service installed", os.path.exists(f"/lib/systemd/system/{u}.service"))
        if shutil.which("systemd-analyze"):
            r = run(["systemd-analyze", "verify", "/lib/systemd/system/xenon-xenstored.service",
                     "/lib/systemd/system/xenon-domains.service"])
            bad = [l for l in (r.stdout + r.stderr).splitlines() if "xenon" in l]
            check("systemd-analyze verify finds nothing wrong in the units", not bad, str(bad))
    finally:
        subprocess.run(["/etc/init.d/xenon-domains", "stop"], env=env, capture_output=True)
        subprocess.run(["/etc/init.d/xenon-xenstored", "stop"], env=env, capture_output=True)


def main():
    if os.geteuid() != 0:
        skip("the package test installs a package: run as root")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        skip("/dev/kvm is missing or not accessible")
    for tool in ("dpkg-buildpackage", "dh", "apt-get"):
        if not shutil.which(tool):
            skip(f"{tool} is missing (scripts/deps.sh installs debhelper and dpkg-dev)")
    if installed():
        skip("a xenon package is already installed here; not touching it")
    tmp = tempfile.mkdtemp(prefix="package-test-")
    try:
        deb = build(tmp)
        if not check("the .deb builds", deb is not None):
            sys.exit(1)
        contents = run(["dpkg-deb", "-c", deb], quiet=True).stdout
        for path in ("./usr/bin/xenon", "./usr/bin/xenon-vmm", "./usr/bin/xenon-xenstored",
                     "./usr/share/xenon/guests/guest-hello-64", "./etc/init.d/xenon-domains",
                     "./usr/share/man/man1/xenon.1.gz", "./usr/share/xenon/examples/hello.cfg",
                     "./usr/sbin/xenon-xapi", "./etc/pam.d/xenon-xapi"):
            check(f"the .deb holds {path}", f" {path}\n" in contents or f" {path} " in contents)
        r = run(APT + ["install", "--no-install-recommends", deb])
        if not check("apt-get install ./xenon_*.deb", r.returncode == 0 and installed()):
            sys.exit(1)
        files = run(["dpkg-query", "-L", "xenon"], quiet=True).stdout.split("\n")
        conffiles = [l.split()[0] for l in
                     run(["dpkg-query", "-W", "-f", "${Conffiles}", "xenon"], quiet=True)
                     .stdout.splitlines() if l.strip()]
        check("the XenAPI daemon's PAM service is a conffile", "/etc/pam.d/xenon-xapi" in conffiles,
              str(conffiles))
        owned = [f for f in files if f and os.path.isfile(f)]
        demo(tmp)

        r = run(APT + ["remove", "xenon"])
        check("apt-get remove", r.returncode == 0 and not installed())
        left = [f for f in owned if os.path.lexists(f) and f not in conffiles]
        check("remove leaves only the conffiles", not left, str(left))
        r = run(APT + ["purge", "xenon"])
        left = [f for f in owned if os.path.lexists(f)]
        rc_links = glob.glob("/etc/rc?.d/*xenon*")
        check("purge leaves no file of the package, no rc link", r.returncode == 0 and
              not left and not rc_links, f"{left} {rc_links}")
        check("dpkg knows nothing of it", run(["dpkg", "-s", "xenon"], quiet=True).returncode != 0)
    finally:
        if installed() or run(["dpkg", "-s", "xenon"], quiet=True).returncode == 0:
            run(APT + ["purge", "xenon"])
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
