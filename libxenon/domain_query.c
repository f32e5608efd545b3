/* What xl list, lookups by name or number and waits for a domain's end
 * learn about domains: from xenstore, the state files and /proc. */
#include "domain_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "proc.h"
#include "vmm_control.h"
#include "xs_client.h"

static int cmp_info(const void *a, const void *b)
{
    const struct xenon_dominfo *x = a, *y = b;
    return (x->domid > y->domid) - (x->domid < y->domid);
}

/* Every domain id we know of, each once: those with a home in xenstore,
 * then those with only a state file (being set up or torn down). A
 * malloc'd array and *n, or NULL with a message on err. */
static unsigned *domain_ids(const struct xenon_paths *p, struct xs_client *xs,
                            int *n, FILE *err)
{
    unsigned *a = NULL, *b = NULL, *ids = NULL;
    int na = 0, nb = 0;
    *n = 0;
    if (xs_domids(xs, &a, &na) < 0 || state_ids(p, &b, &nb) < 0) {
        fprintf(err, "cannot list domains\n");
    } else if (!(ids = calloc((size_t)(na + nb) + 1, sizeof(*ids)))) {
        fprintf(err, "out of memory\n");
    } else {
        uint8_t seen[(MAX_DOMID + 8) / 8] = { 0 };  /* ids are <= MAX_DOMID */
        for (int i = 0; i < na + nb; i++) {
            unsigned id = i < na ? a[i] : b[i - na];
            if (!(seen[id / 8] & (1u << (id % 8)))) {
                seen[id / 8] |= (uint8_t)(1u << (id % 8));
                ids[(*n)++] = id;
            }
        }
    }
    free(a);
    free(b);
    return ids;
}

/* How long `xl list` waits for a VMM's INFO reply. */
#define LIST_TIMEOUT_MS 2000

/* The xenstore nodes `xenon_domain_list` shows, in this order. */
static const char *const list_nodes[] = { "name", "memory/target", "memory/static-max" };
#define LIST_NODES 3

/* What a listing learns of one domain before it decides how to show it:
 * its state file, whether its VMM lives (one read of the VMM's stat:
 * alive, ours, and its CPU time) and what the VMM says (INFO). */
struct list_entry {
    struct dstate s;
    bool have, alive;
    double cpu;
    struct vmm_activity act;
    int info_rc;
    uint32_t info_state;
};

/* Domains are looked at in chunks: the INFO requests of one chunk are all
 * in flight at once (vmmctl_domain_info_many). */
#define LIST_CHUNK VMMCTL_INFO_WINDOW

struct chunk_answers {
    struct list_entry *e;
    const int *at;              /* request k is about e[at[k]] */
};

static void on_info(size_t k, int rc, const struct vmmctl_info *vi, void *opaque)
{
    struct chunk_answers *a = opaque;
    struct list_entry *e = &a->e[a->at[k]];
    e->info_rc = rc;
    if (rc == 0)
        e->info_state = vi->state;
}

static void probe_chunk(const struct xenon_paths *p, const unsigned *ids, int m,
                        struct list_entry *e)
{
    unsigned ask[LIST_CHUNK];
    int at[LIST_CHUNK];
    size_t na = 0;
    for (int j = 0; j < m; j++) {
        struct list_entry *x = &e[j];
        x->have = state_read(p, ids[j], &x->s) == 0;
        x->alive = false;
        x->cpu = 0;
        x->info_rc = -ENOENT;
        if (x->have && x->s.vmm_start &&
            proc_start(x->s.vmm_pid, &x->cpu) == x->s.vmm_start) {
            x->alive = true;
            x->act = vmm_activity(x->s.vmm_pid);
            if (!x->act.stopped) {
                ask[na] = ids[j];
                at[na++] = j;
            }
        }
    }
    struct chunk_answers a = { e, at };
    vmmctl_domain_info_many(p->run_dir, ask, na, on_info, &a, LIST_TIMEOUT_MS);
}

/* A domain has a state file or a name in xenstore (xs: an open
 * connection, or NULL to open one only if the state file is missing). */
static bool domain_exists(const struct xenon_paths *p, struct xs_client *xs, unsigned domid)
{
    char path[XENON_PATH_MAX + 32];
    state_path(p, domid, "", path, sizeof(path));
    if (access(path, F_OK) == 0)
        return true;
    struct xs_client *own = xs ? NULL : xs_open(p->xs_path);
    if (!xs && !own)
        return false;
    char *nm = xs_readf(xs ? xs : own, "/local/domain/%u/name", domid);
    if (own)
        xs_close(own);
    free(nm);
    return nm != NULL;
}

/* One listing. Abandoned domains found on the way are settled
 * (settle_abandoned); the recorded configs of those to start again are put
 * in restarts[] (*nrestarts of them, malloc'd) and *settled is set when any
 * was, so that the caller starts them, with no xenstore connection open
 * for the new monitors to inherit, and lists again. */
