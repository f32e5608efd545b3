/* The host monitor: one detached process for all the domains of a state
 * directory (docs/xl.md, the monitor). It starts every VMM as its child and
 * reaps it, applies on_poweroff/on_reboot/on_crash/on_watchdog with Xen's
 * wording in LOG_DIR/xl-NAME.log, and tears down what a domain leaves.
 *
 * It is started on demand by the first `xl create` that finds none and
 * exits a second after its last domain has gone, so an idle host runs no
 * toolstack process. It holds RUN_DIR/monitor.lock for its life (one
 * monitor per run directory) and serves RUN_DIR/monitor.sock. A killed
 * monitor loses nothing: the VMMs run on, and the next monitor adopts them
 * (a pidfd each; their exit status is not ours to read, so their end is
 * settled as a domain found abandoned is, domain_reap.c); domains that end
 * while there is none are found abandoned by the next toolstack operation.
 *
 * What it holds does not grow with the domains but for a small record each
 * and, for adopted VMMs only, a pidfd: its children's ends come through one
 * signalfd. No step of a domain's end walks the others: a child is reaped
 * by the pid SIGCHLD names and found in a pid hash (pid_map.h). */
#include "domain_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pid_map.h"
#include "proc.h"
#include "vmm_control.h"
#include "vmm_standby.h"
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

/* How long the monitor waits for xenstored (restarting) when a domain
 * ends: its nodes are removed and it is released only through it. */
#define MONITOR_XS_WAIT_MS 60000
/* How long the monitor stays with no domain and no client. */
#define MONITOR_IDLE_MS 1000
/* How long a client waits for the monitor to answer. */
#define MONITOR_CALL_MS 30000

int monitor_socket_path(const struct xenon_paths *p, char *out, size_t n)
{
    int k = snprintf(out, n, "%s/monitor.sock", p->run_dir);
    return k < 0 || (size_t)k >= n || (size_t)k >= sizeof(((struct sockaddr_un *)0)->sun_path)
               ? -1 : 0;
}

/* --- the monitor process ----------------------------------------------- */

/* One domain the monitor runs. */
struct mdom {
    pid_t pid;          /* its VMM */
    int pidfd;          /* an adopted VMM (not our child): its pidfd; else -1 */
    bool destroying;    /* a destroy asked for it: its end is the destroy */
    int *waiters;       /* clients of those destroys, answered at the end */
    int nwait;
    /* On the list of our children a destroy waits for (kill_list). */
    struct mdom *knext, *kprev;
    bool klisted;
};

static struct mdom *doms[MAX_DOMID + 1];
/* What a domain restarted as (0: nothing), so that a destroy of the old
 * domid that arrives once the restart is done follows the domain, as a
 * destroy by name would. */
static uint16_t successor[MAX_DOMID + 1];
static int ndoms, nclients;
/* Our own children (not adopted VMMs): pid -> domid. */
static struct pid_map children;
/* A child could not be entered in it (out of memory): ends are then
 * matched by a walk of doms[] again. */
static bool children_unmapped;
/* SIGCHLD is not queued: two children that end before we read the first
 * signal leave one. A waitpid(-1) sweep, which costs the kernel a walk of
 * all our children, catches the other: at most once a second, and only
 * after a SIGCHLD (CLOCK_MONOTONIC ms; 0: none due). */
#define MONITOR_SWEEP_MS 1000
static uint64_t sweep_due_ms;
/* Our children a destroy has been sent to: a client waits for each, so
 * their ends must not wait for the sweep. Each SIGCHLD, they are asked
 * by pid (as many as destroys in flight, not domains). */
static struct mdom *kill_list;

static void kill_list_add(struct mdom *d)
{
    if (d->klisted || d->pidfd >= 0)
        return;
    d->klisted = true;
    d->kprev = NULL;
    d->knext = kill_list;
    if (kill_list)
        kill_list->kprev = d;
    kill_list = d;
}

static void kill_list_del(struct mdom *d)
{
    if (!d->klisted)
        return;
    d->klisted = false;
    if (d->kprev)
        d->kprev->knext = d->knext;
    else
        kill_list = d->knext;
    if (d->knext)
        d->knext->kprev = d->kprev;
}
static struct xs_client *mon_xs;
static int epfd = -1;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The standby VMM (vmm_standby.h): one, started ahead, given to the next
 * START; replaced once used or ended (XENON_VMM_STANDBY=0: none). A used
 * one is replaced STANDBY_QUIET_MS after the last request: its exec, on a
 * CPU beside the launch it would slow (by 0.6-0.9 ms on these 2-CPU
 * hosts, measured), waits until that launch is over, and until a burst of
 * requests is. One that ends soon after its start (a broken binary) is
 * replaced later each time, up to STANDBY_BACKOFF_MAX_MS, so that it
 * cannot keep us busy. */
