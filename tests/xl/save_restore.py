#!/usr/bin/env python3
"""xl save / xl restore end to end, in Xen's own format (docs/savefile.md).

The counter guest prints "count N" every 2 ms of Xen system time. Saved
without its help (paused: it has no PV control), the domain is gone after
`xl save`; Debian's verify-stream-v2 accepts the file; `xl restore` brings
it back and it goes on counting from where it stopped (its memory, vCPU
state and time came back: no restart from 0, no number missing or
repeated). A truncated and a damaged copy are refused with a message
naming the record, and nothing is left running or in xenstore. `xl save
-c` leaves the domain running. `xl save` onto a full file system (a 32 KiB
tmpfs) fails saying so, leaves no partial file, and the domain runs on;
for the PV guest below, its suspend returns 1 there, as for a checkpoint.

`save_restore.py smp`: the resume guest (guests/resume) with 4 vCPUs, which
checks itself round after round (IPIs to itself and to each AP, the
periodic timer, grant copies, a memory pattern, time never backwards), is
saved and restored twice and must go on with the next round, all checks
passing, all 4 vCPUs counting.

`save_restore.py pv`: the same guest with PV control (guest-resume-pv) is
asked to suspend through control/shutdown, as libxl asks: `xl save -c`
resumes it in place and its SCHEDOP_shutdown(suspend) returns 1; `xl save`
then `xl restore` bring it back in a new domain where it returns 0, and
the guest, having bound, mapped and armed everything again, passes its
rounds. Skips (77) without /dev/kvm."""
import os
import stat
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import xl_test as t  # noqa: E402
from xl_test import check  # noqa: E402
import oracles  # noqa: E402

CFG = ('name = "counter"\ntype = "pvh"\nkernel = "guests/guest-counter-64"\n'
       'memory = 16\nvcpus = 1\n')


def counts(text):
    return [int(m) for m in re.findall(r"^count (\d+)\r?$", text, re.M)]


def verify(path):
    try:
        tool = oracles.xen_tool("verify-stream-v2")
    except SystemExit:
        print("note: verify-stream-v2 not in the oracle cache; not judged")
        return None
    r = subprocess.run([sys.executable, tool, "-f", "xl", "-i", path], env=oracles.env(),
                       capture_output=True, text=True, timeout=300)
    return r


def disk_full(e, name, running):
    """xl save onto a full file system (a 32 KiB tmpfs; the image is larger):
    it fails saying so, the domain runs on (running(): it made progress
    since the call before), no partial file is left."""
    full = os.path.join(e.tmp, "full-" + name)
    os.mkdir(full, 0o700)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32k,mode=0700", "tmpfs", full],
                      capture_output=True).returncode != 0:
        print("note: cannot mount a tmpfs here; the disk-full case is not run")
        return
    try:
        running()
        rc, _, err = e.xl("save", name, os.path.join(full, name + ".save"))
        check("disk full: xl save fails, saying so", rc != 0 and "No space left" in err, err)
        check("disk full: the domain is still there", name in e.rows(), str(e.rows()))
        check("disk full: it runs on", t.wait_for(running, 60))
        check("disk full: no partial file is left", os.listdir(full) == [], str(os.listdir(full)))
    finally:
        subprocess.run(["umount", full], capture_output=True)


def progress(measure):
    """A function true once measure() grew since its last call."""
    last = [measure()]

    def grew():
        now = measure()
        if now > last[0]:
            last[0] = now
            return True
        return False
    return grew