static int list_pass(const struct xenon_paths *p, struct xenon_dominfo **out,
                     int *n_out, FILE *err, char ***restarts, int *nrestarts,
                     bool *settled)
{
    *out = NULL;
    *n_out = 0;
    struct xs_client *xs = xs_connect(p, err);
    if (!xs)
        return -1;
    int n;
    unsigned *ids = domain_ids(p, xs, &n, err);
    char **xv = ids ? read_domain_nodes(xs, ids, n, list_nodes, LIST_NODES) : NULL;
    struct xenon_dominfo *v = xv ? calloc((size_t)n + 1, sizeof(*v)) : NULL;
    *restarts = v ? calloc((size_t)n + 1, sizeof(**restarts)) : NULL;
    if (!v || !*restarts) {
        free(v);
        v = NULL;
        xs_close(xs);
        if (ids)
            fprintf(err, xv ? "out of memory\n" : "cannot read domains from xenstored\n");
        if (xv)
            xs_free_list(xv, n * LIST_NODES);
        free(ids);
        return -1;
    }
    struct list_entry *chunk = malloc(LIST_CHUNK * sizeof(*chunk));
    if (!chunk) {
        fprintf(err, "out of memory\n");
        xs_close(xs);
        xs_free_list(xv, n * LIST_NODES);
        free(ids);
        free(v);
        free(*restarts);
        *restarts = NULL;
        return -1;
    }
    int shown = 0;
    for (int i = 0; i < n; i++) {
        if (i % LIST_CHUNK == 0)
            probe_chunk(p, ids + i, n - i < LIST_CHUNK ? n - i : LIST_CHUNK, chunk);
        const struct list_entry *e = &chunk[i % LIST_CHUNK];
        struct xenon_dominfo *d = &v[shown];
        char *const *x = &xv[i * LIST_NODES];
        const struct dstate s = e->s;
        bool have = e->have;
        bool let_go = false;        /* its VMM has had the go */
        d->domid = ids[i];
        d->shutdown_reason = -1;
        snprintf(d->name, sizeof(d->name), "%s", x[0] ? x[0] : have ? s.name : "");
        d->target_kb = x[1] ? strtoull(x[1], NULL, 10) : have ? s.target_kb : 0;
        d->max_kb = x[2] ? strtoull(x[2], NULL, 10) : have ? s.max_kb : 0;
        if (have) {
            snprintf(d->uuid, sizeof(d->uuid), "%s", s.uuid);
            snprintf(d->console, sizeof(d->console), "%s", s.console);
            d->vcpus = s.vcpus;
            d->start_time = s.created;
            d->shutdown_reason = s.shutdown_reason;
            if (e->alive) {
                d->vmm_pid = s.vmm_pid;
                d->running = true;
                d->cpu_time = e->cpu;
                d->blocked = e->act.blocked;
                d->paused = e->act.stopped;     /* SIGSTOP from outside */
                if (e->info_rc == 0) {
                    d->paused = e->info_state == XENON_CTL_STATE_PAUSED ||
                                e->info_state == XENON_CTL_STATE_HELD;
                    let_go = e->info_state != XENON_CTL_STATE_HELD;
                }
            }
            if (proc_alive(s.mon_pid, s.mon_start))
                d->monitor_pid = s.mon_pid;
        }
        /* Without its VMM a domain is listed only while it is preserved
         * or nobody is left to clean it away (its monitor is gone: `-----d`
         * until destroy). Not while its monitor is building it, restarting
         * it or tearing it down, and never once its xenstore home is gone:
         * a domain that is being or has just been destroyed leaves no row. */
        bool acting = d->monitor_pid && d->shutdown_reason < 0;
        /* Nobody left to run or clean it (a killed xl create, a killed
         * monitor whose guest then ended, a power cut): cleaned away now,
         * as a destroy would, so that it neither lingers nor holds its
         * name. */
        enum reap_result rr = have && !d->running && !acting &&
                                      state_abandoned(p, &s, ids[i])
                                  ? settle_abandoned(p, xs, ids[i],
                                                     &(*restarts)[*nrestarts])
                                  : REAP_NONE;
        if ((*restarts)[*nrestarts])
            (*nrestarts)++;
        if (rr != REAP_NONE)
            *settled = true;
        bool abandoned = rr == REAP_GONE;
        /* A creation whose creator died before it let the domain go (the
         * state file still names it: it is cleared after GO) never runs
         * guest code: its VMM ends for want of the go, and it is not
         * shown meanwhile. Unless the creator died between its GO and
         * clearing its name: the VMM, which says it is no longer held, is
         * the truth then. */
        bool doomed = have && s.creator_start && !let_go &&
                      !proc_alive(s.creator_pid, s.creator_start);
        /* Its name was read before its state file was looked for, and a
         * teardown removes the nodes first and the state file last: a
         * name without a state file may be one gone since. Asked again. */
        bool stale = !have && !d->running && x[0] && !domain_exists(p, xs, ids[i]);
        if (!abandoned && !doomed && !stale && (d->running || (x[0] && !acting)))
            shown++;
        else
            memset(d, 0, sizeof(*d));
    }
    free(chunk);
    xs_close(xs);
    xs_free_list(xv, n * LIST_NODES);
    free(ids);
    qsort(v, (size_t)shown, sizeof(*v), cmp_info);
    *out = v;
    *n_out = shown;
    return 0;
}

