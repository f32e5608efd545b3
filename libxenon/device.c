/* See device.h. */
#include "device.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xen/io/xenbus.h>

#include "domain_internal.h"
#include "util.h"
#include "vmm_control.h"
#include "xs_client.h"

#define DEVICE_TIMEOUT_MS 10000     /* libxl's LIBXL_DESTROY_TIMEOUT */
#define PATH_LEN 160
#define CTL_TIMEOUT_MS 10000        /* opening a VMM control connection */

const char *xdev_kind_name(uint32_t kind)
{
    return kind == XENON_DEV_VBD ? "vbd" : kind == XENON_DEV_VIF ? "vif" : NULL;
}

static int fmt_path(char *out, size_t n, const char *fmt, const char *kind,
                    unsigned a, unsigned b)
{
    if (!kind)
        return -EINVAL;
    int k = snprintf(out, n, fmt, a, kind, b);
    return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

int xdev_backend_path(uint32_t kind, unsigned domid, unsigned devid, char *out,
                      size_t n)
{
    const char *k = xdev_kind_name(kind);
    int r = snprintf(out, n, "/local/domain/0/backend/%s/%u/%u", k ? k : "", domid, devid);
    return !k ? -EINVAL : r < 0 || (size_t)r >= n ? -ENAMETOOLONG : 0;
}

int xdev_frontend_path(uint32_t kind, unsigned domid, unsigned devid, char *out,
                       size_t n)
{
    return fmt_path(out, n, "/local/domain/%u/device/%s/%u", xdev_kind_name(kind),
                    domid, devid);
}

int xdev_libxl_path(uint32_t kind, unsigned domid, unsigned devid, char *out,
                    size_t n)
{
    return fmt_path(out, n, "/libxl/%u/device/%s/%u", xdev_kind_name(kind), domid,
                    devid);
}

static int write_kvs(struct xs_client *xs, const char *dir, const char *const *kv)
{
    for (; kv && kv[0]; kv += 2) {
        char p[PATH_LEN + 64];
        snprintf(p, sizeof(p), "%s/%s", dir, kv[0]);
        int rc = xs_write(xs, p, kv[1]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* One attempt, inside the caller's transaction. */
static int add_nodes_once(struct xs_client *xs, const struct xdev *dev,
                          const char *be, const char *fe, const char *lx)
{
    char perms[32];
    int rc;
    /* libxl's: the frontend owned by the domain, the backend (dom0) may
     * read it; the backend owned by dom0, the domain may read it. */
    int plen = snprintf(perms, sizeof(perms), "n%u%cr0", dev->domid, 0) + 1;
    char lp[PATH_LEN + 16];
    xs_rm(xs, lx);
    snprintf(lp, sizeof(lp), "%s/frontend", lx);
    if ((rc = xs_write(xs, lp, fe)) < 0)
        return rc;
    snprintf(lp, sizeof(lp), "%s/backend", lx);
    if ((rc = xs_write(xs, lp, be)) < 0)
        return rc;
    xs_rm(xs, fe);
    if ((rc = xs_mkdir(xs, fe)) < 0 || (rc = xs_set_perms(xs, fe, perms, (size_t)plen)) < 0)
        return rc;
    snprintf(lp, sizeof(lp), "%s/backend", fe);
    if ((rc = xs_write(xs, lp, be)) < 0 || (rc = write_kvs(xs, fe, dev->fents)) < 0)
        return rc;
    plen = snprintf(perms, sizeof(perms), "n0%cr%u", 0, dev->domid) + 1;
    xs_rm(xs, be);
    if ((rc = xs_mkdir(xs, be)) < 0 || (rc = xs_set_perms(xs, be, perms, (size_t)plen)) < 0)
        return rc;
    snprintf(lp, sizeof(lp), "%s/frontend", be);
    if ((rc = xs_write(xs, lp, fe)) < 0 || (rc = write_kvs(xs, be, dev->bents)) < 0)
        return rc;
    /* libxl keeps a copy of the backend keys in its own record. */
    return write_kvs(xs, lx, dev->bents);
}

int xdev_add_nodes(struct xs_client *xs, const struct xdev *dev)
{
    char be[PATH_LEN], fe[PATH_LEN], lx[PATH_LEN];
    int rc;
    if ((rc = xdev_backend_path(dev->kind, dev->domid, dev->devid, be, sizeof(be))) < 0 ||
        (rc = xdev_frontend_path(dev->kind, dev->domid, dev->devid, fe, sizeof(fe))) < 0 ||
        (rc = xdev_libxl_path(dev->kind, dev->domid, dev->devid, lx, sizeof(lx))) < 0)
        return rc;
    for (int tries = 0; tries < 10; tries++) {
        if ((rc = xs_transaction_begin(xs)) < 0)
            return rc;
        rc = add_nodes_once(xs, dev, be, fe, lx);
        int erc = xs_transaction_end(xs, rc == 0);
        if (rc == 0)
            rc = erc;
        if (rc != -EAGAIN)
            break;
    }
    return rc;
}

static int read_state(struct xs_client *xs, const char *be)
{
    char p[PATH_LEN + 16], *v = NULL;
    snprintf(p, sizeof(p), "%s/state", be);
    int rc = xs_read(xs, p, &v);
    if (rc < 0)
        return rc;
    char *end;
    long s = strtol(v, &end, 10);
    rc = end == v || *end || s < 0 || s > 8 ? -EINVAL : (int)s;
    free(v);
    return rc;
}

int xdev_wait_state(struct xs_client *xs, uint32_t kind, unsigned domid,
                    unsigned devid, int state, unsigned timeout_ms)
{
    char be[PATH_LEN];
    int rc = xdev_backend_path(kind, domid, devid, be, sizeof(be));
    if (rc < 0)
        return rc;
    /* Polled: the toolstack's xenstore client keeps no watches (a change
     * is seen within a millisecond; a device comes up in a few). */
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
    for (;;) {
        int s = read_state(xs, be);
        if (s == state)
            return 0;
        if (s == -ENOENT)
            return -ENOENT;
        /* A backend that gave up before InitWait (its NBD server did not
         * answer the handshake) will not get there. */
        if (state == XenbusStateInitWait && s == XenbusStateClosed)
            return -EIO;
        if (now_ns() >= deadline)
            return -ETIMEDOUT;
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
}

int xdev_attach(int ctl_fd, uint32_t kind, unsigned domid, unsigned devid,
                uint32_t flags, int fd, unsigned timeout_ms)
{
    struct xenon_ctl_device_attach a = { .kind = kind, .devid = devid, .flags = flags };
    int rc = xdev_backend_path(kind, domid, devid, a.backend, sizeof(a.backend));
    if (rc < 0)
        return rc;
    return vmmctl_call_fd(ctl_fd, XENON_CTL_DEVICE_ATTACH, &a, sizeof(a), fd, NULL, 0,
                          NULL, timeout_ms);
}

int xdev_detach(int ctl_fd, uint32_t kind, unsigned devid, unsigned timeout_ms)
{
    struct xenon_ctl_device_detach dt = { .kind = kind, .devid = devid };
    return vmmctl_call(ctl_fd, XENON_CTL_DEVICE_DETACH, &dt, sizeof(dt), NULL, 0, NULL,
                       timeout_ms);
}

/* libxl__xs_path_cleanup: the node, then each parent left empty, up to
 * (not including) `stop`. */
static void path_cleanup(struct xs_client *xs, const char *path, const char *stop)
{
    char p[PATH_LEN];
    snprintf(p, sizeof(p), "%s", path);
    xs_rm(xs, p);
    for (;;) {
        char *slash = strrchr(p, '/');
        if (!slash || slash == p)
            return;
        *slash = 0;
        if (strcmp(p, stop) == 0 || strlen(p) <= strlen(stop))
            return;
        char **names;
        int n;
        if (xs_directory(xs, p, &names, &n) < 0)
            return;
        xs_free_list(names, n);
        if (n)
            return;
        xs_rm(xs, p);
    }
}

int xdev_remove(struct xs_client *xs, int ctl_fd, uint32_t kind, unsigned domid,
                unsigned devid, FILE *err)
{
    char be[PATH_LEN], fe[PATH_LEN], lx[PATH_LEN], p[PATH_LEN + 16];
    int rc;
    if ((rc = xdev_backend_path(kind, domid, devid, be, sizeof(be))) < 0 ||
        (rc = xdev_frontend_path(kind, domid, devid, fe, sizeof(fe))) < 0 ||
        (rc = xdev_libxl_path(kind, domid, devid, lx, sizeof(lx))) < 0)
        return rc;
    int first = 0;
    int state = read_state(xs, be);
    if (state >= 0) {
        /* As libxl__initiate_device_generic_remove. */
        for (int tries = 0; tries < 10; tries++) {
            if ((rc = xs_transaction_begin(xs)) < 0)
                break;
            snprintf(p, sizeof(p), "%s/online", be);
            rc = xs_write(xs, p, "0");
            if (rc == 0 && state != XenbusStateClosed) {
                snprintf(p, sizeof(p), "%s/state", be);
                rc = xs_write(xs, p, "5");
            }
            int erc = xs_transaction_end(xs, rc == 0);
            if (rc == 0)
                rc = erc;
            if (rc != -EAGAIN)
                break;
        }
        if (rc == 0)
            rc = xdev_wait_state(xs, kind, domid, devid, XenbusStateClosed,
                                 DEVICE_TIMEOUT_MS);
        if (rc == -ETIMEDOUT && err)
            fprintf(err, "libxl: error: device %s: the frontend did not close in %u s; "
                    "removing it by force\n", be, DEVICE_TIMEOUT_MS / 1000);
        first = rc;
    }
    if (ctl_fd >= 0) {
        rc = xdev_detach(ctl_fd, kind, devid, DEVICE_TIMEOUT_MS);
        if (rc < 0 && rc != -ENOENT && !first)
            first = rc;
    }
    /* libxl__device_destroy: frontend, libxl record, backend. */
    bool tx = xs_transaction_begin(xs) == 0;
    char stop[64];
    snprintf(stop, sizeof(stop), "/local/domain/%u", domid);
    path_cleanup(xs, fe, stop);
    snprintf(stop, sizeof(stop), "/libxl/%u", domid);
    path_cleanup(xs, lx, stop);
    path_cleanup(xs, be, "/local/domain/0");
    if (tx && xs_transaction_end(xs, 1) < 0) {
        xs_rm(xs, fe);
        xs_rm(xs, lx);
        xs_rm(xs, be);
    }
    return first;
}

void xdev_rm_domain(struct xs_client *xs, unsigned domid)
{
    static const uint32_t kinds[] = { XENON_DEV_VBD, XENON_DEV_VIF };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        char p[PATH_LEN];
        snprintf(p, sizeof(p), "/local/domain/0/backend/%s/%u", xdev_kind_name(kinds[i]),
                 domid);
        path_cleanup(xs, p, "/local/domain/0");
    }
}

static int cmp_unsigned(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

int xdev_list(struct xs_client *xs, uint32_t kind, unsigned domid,
              unsigned **devids, int *n)
{
    char p[PATH_LEN];
    *devids = NULL;
    *n = 0;
    if (!xdev_kind_name(kind))
        return -EINVAL;
    snprintf(p, sizeof(p), "/libxl/%u/device/%s", domid, xdev_kind_name(kind));
    char **names;
    int cnt;
    int rc = xs_directory(xs, p, &names, &cnt);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    *devids = calloc((size_t)cnt + 1, sizeof(**devids));
    if (!*devids) {
        xs_free_list(names, cnt);
        return -ENOMEM;
    }
    for (int i = 0; i < cnt; i++) {
        char *end;
        unsigned long v = strtoul(names[i], &end, 10);
        if (*end == 0 && end != names[i] && v <= INT32_MAX)
            (*devids)[(*n)++] = (unsigned)v;
    }
    xs_free_list(names, cnt);
    qsort(*devids, (size_t)*n, sizeof(**devids), cmp_unsigned);
    return 0;
}

/* --- at run time, shared by vbd.c and vif.c ------------------------------- */

int xdev_read_num(struct xs_client *xs, const char *dir, const char *key)
{
    char *v = xs_readf(xs, "%s/%s", dir, key);
    int n = v ? atoi(v) : -1;
    free(v);
    return n;
}

int xdev_open_vmm(const struct xenon_paths *p, unsigned domid, const char *what,
                  FILE *err)
{
    struct dstate s;
    char path[XENON_PATH_MAX + 32];
    if (state_read(p, domid, &s) < 0 || !state_vmm_ours(p, &s, domid) ||
        vmmctl_socket_path(p->run_dir, domid, path, sizeof(path)) < 0) {
        fprintf(err, "%s: domain %u is not running\n", what, domid);
        return -1;
    }
    int fd = vmmctl_open(path, CTL_TIMEOUT_MS, NULL);
    if (fd < 0)
        fprintf(err, "%s: domain %u: %s\n", what, domid, strerror(-fd));
    return fd < 0 ? -1 : fd;
}

int xdev_detach_running(const struct xenon_paths *p, struct xs_client *xs,
                        uint32_t kind, unsigned domid, unsigned devid,
                        const char *what, FILE *err)
{
    int ctl = xdev_open_vmm(p, domid, what, err);
    int rc = xdev_remove(xs, ctl, kind, domid, devid, err);
    if (ctl >= 0)
        close(ctl);
    return rc < 0 && rc != -ETIMEDOUT ? -1 : 0;
}

int xdev_list_info(const struct xenon_paths *p, uint32_t kind, unsigned domid,
                   size_t elem_size, xdev_fill_fn *fill, void **out, int *n,
                   FILE *err)
{
    *out = NULL;
    *n = 0;
    struct xs_client *xs = xs_connect(p, err);
    if (!xs)
        return -1;
    unsigned *ids;
    int cnt;
    if (xdev_list(xs, kind, domid, &ids, &cnt) < 0) {
        xs_close(xs);
        return -1;
    }
    unsigned char *slots = calloc((size_t)cnt + 1, elem_size);
    if (!slots) {
        free(ids);
        xs_close(xs);
        return -1;
    }
    for (int i = 0; i < cnt; i++) {
        char fe[PATH_LEN];
        xdev_frontend_path(kind, domid, ids[i], fe, sizeof(fe));
        char *be = xs_readf(xs, "%s/backend", fe);
        if (!be)
            continue;       /* as libxl_device_*_getinfo fails then */
        fill(xs, domid, ids[i], fe, be, slots + (size_t)*n * elem_size);
        free(be);
        (*n)++;
    }
    free(ids);
    xs_close(xs);
    *out = slots;
    return 0;
}
