/* The monitor: one detached process per domain that runs its VMM, waits
 * for it and applies on_poweroff/on_reboot/on_crash/on_watchdog, logging to
 * LOG_DIR/xl-NAME.log with Xen's wording. */
#include "domain_internal.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "vmm_control.h"
#include "xenon/contract.h"
#include <xen/sched.h>
#include "xs_client.h"

void mlogv(FILE *f, const char *fmt, va_list ap)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char ts[32];
    strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(f, "%s.%03ld xl: ", ts, (long)(tv.tv_usec / 1000));
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    fflush(f);
}

void mlog(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mlogv(stderr, fmt, ap);
    va_end(ap);
}

static volatile sig_atomic_t monitor_stop;

/* How long the monitor waits for xenstored (restarting) when the domain
 * ends: its nodes are removed and it is released only through it. */
#define MONITOR_XS_WAIT_MS 60000

static struct xs_client *monitor_xs(const struct xenon_paths *p)
{
    struct xs_client *xs = xs_open_wait(p->xs_path, MONITOR_XS_WAIT_MS);
    if (!xs)
        mlog("xenstored at %s: %s: its nodes of the domain stay", p->xs_path,
             strerror(errno));
    else
        xs_set_reconnect(xs, MONITOR_XS_WAIT_MS);
    return xs;
}

static void on_term(int sig)
{
    (void)sig;
    monitor_stop = 1;
}

/* Runs in the detached monitor process; never returns. `report` gets 'N'
 * once the monitor has named itself in the state file, then one byte once
 * the first VMM runs ('K') or has failed ('F'). */
