/* See xs_conn.h. */
#include "xs_conn.h"
#include "ioloop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>

#include "log.h"

struct pending {
    uint32_t req_id;
    const void *owner;
    xs_reply_fn *fn;
    void *opaque;
};

struct watch {
    char token[16];
    const void *owner;
    xs_watch_fn *fn;
    void *opaque;
    char *path;
};

struct xs_conn {
    struct io_watch w;
    uint32_t watching;
    uint32_t next_id;
    /* Unsent requests. */
    uint8_t *out;
    size_t out_len, out_cap;
    /* Requests sent or queued, oldest first (a ring). */
    struct pending *pend;
    size_t pend_head, pend_len, pend_cap;
    struct watch *watches;
    size_t nr_watches, cap_watches;
    uint32_t next_token;
    /* The message being received. */
    size_t in_len;
    uint8_t in[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX + 1];
};

static void update_events(struct xs_conn *c)
{
    if (c->w.fd < 0)
        return;
    uint32_t want = EPOLLIN | (c->out_len ? EPOLLOUT : 0);
    if (want != c->watching && ioloop_mod(&c->w, want) == 0)
        c->watching = want;
}

/* The connection broke: every pending callback hears EIO. */
static void broken(struct xs_conn *c, const char *why)
{
    if (c->w.fd < 0)
        return;
    log_warn("xenstore (backends): %s; connection closed", why);
    ioloop_del(&c->w);
    close(c->w.fd);
    c->w.fd = -1;
    c->out_len = 0;
    while (c->pend_len) {
        struct pending p = c->pend[c->pend_head];
        c->pend_head = (c->pend_head + 1) % c->pend_cap;
        c->pend_len--;
        if (p.fn)
            p.fn(p.opaque, XS_ERROR, "EIO", 3);
    }
}

static void flush_out(struct xs_conn *c)
{
    size_t off = 0;
    while (off < c->out_len) {
        ssize_t n = send(c->w.fd, c->out + off, c->out_len - off,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                broken(c, strerror(errno));
            break;
        }
        off += (size_t)n;
    }
    if (c->w.fd < 0)
        return;
    memmove(c->out, c->out + off, c->out_len - off);
    c->out_len -= off;
    update_events(c);
}

static void dispatch_event(struct xs_conn *c, const char *body, uint32_t len)
{
    /* "path\0token\0" */
    const char *path = body;
    size_t plen = strnlen(path, len);
    if (plen >= len)
        return;
    const char *token = body + plen + 1;
    if (strnlen(token, len - plen - 1) >= len - plen - 1)
        return;
    for (size_t i = 0; i < c->nr_watches; i++) {
        struct watch *w = &c->watches[i];
        if (w->fn && strcmp(w->token, token) == 0) {
            w->fn(w->opaque, path);
            return;     /* the callback may have changed the table */
        }
    }
}

static void dispatch(struct xs_conn *c)
{
    struct xsd_sockmsg h;
    memcpy(&h, c->in, sizeof(h));
    char *body = (char *)c->in + sizeof(h);
    body[h.len] = 0;
    if (h.type == XS_WATCH_EVENT) {
        dispatch_event(c, body, h.len);
        return;
    }
    if (!c->pend_len || c->pend[c->pend_head].req_id != h.req_id) {
        broken(c, "a reply to no request");
        return;
    }
    struct pending p = c->pend[c->pend_head];
    c->pend_head = (c->pend_head + 1) % c->pend_cap;
    c->pend_len--;
    if (p.fn)
        p.fn(p.opaque, h.type, body, h.len);
    else if (h.type == XS_ERROR)
        log_debug("xenstore (backends): request %u: %s", h.req_id, body);
}

static void on_ready(struct io_watch *w, uint32_t events)
{
    struct xs_conn *c = w->opaque;
    if (events & EPOLLOUT)
        flush_out(c);
    while (c->w.fd >= 0) {
        size_t want = sizeof(struct xsd_sockmsg);
        if (c->in_len >= want) {
            struct xsd_sockmsg h;
            memcpy(&h, c->in, sizeof(h));
            if (h.len > XENSTORE_PAYLOAD_MAX) {
                broken(c, "an oversized message");
                return;
            }
            want += h.len;
            if (c->in_len == want) {
                c->in_len = 0;
                dispatch(c);
                continue;
            }
        }
        ssize_t n = recv(c->w.fd, c->in + c->in_len, want - c->in_len, MSG_DONTWAIT);
        if (n == 0) {
            broken(c, "xenstored closed it");
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                broken(c, strerror(errno));
            return;
        }
        c->in_len += (size_t)n;
    }
}

