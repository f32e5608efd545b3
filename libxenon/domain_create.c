/* Creating a domain: a domid and the state file reserved under the state
 * lock, the monitor forked to run the VMM, the xenstore nodes written while
 * the VMM builds the domain, then go (docs/xl.md, how a domain is created). */
#include "domain_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"
#include "vmm_control.h"
#include "xs_client.h"

/* How long the VMM may take to build the domain. */
#define START_TIMEOUT_MS 30000

/* Whether a domain among ids[0..n) other than `avoid` is called `name`;
 * -1 when the names cannot be read. */
static int name_taken(struct xs_client *xs, const unsigned *ids, int n,
                      const char *name, unsigned avoid)
{
    char **names = read_names(xs, ids, n);
    if (!names)
        return -1;
    unsigned found = 0;
    for (int i = 0; i < n && !found; i++)
        if (ids[i] != avoid && names[i] && strcmp(names[i], name) == 0)
            found = ids[i];
    xs_free_list(names, n);
    return (int)found;
}

/* Whether the domain `domid` that holds `name` may keep it: 1, or 0 when
 * nobody will ever run or clean it up (abandoned: xl create killed before
 * its monitor ran, or a power cut took its VMM and monitor), in which case
 * it is cleaned away here as a destroy would. */
static int holds_name(const struct xenon_paths *p, struct xs_client *xs,
                      unsigned domid)
{
    return !reap_if_abandoned(p, xs, domid);
}

/* How long a create waits for a domain that gave up its name's place in
 * listings to finish its teardown (docs/xl.md). */
#define TEARDOWN_WAIT_MS 5000

/* Whether the domain `domid` of state s is being torn down by its
 * monitor: its VMM has ended, its monitor lives, and it is not kept (a
 * shutdown reason would keep it listed, as a preserved domain). xl list
 * no longer shows such a domain, and it is about to let go of its name. */
static bool tearing_down(const struct xenon_paths *p, const struct dstate *s,
                         unsigned domid)
{
    return s->vmm_start && s->shutdown_reason < 0 && !state_vmm_ours(p, s, domid) &&
           state_monitor_ours(s);
}

/* The name's holder once any teardown of it has finished (at most
 * TEARDOWN_WAIT_MS): a client that saw the domain go (a XenAPI client
 * that saw its VM Halted, a script after xl shutdown) starts it again at
 * once and must not find the name taken by what it saw go. One read of
 * the state file a look. */
static unsigned after_teardown(const struct xenon_paths *p, const char *name, unsigned domid)
{
    uint64_t deadline = now_ns() + TEARDOWN_WAIT_MS * 1000000ull;
    for (struct dstate s; domid; usleep(2000)) {
        if (state_read(p, domid, &s) < 0 || strcmp(s.name, name) != 0)
            return 0;           /* gone, or the name with it */
        if (!tearing_down(p, &s, domid) || now_ns() >= deadline)
            return domid;
    }
    return 0;
}

/* A domain with only a state file (not yet, or no longer, in xenstore)
 * called `name`, other than `avoid`: its domid, else 0. */
static unsigned state_name_taken(const struct xenon_paths *p, const unsigned *xs_ids,
                                 int nxs, const unsigned *ids, int n,
                                 const char *name, unsigned avoid)
{
    uint8_t in_xs[(MAX_DOMID + 8) / 8] = { 0 };     /* ids are <= MAX_DOMID */
    for (int j = 0; j < nxs; j++)
        in_xs[xs_ids[j] / 8] |= (uint8_t)(1u << (xs_ids[j] % 8));
    for (int i = 0; i < n; i++) {
        struct dstate s;
        if (!(in_xs[ids[i] / 8] & (1u << (ids[i] % 8))) && ids[i] != avoid &&
            state_read(p, ids[i], &s) == 0 && strcmp(s.name, name) == 0)
            return ids[i];
    }
    return 0;
}

/* Pick a domid (never `avoid`, the domain being restarted, whose name may
 * still be in use) and write its state file, which reserves the domid,
 * and the recorded config: all the monitor's START reads. The name index
 * and the JSON config follow in domain_record(), once START is on its way.
 * Returns the state lock, held so that no other create takes the name
 * before domain_publish() has written it: pass it there. -1 with nothing
 * left behind. */
