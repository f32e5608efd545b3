/* A domain's xenstore layout, as libxl's (libxl__domain_make and
 * libxl__build_post): the domain's home is readable by the domain and owned
 * by dom0, with the nodes the guest writes (control/shutdown, data, ...)
 * owned by the domain. Also the reads of those nodes for many domains at
 * once, and the small xenstore helpers the rest of libxenon uses. */
#include "domain_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xs_client.h"

struct xs_client *xs_connect(const struct xenon_paths *p, FILE *err)
{
    struct xs_client *xs = xs_open(p->xs_path);
    if (!xs && err)
        fprintf(err, "cannot connect to xenstored at %s: %s\n", p->xs_path,
                strerror(errno));
    return xs;
}

int xs_printf(struct xs_client *xs, const char *value, const char *fmt, ...)
{
    char path[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    return xs_write(xs, path, value);
}

char *xs_readf(struct xs_client *xs, const char *fmt, ...)
{
    char path[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    char *v = NULL;
    return xs_read(xs, path, &v) == 0 ? v : NULL;
}

/* Domain ids with a home under /local/domain (dom0 excluded). */
int xs_domids(struct xs_client *xs, unsigned **ids, int *n)
{
    char **names;
    int cnt;
    *ids = NULL;
    *n = 0;
    int rc = xs_directory(xs, "/local/domain", &names, &cnt);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    *ids = calloc((size_t)cnt + 1, sizeof(**ids));
    if (!*ids) {
        xs_free_list(names, cnt);
        return -ENOMEM;
    }
    for (int i = 0; i < cnt; i++) {
        char *end;
        unsigned long id = strtoul(names[i], &end, 10);
        if (*end == 0 && id > 0 && id <= MAX_DOMID)
            (*ids)[(*n)++] = (unsigned)id;
    }
    xs_free_list(names, cnt);
    return 0;
}

/* Permission sets as libxl's: ro = owned by dom0, readable by the domain;
 * rw = owned by the domain; none = dom0 only. */
enum perm { P_RO, P_RW, P_NONE };

/* The nodes a domain's set-up wrote so far, with their permissions: a node
 * created in xenstore takes its parent's, so a child whose set equals its
 * nearest written ancestor's needs no SET_PERMS of its own. Once a node
 * could not be logged (full: many vCPUs), the nearest logged ancestor may
 * not be the parent, so every later node gets its SET_PERMS. */
struct node_log {
    int n;
    bool incomplete;
    struct { char path[128]; enum perm pm; } e[64];
};

static bool perms_inherited(const struct node_log *log, const char *path,
                            enum perm pm)
{
    size_t best = 0;
    enum perm parent = pm;
    if (log->incomplete)
        return false;
    for (int i = 0; i < log->n; i++) {
        size_t len = strlen(log->e[i].path);
        if (len > best && strncmp(path, log->e[i].path, len) == 0 && path[len] == '/') {
            best = len;
            parent = log->e[i].pm;
        }
    }
    return best > 0 && parent == pm;
}

static int xs_node(struct xs_client *xs, struct node_log *log, unsigned domid,
                   enum perm pm, const char *value, const char *path)
{
    bool inherited = perms_inherited(log, path, pm);
    if (log->n < (int)(sizeof(log->e) / sizeof(log->e[0])) &&
        strlen(path) < sizeof(log->e[0].path)) {
        snprintf(log->e[log->n].path, sizeof(log->e[0].path), "%s", path);
        log->e[log->n++].pm = pm;
    } else {
        log->incomplete = true;
    }
    int rc = xs_write(xs, path, value ? value : "");
    if (rc != 0 || inherited)
        return rc;
    char perms[32];
    int n;
    if (pm == P_RO)
        n = snprintf(perms, sizeof(perms), "n0%cr%u", 0, domid);
    else if (pm == P_RW)
        n = snprintf(perms, sizeof(perms), "n%u", domid);
    else
        n = snprintf(perms, sizeof(perms), "n0");
    return xs_set_perms(xs, path, perms, (size_t)n + 1);
}

/* Remove the domain's /local/domain, /libxl and /vm nodes, then release
 * it in xenstored; `vm` is the /vm path it names, NULL when unknown. One
 * batch: xenstored makes a turn's changes durable with one journal sync,
 * where each removal on its own waited for a sync of its own. */
void rm_nodes_release(struct xs_client *xs, unsigned domid, const char *vm)
{
    char dom[64], lib[64];
    snprintf(dom, sizeof(dom), "/local/domain/%u", domid);
    snprintf(lib, sizeof(lib), "/libxl/%u", domid);
    const char *paths[3] = { dom, lib, vm };
    xs_rm_release(xs, paths, vm ? 3 : 2, domid);
}

/* Write the domain's xenstore nodes as libxl does. */
int write_nodes(struct xs_client *xs, const struct domain_config *dc,
                       unsigned domid, const char *uuid, double created)
{
    char dom[64], vm[64], lib[64], v[64];
    snprintf(dom, sizeof(dom), "/local/domain/%u", domid);
    snprintf(vm, sizeof(vm), "/vm/%s", uuid);
    snprintf(lib, sizeof(lib), "/libxl/%u", domid);
    int rc = 0;
    struct node_log log = { 0 };
#define NODE(pm, val, ...)                                          \
    do {                                                            \
        char path_[256];                                            \
        snprintf(path_, sizeof(path_), __VA_ARGS__);                \
        if (rc == 0)                                                \
            rc = xs_node(xs, &log, domid, pm, val, path_);          \
    } while (0)
    NODE(P_RO, NULL, "%s", dom);
    NODE(P_RO, NULL, "%s", vm);
    NODE(P_NONE, NULL, "%s", lib);
    NODE(P_NONE, NULL, "%s/device", lib);
    NODE(P_NONE, dc_type_name(dc->type), "%s/type", lib);
    NODE(P_RO, vm, "%s/vm", dom);
    NODE(P_RO, dc->name, "%s/name", dom);
    snprintf(v, sizeof(v), "%u", domid);
    NODE(P_RO, v, "%s/domid", dom);
    NODE(P_RO, NULL, "%s/cpu", dom);
    for (int i = 0; i < dc->max_vcpus; i++)
        NODE(P_RO, i < dc->avail_vcpus ? "online" : "offline",
             "%s/cpu/%d/availability", dom, i);
    NODE(P_RO, NULL, "%s/memory", dom);
    snprintf(v, sizeof(v), "%lld", (long long)dc->max_memkb);
    NODE(P_RO, v, "%s/memory/static-max", dom);
    snprintf(v, sizeof(v), "%lld", (long long)dc->target_memkb);
    NODE(P_RO, v, "%s/memory/target", dom);
    NODE(P_RO, "0", "%s/memory/videoram", dom);
    NODE(P_RO, NULL, "%s/device", dom);
    NODE(P_RW, NULL, "%s/device/suspend/event-channel", dom);
    NODE(P_RO, NULL, "%s/control", dom);
    NODE(P_RW, NULL, "%s/control/shutdown", dom);
    NODE(P_RW, NULL, "%s/control/feature-poweroff", dom);
    NODE(P_RW, NULL, "%s/control/feature-reboot", dom);
    NODE(P_RW, NULL, "%s/control/feature-suspend", dom);
    NODE(P_RW, NULL, "%s/control/sysrq", dom);
    NODE(P_RO, "1", "%s/control/platform-feature-multiprocessor-suspend", dom);
    NODE(P_RO, "1", "%s/control/platform-feature-xs_reset_watches", dom);
    NODE(P_RW, NULL, "%s/data", dom);
    NODE(P_RW, NULL, "%s/drivers", dom);
    NODE(P_RW, NULL, "%s/feature", dom);
    NODE(P_RW, NULL, "%s/attr", dom);
    NODE(P_RW, NULL, "%s/error", dom);
    snprintf(v, sizeof(v), "%u", STORE_PORT);
    NODE(P_RO, v, "%s/store/port", dom);
    snprintf(v, sizeof(v), "%lu", STORE_GFN);
    NODE(P_RO, v, "%s/store/ring-ref", dom);
    snprintf(v, sizeof(v), "%u", CONSOLE_PORT);
    NODE(P_RW, NULL, "%s/console", dom);
    NODE(P_RO, v, "%s/console/port", dom);
    snprintf(v, sizeof(v), "%lu", CONSOLE_GFN);
    NODE(P_RO, v, "%s/console/ring-ref", dom);
    NODE(P_RO, "xenconsoled", "%s/console/type", dom);
    NODE(P_RO, uuid, "%s/uuid", vm);
    NODE(P_RO, dc->name, "%s/name", vm);
    NODE(P_RO, dc_type_name(dc->type), "%s/image/ostype", vm);
    snprintf(v, sizeof(v), "%.2f", created);
    NODE(P_RO, v, "%s/start_time", vm);
#undef NODE
    return rc;
}

/* For domains ids[0..n), /local/domain/N/NODE for each of nodes[0..k):
 * v[i*k + j] is node j of domain i, NULL where there is none. Read in one
 * pipelined batch: with a thousand domains, one round trip each made a
 * name check cost ~20 ms. A calloc'd array (free with xs_free_list, n*k
 * entries), or NULL when the batch failed. */
char **read_domain_nodes(struct xs_client *xs, const unsigned *ids, int n,
                                const char *const *nodes, int k)
{
    size_t m = (size_t)n * (size_t)k;
    char **v = calloc(m + 1, sizeof(*v));
    char (*paths)[64] = calloc(m + 1, sizeof(*paths));
    const char **pp = calloc(m + 1, sizeof(*pp));
    bool ok = v && paths && pp;
    for (size_t i = 0; ok && i < m; i++) {
        snprintf(paths[i], sizeof(paths[i]), "/local/domain/%u/%s", ids[i / (size_t)k],
                 nodes[i % (size_t)k]);
        pp[i] = paths[i];
    }
    if (ok && xs_read_many(xs, pp, (int)m, v) < 0) {
        xs_free_list(v, (int)m);
        v = NULL;
    }
    free(paths);
    free(pp);
    if (!ok) {
        free(v);
        return NULL;
    }
    return v;
}

char **read_names(struct xs_client *xs, const unsigned *ids, int n)
{
    static const char *const name[] = { "name" };
    return read_domain_nodes(xs, ids, n, name, 1);
}