#define STANDBY_QUIET_MS 50
#define STANDBY_SHORT_LIFE_MS 1000
#define STANDBY_BACKOFF_MAX_MS 30000
static struct vmm_standby standby = { 0, -1 };
static bool standby_enabled;
static uint64_t standby_due_ms;     /* CLOCK_MONOTONIC ms; 0: none due */
static uint64_t standby_born_ms;
static unsigned standby_backoff_ms;

static void standby_due_in(unsigned ms)
{
    if (!standby_enabled || standby.pid)
        return;
    uint64_t t = now_ms() + ms;
    if (!standby_due_ms || t < standby_due_ms)
        standby_due_ms = t ? t : 1;
}

/* A request came: the standby, if due, waits for a quiet moment. */
static void standby_quiet(void)
{
    if (standby_due_ms && !standby_backoff_ms)
        standby_due_ms = now_ms() + STANDBY_QUIET_MS;
}

/* Started from the loop alone, between requests: a posix_spawn holds us
 * until its exec is done, and no client should wait for that. */
static void standby_fill(const struct xenon_paths *p)
{
    standby_due_ms = 0;
    if (!standby_enabled || standby.pid)
        return;
    standby_born_ms = now_ms();
    if (vmm_standby_start(p, &standby) < 0) {
        standby_backoff_ms = standby_backoff_ms ? standby_backoff_ms * 2 : 10;
        if (standby_backoff_ms > STANDBY_BACKOFF_MAX_MS)
            standby_backoff_ms = STANDBY_BACKOFF_MAX_MS;
        standby_due_in(standby_backoff_ms);
    }
}

/* Whether the child pid that ended was the standby (then replaced). */
static bool standby_ended(pid_t pid)
{
    if (!standby.pid || pid != standby.pid)
        return false;
    vmm_standby_drop(&standby);
    if (now_ms() - standby_born_ms < STANDBY_SHORT_LIFE_MS) {
        standby_backoff_ms = standby_backoff_ms ? standby_backoff_ms * 2 : 10;
        if (standby_backoff_ms > STANDBY_BACKOFF_MAX_MS)
            standby_backoff_ms = STANDBY_BACKOFF_MAX_MS;
    } else {
        standby_backoff_ms = 0;
    }
    standby_due_in(standby_backoff_ms);
    return true;
}
static pid_t me;
static unsigned long long me_start;

enum { TAG_LISTEN = 1, TAG_SIGNAL, TAG_CLIENT, TAG_PIDFD };
#define TAG(t, v) (((uint64_t)(t) << 32) | (uint32_t)(v))

/* The connection to xenstored, (re)opened when needed. */
static struct xs_client *get_xs(const struct xenon_paths *p)
{
    if (!mon_xs) {
        mon_xs = xs_open_wait(p->xs_path, MONITOR_XS_WAIT_MS);
        if (!mon_xs)
            mlog("xenstored at %s: %s: its nodes of the domain stay", p->xs_path,
                 strerror(errno));
        else
            xs_set_reconnect(mon_xs, MONITOR_XS_WAIT_MS);
    }
    return mon_xs;
}

/* Our stderr and stdout (which the VMMs we start inherit) become the log
 * of the domain called `name`, or /dev/null with NULL: what is logged for
 * a domain lands in its log, and no descriptor is held per domain. */
static void use_log(const struct xenon_paths *p, const char *name)
{
    int fd = -1;
    if (name && name[0] && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..")) {
        char path[XENON_PATH_MAX + 300];
        log_path(p, name, path, sizeof(path));
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0640);
    }
    if (fd < 0)
        fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
}

static struct mdom *dom_add(unsigned domid, pid_t pid, int pidfd)
{
    struct mdom *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->pid = pid;
    d->pidfd = pidfd;
    if (pidfd < 0 && pid_map_put(&children, pid, domid) < 0)
        children_unmapped = true;
    doms[domid] = d;
    ndoms++;
    if (pidfd >= 0) {
        struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG(TAG_PIDFD, domid) };
        epoll_ctl(epfd, EPOLL_CTL_ADD, pidfd, &ev);
    }
    return d;
}

