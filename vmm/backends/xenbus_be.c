/* See xenbus_be.h. One domain per VMM process: the module state is
 * static, as the control server's is. */
#include "xenbus_be.h"
#include "domain.h"
#include "xs_conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xen/io/xenbus.h>
#include <xen/io/xs_wire.h>

#include "log.h"

#define MAX_DRIVERS 4
#define MAX_FE_KEYS 128         /* a frontend directory larger is refused */

static struct {
    struct domain *d;
    struct xs_conn *xs;         /* opened at the first attach */
    char *socket_path;          /* xenstored's; NULL: no devices */
    const struct xenbus_driver *drv[MAX_DRIVERS];
    unsigned nr_drv;
    struct xenbus_dev *devs;
} bus;

void xenbus_be_register(const struct xenbus_driver *drv)
{
    if (bus.nr_drv < MAX_DRIVERS)
        bus.drv[bus.nr_drv++] = drv;
}

int xenbus_be_init(struct domain *d, const char *socket_path)
{
    bus.d = d;
    if (socket_path && !(bus.socket_path = strdup(socket_path)))
        return -ENOMEM;
    return 0;
}

/* The backends' own xenstore connection, made when the first device comes:
 * a domain without devices (most, at density) costs xenstored no second
 * connection and its launch no second connect. 0 or -errno. */
static int bus_connect(void)
{
    if (bus.xs)
        return 0;
    if (!bus.socket_path)
        return -ENOTCONN;
    bus.xs = xs_conn_open(bus.socket_path);
    if (!bus.xs) {
        int e = errno;
        log_err("xenstored at %s (backends): %s", bus.socket_path, strerror(e));
        return -ENOTCONN;
    }
    return 0;
}

/* --- helpers ------------------------------------------------------------ */

static void dev_path(const struct xenbus_dev *dev, bool fe, const char *key,
                     char *out, size_t n)
{
    snprintf(out, n, "%s/%s", fe ? dev->fe_path : dev->be_path, key);
}

int xenbus_dev_printf(struct xenbus_dev *dev, const char *key, const char *fmt, ...)
{
    char path[XENON_DEV_PATH_MAX + 64], v[256];
    dev_path(dev, false, key, path, sizeof(path));
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(v, sizeof(v), fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof(v))
        return -E2BIG;
    int rc = xs_conn_write(bus.xs, path, v, dev, NULL, NULL);
    if (rc < 0)
        log_warn("dom%u: %s: cannot write: %s", dev->d->domid, path, strerror(-rc));
    return rc;
}

int xenbus_dev_read_be(struct xenbus_dev *dev, const char *key, xs_reply_fn *fn,
                       void *opaque)
{
    char path[XENON_DEV_PATH_MAX + 64];
    dev_path(dev, false, key, path, sizeof(path));
    return xs_conn_read(bus.xs, path, dev, fn, opaque);
}

int xenbus_dev_watch_be(struct xenbus_dev *dev, const char *key, xs_watch_fn *fn,
                        void *opaque)
{
    char path[XENON_DEV_PATH_MAX + 64];
    dev_path(dev, false, key, path, sizeof(path));
    return xs_conn_watch(bus.xs, path, dev, fn, opaque);
}

/* One read in flight (or done) at connect time; a list owned by the
 * device, freed with the keys. */
struct key_read {
    struct xenbus_dev *dev;
    unsigned idx;
    struct key_read *next;
};

/* Drop the frontend directory read so far, and the reads still pending
 * (their owner is &dev->gen, so that forgetting them leaves the device's
 * watches and state reads alone). */
static void free_keys(struct xenbus_dev *dev)
{
    if (bus.xs)
        xs_conn_forget(bus.xs, &dev->gen);
    while (dev->reads) {
        struct key_read *k = dev->reads;
        dev->reads = k->next;
        free(k);
    }
    for (unsigned i = 0; i < dev->nr_keys; i++) {
        free(dev->keys[i]);
        free(dev->values[i]);
    }
    free(dev->keys);
    free(dev->values);
    dev->keys = dev->values = NULL;
    dev->nr_keys = dev->keys_pending = 0;
}