static int domain_reserve(const struct xenon_paths *p, struct xs_client *xs,
                          const struct domain_config *dc,
                          unsigned avoid, unsigned *domid_out, FILE *err)
{
    int lock = lock_state(p);
    if (lock < 0) {
        fprintf(err, "cannot lock %s/lock: %s\n", p->state_dir, strerror(errno));
        return -1;
    }
    bool ok = false;
    unsigned *a = NULL, *b = NULL;
    int na = 0, nb = 0;
    /* The name index answers in one read (state_name_get); a name it
     * only hashes is looked up among all domains, as it was for all. */
    unsigned taken = state_name_get(p, dc->name);
    if (taken == avoid)
        taken = 0;
    if (!taken && !state_name_exact(dc->name)) {
        if (xs_domids(xs, &a, &na) < 0) {
            fprintf(err, "cannot read /local/domain from xenstored\n");
            goto out;
        }
        int t = name_taken(xs, a, na, dc->name, avoid);
        if (t < 0) {
            fprintf(err, "cannot read domain names from xenstored\n");
            goto out;
        }
        if (state_ids(p, &b, &nb) < 0) {
            fprintf(err, "cannot list domains\n");
            goto out;
        }
        /* Names are unique across xenstore and the state files (a domain
         * is in a state file before its nodes are written). */
        taken = t ? (unsigned)t : state_name_taken(p, a, na, b, nb, dc->name, avoid);
    }
    taken = after_teardown(p, dc->name, taken);
    if (taken && holds_name(p, xs, taken)) {
        fprintf(err, "libxl: error: Domain with name \"%s\" already exists.\n",
                dc->name);
        goto out;
    }
    /* As Xen allocates domids (XEN_DOMCTL_createdomain): the next free one
     * after the last one given, wrapping past the highest to 1, so a
     * domid is not reused at once and tools that still hold it (a watch, a
     * log line) do not mistake the next domain for it. Free: no state
     * file and no home in xenstore, each probed, so the first candidate
     * after the rover usually does (no listing of all domains). */
    unsigned domid = 0, cand = state_last_domid(p);
    for (unsigned tries = 0; tries < MAX_DOMID && !domid; tries++) {
        cand = cand >= MAX_DOMID ? 1 : cand + 1;
        char path[XENON_PATH_MAX + 32];
        state_path(p, cand, "", path, sizeof(path));
        if (cand == avoid || access(path, F_OK) == 0)
            continue;
        char *home = xs_readf(xs, "/local/domain/%u", cand);
        if (home) {
            free(home);
            continue;
        }
        domid = cand;
    }
    if (!domid) {
        fprintf(err, "no free domain id\n");
        goto out;
    }
    struct dstate s = { .shutdown_reason = -1, .vcpus = (unsigned)dc->avail_vcpus,
                        .target_kb = (uint64_t)dc->target_memkb,
                        .max_kb = (uint64_t)dc->max_memkb };
    s.creator_pid = getpid();
    s.creator_start = proc_start(s.creator_pid, NULL);
    if (avoid) {
        /* A restart, run by the monitor: name it from the start, so a
         * destroy arriving before its VMM runs stops the monitor too. */
        s.mon_pid = s.creator_pid;
        s.mon_start = s.creator_start;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    s.created = (double)tv.tv_sec + tv.tv_usec / 1e6;
    snprintf(s.name, sizeof(s.name), "%s", dc->name);
    uuid_string(dc->uuid, s.uuid);
    if (state_console_path(p, domid, s.console, sizeof(s.console)) < 0) {
        fprintf(err, "run directory path too long: %s\n", p->run_dir);
        goto out;
    }
    /* The state file first: it reserves the domid and lets destroy find
     * whatever the steps that follow managed to create. */
    if (state_write(p, domid, &s) < 0) {
        fprintf(err, "cannot write the state file in %s: %s\n", p->state_dir,
                strerror(errno));
        goto out;
    }
    state_set_last_domid(p, domid);
    write_source(p, domid, dc);     /* what START and a restart after a crash read */
    *domid_out = domid;
    ok = true;
out:
    free(a);
    free(b);
    if (!ok) {
        close(lock);
        return -1;
    }
    return lock;
}

/* The rest of what domain_reserve() reserved: the name index entry and the
 * JSON config (xl list -l). Still under the state lock, so no other create
 * can miss the name; off the path to START, which reads neither (each
 * file made costs 0.1-0.5 ms on an ext4 state directory). */
static void domain_record(const struct xenon_paths *p, const struct domain_config *dc,
                          const char *json, unsigned domid)
{
    state_name_set(p, dc->name, domid);
    write_json(p, domid, json);
}

/* Write the reserved domain's xenstore nodes, introduce it to xenstored and
 * release `lock` (from domain_reserve). 0, or -1 after teardown. */
static int domain_publish(const struct xenon_paths *p, struct xs_client *xs,
                          const struct domain_config *dc, unsigned domid,
                          int lock, FILE *err)
{
    struct dstate s;
    int xrc = state_read(p, domid, &s) < 0 ? -ENOENT : 0;
    /* One transaction: all nodes appear at once. Pipelined after its
     * start: the three homes, the ~90 requests, the commit and
     * XS_INTRODUCE go in one batch, which xenstored handles in one turn
     * and makes durable with one journal sync (0.5-2 ms, up to 13 seen,
     * on a shared ext4 data directory; the homes in a batch of their own
     * cost a second one). The homes are made outside the
     * transaction: one that adds a child to /local/domain, /vm or /libxl
     * takes a copy of that parent's child list (one name per domain) and
     * conflicts with every other change of it; made first in the batch,
     * they exist when the transaction first touches them, which takes
     * them as its base. Until filled in (their permissions too) they are
     * dom0's alone, as their parents. A node that failed is committed
     * with the others, then torn down. */
    for (int tries = 0; xrc == 0; tries++) {
        xrc = xs_transaction_begin(xs);
        if (xrc < 0)
            break;
        xs_pipeline_begin(xs);
        char home[64];
        snprintf(home, sizeof(home), "/local/domain/%u", domid);
        xs_mkdir_outside(xs, home);
        snprintf(home, sizeof(home), "/vm/%s", s.uuid);
        if (s.uuid[0])
            xs_mkdir_outside(xs, home);
        snprintf(home, sizeof(home), "/libxl/%u", domid);
        xs_mkdir_outside(xs, home);
        xrc = write_nodes(xs, dc, domid, s.uuid, s.created);
        if (xrc == 0) {
            xrc = xs_commit_introduce(xs, domid, STORE_GFN, STORE_PORT);
        } else {
            xs_pipeline_end(xs);
            xs_transaction_end(xs, false);
        }
        if (xrc != -EAGAIN || tries == 10)
            break;
    }
    if (xrc < 0) {
        fprintf(err, "cannot set up domain %u in xenstore: %s\n", domid,
                strerror(-xrc));
        teardown(p, xs, domid);
    }
    close(lock);
    return xrc < 0 ? -1 : 0;
}

/* Both steps at once (a restart, run by the monitor). */
int domain_setup(const struct xenon_paths *p, struct xs_client *xs,
                        const struct domain_config *dc, const char *json,
                        unsigned avoid, unsigned *domid_out, FILE *err)
{
    int lock = domain_reserve(p, xs, dc, avoid, domid_out, err);
    if (lock < 0)
        return -1;
    domain_record(p, dc, json, *domid_out);
    return domain_publish(p, xs, dc, *domid_out, lock, err);
}

int xenon_domain_create(const struct xenon_paths *p, struct domain_config *dc,
                        const char *config_json, unsigned flags,
                        unsigned *domid_out, pid_t *monitor_out, FILE *err)
{
    return xenon_domain_create_held(p, dc, config_json, flags, domid_out, monitor_out,
                                    NULL, err);
}

void xenon_domain_let_go(const struct xenon_paths *p, unsigned domid)
{
    creation_done(p, domid);
}

int xenon_domain_create_held(const struct xenon_paths *p, struct domain_config *dc,
                             const char *config_json, unsigned flags,
                             unsigned *domid_out, pid_t *monitor_out, int *go_out,
                             FILE *err)
{
    struct xs_client *xs = xs_connect(p, err);
    if (!xs)
        return -1;
    /* Keys Xenon does not act on (disk, vif, ...) were named when the
     * config was read (domain_config.c); maxmem is acted on in part. */
    if (dc->max_memkb > dc->target_memkb)
        fprintf(err, "warning: `maxmem' above `memory' (ballooning) is not "
                "implemented in Xenon yet: the domain gets memory (%lld MiB)\n",
                (long long)(dc->target_memkb / 1024));
    if (ensure_dirs(p, err) < 0) {
        xs_close(xs);
        return -1;
    }
    /* As libxl builds a domain paused and unpauses it once its xenstore
     * nodes and devices exist: the monitor starts the VMM, which builds
     * the domain and waits for GO. */
    unsigned domid;
    int lock = domain_reserve(p, xs, dc, 0, &domid, err);
    if (lock < 0) {
        xs_close(xs);
        return -1;
    }
    char logf[XENON_PATH_MAX + 300];
    log_path(p, dc->name, logf, sizeof(logf));
    /* Logs are 0640 whatever the umask (the monitor's umask keeps what the
     * VMM creates private). The console and hypervisor logs the VMM makes
     * 0640 itself (vmm/backends/logfile.h), as it opens them. */
    /* Only a log made here gets the mode: an existing one (a device, a
     * file the admin gave its own mode) keeps its own. */
    int logfd = open(logf, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
                     0640);
    if (logfd >= 0)
        (void)!fchmod(logfd, 0640);
    else if (errno == EEXIST)
        logfd = open(logf, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
    off_t log_start = logfd >= 0 ? lseek(logfd, 0, SEEK_END) : 0;
    if (logfd < 0)
        fprintf(err, "cannot open %s: %s\n", logf, strerror(errno));
    if (logfd < 0) {
        close(lock);
        teardown(p, xs, domid);
        xs_close(xs);
        return -1;
    }
    /* ready: the VMM reports BUILT there; go: a control connection on
     * which the devices are added and GO is sent, as libxl unpauses a
     * domain once its devices exist. */
    int ready[2] = { -1, -1 }, go[2] = { -1, -1 };
    bool ok = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ready) == 0 &&
              socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go) == 0;
    if (!ok)
        fprintf(err, "cannot start domain %u: %s\n", domid, strerror(errno));
    /* The VMM first, then the nodes, written while it builds the domain
     * (~2 ms, which the nodes' journal syncs in xenstored would otherwise
     * add to): held, it runs no guest code before GO, which follows them.
     * The monitor is asked now and answers later: its START takes the
     * reaping lock, never the state lock we hold until the nodes are
     * written, and we wait for nothing of its under that lock (a monitor
     * restarting a domain takes it). Killed before GO, we close the
     * control connections: the VMM ends the domain unrun and the monitor,
     * named in the state file from its START on, tears it down. */
    bool paused = flags & XENON_CREATE_PAUSED;
    int mon = ok ? monitor_start_send(p, domid, paused, ready[1], go[0]) : -1;
    domain_record(p, dc, config_json, domid);
    if (domain_publish(p, xs, dc, domid, lock, err) < 0) {
        /* Torn down: the VMM, if it came, ends unrun at our closes. */
        if (mon >= 0)
            close(mon);
        for (int i = 0; i < 2; i++) {
            if (ready[i] >= 0)
                close(ready[i]);
            if (go[i] >= 0)
                close(go[i]);
        }
        close(logfd);
        xs_close(xs);
        return -1;
    }
    ok = ok && monitor_start_wait(p, mon, domid, paused, ready[1], go[0], err) == 0;
    if (ready[1] >= 0)
        close(ready[1]);        /* the VMM has its own copies now */
    if (go[0] >= 0)
        close(go[0]);
    /* No go (the socket closes unwritten) when a device could not be
     * added: the VMM then exits and the monitor tears down. */
    ok = ok && vmmctl_wait_built(ready[0], START_TIMEOUT_MS) == 0;
    ok = ok && vbd_add_all(p, xs, go[1], domid, dc, flags & XENON_CREATE_INCOMING, err) == 0;
    ok = ok && vif_add_all(xs, go[1], domid, dc, err) == 0;
    /* Held (restore): the caller sends its requests, then GO. */
    ok = ok && (go_out || vmmctl_send_go(go[1]) == 0);
    if (ready[0] >= 0)
        close(ready[0]);
    if (go[1] >= 0 && !(ok && go_out))
        close(go[1]);
    if (!ok) {
        /* The monitor cleans up; show what the VMM said. */
        fprintf(err, "libxl: error: domain %u (%s) failed to start; log %s:\n",
                domid, dc->name, logf);
        char buf[4096];
        ssize_t n;
        int rfd = open(logf, O_RDONLY | O_CLOEXEC);
        if (rfd >= 0 && lseek(rfd, log_start, SEEK_SET) == log_start)
            while ((n = read(rfd, buf, sizeof(buf))) > 0)
                fwrite(buf, 1, (size_t)n, err);
        if (rfd >= 0)
            close(rfd);
        close(logfd);
        /* The VMM, if it runs, is stopped by the monitor and the domain
         * torn down there; what it may not have is taken away here. */
        if (monitor_destroy_domain(p, domid, 15000) != 0)
            teardown(p, xs, domid);
        xs_close(xs);
        return -1;
    }
    close(logfd);
    xs_close(xs);
    if (go_out) {
        *go_out = go[1];
        *domid_out = domid;
        if (monitor_out)
            *monitor_out = 0;
        return 0;
    }
    creation_done(p, domid);
    /* Like pause, create -p returns once no vCPU runs (a PAUSE of the
     * domain started paused). */
    if ((flags & XENON_CREATE_PAUSED) && xenon_domain_pause(p, domid, err) < 0) {
        fprintf(err, "libxl: error: domain %u (%s) did not stay paused\n", domid, dc->name);
        xenon_domain_destroy(p, domid, err);
        return -1;
    }
    *domid_out = domid;
    if (monitor_out)
        *monitor_out = 0;
    return 0;
}