/* Forget the domain and answer the destroys that waited for its end. */
static void dom_done(unsigned domid, int rc)
{
    struct mdom *d = doms[domid];
    if (!d)
        return;
    struct mon_rep rep = { .rc = rc };
    for (int i = 0; i < d->nwait; i++) {
        (void)!send(d->waiters[i], &rep, sizeof(rep), MSG_NOSIGNAL);
        close(d->waiters[i]);
        nclients--;
    }
    if (d->pidfd >= 0)
        close(d->pidfd);        /* leaves the epoll set with it */
    else
        pid_map_del(&children, d->pid, NULL);
    kill_list_del(d);
    free(d->waiters);
    free(d);
    doms[domid] = NULL;
    ndoms--;
}

/* The recorded config of a domain (what a restart after a crash reads):
 * 0 with dc filled (dispose it), or -1. */
static int recorded_config(const struct xenon_paths *p, unsigned domid,
                           struct domain_config *dc)
{
    size_t len = 0;
    char *src = read_source(p, domid, &len);
    domain_config_init(dc);
    int rc = src ? domain_config_parse("recorded config", src, len, NULL, 0, NULL, dc) : -1;
    free(src);
    return rc == 0 ? 0 : -1;
}

/* START: start the domain's VMM with the control connections the creator
 * passed and name ourselves (and it) in the domain's state file, all under
 * the reaping lock: nobody can take the domain for abandoned before we are
 * named, or after. The VMM is spawned before the one state write, not
 * after a first one: on an ext4 state directory each write (a new file
 * renamed over the old) costs 0.1-0.5 ms, which the VMM's exec and build
 * now overlap. */
static int start_domain(const struct xenon_paths *p, unsigned domid, bool paused,
                        int ready_fd, int go_fd, pid_t *pid_out)
{
    if (domid == 0 || domid > MAX_DOMID || doms[domid] || ready_fd < 0)
        return -EINVAL;
    successor[domid] = 0;
    struct dstate s;
    int reaping = lock_reaping(p);
    if (state_read(p, domid, &s) < 0) {
        if (reaping >= 0)
            close(reaping);
        return -ENOENT;
    }
    s.mon_pid = me;
    s.mon_start = me_start;
    struct domain_config dc;
    pid_t vmm = -1;
    int rc = -EINVAL;
    use_log(p, s.name);
    if (recorded_config(p, domid, &dc) < 0) {
        mlog("domain %u: its recorded config cannot be read", domid);
    } else {
        /* The standby if there is one (our stdout, the domain's log now,
         * becomes its own), else a new VMM. */
        rc = vmm_spawn(p, &dc, domid, s.console, paused, ready_fd, go_fd, -1,
                       standby_enabled ? &standby : NULL, &vmm) == 0 ? 0 : -EIO;
        if (rc == 0) {
            state_set_vmm(&s, vmm);
        }
    }
    /* Named whatever happened: the teardown that follows a failure finds
     * us, as it found us before the VMM was started. A VMM we cannot name
     * does not run on unnamed, out of every listing. */
    if (state_write(p, domid, &s) < 0 && rc == 0) {
        kill(vmm, SIGKILL);
        while (waitpid(vmm, NULL, 0) < 0 && errno == EINTR)
            ;
        rc = -ENOENT;
    }
    if (reaping >= 0)
        close(reaping);
    if (rc == 0) {
        dom_add(domid, vmm, -1);
        mlog("domain %u (%s) running, xenon-vmm pid %d", domid, s.name, (int)vmm);
        mlog("Waiting for domain %s (domid %u) to die [pid %ld]", s.name, domid, (long)me);
        *pid_out = vmm;
    }
    use_log(p, NULL);
    domain_config_dispose(&dc);
    return rc;
}

/* A restart of the domain whose VMM ended with reason reboot (or another
 * whose action is restart): the new domain is set up before the old one
 * goes, so that a state file naming us exists at every moment (destroy
 * finds us) and the new domain gets a new domid. */