void monitor(const struct xenon_paths *p, struct domain_config *dc, const char *json,
        unsigned domid, int report, int go_fd, bool paused)
{
    struct sigaction sa = { .sa_handler = on_term };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    /* A name destroy checks before it signals us (state_monitor_ours);
     * files the VMM makes (its console socket, its logs) are ours alone,
     * whatever umask xl ran with (logs are made 0640 beforehand). */
    prctl(PR_SET_NAME, MONITOR_COMM, 0, 0, 0);
    umask(077);

    const pid_t me = getpid();
    const unsigned long long me_start = proc_start(me, NULL);
    struct xs_client *xs = NULL;
    bool named = false;
    for (;;) {
        struct dstate s;
        /* Named under the reaping lock: either before anyone can take the
         * domain for abandoned, or not at all (its state file is gone). */
        int reaping = lock_reaping(p);
        if (state_read(p, domid, &s) < 0) {
            mlog("domain %u: state file vanished", domid);
            if (reaping >= 0)
                close(reaping);
            break;
        }
        /* A restarted domain's state file names us already (domain_setup). */
        if (s.mon_pid != me || s.mon_start != me_start) {
            s.mon_pid = me;
            s.mon_start = me_start;
            state_write(p, domid, &s);
        }
        if (reaping >= 0)
            close(reaping);
        if (report >= 0 && !named) {
            (void)!write(report, "N", 1);
            named = true;
        }
        pid_t vmm;
        /* A restarted domain with disks is held, as xl create holds the
         * first one, until its vbds are in place (held: our end). */
        int held = -1;
        if (go_fd < 0 && dc->num_disks > 0) {
            int pair[2];
            if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0) {
                go_fd = pair[0];
                held = pair[1];
            }
        }
        /* Only the first start may be paused (xl create -p); a restarted
         * domain runs. */
        if (monitor_stop ||
            vmm_start(p, dc, domid, s.console, paused && report >= 0, go_fd, &vmm) < 0) {
            if (held >= 0)
                close(held);
            xs = xs ? xs : monitor_xs(p);
            teardown(p, xs, domid);
            if (report >= 0)
                (void)!write(report, "F", 1);
            break;
        }
        if (go_fd >= 0) {       /* only the first VMM waits for xl's go */
            close(go_fd);
            go_fd = -1;
        }
        if (held >= 0) {
            xs = xs ? xs : monitor_xs(p);
            if (xs && vbd_add_all(p, xs, held, domid, dc, stderr) == 0)
                (void)!vmmctl_send_go(held);
            else
                mlog("domain %u: its disks could not be attached", domid);
            close(held);        /* no GO sent: the VMM destroys the domain */
        }
        s.vmm_pid = vmm;
        s.vmm_start = proc_start(vmm, NULL);
        state_write(p, domid, &s);
        /* xl returns at "K": the state file names the VMM by then (for
         * destroy); the log lines can come after. */
        if (report >= 0) {
            (void)!write(report, "K", 1);
            close(report);
            report = -1;
        }
        mlog("domain %u (%s) running, xenon-vmm pid %d", domid, dc->name, (int)vmm);
        mlog("Waiting for domain %s (domid %u) to die [pid %ld]", dc->name, domid,
             (long)me);
        int st = 0;
        bool signalled = false;
        for (;;) {
            if (monitor_stop && !signalled) {
                kill(vmm, SIGTERM);
                kill(vmm, SIGCONT);     /* one stopped from outside must see it */
                signalled = true;
            }
            pid_t r = waitpid(vmm, &st, 0);
            if (r == vmm)
                break;
            if (r < 0 && errno != EINTR) {
                st = -1;
                break;
            }
        }
        xs_close(xs);
        xs = monitor_xs(p);
        int code = st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (monitor_stop || code < XENON_EXIT_SHUTDOWN_BASE ||
            code > XENON_EXIT_SHUTDOWN_BASE + SHUTDOWN_MAX) {
            if (monitor_stop)
                mlog("Domain %u has been destroyed.", domid);
            else
                mlog("domain %u: xenon-vmm died (status %d): destroying the domain",
                     domid, code);
            teardown(p, xs, domid);
            break;
        }
        int reason = code - XENON_EXIT_SHUTDOWN_BASE;
        mlog("Domain %u has shut down, reason code %d 0x%x", domid, reason, reason);
        enum dc_action act = reason == 0 ? dc->on_poweroff
                           : reason == 1 ? dc->on_reboot
                           : reason == 3 ? dc->on_crash
                           : reason == 4 ? dc->on_watchdog
                           : reason == 5 ? dc->on_soft_reset
                                         : DC_ACTION_DESTROY;
        mlog("Action for shutdown reason code %d is %s", reason, dc_action_name(act));
        if (act == DC_ACTION_COREDUMP_DESTROY || act == DC_ACTION_COREDUMP_RESTART) {
            mlog("core dumps are not implemented in Xenon yet: not dumping domain %u", domid);
            act = act == DC_ACTION_COREDUMP_DESTROY ? DC_ACTION_DESTROY
                                                    : DC_ACTION_RESTART;
        }
        if (act == DC_ACTION_PRESERVE) {
            if (state_read(p, domid, &s) == 0) {
                s.vmm_pid = 0;
                s.vmm_start = 0;
                s.mon_pid = 0;
                s.mon_start = 0;
                s.shutdown_reason = reason;
                state_write(p, domid, &s);
            }
            unlink(s.console);
            mlog("domain %u preserved: `xl destroy %u` removes it", domid, domid);
            break;
        }
        if (act != DC_ACTION_RESTART) {
            teardown(p, xs, domid);
            if (act != DC_ACTION_DESTROY)
                mlog("action %s is not implemented in Xenon yet: domain %u destroyed",
                     dc_action_name(act), domid);
            break;
        }
        /* The new domain is set up before the old one goes, so that a
         * state file naming this monitor exists at every moment (destroy
         * finds us) and the new domain gets a new domid. */
        unsigned nd;
        if (!xs || domain_setup(p, xs, dc, json, domid, &nd, stderr) < 0) {
            mlog("domain %s: restart failed", dc->name);
            teardown(p, xs, domid);
            break;
        }
        mlog("Domain %u needs to be cleaned up: destroying the domain", domid);
        teardown(p, xs, domid);
        mlog("Done. Rebooting now");
        mlog("domain %s restarted as domain %u", dc->name, nd);
        domid = nd;
    }
    xs_close(xs);
    _exit(0);
}

void xenon_monitor_wait(pid_t monitor)
{
    while (waitpid(monitor, NULL, 0) < 0 && errno == EINTR)
        ;
}