const char *xenbus_dev_fe_str(const struct xenbus_dev *dev, const char *key)
{
    for (unsigned i = 0; i < dev->nr_keys; i++)
        if (strcmp(dev->keys[i], key) == 0)
            return dev->values[i];
    return NULL;
}

int xenbus_dev_fe_uint(const struct xenbus_dev *dev, const char *key,
                       unsigned long max, unsigned long *out)
{
    const char *v = xenbus_dev_fe_str(dev, key);
    if (!v)
        return -ENOENT;
    unsigned long n = 0;
    if (!*v || strlen(v) > 10)
        return -EINVAL;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        n = n * 10 + (unsigned long)(*p - '0');
    }
    if (n > max)
        return -EINVAL;
    *out = n;
    return 0;
}

static const char *state_name(int s)
{
    static const char *const n[] = { "Unknown", "Initialising", "InitWait",
                                     "Initialised", "Connected", "Closing",
                                     "Closed", "Reconfiguring", "Reconfigured" };
    return s >= 0 && s <= 8 ? n[s] : "?";
}

static void set_state(struct xenbus_dev *dev, int s)
{
    if (dev->be_state == s)
        return;
    log_debug("dom%u: %s %u: backend %s -> %s", dev->d->domid, dev->drv->name,
              dev->devid, state_name(dev->be_state), state_name(s));
    dev->be_state = s;
    xenbus_dev_printf(dev, "state", "%d", s);
}

/* Stop serving the rings: true when done, false when the driver waits
 * for its requests in flight (xenbus_dev_disconnected() follows). */
static bool do_disconnect(struct xenbus_dev *dev)
{
    if (dev->disconnecting)
        return false;
    if (dev->connected) {
        dev->drv->disconnect(dev);
        dev->connected = false;
    }
    free_keys(dev);
    return !dev->disconnecting;
}

/* Disconnect, then Closed; Closing meanwhile when that has to wait. */
static void close_dev(struct xenbus_dev *dev)
{
    set_state(dev, do_disconnect(dev) ? XenbusStateClosed : XenbusStateClosing);
}

void xenbus_dev_disconnect_later(struct xenbus_dev *dev)
{
    dev->disconnecting = true;
}

void xenbus_dev_disconnected(struct xenbus_dev *dev)
{
    if (!dev->disconnecting)
        return;
    dev->disconnecting = false;
    log_debug("dom%u: %s %u: disconnected", dev->d->domid, dev->drv->name, dev->devid);
    set_state(dev, XenbusStateClosed);
    /* A frontend that came back while we waited, as frontend_changed(). */
    if (!dev->toolstack_closing && !dev->probe_failed &&
        dev->fe_state == XenbusStateInitialising)
        set_state(dev, XenbusStateInitWait);
}

/* --- connecting: read the frontend directory, then connect() ------------ */

static void try_connect(struct xenbus_dev *dev)
{
    if (dev->toolstack_closing || dev->be_state != XenbusStateInitWait)
        return;
    int rc = dev->drv->connect(dev);
    if (rc < 0) {
        log_limited(LOG_WARN, "dom%u: %s %u: cannot connect to the frontend: %s", dev->d->domid,
                    dev->drv->name, dev->devid, strerror(-rc));
        set_state(dev, XenbusStateClosing);
        return;
    }
    dev->connected = true;
    set_state(dev, XenbusStateConnected);
}

static void read_key(struct xenbus_dev *dev, unsigned idx);

/* The frontend directory, read as xenbus_dev_fe_str() returns it: every
 * child, and the children of a child that is a directory (its value
 * empty: queue-0/ring-ref, ...), one level deep. */