def run(e):
    t.need_kvm()
    cfg = e.cfg("counter.cfg", CFG)
    rc, _, err = e.xl("create", cfg)
    check("create counter", rc == 0, err)
    check("it counts", t.wait_for(lambda: len(counts(e.console_log("counter"))) > 50, 30))

    # xl save -c: a checkpoint; the domain runs on.
    ckpt = os.path.join(e.tmp, "ckpt.save")
    rc, _, err = e.xl("save", "-c", "counter", ckpt)
    check("xl save -c: exit 0", rc == 0, err)
    n = len(counts(e.console_log("counter")))
    check("xl save -c: the domain still runs and counts",
          t.wait_for(lambda: len(counts(e.console_log("counter"))) > n + 50, 30))

    # A checkpoint sent to a device (xl save -c DOM /dev/null) leaves the
    # node's mode alone: a char device of the test's own stands in.
    node = os.path.join(e.tmp, "null")
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.chmod(node, 0o666)
    rc, _, err = e.xl("save", "-c", "counter", node)
    mode = stat.S_IMODE(os.stat(node).st_mode)
    check("xl save -c to a char device: exit 0, its mode kept",
          rc == 0 and mode == 0o666, f"rc {rc} mode {mode:o} {err}")

    disk_full(e, "counter", progress(lambda: len(counts(e.console_log("counter")))))

    f = os.path.join(e.tmp, "counter.save")
    rc, _, err = e.xl("save", "counter", f)
    check("xl save: exit 0", rc == 0, err)
    check("xl save: says what it wrote", "pages with data" in err, err)
    check("xl save: the file is 0600", os.path.exists(f) and os.stat(f).st_mode & 0o777 == 0o600)
    check("xl save: the domain is gone", t.wait_for(lambda: "counter" not in e.rows(), 10))
    before = e.console_log("counter")
    last = counts(before)[-1] if counts(before) else -1

    for path in (f, ckpt):
        v = verify(path)
        if v is not None:
            check(f"verify-stream-v2 accepts {os.path.basename(path)}", v.returncode == 0,
                  (v.stdout + v.stderr)[-1500:])

    # Damaged copies: refused by our reader, nothing started.
    data = open(f, "rb").read()
    trunc = os.path.join(e.tmp, "trunc.save")
    open(trunc, "wb").write(data[:len(data) // 2])
    rc, _, err = e.xl("restore", trunc)
    check("truncated file: refused", rc != 0, err)
    check("truncated file: the message names the record",
          re.search(r"PAGE_DATA|truncated|record", err) is not None, err)
    # A module record whose length overruns EMULATOR_CONTEXT (the first
    # pass checks the framing of the VMM's records).
    bad = bytearray(data)
    at = data.rfind(b"vcpu".ljust(16, b"\0"))
    check("the file has a vcpu record", at > 0)
    bad[at + 20:at + 24] = (0x7fffff00).to_bytes(4, "little")
    badf = os.path.join(e.tmp, "bad.save")
    open(badf, "wb").write(bytes(bad))
    rc, _, err = e.xl("restore", badf)
    check("damaged EMULATOR_CONTEXT: refused", rc != 0 and "EMULATOR_CONTEXT" in err, err)
    # One the first pass cannot judge: a module record's version, which
    # only the VMM knows. The domain is created, the VMM refuses the
    # record, and the domain is destroyed again.
    at = data.rfind(b"timer".ljust(16, b"\0"))
    check("the file has a timer record", at > 0)
    lie = bytearray(data)
    lie[at + 16:at + 20] = (99).to_bytes(4, "little")
    lief = os.path.join(e.tmp, "lie.save")
    open(lief, "wb").write(bytes(lie))
    rc, _, err = e.xl("restore", lief)
    check("a module record of another version: refused by the VMM",
          rc != 0 and "EMULATOR_CONTEXT" in err, err)
    e.check_empty("after the refused restores")

    rc, _, err = e.xl("restore", f)
    check("xl restore: exit 0", rc == 0, err)
    check("xl restore: the domain is listed", t.wait_for(lambda: "counter" in e.rows(), 10))

    def resumed():
        c = counts(e.console_log("counter")[len(before):])
        return len(c) > 50 and c
    check("restored: it counts again", t.wait_for(resumed, 30))
    after = counts(e.console_log("counter")[len(before):])
    check("restored: it went on from the saved count, not from 0",
          bool(after) and last < after[0] <= last + 2, (last, after[:3]))
    check("restored: no number missing or repeated",
          after == list(range(after[0], after[0] + len(after))), after[:10])
    check("restored: the guest did not boot again",
          "counter: up" not in e.console_log("counter")[len(before):])
    rc, _, err = e.xl("destroy", "counter")
    check("destroy the restored domain", rc == 0, err)
    e.check_empty("after destroy")


ROUND = re.compile(r"^round (\d+) (ok: vcpus (\d+) timer (\d+)|FAIL: .*)\r?$", re.M)


def run_smp(e):
    t.need_kvm()
    cfg = e.cfg("resume.cfg", 'name = "resume"\ntype = "pvh"\n'
                'kernel = "guests/guest-resume-64"\nmemory = 32\nvcpus = 4\n')
    rc, _, err = e.xl("create", cfg)
    check("create resume (4 vCPUs)", rc == 0, err)

    def rounds(text):
        return ROUND.findall(text)
    check("it runs its rounds", t.wait_for(lambda: len(rounds(e.console_log("resume"))) >= 3, 60),
          e.console_log("resume")[-300:])
    for cycle in (1, 2):
        f = os.path.join(e.tmp, f"resume-{cycle}.save")
        rc, _, err = e.xl("save", "resume", f)
        check(f"save {cycle}: exit 0", rc == 0, err)
        v = verify(f)
        if v is not None:
            check(f"save {cycle}: verify-stream-v2 accepts it", v.returncode == 0,
                  (v.stdout + v.stderr)[-1500:])
        before = e.console_log("resume")
        done = rounds(before)
        last = int(done[-1][0]) if done else 0
        rc, _, err = e.xl("restore", f)
        check(f"restore {cycle}: exit 0", rc == 0, err)
        check(f"restore {cycle}: rounds go on",
              t.wait_for(lambda: len(rounds(e.console_log("resume")[len(before):])) >= 3, 60),
              e.console_log("resume")[-300:])
        new = rounds(e.console_log("resume")[len(before):])
        nums = [int(r[0]) for r in new]
        check(f"restore {cycle}: the next round after the saved one ({last})",
              bool(nums) and nums[0] == last + 10, nums[:3])
        check(f"restore {cycle}: every round passes its checks",
              all(r[1].startswith("ok") for r in new), [r for r in new if not r[1].startswith("ok")][:3])
        check(f"restore {cycle}: all 4 vCPUs count on", all(r[2] == "4" for r in new), new[:3])
        check(f"restore {cycle}: the guest did not boot again",
              "resume guest" not in e.console_log("resume")[len(before):])
        check(f"restore {cycle}: the guest noticed its new domid",
              re.search(r"domid changed \d+ -> \d+", e.console_log("resume")[len(before):])
              is not None)
    check("no round failed at all", "FAIL" not in e.console_log("resume"),
          [l for l in e.console_log("resume").splitlines() if "FAIL" in l][:3])
    rc, _, err = e.xl("destroy", "resume")
    check("destroy", rc == 0, err)
    e.check_empty("after destroy")


def run_pv(e):
    t.need_kvm()
    cfg = e.cfg("resume-pv.cfg", 'name = "rpv"\ntype = "pvh"\n'
                'kernel = "guests/guest-resume-pv-64"\nmemory = 32\nvcpus = 4\n')
    rc, _, err = e.xl("create", cfg)
    check("create resume-pv (4 vCPUs)", rc == 0, err)

    def rounds(text):
        return ROUND.findall(text)
    log = lambda: e.console_log("rpv")  # noqa: E731
    check("it runs its rounds", t.wait_for(lambda: len(rounds(log())) >= 3, 60), log()[-300:])
    ckpt = os.path.join(e.tmp, "rpv-ckpt.save")
    rc, _, err = e.xl("save", "-c", "rpv", ckpt)
    check("xl save -c: exit 0", rc == 0, err)
    check("xl save -c: the guest suspended itself", "suspended by the guest" in err, err)
    check("xl save -c: the guest's suspend returned 1 (cancelled)",
          t.wait_for(lambda: "suspend returned 1" in log(), 30), log()[-300:])
    mark = len(log())
    check("xl save -c: it goes on with its rounds",
          t.wait_for(lambda: len([r for r in rounds(log()[mark:]) if r[1].startswith("ok")]) >= 2, 60),
          log()[-300:])
    # Disk full with the guest suspended by its own hand: it is resumed
    # where it was (its suspend returns 1), rounds passing.
    disk_full(e, "rpv", progress(lambda: len([r for r in rounds(log()) if r[1].startswith("ok")])))
    check("disk full: the guest's suspend returned 1 again",
          log().count("suspend returned 1") == 2, log()[-300:])
    f = os.path.join(e.tmp, "rpv.save")
    rc, _, err = e.xl("save", "rpv", f)
    check("xl save: exit 0", rc == 0, err)
    check("xl save: the guest suspended itself", "suspended by the guest" in err, err)
    for path in (ckpt, f):
        v = verify(path)
        if v is not None:
            check(f"verify-stream-v2 accepts {os.path.basename(path)}", v.returncode == 0,
                  (v.stdout + v.stderr)[-1500:])
    before = log()
    rc, _, err = e.xl("restore", f)
    check("xl restore: exit 0", rc == 0, err)
    check("restored: the guest's suspend returned 0",
          t.wait_for(lambda: "suspend returned 0" in log()[len(before):], 30), log()[-300:])
    check("restored: rounds go on, all passing, 4 vCPUs",
          t.wait_for(lambda: len(rounds(log()[len(before):])) >= 3, 60), log()[-300:])
    new = rounds(log()[len(before):])
    check("restored: every round passes", all(r[1].startswith("ok") and r[2] == "4" for r in new),
          new[:4])
    check("no round failed at all", "FAIL" not in log(),
          [l for l in log().splitlines() if "FAIL" in l][:3])
    rc, _, err = e.xl("destroy", "rpv")
    check("destroy", rc == 0, err)
    e.check_empty("after destroy")


if __name__ == "__main__":
    e = t.Env()
    try:
        {"smp": run_smp, "pv": run_pv}.get(sys.argv[1] if sys.argv[1:] else "", run)(e)
    finally:
        e.close()
    if t.failures:
        print(f"FAILED: {len(t.failures)} check(s): " + "; ".join(t.failures))
        sys.exit(1)
    print("save-restore: all checks passed")
