#!/usr/bin/env python3
"""VM.suspend / VM.resume as XAPI's, on a real guest: the counter guest
(guests/counter: "count N" every 2 ms, no PV control, so it is paused and
saved) is started through the API, suspended (Suspended, its domain gone,
the image STATE_DIR/suspend/<uuid>.xl mode 0600 in a 0700 directory, the
allowed_operations of a suspended VM), the daemon is restarted and the
VM is still Suspended (the state is the file), Async.VM.resume brings it
back and it counts on from where it stopped (no restart from 0), the
image is gone. A second suspend by a vm-operator, then hard_shutdown
discards the image (Halted). While Suspended, suspend_VDI is a VDI of
type "suspend" at the image. The power states arrive by event.next to a
session registered for "vm" and by event.from. Errors: VM_BAD_POWER_STATE
for suspend of a Halted/Suspended VM and resume of a Running one,
RBAC_PERMISSION_DENIED for a read-only user, FIELD_TYPE_ERROR for a
non-bool start_paused. Two suspends (two resumes) at once: one does it,
the other gets VM_BAD_POWER_STATE, and the image is good. The image is
written atomically: inotify on the suspend directory sees <uuid>.xl.part
written and then renamed to <uuid>.xl, never <uuid>.xl itself created or
written (a crash mid-save would leave a partial file under the name that
makes the VM Suspended); a stale .part file (a crash's leftover) does not
make the VM Suspended. Skips (77) without /dev/kvm."""
import ctypes
import os
import re
import stat
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xapienv  # noqa: E402

failures = []


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f": {detail}" if detail and not ok else ""))
    if not ok:
        failures.append(what)


if not os.access("/dev/kvm", os.R_OK | os.W_OK):
    print("skipped: /dev/kvm missing")
    sys.exit(77)


def counts(text):
    return [int(m) for m in re.findall(r"^count (\d+)\r?$", text, re.M)]


env = xapienv.Env()


def console():
    try:
        return open(os.path.join(env.env["XENON_LOG_DIR"], "console", "guest-counter.log"),
                    errors="replace").read()
    except OSError:
        return ""


class DirWatch:
    """inotify on one directory: the (mask, name) of every event."""
    IN_MODIFY, IN_CLOSE_WRITE, IN_MOVED_TO, IN_CREATE = 0x2, 0x8, 0x80, 0x100

    def __init__(self, path):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        assert self.fd >= 0
        mask = self.IN_MODIFY | self.IN_CLOSE_WRITE | self.IN_MOVED_TO | self.IN_CREATE
        assert self.libc.inotify_add_watch(self.fd, path.encode(), mask) >= 0

    def events(self):
        out = []
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                return out
            i = 0
            while i < len(buf):
                _, mask, _, n = struct.unpack_from("iIII", buf, i)
                out.append((mask, buf[i + 16:i + 16 + n].rstrip(b"\0").decode()))
                i += 16 + n


def power(s, vm):
    return env.call("VM.get_power_state", s, vm)[0]


def wait_task(s, task):
    xapienv.wait_for(lambda: env.call("task.get_status", s, task)[0] != "pending", 120)
    return env.call("task.get_status", s, task)[0], env.call("task.get_error_info", s, task)[0]