static void restart_domain(const struct xenon_paths *p, struct xs_client *xs,
                           unsigned domid, struct domain_config *dc)
{
    char *json = xenon_domain_config_json(p, domid);
    unsigned nd;
    if (!xs || domain_setup(p, xs, dc, json, domid, &nd, stderr) < 0) {
        mlog("domain %s: restart failed", dc->name);
        free(json);
        teardown(p, xs, domid);
        return;
    }
    free(json);
    /* A restarted domain with disks is held, as xl create holds the first
     * one, until its vbds are in place (held: our end). */
    int go_fd = -1, held = -1;
    if (dc->num_disks > 0) {
        int pair[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0) {
            go_fd = pair[0];
            held = pair[1];
        }
    }
    struct dstate s;
    pid_t vmm;
    bool ok = state_read(p, nd, &s) == 0 &&
              vmm_start(p, dc, nd, s.console, false, go_fd, &vmm) == 0;
    if (go_fd >= 0)
        close(go_fd);
    if (ok && held >= 0) {
        if (vbd_add_all(p, xs, held, nd, dc, false, stderr) == 0)
            (void)!vmmctl_send_go(held);
        else
            mlog("domain %u: its disks could not be attached", nd);
    }
    if (held >= 0)
        close(held);        /* no GO sent: the VMM destroys the domain */
    mlog("Domain %u needs to be cleaned up: destroying the domain", domid);
    teardown(p, xs, domid);
    if (!ok) {
        mlog("domain %s: restart failed", dc->name);
        teardown(p, xs, nd);
        return;
    }
    state_set_vmm(&s, vmm);
    s.creator_pid = 0;          /* let go: see creation_done */
    s.creator_start = 0;
    state_write(p, nd, &s);
    dom_add(nd, vmm, -1);
    successor[nd] = 0;
    successor[domid] = (uint16_t)nd;
    mlog("Done. Rebooting now");
    mlog("domain %s restarted as domain %u", dc->name, nd);
    mlog("Waiting for domain %s (domid %u) to die [pid %ld]", dc->name, nd, (long)me);
}

/* A domain whose recorded restart after an abandoned end is started as
 * xl create starts one: from a child of ours, which is a client of ours. */
