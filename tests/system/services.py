#!/usr/bin/env python3
"""The init scripts, run directly as init would run them (these machines
have no systemd), from the build tree with private directories:

    services.py SYSTEM_BUILD_DIR XL XENSTORED IDLE_GUEST PVCONTROL_GUEST COMPLETION

- /etc/init.d/xenon-xenstored start, status, start again, stop, status;
  a pid file naming some other process is neither trusted nor killed;
- /etc/init.d/xenon-domains start creates every config in the auto
  directory (once: a second start leaves running ones alone), stop shuts
  the guests down, a guest that ignores the request (idle) is destroyed
  after XENON_DOMAINS_STOP_MAXWAIT, and nothing is left;
- the bash completion offers the running domains' names.
"""
import os
import subprocess
import sys
import tempfile
import time

failures = []


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f": {detail}" if detail and not ok else ""))
    if not ok:
        failures.append(what)
    return ok


def main():
    sysdir, xl, xenstored, idle, pvcontrol, completion = sys.argv[1:7]
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skipped: /dev/kvm is missing or not accessible")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="services-test-")
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir)
    # The installed names, pointing into the build tree (xl finds the VMM
    # beside its real path, build/vmm/).
    os.symlink(os.path.abspath(xl), os.path.join(bindir, "xenon"))
    os.symlink(os.path.abspath(xenstored), os.path.join(bindir, "xenon-xenstored"))
    auto = os.path.join(tmp, "auto")
    os.makedirs(auto)
    for name, kernel in (("idle", idle), ("pvcontrol", pvcontrol)):
        with open(os.path.join(auto, name + ".cfg"), "w") as f:
            f.write(f'name = "svc-{name}"\ntype = "pvh"\nkernel = "{os.path.abspath(kernel)}"\n'
                    'memory = 16\n')
    defaults = os.path.join(tmp, "default")
    with open(defaults, "w") as f:
        f.write("# as /etc/default/xenon, for this test\nXENON_DOMAINS_STOP_MAXWAIT=5\n")
    env = dict(os.environ, XENON_BINDIR=bindir, XENON_LIBEXECDIR=sysdir,
               XENON_DEFAULTS=defaults,
               XENSTORED_PATH=os.path.join(tmp, "run", "xenstored", "socket"),
               XENON_STATE_DIR=os.path.join(tmp, "state"),
               XENON_RUN_DIR=os.path.join(tmp, "run"),
               XENON_LOG_DIR=os.path.join(tmp, "log"),
               XENON_DOMAINS_AUTO=auto)
    env.pop("XENON_VMM", None)
    xs_init = os.path.join(sysdir, "xenon-xenstored")
    dom_init = os.path.join(sysdir, "xenon-domains")
    pidfile = os.path.join(tmp, "run", "xenstored.pid")

    def sh(*cmd, timeout=120, extra=None):
        r = subprocess.run(list(cmd), env=dict(env, **(extra or {})), capture_output=True,
                           text=True, timeout=timeout)
        print(f"$ {' '.join(os.path.basename(c) if c.startswith('/') else c for c in cmd)}"
              f"  (exit {r.returncode})\n{r.stdout}{r.stderr}", end="")
        return r

    def guests():
        r = subprocess.run([xl, "list"], env=env, capture_output=True, text=True)
        return [l.split()[0] for l in r.stdout.splitlines()[2:]] if r.returncode == 0 else None

    try:
        r = sh(xs_init, "status")
        check("xenstored status before start: 3 (not running)", r.returncode == 3)
        r = sh(xs_init, "start")
        check("xenstored start", r.returncode == 0 and os.path.exists(env["XENSTORED_PATH"]))
        pid = int(open(pidfile).read())
        check("xl talks to it", guests() == [], str(guests()))
        r = sh(xs_init, "status")
        check("xenstored status: running", r.returncode == 0 and str(pid) in r.stdout)
        r = sh(xs_init, "start")
        check("a second start leaves it alone", r.returncode == 0 and
              int(open(pidfile).read()) == pid and "already running" in r.stdout)

        r = sh(dom_init, "start")
        check("domains start", r.returncode == 0, r.stderr)
        check("both auto configs are running", sorted(guests() or []) == ["svc-idle", "svc-pvcontrol"],
              str(guests()))
        r = sh(dom_init, "start")
        check("a second domains start leaves them running",
              r.returncode == 0 and r.stdout.count("already running") == 2 and
              sorted(guests() or []) == ["svc-idle", "svc-pvcontrol"])
        comp = subprocess.run(
            ["bash", "-c", f"source '{completion}'; COMP_WORDS=('{xl}' destroy ''); "
             "COMP_CWORD=2; _xenon_xl; printf '%s\\n' \"${COMPREPLY[@]}\""],
            env=env, capture_output=True, text=True).stdout.split()
        check("completion offers the running domains", sorted(comp) == ["svc-idle", "svc-pvcontrol"],
              str(comp))
        r = sh(dom_init, "status")
        check("domains status lists them", "svc-idle" in r.stdout)

        # Stop saves every domain (xl save: the PV-control guest suspends
        # itself, the other is paused); start restores them.
        save_dir = os.path.join(env["XENON_STATE_DIR"], "save")
        r = sh(dom_init, "stop")
        check("domains stop saves them", r.returncode == 0 and
              "saved svc-idle" in r.stdout and "saved svc-pvcontrol" in r.stdout, r.stderr)
        check("saved: no domains left", guests() == [], str(guests()))
        check("saved: a file per domain", sorted(os.listdir(save_dir)) == ["svc-idle", "svc-pvcontrol"]
              if os.path.isdir(save_dir) else False)
        r = sh(dom_init, "start")
        check("domains start restores them", r.returncode == 0 and r.stdout.count("restored") == 2 and
              r.stdout.count("already running") == 2, r.stdout + r.stderr)
        check("restored: both running", sorted(guests() or []) == ["svc-idle", "svc-pvcontrol"],
              str(guests()))
        check("restored: the save files are gone", not os.listdir(save_dir))

        # Where no save can be written, stop shuts them down (the restored
        # PV-control guest answers control/shutdown in its new domain).
        r = sh(dom_init, "stop", extra={"XENON_DOMAINS_SAVE": "/proc/xenon-no-save"})
        check("domains stop", r.returncode == 0, r.stderr)
        check("the PV-control guest shut down by itself",
              "svc-pvcontrol did not shut down" not in r.stdout)
        check("the guest ignoring shutdown was destroyed after the wait",
              "svc-idle did not shut down in 5 s: destroyed" in r.stdout)
        check("no domains left", guests() == [], str(guests()))
        vmms = subprocess.run(["pgrep", "-f", "xenon-vmm.*svc-"], capture_output=True, text=True).stdout
        check("no VMM left", not vmms.strip(), vmms)

        r = sh(xs_init, "stop")
        check("xenstored stop", r.returncode == 0 and not os.path.exists(f"/proc/{pid}"))
        check("pid file removed", not os.path.exists(pidfile))
        r = sh(dom_init, "stop")
        check("domains stop without xenstored is fine", r.returncode == 0)

        # A stale pid file naming another program: not running, not killed.
        other = subprocess.Popen(["sleep", "60"])
        os.makedirs(os.path.dirname(pidfile), exist_ok=True)
        with open(pidfile, "w") as f:
            f.write(f"{other.pid}\n")
        r = sh(xs_init, "status")
        check("a pid file naming another program is not trusted", r.returncode == 3)
        sh(xs_init, "stop")
        time.sleep(0.2)
        check("and that program is not killed", other.poll() is None)
        other.kill()
        other.wait()
    finally:
        subprocess.run([os.path.join(sysdir, "xenon-domains"), "stop"], env=env,
                       capture_output=True, timeout=120)
        subprocess.run([xs_init, "stop"], env=env, capture_output=True, timeout=60)
        subprocess.run(["rm", "-rf", tmp])
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