try:
    s, _ = env.call("session.login_with_password", "root", "secret")
    bob, _ = env.call("session.login_with_password", "bob", "bobpw")
    alice, _ = env.call("session.login_with_password", "alice", "alicepw")
    env.define("counter", "guest-counter-64")
    xapienv.wait_for(lambda: env.call("VM.get_by_name_label", s, "counter")[0], 10)
    vm = env.call("VM.get_by_name_label", s, "counter")[0][0]
    uuid = env.call("VM.get_uuid", s, vm)[0]
    img = os.path.join(env.env["XENON_STATE_DIR"], "suspend", uuid + ".xl")

    # A crash's leftover .part file is no image; the directory's mode
    # comes from the daemon (made 0755 here).
    os.makedirs(os.path.dirname(img), mode=0o755)
    os.chmod(os.path.dirname(img), 0o755)
    with open(img + ".part", "wb") as f:
        f.write(b"Xen saved domain, xl format\n \0 \r partial")
    watch = DirWatch(os.path.dirname(img))
    env.define("marker", "guest-counter-64")     # a scan after the .part is there
    xapienv.wait_for(lambda: env.call("VM.get_by_name_label", s, "marker")[0], 10)
    check("a stale <uuid>.xl.part does not make the VM Suspended", power(s, vm) == "Halted",
          power(s, vm))

    r, e = env.call("VM.suspend", s, vm)
    check("suspend of a Halted VM: VM_BAD_POWER_STATE [vm, running, halted]",
          e == ["VM_BAD_POWER_STATE", vm, "running", "halted"], e)

    # A second session follows the VM through the legacy event API.
    ev, _ = env.call("session.login_with_password", "root", "secret")
    r, e = env.call("event.register", ev, ["vm"])
    check("event.register", e is None, e)
    seen, stop = [], threading.Event()

    def follow():
        while not stop.is_set():
            try:
                r, e = env.call("event.next", ev)
            except OSError:     # the daemon went away under the call
                return
            if e:
                seen.append(("error", e))
                return
            for x in r:
                if x["ref"] == vm and x["class"] == "vm" and "snapshot" in x:
                    st = x["snapshot"]["power_state"]
                    if not seen or seen[-1] != st:
                        seen.append(st)
    th = threading.Thread(target=follow, daemon=True)
    th.start()

    r, e = env.call("VM.start", s, vm, False, False)
    check("VM.start", e is None, e)
    check("it counts", xapienv.wait_for(lambda: len(counts(console())) > 50, 60))
    tok = env.call("event.from", s, ["vm"], "", 0.0)[0]["token"]

    r, e = env.call("VM.resume", s, vm, False, False)
    check("resume of a Running VM: VM_BAD_POWER_STATE [vm, suspended, running]",
          e == ["VM_BAD_POWER_STATE", vm, "suspended", "running"], e)
    r, e = env.call("VM.suspend", alice, vm)
    check("suspend by a read-only user: RBAC_PERMISSION_DENIED",
          e and e[0] == "RBAC_PERMISSION_DENIED", e)

    r, e = env.call("VM.suspend", s, vm)
    check("VM.suspend", e is None, e)
    check("power_state Suspended", power(s, vm) == "Suspended", power(s, vm))
    evs = watch.events()
    name = uuid + ".xl"
    check("the image was written as <uuid>.xl.part, then renamed to <uuid>.xl",
          (DirWatch.IN_CLOSE_WRITE, name + ".part") in evs and
          evs[-1] == (DirWatch.IN_MOVED_TO, name), evs)
    check("<uuid>.xl itself was never created or written",
          not [m for m, n in evs if n == name and m != DirWatch.IN_MOVED_TO], evs)
    check("no .part file is left", not os.path.exists(img + ".part"))
    check("its domain is gone", "counter" not in env.xl("list").stdout, env.xl("list").stdout)
    st = os.stat(img) if os.path.exists(img) else None
    check("the image is STATE_DIR/suspend/<uuid>.xl, mode 0600",
          st is not None and stat.S_IMODE(st.st_mode) == 0o600, st)
    check("in a directory of mode 0700",
          stat.S_IMODE(os.stat(os.path.dirname(img)).st_mode) == 0o700)
    rec = env.call("VM.get_record", s, vm)[0]
    check("a suspended VM may resume or hard_shutdown, not start",
          set(rec["allowed_operations"]) >= {"resume", "hard_shutdown"} and
          "start" not in rec["allowed_operations"] and rec["domid"] == -1 and
          rec["resident_on"] == "OpaqueRef:NULL", rec["allowed_operations"])
    vdi = rec["suspend_VDI"]
    vrec = env.call("VDI.get_record", s, vdi)[0] or {}
    check("suspend_VDI: a VDI of type suspend at the image",
          vrec.get("type") == "suspend" and vrec.get("location") == img and
          vrec.get("virtual_size") == os.stat(img).st_size, (vdi, vrec))
    r = env.call("event.from", s, ["vm"], tok, 10.0)[0]
    check("event.from: the Suspended record arrives",
          any(x["ref"] == vm and x["snapshot"]["power_state"] == "Suspended" for x in r["events"]), r)
    r, e = env.call("VM.suspend", s, vm)
    check("suspend of a Suspended VM: VM_BAD_POWER_STATE",
          e == ["VM_BAD_POWER_STATE", vm, "running", "suspended"], e)
    r, e = env.call("VM.start", s, vm, False, False)
    check("start of a Suspended VM: VM_BAD_POWER_STATE",
          e and e[0] == "VM_BAD_POWER_STATE", e)
    r, e = env.call("VM.resume", s, vm, "no", False)
    check("resume with a non-bool start_paused: FIELD_TYPE_ERROR",
          e and e[0] == "FIELD_TYPE_ERROR", e)
    before = console()
    last = counts(before)[-1]

    stop.set()
    env.restart_daemon()
    s, _ = env.call("session.login_with_password", "root", "secret")
    bob, _ = env.call("session.login_with_password", "bob", "bobpw")
    xapienv.wait_for(lambda: env.call("VM.get_by_uuid", s, uuid)[0], 10)
    check("after a daemon restart the VM has the same reference",
          env.call("VM.get_by_uuid", s, uuid)[0] == vm, (vm, env.call("VM.get_by_uuid", s, uuid)))
    vm = env.call("VM.get_by_uuid", s, uuid)[0]
    check("after a daemon restart the VM is still Suspended",
          xapienv.wait_for(lambda: power(s, vm) == "Suspended", 10), power(s, vm))
    th.join(10)
    check("event.next saw Running then Suspended",
          [x for x in seen if x in ("Running", "Suspended")][-2:] == ["Running", "Suspended"], seen)
    check("a blocked event.next ends when the daemon does (no hang)", not th.is_alive())

    ev, _ = env.call("session.login_with_password", "root", "secret")
    env.call("event.register", ev, ["VM"])
    seen2 = []

    def follow2():
        for _ in range(20):
            r, e = env.call("event.next", ev)
            if e:
                seen2.append(("error", e))
                return
            for x in r:
                if x["ref"] == vm and x["snapshot"]["power_state"] == "Running":
                    seen2.append("Running")
                    return
    th2 = threading.Thread(target=follow2, daemon=True)
    th2.start()
    task, e = env.call("Async.VM.resume", s, vm, False, False)
    status, info = wait_task(s, task)
    check("Async.VM.resume: the task succeeds", status == "success", (status, info))
    check("power_state Running", power(s, vm) == "Running", power(s, vm))
    th2.join(30)
    check("event.next (registered as \"VM\") saw Running", seen2 == ["Running"], seen2)
    check("the image is gone", not os.path.exists(img))
    vdi = env.call("VDI.get_by_uuid", s, vrec.get("uuid"))
    check("... and so are suspend_VDI and its VDI",
          env.call("VM.get_suspend_VDI", s, vm)[0] == "OpaqueRef:NULL" and vdi[1] and
          vdi[1][0] == "UUID_INVALID", vdi)

    def resumed():
        c = counts(console()[len(before):])
        return c if len(c) > 50 else None
    check("the guest counts on", xapienv.wait_for(resumed, 60))
    c = resumed() or [0]
    check(f"from where it stopped (last before {last}, first after {c[0]})",
          last < c[0] <= last + 50 and c == list(range(c[0], c[0] + len(c))), c[:5])

    def both(method, *args):
        out = []
        ts = [threading.Thread(target=lambda: out.append(env.call(method, s, vm, *args)[1]))
              for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        return sorted(out, key=lambda e: e is not None)
    errs = both("VM.suspend")
    check("two suspends at once: one succeeds, the other VM_BAD_POWER_STATE",
          errs[0] is None and errs[1] and errs[1][0] == "VM_BAD_POWER_STATE" and
          power(s, vm) == "Suspended", errs)
    mark = console()
    errs = both("VM.resume", False, False)
    check("two resumes at once: one succeeds, the other VM_BAD_POWER_STATE",
          errs[0] is None and errs[1] and errs[1][0] == "VM_BAD_POWER_STATE" and
          power(s, vm) == "Running", errs)
    check("one domain of it runs", env.xl("list").stdout.count("counter") == 1, env.xl("list").stdout)
    check("and counts on", xapienv.wait_for(lambda: len(counts(console()[len(mark):])) > 50, 60))

    r, e = env.call("VM.suspend", bob, vm)
    check("a vm-operator suspends it again", e is None and power(s, vm) == "Suspended", e)
    r, e = env.call("VM.hard_shutdown", bob, vm)
    check("hard_shutdown of a Suspended VM: Halted", e is None and power(s, vm) == "Halted", e)
    check("... and the image is discarded", not os.path.exists(img))
    r, e = env.call("VM.resume", s, vm, False, False)
    check("resume of a Halted VM: VM_BAD_POWER_STATE [vm, suspended, halted]",
          e == ["VM_BAD_POWER_STATE", vm, "suspended", "halted"], e)
    check("the daemon still serves", env.alive())
finally:
    env.close()
sys.exit(1 if failures else 0)