static void restart_in_child(const struct xenon_paths *p, char *source)
{
    pid_t c = fork();
    if (c == 0) {
        /* Nothing of ours: above all not the monitor lock, which would
         * outlive us in the child and keep the next monitor out. */
        syscall(SYS_close_range, 3, ~0u, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        _exit(restart_recorded(p, source) == 0 ? 0 : 1);
    }
    free(source);
}

/* The domain's VMM ended: with status st (our child), or, adopted, with a
 * status we cannot know (known false). */
static void domain_ended(const struct xenon_paths *p, unsigned domid, int st, bool known)
{
    struct mdom *d = doms[domid];
    bool destroying = d && d->destroying;
    struct dstate s;
    if (state_read(p, domid, &s) < 0) {
        dom_done(domid, 0);
        return;
    }
    use_log(p, s.name);
    struct xs_client *xs = get_xs(p);
    if (!known && !destroying) {
        /* Adopted from a monitor that is gone: settled as a domain found
         * abandoned is (its recorded on_crash), once. */
        dom_done(domid, 0);
        char *src = NULL;
        settle_abandoned(p, xs, domid, &src);
        if (src)
            restart_in_child(p, src);
        use_log(p, NULL);
        return;
    }
    int code = known && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (destroying || code < XENON_EXIT_SHUTDOWN_BASE ||
        code > XENON_EXIT_SHUTDOWN_BASE + SHUTDOWN_MAX) {
        if (destroying)
            mlog("Domain %u has been destroyed.", domid);
        else
            mlog("domain %u: xenon-vmm died (status %d): destroying the domain",
                 domid, code);
        teardown(p, xs, domid);
        dom_done(domid, 0);
        use_log(p, NULL);
        return;
    }
    dom_done(domid, 0);
    int reason = code - XENON_EXIT_SHUTDOWN_BASE;
    mlog("Domain %u has shut down, reason code %d 0x%x", domid, reason, reason);
    struct domain_config dc;
    bool have = recorded_config(p, domid, &dc) == 0;
    enum dc_action act = !have ? DC_ACTION_DESTROY
                       : reason == 0 ? dc.on_poweroff
                       : reason == 1 ? dc.on_reboot
                       : reason == 3 ? dc.on_crash
                       : reason == 4 ? dc.on_watchdog
                       : reason == 5 ? dc.on_soft_reset
                                     : DC_ACTION_DESTROY;
    if (!have)
        mlog("domain %u: no usable recorded config: destroying it", domid);
    mlog("Action for shutdown reason code %d is %s", reason, dc_action_name(act));
    if (act == DC_ACTION_COREDUMP_DESTROY || act == DC_ACTION_COREDUMP_RESTART) {
        mlog("core dumps are not implemented in Xenon yet: not dumping domain %u", domid);
        act = act == DC_ACTION_COREDUMP_DESTROY ? DC_ACTION_DESTROY : DC_ACTION_RESTART;
    }
    if (act == DC_ACTION_PRESERVE) {
        state_set_vmm(&s, 0);
        s.mon_pid = 0;
        s.mon_start = 0;
        s.shutdown_reason = reason;
        state_write(p, domid, &s);
        if (s.console[0])
            unlink(s.console);
        mlog("domain %u preserved: `xl destroy %u` removes it", domid, domid);
    } else if (act == DC_ACTION_RESTART) {
        restart_domain(p, xs, domid, &dc);
    } else {
        teardown(p, xs, domid);
        if (act != DC_ACTION_DESTROY)
            mlog("action %s is not implemented in Xenon yet: domain %u destroyed",
                 dc_action_name(act), domid);
    }
    domain_config_dispose(&dc);
    use_log(p, NULL);
}

/* DESTROY: the VMM is stopped, and the client answered once the domain's
 * end has been handled (dom_done). 1 for a domain that is not ours. */
static bool destroy_domain(unsigned domid, int client)
{
    if (domid > MAX_DOMID)
        return false;
    for (int hops = 0; !doms[domid] && successor[domid] && hops < 64; hops++)
        domid = successor[domid];
    struct mdom *d = doms[domid];
    if (!d)
        return false;
    int *w = realloc(d->waiters, (size_t)(d->nwait + 1) * sizeof(*w));
    if (!w)
        return false;
    d->waiters = w;
    d->waiters[d->nwait++] = client;
    if (!d->destroying) {
        d->destroying = true;
        kill_list_add(d);
        if (d->pidfd >= 0) {
            syscall(SYS_pidfd_send_signal, d->pidfd, SIGKILL, NULL, 0);
        } else {
            kill(d->pid, SIGTERM);
            kill(d->pid, SIGCONT);      /* one stopped from outside must see it */
        }
    }
    return true;
}

/* One request from a client. */
static void client_request(const struct xenon_paths *p, int fd)
{
    struct mon_req rq;
    int fds[2] = { -1, -1 };
    char cbuf[CMSG_SPACE(sizeof(fds))];
    struct iovec iov = { &rq, sizeof(rq) };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                         .msg_controllen = sizeof(cbuf) };
    ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(fds, CMSG_DATA(c), (k > 2 ? 2 : k) * sizeof(int));
            for (size_t i = 2; i < k; i++)
                close(((int *)CMSG_DATA(c))[i]);
        }
    struct mon_rep rep = { .rc = -EPROTO };
    bool answer = true;
    standby_quiet();
    if (n <= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
        close(fd);
        nclients--;
        answer = false;
    } else if (n != sizeof(rq)) {
        /* -EPROTO */
    } else if (rq.op == MON_START) {
        pid_t pid = 0;
        rep.rc = start_domain(p, rq.domid, rq.flags & MON_START_PAUSED, fds[0], fds[1], &pid);
        rep.pid = pid;
        standby_due_in(STANDBY_QUIET_MS);   /* used (or none): the next one */

    } else if (rq.op == MON_DESTROY) {
        if (destroy_domain(rq.domid, fd)) {
            epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
            answer = false;     /* answered when the domain has gone */
        } else {
            rep.rc = 1;
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    if (answer)
        (void)!send(fd, &rep, sizeof(rep), MSG_NOSIGNAL);
}

/* VMMs a monitor before us started that still run: adopted (a pidfd each),
 * once, at our start. */
static void adopt_running(const struct xenon_paths *p)
{
    unsigned *ids;
    int n;
    if (state_ids(p, &ids, &n) < 0)
        return;
    for (int i = 0; i < n; i++) {
        struct dstate s;
        if (state_read(p, ids[i], &s) < 0 || !state_vmm_ours(p, &s, ids[i]))
            continue;
        int pfd = (int)syscall(SYS_pidfd_open, s.vmm_pid, 0);
        /* Checked again through the pidfd: the same process still. */
        if (pfd >= 0 && proc_start(s.vmm_pid, NULL) == s.vmm_start)
            dom_add(ids[i], s.vmm_pid, pfd);
        else if (pfd >= 0)
            close(pfd);
    }
    free(ids);
}

/* The child pid ended with status st: a VMM of ours (its domain's end is
 * handled) or a restart run in a child (nothing more to do). */
static void child_ended(const struct xenon_paths *p, pid_t pid, int st)
{
    unsigned id;
    if (standby_ended(pid))
        return;
    if (pid_map_get(&children, pid, &id) && id <= MAX_DOMID && doms[id] &&
        doms[id]->pidfd < 0 && doms[id]->pid == pid) {
        domain_ended(p, id, st, true);
        return;
    }
    if (!children_unmapped)
        return;
    for (id = 1; id <= MAX_DOMID; id++)
        if (doms[id] && doms[id]->pidfd < 0 && doms[id]->pid == pid) {
            domain_ended(p, id, st, true);
            return;
        }
}

/* The child SIGCHLD named, if it has ended (a SIGCHLD also comes for a
 * child stopped or continued): waitpid of one pid is O(1) in the kernel. */
static void reap_child(const struct xenon_paths *p, pid_t pid)
{
    int st;
    pid_t r;
    while ((r = waitpid(pid, &st, WNOHANG)) < 0 && errno == EINTR)
        ;
    if (r == pid)
        child_ended(p, pid, st);
    if (!sweep_due_ms)
        sweep_due_ms = now_ms() + MONITOR_SWEEP_MS;
}

/* The children a destroy waits for that have ended, their SIGCHLD merged
 * into another's or not: O(destroys in flight). */
static void reap_killed(const struct xenon_paths *p)
{
    for (struct mdom *d = kill_list, *next; d; d = next) {
        next = d->knext;        /* child_ended frees d, and only d */
        int st;
        pid_t pid = d->pid;
        if (waitpid(pid, &st, WNOHANG) == pid)
            child_ended(p, pid, st);
    }
}

/* Every ended child, those whose SIGCHLD merged into another's included. */
static void reap_sweep(const struct xenon_paths *p)
{
    int st;
    pid_t pid;
    sweep_due_ms = 0;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
        child_ended(p, pid, st);
}

/* epoll_wait's timeout: the idle wait (*idle: that is what it is),
 * shortened to the sweep's or the standby's time. */
static int loop_timeout(bool *idle)
{
    int t = ndoms || nclients ? -1 : MONITOR_IDLE_MS;
    *idle = t >= 0;
    uint64_t now = now_ms();
    for (int i = 0; i < 2; i++) {
        uint64_t due = i ? standby_due_ms : sweep_due_ms;
        if (!due)
            continue;
        int s = due > now ? (int)(due - now) : 0;
        if (t < 0 || s < t) {
            t = s;
            *idle = false;
        }
    }
    return t;
}

/* RUN_DIR/monitor.lock */
static void monitor_lock_path(const struct xenon_paths *p, char *out, size_t n)
{
    snprintf(out, n, "%s/monitor.lock", p->run_dir);
}

/* The lock that makes us the one monitor of the state directory: its
 * descriptor, or -1 when another monitor serves (or none could be had). */
static int take_monitor_lock(const struct xenon_paths *p, const char *sock)
{
    char path[XENON_PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/monitor.lock", p->run_dir);
    /* A monitor that is exiting holds it a moment longer; one that serves
     * answers on the socket. The exiting one removes the file while it
     * holds it: a lock taken on a file no longer at the path is let go and
     * taken again on the path's new file. */
    for (int i = 0; i < 1000; i++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            return -1;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            struct stat a, b;
            if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
                a.st_dev == b.st_dev)
                return fd;
            close(fd);
            continue;
        }
        close(fd);
        int c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        memcpy(a.sun_path, sock, strlen(sock) + 1);    /* fits: monitor_socket_path */
        bool serving = c >= 0 && connect(c, (struct sockaddr *)&a, sizeof(a)) == 0;
        if (c >= 0)
            close(c);
        if (serving)
            break;
        struct timespec ts = { 0, 5000000 };
        nanosleep(&ts, NULL);
    }
    return -1;
}

