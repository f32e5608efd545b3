#!/usr/bin/env python3
"""xl migrate to localhost (issue 14): xl's own handshake over the pipe of
an "ssh" command, here a wrapper (-s) that ignores HOST and runs `xl
migrate-receive` on this machine with the same xenstored and state
directory, keeping a copy of the stream it was sent.

`migrate.py`: the counter guest (no PV control: paused, not asked) moves;
afterwards one domain called "counter" runs, under a new domid, and counts
on from where it was (no number missing or repeated, no new boot); the
stream is accepted by Debian's verify-stream-v2. Then the failure cases,
each of which must leave exactly the source running under its own name
and domid: no receiver (the ssh command fails), a receiver killed in the
middle of the stream, and a receiver
that refuses the domain (a domain of the name NAME--incoming exists
there already).

Then the dirtier guest (guests/dirtier, check=1) moves live while its
ring-3 loop dirties 20 pages per ms of 8 MiB: xl --debug shows its
memory sent while it ran and the last round sent with the domain
stopped; on the target the guest's own check of all its memory
passes at every beat (no page lost or stale), its write count goes on
from where it was, and its heartbeat lines, source and target together,
are each there exactly once, in order. verify-stream-v2 accepts the
stream with its repeated PFNs.

`migrate.py smp`: the 4-vCPU resume guest (guests/resume) moves twice and
goes on with its next round, every check passing, all 4 vCPUs counting.

`migrate.py pv`: the same guest with PV control (guest-resume-pv) is asked
to suspend, as for xl save; on the receiver its suspend returns 0 and its
rounds go on.
Skips (77) without /dev/kvm."""
import os
import re
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xl_test as t  # noqa: E402
from xl_test import check  # noqa: E402
from save_restore import counts, verify, ROUND  # noqa: E402

WRAPPER = r"""#!/bin/sh
# As `ssh HOST xl migrate-receive ...`: $1 is HOST, then "xl migrate-receive".
shift 3
case "$MIGRATE_MODE" in
kill)
    # The receiver dies (SIGKILL) once it has been given $MIGRATE_AT bytes
    # (fewer than the stream has): the fifo's write end stays open here, so
    # it is killed waiting for more, not ended by an EOF.
    fifo="$XENON_RUN_DIR/fake-ssh-$$.fifo"
    mkfifo -m 600 "$fifo"
    exec 3<&0
    "$XL_BIN" migrate-receive "$@" <"$fifo" 3<&- &
    r=$!
    exec 4>"$fifo"
    head -c "$MIGRATE_AT" <&3 >&4
    kill -KILL $r
    wait $r
    rm -f "$fifo"
    exit 1 ;;
noready)
    # The receiver reads the whole stream, but its answers stop after the
    # banner (54 bytes): its "ready" fails, and the sender sees the channel
    # end where it would be, after the source gave up its name.
    "$XL_BIN" migrate-receive "$@" | head -c 54
    exit 1 ;;
*)
    # A copy of the stream through tee, which must not hold the channel
    # back to the sender: the receiver alone answers there, and its exit
    # ends it (as ssh ends with the remote command).
    fifo="$XENON_RUN_DIR/fake-ssh-$$.fifo"
    mkfifo -m 600 "$fifo"
    exec 3<&0
    tee "$MIGRATE_CAPTURE" <&3 >"$fifo" 2>/dev/null 3<&- &
    exec 3<&- "$XL_BIN" migrate-receive "$@" <"$fifo" ;;
# (the fifos are in the test's run directory, removed with it)
esac
"""


def wrapper(e):
    path = os.path.join(e.tmp, "fake-ssh")
    with open(path, "w") as f:
        f.write(WRAPPER)
    os.chmod(path, stat.S_IRWXU)
    e.env["XL_BIN"] = t.XL
    return path


def guests(e):
    return sorted(n for n in e.rows() if n != "Domain-0")


def domid_of(e, name):
    r = e.rows().get(name)
    return int(r.group(2)) if r else None


def migrate(e, ssh, name, mode="", capture=None, at=0, extra=()):
    e.env["MIGRATE_MODE"] = mode
    e.env["MIGRATE_CAPTURE"] = capture or os.devnull
    e.env["MIGRATE_AT"] = str(at)
    return e.xl("migrate", "-s", ssh, "--debug", *extra, name, "localhost", timeout=120)