static int add_key(struct xenbus_dev *dev, const char *name)
{
    if (dev->nr_keys >= MAX_FE_KEYS)
        return -1;
    char **k = realloc(dev->keys, (dev->nr_keys + 1) * sizeof(char *));
    if (!k)
        return -1;
    dev->keys = k;
    char **v = realloc(dev->values, (dev->nr_keys + 1) * sizeof(char *));
    if (!v)
        return -1;
    dev->values = v;
    dev->keys[dev->nr_keys] = strdup(name);
    dev->values[dev->nr_keys] = NULL;
    if (!dev->keys[dev->nr_keys])
        return -1;
    return (int)dev->nr_keys++;
}

static struct key_read *new_read(struct xenbus_dev *dev, unsigned idx)
{
    struct key_read *k = malloc(sizeof(*k));
    if (k) {
        *k = (struct key_read){ dev, idx, dev->reads };
        dev->reads = k;
    }
    return k;
}

/* One read (or directory listing) finished: connect after the last. */
static void read_done(struct xenbus_dev *dev)
{
    if (--dev->keys_pending == 0)
        try_connect(dev);
}

static void on_sub_dir(void *opaque, uint32_t type, const char *body, uint32_t len)
{
    struct key_read *k = opaque;
    struct xenbus_dev *dev = k->dev;
    if (type == XS_DIRECTORY) {
        char name[XENSTORE_ABS_PATH_MAX];
        for (const char *p = body; p < body + len && *p; p += strlen(p) + 1) {
            snprintf(name, sizeof(name), "%s/%s", dev->keys[k->idx], p);
            int idx = add_key(dev, name);
            if (idx < 0)
                break;
            read_key(dev, (unsigned)idx);
        }
    }
    read_done(dev);
}

static void on_key(void *opaque, uint32_t type, const char *body, uint32_t len)
{
    struct key_read *k = opaque;
    struct xenbus_dev *dev = k->dev;
    if (type == XS_READ && !memchr(body, 0, len) && !dev->values[k->idx])
        dev->values[k->idx] = strndup(body, len);
    if (type == XS_READ && len == 0 && !strchr(dev->keys[k->idx], '/')) {
        char path[XENON_DEV_PATH_MAX + XENSTORE_ABS_PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dev->fe_path, dev->keys[k->idx]);
        const char *a[] = { path };
        struct key_read *d = new_read(dev, k->idx);
        if (d && xs_conn_request(bus.xs, XS_DIRECTORY, a, 1, 0, &dev->gen, on_sub_dir,
                                 d) == 0)
            dev->keys_pending++;
    }
    read_done(dev);
}

static void read_key(struct xenbus_dev *dev, unsigned idx)
{
    char path[XENON_DEV_PATH_MAX + XENSTORE_ABS_PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dev->fe_path, dev->keys[idx]);
    struct key_read *k = new_read(dev, idx);
    if (k && xs_conn_read(bus.xs, path, &dev->gen, on_key, k) == 0)
        dev->keys_pending++;
}

static void on_fe_dir(void *opaque, uint32_t type, const char *body, uint32_t len)
{
    struct xenbus_dev *dev = opaque;
    if (type != XS_DIRECTORY) {
        log_limited(LOG_WARN, "dom%u: %s %u: frontend directory unreadable: %s", dev->d->domid,
                    dev->drv->name, dev->devid, body);
        return;
    }
    unsigned n = 0;
    for (uint32_t i = 0; i < len; i++)
        n += body[i] == 0;
    if (n > MAX_FE_KEYS) {
        log_limited(LOG_WARN, "dom%u: %s %u: frontend directory has %u entries", dev->d->domid,
                    dev->drv->name, dev->devid, n);
        set_state(dev, XenbusStateClosing);
        return;
    }
    /* Held at one while the reads are issued, so that none finishing
     * early connects before the last is sent. */
    dev->keys_pending = 1;
    for (const char *p = body; p < body + len && *p; p += strlen(p) + 1) {
        int idx = add_key(dev, p);
        if (idx < 0)
            break;
        read_key(dev, (unsigned)idx);
    }
    read_done(dev);
}

static void start_connect(struct xenbus_dev *dev)
{
    free_keys(dev);
    const char *a[] = { dev->fe_path };
    xs_conn_request(bus.xs, XS_DIRECTORY, a, 1, 0, &dev->gen, on_fe_dir, dev);
}