static void __attribute__((noreturn)) monitor_main(const struct xenon_paths *p)
{
    prctl(PR_SET_NAME, MONITOR_COMM, 0, 0, 0);
    /* Files the VMMs make (console sockets, logs) are ours alone, whatever
     * umask xl ran with (logs are made 0640 beforehand). */
    umask(077);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    me = getpid();
    me_start = proc_start(me, NULL);

    char sock[XENON_PATH_MAX + 32];
    if (monitor_socket_path(p, sock, sizeof(sock)) < 0)
        _exit(1);
    int lock = take_monitor_lock(p, sock);
    if (lock < 0)
        _exit(0);
    int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    memcpy(a.sun_path, sock, strlen(sock) + 1);    /* fits: monitor_socket_path */
    unlink(sock);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        chmod(sock, 0600) < 0 || listen(lfd, SOMAXCONN) < 0)
        _exit(1);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (sfd < 0 || epfd < 0)
        _exit(1);
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG(TAG_LISTEN, 0) };
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
    ev.data.u64 = TAG(TAG_SIGNAL, 0);
    epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev);
    adopt_running(p);
    const char *sb_env = getenv("XENON_VMM_STANDBY");
    standby_enabled = !sb_env || (strcmp(sb_env, "0") && strcmp(sb_env, "no") &&
                                  strcmp(sb_env, "off"));
    standby_due_in(0);

    bool stop = false;
    while (!stop) {
        struct epoll_event evs[64];
        bool idle;
        int n = epoll_wait(epfd, evs, 64, loop_timeout(&idle));
        if (sweep_due_ms && now_ms() >= sweep_due_ms)
            reap_sweep(p);
        if (n == 0 && idle && !ndoms && !nclients && !sweep_due_ms)
            break;
        for (int i = 0; i < n; i++) {
            unsigned tag = (unsigned)(evs[i].data.u64 >> 32);
            unsigned v = (unsigned)evs[i].data.u64;
            if (tag == TAG_LISTEN) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
                    struct epoll_event cev = { .events = EPOLLIN,
                                               .data.u64 = TAG(TAG_CLIENT, c) };
                    epoll_ctl(epfd, EPOLL_CTL_ADD, c, &cev);
                    nclients++;
                }
            } else if (tag == TAG_SIGNAL) {
                struct signalfd_siginfo si;
                bool child = false;
                while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                    if (si.ssi_signo == SIGCHLD && si.ssi_pid > 0)
                        reap_child(p, (pid_t)si.ssi_pid);
                    if (si.ssi_signo == SIGCHLD)
                        child = true;
                    else
                        stop = true;    /* the VMMs run on; the next adopts them */
                }
                if (child)
                    reap_killed(p);
            } else if (tag == TAG_CLIENT) {
                client_request(p, (int)v);
            } else if (tag == TAG_PIDFD && v <= MAX_DOMID && doms[v]) {
                domain_ended(p, v, 0, false);
            }
        }
        if (standby_due_ms && now_ms() >= standby_due_ms)
            standby_fill(p);
    }
    vmm_standby_drop(&standby);     /* it ends on its own */
    /* Gone from the path before the lock is let go: a creator that finds
     * no socket starts the next monitor, which waits for the lock. */
    unlink(sock);
    close(lfd);
    char lpath[XENON_PATH_MAX + 32];
    monitor_lock_path(p, lpath, sizeof(lpath));
    unlink(lpath);
    xs_close(mon_xs);
    _exit(0);
}