int xenon_domain_list(const struct xenon_paths *p, struct xenon_dominfo **out,
                      int *n_out, FILE *err)
{
    for (int pass = 0;; pass++) {
        char **restarts = NULL;
        int nr = 0;
        bool settled = false;
        int rc = list_pass(p, out, n_out, err, &restarts, &nr, &settled);
        /* Domains that crashed with on_crash restart start again now (from
         * their recorded configs; failures are in their xl logs), and the
         * listing is taken again to show them and what was kept. */
        for (int i = 0; i < nr; i++)
            restart_recorded(p, restarts[i]);
        free(restarts);
        if (rc < 0 || !settled || pass == 1)
            return rc;
        free(*out);
        *out = NULL;
        *n_out = 0;
    }
}

bool xenon_domain_exists(const struct xenon_paths *p, unsigned domid)
{
    return domain_exists(p, NULL, domid);
}

int xenon_domain_identity(const struct xenon_paths *p, unsigned domid, char *name,
                          size_t name_len, char *uuid)
{
    struct dstate s;
    if (state_read(p, domid, &s) < 0 || !s.name[0])
        return -1;
    snprintf(name, name_len, "%s", s.name);
    if (uuid)
        snprintf(uuid, 37, "%s", s.uuid);
    return 0;
}

int xenon_dominfo_find(const struct xenon_dominfo *v, int n, const char *spec)
{
    char *end;
    errno = 0;
    unsigned long id = strtoul(spec, &end, 10);
    bool numeric = *spec && *end == 0 && !errno && spec[0] != '-';
    for (int i = 0; i < n; i++)
        if (numeric ? v[i].domid == id : strcmp(v[i].name, spec) == 0)
            return i;
    return -1;
}

/* What xenon_dominfo_find finds in xenon_domain_list's answer, without
 * building it: a number is looked at alone, a name in the name index (one
 * file and the state file it names), so a lookup costs the same with one
 * domain or eight thousand; only a name the index does not find is read
 * from every domain (the xenstore name, else the state file's). */
int xenon_domain_lookup(const struct xenon_paths *p, const char *spec,
                        unsigned *domid, FILE *err)
{
    char *end;
    errno = 0;
    unsigned long want = strtoul(spec, &end, 10);
    bool numeric = *spec && *end == 0 && !errno && spec[0] != '-';
    struct xs_client *xs = xs_connect(p, err);
    if (!xs)
        return -2;
    /* A number is looked at alone; a name through the name index (one
     * file), but for a name the index only hashes. */
    unsigned hit = 0;
    if (numeric) {
        if (want >= 1 && want <= MAX_DOMID && domain_exists(p, xs, (unsigned)want))
            hit = (unsigned)want;
    } else {
        hit = state_name_get(p, spec);
    }
    /* A miss by name is looked for the long way too (an error path: a
     * domain with a home in xenstore and no state file, which no xl
     * create of ours makes, has no index entry). */
    if (hit || numeric) {
        xs_close(xs);
        if (hit)
            *domid = hit;
        return hit ? 0 : -1;
    }
    int n;
    unsigned *ids = domain_ids(p, xs, &n, err);
    char **names = ids && !numeric ? read_names(xs, ids, n) : NULL;
    xs_close(xs);
    if (!ids || (!numeric && !names)) {
        if (ids)
            fprintf(err, "cannot read domain names from xenstored\n");
        free(ids);
        return -2;
    }
    /* The lowest matching domid, as the sorted list would give. */
    bool found = false;
    unsigned best = 0;
    for (int i = 0; i < n; i++) {
        if (found && ids[i] >= best)
            continue;
        struct dstate s;
        bool match = numeric ? ids[i] == want
                   : names[i] ? strcmp(names[i], spec) == 0
                   /* no xenstore name: the state file's */
                   : state_read(p, ids[i], &s) == 0 && strcmp(s.name, spec) == 0;
        if (match) {
            found = true;
            best = ids[i];
        }
    }
    if (names)
        xs_free_list(names, n);
    free(ids);
    if (found)
        *domid = best;
    return found ? 0 : -1;
}

char *xenon_dom0_config_json(void)
{
    struct domain_config dc;
    domain_config_init(&dc);
    struct sysinfo si;
    int64_t kb = sysinfo(&si) == 0 ? (int64_t)((uint64_t)si.totalram * si.mem_unit >> 10) : 0;
    dc.type = DC_TYPE_PV;
    dc.name = strdup("Domain-0");
    dc.max_vcpus = dc.avail_vcpus = get_nprocs();
    dc.max_memkb = dc.target_memkb = kb;
    dc.uuid_given = true;       /* all zero, as Xen's dom0 without a handle */
    char *json = dc.name ? domain_config_to_json(&dc) : NULL;
    domain_config_dispose(&dc);
    return json;
}

int xenon_domain_shutdown_reason(const struct xenon_paths *p, unsigned domid)
{
    struct dstate s;
    return state_read(p, domid, &s) == 0 ? s.shutdown_reason : -1;
}