def run(e):
    t.need_kvm()
    ssh = wrapper(e)
    cfg = e.cfg("counter.cfg", 'name = "counter"\ntype = "pvh"\n'
                'kernel = "guests/guest-counter-64"\nmemory = 16\nvcpus = 1\n')
    rc, _, err = e.xl("create", cfg)
    check("create counter", rc == 0, err)
    log = lambda: e.console_log("counter")  # noqa: E731
    check("it counts", t.wait_for(lambda: len(counts(log())) > 50, 30))
    src = domid_of(e, "counter")

    # No receiver at all (the ssh command fails): nothing is stopped.
    rc, _, err = e.xl("migrate", "-s", "false", "counter", "localhost", timeout=60)
    check("no receiver: xl migrate fails, saying the stream ended before the banner",
          rc != 0 and "banner" in err, err)
    check("no receiver: the source alone, as it was",
          guests(e) == ["counter"] and domid_of(e, "counter") == src, guests(e))

    # A receiver killed mid-stream: the source resumes, alone, as it was.
    rc, _, err = migrate(e, ssh, "counter", "kill", at=40000)
    check("killed receiver: xl migrate fails", rc != 0, err)
    check("killed receiver: the sender says it resumes", "resuming at sender" in err, err)
    rows = guests(e)
    check("killed receiver: only the source, under its name and domid",
          rows == ["counter"] and domid_of(e, "counter") == src, (rows, err))
    run_dir = e.env["XENON_RUN_DIR"]
    check("killed receiver: it left no spool file",
          not [f for f in os.listdir(run_dir) if f.startswith("migrate-receive")],
          os.listdir(run_dir))
    n = len(counts(log()))
    check("killed receiver: the source counts on",
          t.wait_for(lambda: len(counts(log())) > n + 50, 30))

    # A receiver that fails once it has the whole stream, before its ready:
    # the source, renamed while the receiver read, takes its name back and
    # runs on; the receiver's copy is gone.
    rc, _, err = migrate(e, ssh, "counter", "noready")
    check("no ready: xl migrate fails", rc != 0, err)
    check("no ready: the sender says it resumes", "resuming at sender" in err, err)
    rows = guests(e)
    check("no ready: only the source, under its name and domid",
          rows == ["counter"] and domid_of(e, "counter") == src, (rows, err))
    n = len(counts(log()))
    check("no ready: the source counts on",
          t.wait_for(lambda: len(counts(log())) > n + 50, 30))

    # A receiver that refuses the domain: its name--incoming is taken there.
    blk = e.cfg("blocker.cfg", 'name = "counter--incoming"\ntype = "pvh"\n'
                'kernel = "guests/guest-counter-64"\nmemory = 16\nvcpus = 1\n')
    rc, _, err = e.xl("create", "-p", blk)
    check("create the blocker", rc == 0, err)
    rc, _, err = migrate(e, ssh, "counter")
    check("refusing receiver: xl migrate fails", rc != 0, err)
    check("refusing receiver: it said why", "already exists" in err, err)
    rows = guests(e)
    check("refusing receiver: the source and the blocker only",
          rows == ["counter", "counter--incoming"] and
          domid_of(e, "counter") == src, (rows, err))
    n = len(counts(log()))
    check("refusing receiver: the source counts on",
          t.wait_for(lambda: len(counts(log())) > n + 50, 30))
    rc, _, err = e.xl("destroy", "counter--incoming")
    check("destroy the blocker", rc == 0, err)

    # The migration.
    cap = os.path.join(e.tmp, "stream.save")
    before = log()
    rc, _, err = migrate(e, ssh, "counter", capture=cap)
    check("xl migrate: exit 0", rc == 0, err)
    check("xl migrate: the target reported success", "Migration successful" in err, err)
    check("xl migrate --debug: the figures and the downtime", "downtime" in err, err)
    print("note: " + "".join(ln for ln in err.splitlines(True) if "downtime" in ln).strip())
    rows = guests(e)
    check("after: one domain, called counter", rows == ["counter"], (rows, err))
    dst = domid_of(e, "counter")
    check("after: under a new domid", dst is not None and dst != src, (src, dst))
    check("after: its /vm/UUID node survived the source's destroy",
          len(e.xs_dir("/vm") or []) == 1, e.xs_dir("/vm"))
    last = counts(before)[-1] if counts(before) else -1

    def resumed():
        c = counts(log()[len(before):])
        return len(c) > 50 and c
    check("after: it counts", t.wait_for(resumed, 30), log()[-300:])
    after = counts(log()[len(before):])
    check("after: it went on from where it was", bool(after) and last < after[0] <= last + 2,
          (last, after[:3]))
    check("after: no number missing or repeated",
          after == list(range(after[0], after[0] + len(after))), after[:10])
    check("after: the guest did not boot again", "counter: up" not in log()[len(before):])
    v = verify(cap)
    if v is not None:
        check("verify-stream-v2 accepts the stream sent", v.returncode == 0,
              (v.stdout + v.stderr)[-1500:])
    # -C: the config sent is the one given (here the same domain's file).
    mark = len(log())
    rc, _, err = migrate(e, ssh, "counter", extra=("-C", cfg))
    check("xl migrate -C CONFIG: exit 0", rc == 0, err)
    check("xl migrate -C CONFIG: one domain, counting on", guests(e) == ["counter"] and
          t.wait_for(lambda: len(counts(log()[mark:])) > 50, 30), (guests(e), err))
    rc, _, err = e.xl("destroy", "counter")
    check("destroy the migrated domain", rc == 0, err)
    e.check_empty("after destroy")
    run_dirtier(e, ssh)