/* --- clients ------------------------------------------------------------- */

/* Start a monitor, detached (a new session, adopted by init), and return
 * once the process that forks it has gone. */
static void monitor_spawn(const struct xenon_paths *p)
{
    fflush(NULL);
    pid_t c = fork();
    if (c == 0) {
        setsid();
        if (fork() != 0)
            _exit(0);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        /* Nothing of the creator's: its pipes to whoever ran it would be
         * held open for the monitor's life. */
        syscall(SYS_close_range, 3, ~0u, 0);
        if (chdir("/") < 0) {
            /* keep going: all paths we use are absolute */
        }
        monitor_main(p);
    }
    if (c > 0)
        while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
            ;
}

int monitor_open(const struct xenon_paths *p, bool start)
{
    char sock[XENON_PATH_MAX + 32];
    if (monitor_socket_path(p, sock, sizeof(sock)) < 0)
        return -1;
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    memcpy(a.sun_path, sock, strlen(sock) + 1);    /* fits: monitor_socket_path */
    bool started = false;
    for (int i = 0; i < 2000; i++) {
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
            return fd;
        close(fd);
        if (!start)
            return -1;
        if (!started) {
            monitor_spawn(p);
            started = true;
        }
        struct timespec ts = { 0, 2000000 };
        nanosleep(&ts, NULL);
    }
    errno = ETIMEDOUT;
    return -1;
}