/* --- the state machine -------------------------------------------------- */

static void closed_if_idle(struct xenbus_dev *dev)
{
    /* The toolstack wants the device gone: once the frontend no longer
     * uses the rings, close. */
    int fe = dev->fe_state;
    if (fe == XenbusStateConnected || fe == XenbusStateInitialised ||
        fe == XenbusStateClosing) {
        set_state(dev, XenbusStateClosing);
        return;
    }
    close_dev(dev);
}

static void frontend_changed(struct xenbus_dev *dev, int fe)
{
    int old = dev->fe_state;
    dev->fe_state = fe;
    if (old != fe)
        log_debug("dom%u: %s %u: frontend %s", dev->d->domid, dev->drv->name,
                  dev->devid, state_name(fe));
    if (dev->toolstack_closing) {
        closed_if_idle(dev);
        return;
    }
    switch (fe) {
    case XenbusStateInitialising:
        if (dev->be_state == XenbusStateClosed && !dev->probe_failed &&
            do_disconnect(dev))
            set_state(dev, XenbusStateInitWait);
        break;
    case XenbusStateInitialised:
    case XenbusStateConnected:
        if (dev->be_state == XenbusStateInitWait && !dev->connected)
            start_connect(dev);
        break;
    case XenbusStateClosing:
        free_keys(dev);
        set_state(dev, XenbusStateClosing);
        break;
    case XenbusStateClosed:
    case XenbusStateUnknown:
        close_dev(dev);
        break;
    default:
        break;      /* InitWait, Reconfiguring: nothing for a frontend */
    }
}

static int parse_state(uint32_t type, const char *body)
{
    if (type != XS_READ)
        return XenbusStateUnknown;      /* gone: as Xen's watch reads it */
    char *end;
    long v = strtol(body, &end, 10);
    if (end == body || *end || v < 0 || v > XenbusStateReconfigured)
        return XenbusStateUnknown;
    return (int)v;
}

static void on_fe_state(void *opaque, uint32_t type, const char *body, uint32_t len)
{
    (void)len;
    frontend_changed(opaque, parse_state(type, body));
}

static void fe_state_watch(void *opaque, const char *path)
{
    (void)path;
    struct xenbus_dev *dev = opaque;
    char p[XENON_DEV_PATH_MAX + 16];
    dev_path(dev, true, "state", p, sizeof(p));
    xs_conn_read(bus.xs, p, dev, on_fe_state, dev);
}

static void on_online(void *opaque, uint32_t type, const char *body, uint32_t len)
{
    (void)len;
    struct xenbus_dev *dev = opaque;
    if (type == XS_READ && strcmp(body, "0") == 0 && !dev->toolstack_closing) {
        log_debug("dom%u: %s %u: the toolstack closes it", dev->d->domid,
                  dev->drv->name, dev->devid);
        dev->toolstack_closing = true;
        if (!dev->connected)
            free_keys(dev);
        closed_if_idle(dev);
    }
}

static void online_watch(void *opaque, const char *path)
{
    (void)path;
    struct xenbus_dev *dev = opaque;
    char p[XENON_DEV_PATH_MAX + 16];
    dev_path(dev, false, "online", p, sizeof(p));
    xs_conn_read(bus.xs, p, dev, on_online, dev);
}

/* --- attach / detach ---------------------------------------------------- */

static struct xenbus_dev **find(uint32_t kind, uint32_t devid)
{
    for (struct xenbus_dev **p = &bus.devs; *p; p = &(*p)->next)
        if ((*p)->drv->kind == kind && (*p)->devid == devid)
            return p;
    return NULL;
}