BEAT = re.compile(r"DIRTIER beat=(\d+) dirtied=(\d+)")
CHECKED = re.compile(r"DIRTIER check (\S+) beat=(\d+)")


def serial_log(e, name):
    """The guest's debug-port output (0xe9), source then target: the
    target's VMM writes under the name it was created with."""
    text = ""
    for n in (name, name + "--incoming"):
        try:
            text += open(os.path.join(e.env["XENON_LOG_DIR"], "console",
                                      f"hypervisor-{n}.log"), errors="replace").read()
        except OSError:
            pass
    return text


def run_dirtier(e, ssh):
    cfg = e.cfg("dirtier.cfg", 'name = "dirtier"\ntype = "pvh"\nmemory = 48\nvcpus = 1\n'
                'kernel = "guests/guest-dirtier-64"\n'
                'cmdline = "touch=8 rate=20 check=1 beat=100"\n')
    rc, _, err = e.xl("create", cfg)
    check("create dirtier", rc == 0, err)
    log = lambda: serial_log(e, "dirtier")  # noqa: E731
    check("dirtier: it beats and checks its memory",
          t.wait_for(lambda: len(CHECKED.findall(log())) >= 3, 30), log()[-300:])
    src = domid_of(e, "dirtier")
    cap = os.path.join(e.tmp, "dirtier.save")
    before = log()
    rc, _, err = migrate(e, ssh, "dirtier", capture=cap)
    check("dirtier: xl migrate: exit 0", rc == 0, err)
    print("note: " + " | ".join(ln.split("migration sender: ")[-1] for ln in err.splitlines()
                               if "round" in ln or "downtime" in ln))
    # How many rounds it takes depends on the host's speed; that round 0
    # (all 8 MiB of the pattern) went while the guest ran does not.
    sent = re.search(r"(\d+) bytes \((\d+) while it ran\)", err)
    check("dirtier: --debug: round 0 while it ran, then the last round stopped",
          re.search(r"round 0: \d+ pages", err) and "(domain stopped)" in err and
          sent and int(sent.group(2)) > 8 << 20, err)
    check("dirtier: one domain, new domid",
          guests(e) == ["dirtier"] and domid_of(e, "dirtier") != src, (guests(e), err))
    check("dirtier: beats and checks go on",
          t.wait_for(lambda: len(CHECKED.findall(log()[len(before):])) >= 3, 30),
          log()[-300:])
    text = log()
    beats = [int(b) for b, _ in BEAT.findall(text)]
    check("dirtier: every heartbeat line once, in order, source and target together",
          bool(beats) and beats == list(range(beats[0], beats[0] + len(beats))), beats)
    counts_ = [int(d) for _, d in BEAT.findall(text)]
    check("dirtier: its write count goes on (never back)",
          counts_ == sorted(counts_) and counts_[-1] > counts_[len(BEAT.findall(before)) - 1],
          counts_[-6:])
    checks = CHECKED.findall(text)
    check("dirtier: its memory check passed at every beat, before and after",
          checks and all(v == "ok" for v, _ in checks) and
          [int(b) for _, b in checks] == beats[:len(checks)], checks[-4:])
    v = verify(cap)
    if v is not None:
        check("dirtier: verify-stream-v2 accepts the live stream", v.returncode == 0,
              (v.stdout + v.stderr)[-1500:])
    rc, _, err = e.xl("destroy", "dirtier")
    check("dirtier: destroy", rc == 0, err)
    e.check_empty("after the dirtier")