static int monitor_send(int fd, const struct mon_req *rq, const int *fds, int nfds)
{
    char cbuf[CMSG_SPACE(2 * sizeof(int))] = { 0 };
    struct iovec iov = { (void *)rq, sizeof(*rq) };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (nfds > 0) {
        mh.msg_control = cbuf;
        mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
    }
    return sendmsg(fd, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(*rq) ? 0 : -errno;
}

static int monitor_answer(int fd, struct mon_rep *rep, int timeout_ms)
{
    struct pollfd pf = { fd, POLLIN, 0 };
    int r;
    while ((r = poll(&pf, 1, timeout_ms)) < 0 && errno == EINTR)
        ;
    if (r == 0)
        return -ETIMEDOUT;
    ssize_t n;
    while ((n = recv(fd, rep, sizeof(*rep), 0)) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof(*rep))
        return n < 0 ? -errno : -ECONNRESET;    /* the monitor went first */
    return 0;
}

int monitor_call(int fd, const struct mon_req *rq, const int *fds, int nfds,
                 struct mon_rep *rep, int timeout_ms)
{
    int rc = monitor_send(fd, rq, fds, nfds);
    return rc < 0 ? rc : monitor_answer(fd, rep, timeout_ms);
}

int monitor_start_domain(const struct xenon_paths *p, unsigned domid, bool paused,
                         int ready_fd, int go_fd, FILE *err)
{
    struct mon_req rq = { .op = MON_START, .domid = domid,
                          .flags = paused ? MON_START_PAUSED : 0 };
    int fds[2] = { ready_fd, go_fd };
    /* A monitor that exits as we connect closes us unanswered, having done
     * nothing: ask the next one. */
    int rc = -ECONNRESET;
    for (int tries = 0; tries < 5 && rc == -ECONNRESET; tries++) {
        int fd = monitor_open(p, true);
        if (fd < 0) {
            rc = -errno;
            break;
        }
        struct mon_rep rep;
        rc = monitor_call(fd, &rq, fds, 2, &rep, MONITOR_CALL_MS);
        close(fd);
        if (rc == 0)
            rc = rep.rc;
    }
    if (rc < 0)
        fprintf(err, "domain %u: the monitor cannot start it: %s\n", domid, strerror(-rc));
    return rc < 0 ? -1 : 0;
}

int monitor_start_send(const struct xenon_paths *p, unsigned domid, bool paused,
                       int ready_fd, int go_fd)
{
    struct mon_req rq = { .op = MON_START, .domid = domid,
                          .flags = paused ? MON_START_PAUSED : 0 };
    int fds[2] = { ready_fd, go_fd };
    int fd = monitor_open(p, true);
    if (fd >= 0 && monitor_send(fd, &rq, fds, 2) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

int monitor_start_wait(const struct xenon_paths *p, int fd, unsigned domid, bool paused,
                       int ready_fd, int go_fd, FILE *err)
{
    struct mon_rep rep;
    int rc = fd < 0 ? -ECONNRESET : monitor_answer(fd, &rep, MONITOR_CALL_MS);
    if (fd >= 0)
        close(fd);
    if (rc == 0 && rep.rc < 0) {
        fprintf(err, "domain %u: the monitor cannot start it: %s\n", domid, strerror(-rep.rc));
        return -1;
    }
    /* Unanswered (a monitor that exited as we came: it did nothing) or
     * never sent: ask again, the way monitor_start_domain does. */
    return rc == 0 ? 0 : monitor_start_domain(p, domid, paused, ready_fd, go_fd, err);
}

int monitor_destroy_domain(const struct xenon_paths *p, unsigned domid, int timeout_ms)
{
    int fd = monitor_open(p, false);
    if (fd < 0)
        return 1;
    struct mon_req rq = { .op = MON_DESTROY, .domid = domid };
    struct mon_rep rep;
    int rc = monitor_call(fd, &rq, NULL, 0, &rep, timeout_ms);
    close(fd);
    return rc < 0 ? rc : rep.rc;
}

void xenon_monitor_wait(const struct xenon_paths *p, const char *name)
{
    struct timespec ts = { 0, 20000000 };
    unsigned domid, last = 0;
    while (xenon_domain_lookup(p, name, &domid, stderr) == 0) {
        last = domid;
        nanosleep(&ts, NULL);
    }
    /* The teardown drops the name first and the state files after it
     * (state_remove ends with the one that names the domain): gone for
     * good is when that file is gone too. */
    struct dstate s;
    while (last && state_read(p, last, &s) == 0 && strcmp(s.name, name) == 0)
        nanosleep(&ts, NULL);
}