struct xs_conn *xs_conn_open(const char *socket_path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(socket_path) >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    strcpy(sa.sun_path, socket_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    /* A local connect completes at once; only then is it non-blocking. */
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    struct xs_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    c->w = (struct io_watch){ .fd = fd, .ready = on_ready, .opaque = c };
    c->next_id = 1;
    if (ioloop_add(&c->w, EPOLLIN) < 0) {
        close(fd);
        free(c);
        errno = EIO;
        return NULL;
    }
    c->watching = EPOLLIN;
    return c;
}

void xs_conn_close(struct xs_conn *c)
{
    if (!c)
        return;
    if (c->w.fd >= 0) {
        ioloop_del(&c->w);
        close(c->w.fd);
    }
    for (size_t i = 0; i < c->nr_watches; i++)
        free(c->watches[i].path);
    free(c->watches);
    free(c->pend);
    free(c->out);
    free(c);
}

static int push_pending(struct xs_conn *c, struct pending p)
{
    if (c->pend_len == c->pend_cap) {
        size_t cap = c->pend_cap ? 2 * c->pend_cap : 16;
        struct pending *n = malloc(cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        for (size_t i = 0; i < c->pend_len; i++)
            n[i] = c->pend[(c->pend_head + i) % c->pend_cap];
        free(c->pend);
        c->pend = n;
        c->pend_cap = cap;
        c->pend_head = 0;
    }
    c->pend[(c->pend_head + c->pend_len) % c->pend_cap] = p;
    c->pend_len++;
    return 0;
}

int xs_conn_request(struct xs_conn *c, uint32_t type, const char *const *args,
                    unsigned n, int raw_last, const void *owner,
                    xs_reply_fn *fn, void *opaque)
{
    if (c->w.fd < 0)
        return -EPIPE;
    size_t len = 0;
    for (unsigned i = 0; i < n; i++)
        len += strlen(args[i]) + (raw_last && i == n - 1 ? 0 : 1);
    if (len > XENSTORE_PAYLOAD_MAX)
        return -E2BIG;
    size_t total = sizeof(struct xsd_sockmsg) + len;
    if (c->out_len + total > XS_CONN_MAX_QUEUED)
        return -ENOBUFS;
    if (c->out_len + total > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 8192;
        while (cap < c->out_len + total)
            cap *= 2;
        uint8_t *o = realloc(c->out, cap);
        if (!o)
            return -ENOMEM;
        c->out = o;
        c->out_cap = cap;
    }
    struct pending p = { .req_id = c->next_id++, .owner = owner, .fn = fn,
                         .opaque = opaque };
    if (push_pending(c, p) < 0)
        return -ENOMEM;
    struct xsd_sockmsg h = { .type = type, .req_id = p.req_id, .len = (uint32_t)len };
    memcpy(c->out + c->out_len, &h, sizeof(h));
    size_t at = c->out_len + sizeof(h);
    for (unsigned i = 0; i < n; i++) {
        size_t l = strlen(args[i]) + (raw_last && i == n - 1 ? 0 : 1);
        memcpy(c->out + at, args[i], l);
        at += l;
    }
    c->out_len = at;
    flush_out(c);
    return 0;
}

int xs_conn_read(struct xs_conn *c, const char *path, const void *owner,
                 xs_reply_fn *fn, void *opaque)
{
    const char *a[] = { path };
    return xs_conn_request(c, XS_READ, a, 1, 0, owner, fn, opaque);
}

int xs_conn_write(struct xs_conn *c, const char *path, const char *value,
                  const void *owner, xs_reply_fn *fn, void *opaque)
{
    const char *a[] = { path, value };
    return xs_conn_request(c, XS_WRITE, a, 2, 1, owner, fn, opaque);
}

int xs_conn_printf(struct xs_conn *c, const char *path, const void *owner,
                   const char *fmt, ...)
{
    char v[256];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(v, sizeof(v), fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof(v))
        return -E2BIG;
    return xs_conn_write(c, path, v, owner, NULL, NULL);
}

int xs_conn_rm(struct xs_conn *c, const char *path, const void *owner)
{
    const char *a[] = { path };
    return xs_conn_request(c, XS_RM, a, 1, 0, owner, NULL, NULL);
}

int xs_conn_watch(struct xs_conn *c, const char *path, const void *owner,
                  xs_watch_fn *fn, void *opaque)
{
    if (c->nr_watches == c->cap_watches) {
        size_t cap = c->cap_watches ? 2 * c->cap_watches : 8;
        struct watch *n = realloc(c->watches, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        c->watches = n;
        c->cap_watches = cap;
    }
    struct watch *w = &c->watches[c->nr_watches];
    *w = (struct watch){ .owner = owner, .fn = fn, .opaque = opaque,
                         .path = strdup(path) };
    if (!w->path)
        return -ENOMEM;
    snprintf(w->token, sizeof(w->token), "xb%u", c->next_token++);
    const char *a[] = { path, w->token };
    int rc = xs_conn_request(c, XS_WATCH, a, 2, 0, owner, NULL, NULL);
    if (rc < 0) {
        free(w->path);
        return rc;
    }
    c->nr_watches++;
    return 0;
}

void xs_conn_forget(struct xs_conn *c, const void *owner)
{
    for (size_t i = 0; i < c->pend_len; i++) {
        struct pending *p = &c->pend[(c->pend_head + i) % c->pend_cap];
        if (p->owner == owner)
            p->fn = NULL, p->owner = NULL;
    }
    size_t j = 0;
    for (size_t i = 0; i < c->nr_watches; i++) {
        struct watch *w = &c->watches[i];
        if (w->owner == owner) {
            const char *a[] = { w->path, w->token };
            xs_conn_request(c, XS_UNWATCH, a, 2, 0, NULL, NULL, NULL);
            free(w->path);
        } else {
            c->watches[j++] = *w;
        }
    }
    c->nr_watches = j;
}