def run_smp(e):
    t.need_kvm()
    ssh = wrapper(e)
    cfg = e.cfg("resume.cfg", 'name = "resume"\ntype = "pvh"\n'
                'kernel = "guests/guest-resume-64"\nmemory = 32\nvcpus = 4\n')
    rc, _, err = e.xl("create", cfg)
    check("create resume (4 vCPUs)", rc == 0, err)
    log = lambda: e.console_log("resume")  # noqa: E731
    rounds = lambda text: ROUND.findall(text)  # noqa: E731
    check("it runs its rounds", t.wait_for(lambda: len(rounds(log())) >= 3, 60), log()[-300:])
    for cycle in (1, 2):
        src = domid_of(e, "resume")
        before = log()
        cap = os.path.join(e.tmp, f"resume-{cycle}.save")
        rc, _, err = migrate(e, ssh, "resume", capture=cap)
        check(f"migrate {cycle}: exit 0", rc == 0, err)
        rows = guests(e)
        dst = domid_of(e, "resume")
        check(f"migrate {cycle}: one domain, new domid", rows == ["resume"] and
              dst != src, (rows, src, dst))
        check(f"migrate {cycle}: rounds go on",
              t.wait_for(lambda: len(rounds(log()[len(before):])) >= 3, 60), log()[-300:])
        new = rounds(log()[len(before):])
        # Every round of the whole log, before and after: the guest went
        # on with the next one, none lost or run twice.
        nums = [int(r[0]) for r in rounds(log())]
        check(f"migrate {cycle}: the rounds go on one after another",
              bool(nums) and nums == list(range(nums[0], nums[0] + 10 * len(nums), 10)),
              nums[-8:])
        check(f"migrate {cycle}: every round passes, 4 vCPUs",
              all(r[1].startswith("ok") and r[2] == "4" for r in new), new[:3])
        check(f"migrate {cycle}: the guest did not boot again",
              "resume guest" not in log()[len(before):])
        v = verify(cap)
        if v is not None:
            check(f"migrate {cycle}: verify-stream-v2 accepts the stream",
                  v.returncode == 0, (v.stdout + v.stderr)[-1500:])
    check("no round failed at all", "FAIL" not in log(),
          [ln for ln in log().splitlines() if "FAIL" in ln][:3])
    rc, _, err = e.xl("destroy", "resume")
    check("destroy", rc == 0, err)
    e.check_empty("after destroy")


def run_pv(e):
    t.need_kvm()
    ssh = wrapper(e)
    cfg = e.cfg("resume-pv.cfg", 'name = "rpv"\ntype = "pvh"\n'
                'kernel = "guests/guest-resume-pv-64"\nmemory = 32\nvcpus = 4\n')
    rc, _, err = e.xl("create", cfg)
    check("create resume-pv (4 vCPUs)", rc == 0, err)
    log = lambda: e.console_log("rpv")  # noqa: E731
    rounds = lambda text: ROUND.findall(text)  # noqa: E731
    check("it runs its rounds", t.wait_for(lambda: len(rounds(log())) >= 3, 60), log()[-300:])
    src = domid_of(e, "rpv")
    before = log()
    cap = os.path.join(e.tmp, "rpv.save")
    rc, _, err = migrate(e, ssh, "rpv", capture=cap)
    check("migrate: exit 0", rc == 0, err)
    check("migrate: the guest suspended itself", "suspended by the guest" in err, err)
    check("migrate: one domain, new domid", guests(e) == ["rpv"] and domid_of(e, "rpv") != src,
          guests(e))
    check("migrated: the guest's suspend returned 0 (a new domain)",
          t.wait_for(lambda: "suspend returned 0" in log()[len(before):], 30), log()[-300:])
    check("migrated: rounds go on",
          t.wait_for(lambda: len(rounds(log()[len(before):])) >= 3, 60), log()[-300:])
    new = rounds(log()[len(before):])
    check("migrated: every round passes, 4 vCPUs",
          all(r[1].startswith("ok") and r[2] == "4" for r in new), new[:4])
    v = verify(cap)
    if v is not None:
        check("verify-stream-v2 accepts the stream", v.returncode == 0,
              (v.stdout + v.stderr)[-1500:])
    check("no round failed at all", "FAIL" not in log(),
          [ln for ln in log().splitlines() if "FAIL" in ln][:3])
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
    print("migrate: all checks passed")
