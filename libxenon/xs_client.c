/* See xs_client.h. */
#include "xs_client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>

/* Requests queued while pipelining: sent in one go, their replies read in
 * order at the flush. */
#define PIPE_MAX_BYTES 32768

struct xs_client {
    int fd;
    char *path;
    unsigned reconnect_ms;  /* how long a broken connection is re-tried */
    bool tx_lost;           /* the daemon restarted inside our transaction */
    uint32_t req_id;
    uint32_t tx;
    bool pipelining;
    char *out;              /* queued requests, header + payload each */
    size_t out_len, out_cap;
    uint32_t first_queued;  /* req_id of the first queued request */
    unsigned queued;
    int queued_err;         /* first error among flushed replies */
    /* Replies are read in bulk: a pipelined batch's replies arrive in one
     * or a few reads rather than two reads (header, payload) each. */
    size_t in_off, in_len;
    char in[4096];
};

const char *xs_default_path(void)
{
    const char *p = getenv("XENSTORED_PATH");
    return p && *p ? p : "/run/xenon/xenstored/socket";
}

static int connect_to(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Connect, trying for up to `ms` while the daemon is away (the socket is
 * missing or refuses: it is restarting), 10 ms apart at first, doubling
 * to a second. */
static int connect_waiting(const char *path, unsigned ms)
{
    unsigned waited = 0, step = 10;
    for (;;) {
        int fd = connect_to(path);
        if (fd >= 0 || (errno != ENOENT && errno != ECONNREFUSED &&
                        errno != EAGAIN) || waited >= ms)
            return fd;
        unsigned d = step < ms - waited ? step : ms - waited;
        struct timespec ts = { d / 1000, (long)(d % 1000) * 1000000 };
        nanosleep(&ts, NULL);
        waited += d;
        step = step * 2 > 1000 ? 1000 : step * 2;
    }
}

struct xs_client *xs_open_wait(const char *path, unsigned wait_ms)
{
    int fd = connect_waiting(path, wait_ms);
    if (fd < 0)
        return NULL;
    struct xs_client *c = calloc(1, sizeof(*c));
    char *copy = strdup(path);
    if (!c || !copy) {
        free(c);
        free(copy);
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    c->fd = fd;
    c->path = copy;
    c->reconnect_ms = XS_RECONNECT_MS;
    return c;
}

struct xs_client *xs_open(const char *path)
{
    return xs_open_wait(path, 0);
}

void xs_set_reconnect(struct xs_client *c, unsigned ms)
{
    c->reconnect_ms = ms;
}

void xs_close(struct xs_client *c)
{
    if (c) {
        if (c->fd >= 0)
            close(c->fd);
        free(c->out);
        free(c->path);
        free(c);
    }
}

/* The connection broke: open a new one (the daemon restarted). Unread
 * replies of the old one are gone with it; a transaction is lost. */
static int reconnect(struct xs_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->in_off = c->in_len = 0;
    if (c->tx)
        c->tx_lost = true;
    c->fd = connect_waiting(c->path, c->reconnect_ms);
    return c->fd < 0 ? -EIO : 0;
}

static int io_full(int fd, void *buf, size_t n, int writing)
{
    uint8_t *p = buf;
    while (n) {
        ssize_t r = writing ? send(fd, p, n, MSG_NOSIGNAL) : read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int err_from_name(const char *s)
{
    for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
        if (strcmp(s, xsd_errors[i].errstring) == 0)
            return -xsd_errors[i].errnum;
    return -EIO;
}

/* Read exactly n bytes of the reply stream, from the buffer first. */
static int read_in(struct xs_client *c, void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n) {
        if (c->in_off == c->in_len) {
            /* A large payload goes straight to its destination. */
            if (n >= sizeof(c->in))
                return io_full(c->fd, p, n, 0);
            ssize_t r;
            do
                r = read(c->fd, c->in, sizeof(c->in));
            while (r < 0 && errno == EINTR);
            if (r <= 0)
                return -1;
            c->in_off = 0;
            c->in_len = (size_t)r;
        }
        size_t k = c->in_len - c->in_off;
        if (k > n)
            k = n;
        memcpy(p, c->in + c->in_off, k);
        c->in_off += k;
        p += k;
        n -= k;
    }
    return 0;
}

/* Read the reply to request `req_id` of `type` into *reply (malloc'd,
 * NUL-terminated, length *rlen) unless reply is NULL. Watch events are
 * dropped; replies come in request order on one connection. */
static int recv_reply(struct xs_client *c, uint32_t type, uint32_t req_id,
                      char **reply, size_t *rlen)
{
    for (;;) {
        struct xsd_sockmsg r;
        if (read_in(c, &r, sizeof(r)) < 0 || r.len > XENSTORE_PAYLOAD_MAX)
            return -EIO;
        char *body = malloc(r.len + 1);
        if (!body)
            return -ENOMEM;
        if (r.len && read_in(c, body, r.len) < 0) {
            free(body);
            return -EIO;
        }
        body[r.len] = 0;
        if (r.type == XS_WATCH_EVENT) {
            free(body);
            continue;
        }
        if (r.req_id != req_id) {
            free(body);
            return -EIO;
        }
        if (r.type == XS_ERROR) {
            int e = err_from_name(body);
            free(body);
            return e;
        }
        if (r.type != type) {
            free(body);
            return -EIO;
        }
        if (reply) {
            *reply = body;
            if (rlen)
                *rlen = r.len;
        } else {
            free(body);
        }
        return 0;
    }
}

static int queue(struct xs_client *c, const struct xsd_sockmsg *m,
                 const void *payload)
{
    size_t need = c->out_len + sizeof(*m) + m->len;
    if (need > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap * 2 : 4096;
        while (cap < need)
            cap *= 2;
        char *b = realloc(c->out, cap);
        if (!b)
            return -ENOMEM;
        c->out = b;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, m, sizeof(*m));
    memcpy(c->out + c->out_len + sizeof(*m), payload, m->len);
    c->out_len = need;
    if (c->queued++ == 0)
        c->first_queued = m->req_id;
    return 0;
}

/* Send the queued requests in one write; -EIO when the connection broke.
 * Their replies are the caller's to read; clear_queue() then. */
static int send_queue(struct xs_client *c)
{
    return io_full(c->fd, c->out, c->out_len, 1) < 0 ? -EIO : 0;
}

static void clear_queue(struct xs_client *c)
{
    c->out_len = 0;
    c->queued = 0;
}

/* Send the queue and read its replies ("OK" each), keeping the first error
 * in queued_err. -EIO when the connection broke, else 0. */
static int flush_queue(struct xs_client *c)
{
    int rc = send_queue(c);
    size_t off = 0;
    for (unsigned i = 0; i < c->queued && rc == 0; i++) {
        struct xsd_sockmsg m;   /* copied: payloads leave headers unaligned */
        memcpy(&m, c->out + off, sizeof(m));
        off += sizeof(m) + m.len;
        int r = recv_reply(c, m.type, c->first_queued + i, NULL, NULL);
        if (r < 0 && c->queued_err == 0)
            c->queued_err = r;
        if (r == -EIO)
            rc = -EIO;
    }
    clear_queue(c);
    return rc;
}

void xs_pipeline_begin(struct xs_client *c)
{
    c->pipelining = true;
    c->queued_err = 0;
}

int xs_pipeline_end(struct xs_client *c)
{
    c->pipelining = false;
    /* A connection that broke before the replies came: the queued
     * requests may not have been made. */
    if (c->queued && flush_queue(c) < 0 && c->queued_err == 0)
        c->queued_err = -EIO;
    int e = c->queued_err;
    c->queued_err = 0;
    return e;
}

/* Send one request and read its reply into *reply (see recv_reply). While
 * pipelining, a request that may be queued (a change whose reply is only
 * "OK") is; its error comes from xs_pipeline_end. Any other request sends
 * the queue first. */
static int call(struct xs_client *c, uint32_t type, const void *payload,
                size_t len, char **reply, size_t *rlen, bool may_queue)
{
    if (len > XENSTORE_PAYLOAD_MAX)
        return -E2BIG;
    struct xsd_sockmsg m = { .type = type, .req_id = ++c->req_id, .tx_id = c->tx,
                             .len = (uint32_t)len };
    may_queue = may_queue && c->pipelining;
    if (c->queued && (!may_queue || c->out_len + sizeof(m) + len > PIPE_MAX_BYTES) &&
        flush_queue(c) < 0)
        return -EIO;
    if (may_queue)
        return queue(c, &m, payload);
    /* The daemon restarted inside our transaction: it is gone, and so is
     * everything done in it; the caller retries as after a conflict. */
    if (c->tx_lost)
        return -EAGAIN;
    /* Header and payload in one send: xenstored then reads the request in
     * one go, and the round trip costs one syscall fewer. */
    char msg[sizeof(m) + XENSTORE_PAYLOAD_MAX];
    memcpy(msg, &m, sizeof(m));
    if (len)
        memcpy(msg + sizeof(m), payload, len);
    for (int attempt = 0;; attempt++) {
        int rc = -EIO;
        if (c->fd >= 0 && io_full(c->fd, msg, sizeof(m) + len, 1) == 0)
            rc = recv_reply(c, type, m.req_id, reply, rlen);
        /* A broken connection: xenstored restarting. Every request the
         * toolstack makes may be sent again (reads; writes of the value
         * it wants; mkdir, rm, perms, introduce, release: the same
         * outcome twice), except inside a transaction (docs/xl.md). */
        if (rc != -EIO || attempt == 1 || c->fd < 0 || !c->reconnect_ms ||
            reconnect(c) < 0)
            return rc;
        if (c->tx_lost)
            return -EAGAIN;
    }
}

static int call_path(struct xs_client *c, uint32_t type, const char *path,
                     char **reply, size_t *rlen, bool may_queue)
{
    return call(c, type, path, strlen(path) + 1, reply, rlen, may_queue);
}

int xs_read(struct xs_client *c, const char *path, char **value)
{
    return call_path(c, XS_READ, path, value, NULL, false);
}

int xs_read_many(struct xs_client *c, const char *const *paths, int n, char **values)
{
    for (int i = 0; i < n; i++)
        values[i] = NULL;
    if (c->queued && flush_queue(c) < 0)
        return -EIO;
    /* Batches of as many reads as one queue holds, each sent with one
     * write and its replies read in order. */
    int rc = 0;
    for (int first = 0; first < n && rc == 0;) {
        int last = first;
        while (last < n && rc == 0) {
            size_t pl = strlen(paths[last]) + 1;
            if (pl > XENSTORE_PAYLOAD_MAX ||
                c->out_len + sizeof(struct xsd_sockmsg) + pl > PIPE_MAX_BYTES)
                break;
            struct xsd_sockmsg m = { .type = XS_READ, .req_id = ++c->req_id,
                                     .tx_id = c->tx, .len = (uint32_t)pl };
            rc = queue(c, &m, paths[last++]);
        }
        if (last == first) {        /* a path too long for one request */
            first++;
            continue;
        }
        if (rc == 0)
            rc = send_queue(c);
        for (int i = first; i < last && rc == 0; i++) {
            int r = recv_reply(c, XS_READ, c->first_queued + (uint32_t)(i - first),
                               &values[i], NULL);
            if (r == -EIO || r == -ENOMEM)
                rc = r;
        }
        clear_queue(c);
        first = last;
    }
    return rc;
}

/* A change whose payload is the path, its NUL, then `len` bytes of data
 * (WRITE's value, SET_PERMS's list); queued while pipelining. */
static int call_path_data(struct xs_client *c, uint32_t type, const char *path,
                          const void *data, size_t len)
{
    size_t pl = strlen(path) + 1;
    char *buf = malloc(pl + len + 1);
    if (!buf)
        return -ENOMEM;
    memcpy(buf, path, pl);
    memcpy(buf + pl, data, len);
    int rc = call(c, type, buf, pl + len, NULL, NULL, true);
    free(buf);
    return rc;
}

int xs_write(struct xs_client *c, const char *path, const char *value)
{
    return call_path_data(c, XS_WRITE, path, value, strlen(value));
}

int xs_mkdir(struct xs_client *c, const char *path)
{
    return call_path(c, XS_MKDIR, path, NULL, NULL, true);
}

int xs_mkdir_outside(struct xs_client *c, const char *path)
{
    uint32_t tx = c->tx;
    c->tx = 0;
    int rc = xs_mkdir(c, path);
    c->tx = tx;
    return rc;
}

int xs_rm(struct xs_client *c, const char *path)
{
    int rc = call_path(c, XS_RM, path, NULL, NULL, false);
    return rc == -ENOENT ? 0 : rc;
}

void xs_free_list(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* One DIRECTORY_PART reply, `body` (blen bytes, NUL after): the node's
 * generation, then whole names from the offset asked for, then an empty
 * name once the list is complete. Appends the names to *list (*used
 * bytes); *gen keeps the first reply's generation. 1 when complete, 0 when
 * more follow, -EAGAIN when the generation changed (the list changed
 * meanwhile), -EIO when the reply makes no sense or no progress. */
static int take_part(const char *body, size_t blen, char gen[24], char **list,
                     size_t *used)
{
    size_t gl = strnlen(body, blen);
    if (gl == blen || gl >= 24)
        return -EIO;
    if (!gen[0])
        memcpy(gen, body, gl + 1);
    else if (strcmp(gen, body) != 0)
        return -EAGAIN;
    size_t i = gl + 1;
    while (i < blen && body[i]) {
        size_t l = strnlen(body + i, blen - i);
        if (i + l == blen)
            return -EIO;            /* an unterminated name */
        i += l + 1;
    }
    bool complete = i < blen;       /* stopped at the empty name */
    size_t add = i - (gl + 1);
    if (!complete && add == 0)
        return -EIO;
    char *grown = realloc(*list, *used + add + 1);
    if (!grown)
        return -ENOMEM;
    memcpy(grown + *used, body + gl + 1, add);
    *list = grown;
    *used += add;
    return complete;
}

/* The children of `path` as consecutive NUL-terminated names in *out
 * (malloc'd, *len bytes), read with DIRECTORY_PART: for lists longer than
 * one reply holds (a thousand domains under /local/domain), as Xen's
 * libxenstore does. Starts over when the list changes between parts. */
static int directory_parts(struct xs_client *c, const char *path, char **out,
                           size_t *len)
{
    size_t plen = strlen(path) + 1;
    if (plen + 16 > XENSTORE_PAYLOAD_MAX)
        return -E2BIG;
    int rc = -EAGAIN;
    for (int attempt = 0; attempt < 8 && rc == -EAGAIN; attempt++) {
        char *list = NULL, gen[24] = "";
        size_t used = 0;
        do {
            char req[XENSTORE_PAYLOAD_MAX], *body;
            size_t blen;
            memcpy(req, path, plen);
            int k = snprintf(req + plen, sizeof(req) - plen, "%zu", used);
            rc = call(c, XS_DIRECTORY_PART, req, plen + (size_t)k + 1, &body, &blen, false);
            if (rc == 0) {
                rc = take_part(body, blen, gen, &list, &used);
                free(body);
            }
        } while (rc == 0);
        if (rc == 1) {                  /* take_part allocated the list */
            *out = list;
            *len = used;
            return 0;
        }
        free(list);
    }
    return rc;
}

int xs_directory(struct xs_client *c, const char *path, char ***names, int *n)
{
    char *body;
    size_t len;
    *names = NULL;
    *n = 0;
    int rc = call_path(c, XS_DIRECTORY, path, &body, &len, false);
    if (rc == -E2BIG)
        rc = directory_parts(c, path, &body, &len);
    if (rc < 0)
        return rc;
    int count = 0;
    for (size_t i = 0; i < len; i++)
        count += body[i] == 0;
    char **v = calloc((size_t)count + 1, sizeof(*v));
    if (!v) {
        free(body);
        return -ENOMEM;
    }
    int k = 0;
    for (size_t i = 0; i < len && k < count; i += strlen(body + i) + 1)
        if (!(v[k++] = strdup(body + i))) {
            xs_free_list(v, k);
            free(body);
            return -ENOMEM;
        }
    free(body);
    *names = v;
    *n = k;
    return 0;
}

int xs_set_perms(struct xs_client *c, const char *path, const char *perms,
                 size_t len)
{
    return call_path_data(c, XS_SET_PERMS, path, perms, len);
}

/* XS_INTRODUCE's "domid\0gfn\0port\0", queued when pipelining. */
static int introduce(struct xs_client *c, unsigned domid, unsigned long gfn, unsigned port,
                     bool queue)
{
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "%u%c%lu%c%u", domid, 0, gfn, 0, port);
    return call(c, XS_INTRODUCE, buf, (size_t)n + 1, NULL, NULL, queue);
}

int xs_introduce(struct xs_client *c, unsigned domid, unsigned long gfn,
                 unsigned port)
{
    return introduce(c, domid, gfn, port, false);
}

int xs_transaction_begin(struct xs_client *c)
{
    char *id;
    c->tx = 0;
    c->tx_lost = false;
    int rc = call(c, XS_TRANSACTION_START, "", 1, &id, NULL, false);
    if (rc < 0)
        return rc;
    /* Id 0 means "no transaction": a reply that does not parse as a real
     * id must not silently turn the writes that follow into plain ones. */
    char *end;
    errno = 0;
    unsigned long tx = strtoul(id, &end, 10);
    bool ok = end != id && *end == 0 && !errno && tx && tx <= UINT32_MAX;
    free(id);
    if (!ok)
        return -EIO;
    c->tx = (uint32_t)tx;
    return 0;
}

int xs_transaction_end(struct xs_client *c, int commit)
{
    int rc = call(c, XS_TRANSACTION_END, commit ? "T" : "F", 2, NULL, NULL, false);
    if (c->tx_lost)
        rc = commit ? -EAGAIN : 0;
    c->tx = 0;
    c->tx_lost = false;
    return rc;
}

/* Ends the open transaction and, when it committed and intro is set,
 * introduces the domain, all in one pipelined batch. */
static int pipelined_commit(struct xs_client *c, bool intro, unsigned domid,
                            unsigned long gfn, unsigned port)
{
    bool lost = c->tx_lost;
    c->pipelining = true;
    int rc = lost ? 0 : call(c, XS_TRANSACTION_END, "T", 2, NULL, NULL, true);
    c->tx = 0;
    c->tx_lost = false;
    if (intro && rc == 0 && !lost)
        rc = introduce(c, domid, gfn, port, true);
    int qrc = xs_pipeline_end(c);
    if (rc == 0)
        rc = qrc;
    /* The daemon restarted inside the transaction (before, or while the
     * batch was on its way): what it got of it is gone or was applied
     * whole; either way the caller does it all again. */
    if (lost || (rc == -EIO && c->reconnect_ms))
        rc = -EAGAIN;
    return rc;
}

int xs_commit_introduce(struct xs_client *c, unsigned domid, unsigned long gfn,
                        unsigned port)
{
    return pipelined_commit(c, true, domid, gfn, port);
}

int xs_pipeline_commit(struct xs_client *c)
{
    return pipelined_commit(c, false, 0, 0, 0);
}

int xs_release(struct xs_client *c, unsigned domid)
{
    char buf[16];
    int n = snprintf(buf, sizeof(buf), "%u", domid);
    return call(c, XS_RELEASE, buf, (size_t)n + 1, NULL, NULL, false);
}

int xs_rm_release(struct xs_client *c, const char *const *paths, int n, unsigned domid)
{
    char buf[16];
    int len = snprintf(buf, sizeof(buf), "%u", domid);
    xs_pipeline_begin(c);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = call_path(c, XS_RM, paths[i], NULL, NULL, true);
    if (rc == 0)
        rc = call(c, XS_RELEASE, buf, (size_t)len + 1, NULL, NULL, true);
    int qrc = xs_pipeline_end(c);
    if (rc == 0 && qrc != -EIO)
        return 0;
    /* Not queued, or the connection broke under the batch (xenstored
     * restarting): each again on its own, where a call reconnects (every
     * one gives the same outcome twice). */
    for (int i = 0; i < n; i++)
        xs_rm(c, paths[i]);
    return xs_release(c, domid);
}