int xenbus_be_attach(struct domain *d, const struct xenon_ctl_device_attach *a,
                     int fd)
{
    const struct xenbus_driver *drv = NULL;
    for (unsigned i = 0; i < bus.nr_drv; i++)
        if (bus.drv[i]->kind == a->kind)
            drv = bus.drv[i];
    char want[XENON_DEV_PATH_MAX];
    int rc = 0;
    if (!drv)
        rc = -EOPNOTSUPP;
    else if (snprintf(want, sizeof(want), "/local/domain/0/backend/%s/%u/%u",
                      drv->name, d->domid, a->devid) >= (int)sizeof(want) ||
             strcmp(want, a->backend) != 0)
        rc = -EINVAL;       /* the backend directory is where libxl puts it */
    else if (find(a->kind, a->devid))
        rc = -EEXIST;
    else
        rc = bus_connect();
    struct xenbus_dev *dev = rc ? NULL : calloc(1, sizeof(*dev));
    if (!rc && !dev)
        rc = -ENOMEM;
    if (rc) {
        if (fd >= 0)
            close(fd);
        return rc;
    }
    *dev = (struct xenbus_dev){ .d = d, .drv = drv, .devid = a->devid,
                                .flags = a->flags, .fe_state = -1,
                                .be_state = XenbusStateInitialising };
    snprintf(dev->be_path, sizeof(dev->be_path), "%s", a->backend);
    snprintf(dev->fe_path, sizeof(dev->fe_path), "/local/domain/%u/device/%s/%u",
             d->domid, drv->name, a->devid);
    rc = drv->probe(dev, fd, a->flags);
    if (rc < 0) {
        free(dev);
        return rc;
    }
    char p[XENON_DEV_PATH_MAX + 16];
    dev->probing = rc > 0;
    if (!dev->probing)
        set_state(dev, XenbusStateInitWait);
    dev_path(dev, true, "state", p, sizeof(p));
    rc = xs_conn_watch(bus.xs, p, dev, fe_state_watch, dev);
    dev_path(dev, false, "online", p, sizeof(p));
    if (rc == 0)
        rc = xs_conn_watch(bus.xs, p, dev, online_watch, dev);
    if (rc < 0) {
        xs_conn_forget(bus.xs, dev);
        drv->remove(dev);
        free(dev);
        return rc;
    }
    dev->next = bus.devs;
    bus.devs = dev;
    log_info("dom%u: %s %u attached (%s)", d->domid, drv->name, a->devid, a->backend);
    return 0;
}

void xenbus_dev_probed(struct xenbus_dev *dev, int rc)
{
    if (!dev->probing)
        return;
    dev->probing = false;
    if (rc < 0) {
        dev->probe_failed = true;
        log_limited(LOG_WARN, "dom%u: %s %u: cannot set up the device: %s", dev->d->domid,
                    dev->drv->name, dev->devid, strerror(-rc));
        xenbus_dev_printf(dev, "error", "%d setting up the device: %s", -rc, strerror(-rc));
        set_state(dev, XenbusStateClosed);
        return;
    }
    /* Meanwhile the toolstack may have closed it, or the frontend gone. */
    if (dev->toolstack_closing || dev->be_state != XenbusStateInitialising)
        return;
    set_state(dev, XenbusStateInitWait);
    if (dev->fe_state == XenbusStateInitialised || dev->fe_state == XenbusStateConnected)
        start_connect(dev);
}

static void dev_free(struct xenbus_dev *dev)
{
    xs_conn_forget(bus.xs, dev);
    do_disconnect(dev);
    dev->drv->remove(dev);
    free(dev);
}


int xenbus_be_detach(struct domain *d, uint32_t kind, uint32_t devid)
{
    struct xenbus_dev **p = find(kind, devid);
    if (!p)
        return -ENOENT;
    struct xenbus_dev *dev = *p;
    *p = dev->next;
    log_info("dom%u: %s %u detached", d->domid, dev->drv->name, devid);
    dev_free(dev);
    return 0;
}

void xenbus_be_fini(struct domain *d)
{
    (void)d;
    while (bus.devs) {
        struct xenbus_dev *dev = bus.devs;
        bus.devs = dev->next;
        dev_free(dev);
    }
    xs_conn_close(bus.xs);
    bus.xs = NULL;
    free(bus.socket_path);
    bus.socket_path = NULL;
}
