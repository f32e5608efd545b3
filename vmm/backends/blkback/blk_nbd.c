/* blkback's NBD engine (blk_engine.h): the disk is an export of the
 * domain's NBD server (qemu-nbd, started by the toolstack for a qcow2,
 * vhd, ... image), reached through a socket the toolstack connected and
 * handed over. libnbd's async API runs on the I/O loop: its socket is an
 * io_watch whose interest follows nbd_aio_get_direction().
 *
 * READ/WRITE are one NBD command per run of segments adjacent in our
 * mapping of the guest's memory (libnbd has no vectored I/O), read into
 * or written from the guest's pages with no copy, DISCARD is WRITE_ZEROES without NO_HOLE (so
 * a discarded range reads back as zeroes, as a punched hole does on the
 * io_uring engine, and the format frees it where it can), or TRIM when
 * the export cannot write zeroes; FLUSH_DISKCACHE is FLUSH;
 * with data, its writes carry FUA and go with the FLUSH (which covers the
 * writes acknowledged before it) when the export offers FUA, else the FLUSH
 * follows them. libnbd's callbacks may not call libnbd: they only count,
 * and a request whose commands all completed is answered after the libnbd
 * call returned. The handshake, too, runs on the I/O loop (bounded by a
 * timerfd), so a server slow to answer it stalls neither the console nor
 * the domain's other rings. */
#include "blk_engine.h"
#include "blkif_req.h"
#include "ioloop.h"

#include <errno.h>
#include <libnbd.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define HANDSHAKE_MS 5000       /* once, at attach, on the I/O loop: the server
                                 * is local; then the attach fails */
#define DRAIN_MS 10000          /* then the connection is given up */
#define ZERO_CHUNK (1ull << 30) /* an NBD request's length is 32 bits */
#define MAX_RUN (1u << 20)      /* a read or write merged from segments, at most
                                 * (qemu-nbd takes 32 MiB) */

struct nreq {
    struct blk_nbd *n;
    struct nreq *prev, *next;   /* every request in flight */
    struct nreq *next_done;
    uint32_t tag;
    unsigned left;              /* commands not completed (+1 while issuing) */
    int16_t status;
    bool flush_after;           /* then a FLUSH (no FUA offered) */
};

struct blk_nbd {
    struct blk_engine e;
    struct nbd_handle *h;
    struct io_watch watch;      /* libnbd's socket; fd -1 once dead */
    uint32_t events;            /* what it is registered for */
    struct io_watch wake;       /* an eventfd: requests done outside a pass */
    struct io_watch timer;      /* a timerfd: the handshake's bound */
    blk_ready_fn *ready;
    bool readonly;              /* the disk's: a read-only export is refused if not */
    bool connecting;            /* the handshake runs: ready() not called yet */
    bool fua, zero;
    bool draining;              /* drain(): the timer bounds the wait */
    struct nreq *live;
    struct nreq *done_head;
    unsigned inflight;
};

static void done_push(struct nreq *r)
{
    r->next_done = r->n->done_head;
    r->n->done_head = r;
}

static void put(struct nreq *r)
{
    if (--r->left == 0)
        done_push(r);
}

static int on_complete(void *opaque, int *error)
{
    struct nreq *r = opaque;
    if (*error && r->status == BLKIF_RSP_OKAY)
        r->status = *error == EOPNOTSUPP ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR;
    put(r);
    return 1;   /* retired */
}

static nbd_completion_callback cb(struct nreq *r)
{
    r->left++;
    return (nbd_completion_callback){ .callback = on_complete, .user_data = r };
}

/* A command libnbd refused at once: its callback never runs. */
static void issued(struct nreq *r, int64_t cookie)
{
    if (cookie < 0) {
        r->status = BLKIF_RSP_ERROR;
        r->left--;
    }
}

static void update_events(struct blk_nbd *n)
{
    if (n->watch.fd < 0)
        return;
    unsigned dir = nbd_aio_get_direction(n->h);
    uint32_t ev = ((dir & LIBNBD_AIO_DIRECTION_READ) ? EPOLLIN : 0) |
                  ((dir & LIBNBD_AIO_DIRECTION_WRITE) ? EPOLLOUT : 0);
    if (ev != n->events && ioloop_mod(&n->watch, ev) == 0)
        n->events = ev;
}

/* Segments whose pages lie one after another in our mapping of the
 * guest's memory (contiguous guest frames, as a large buffer of the
 * guest's usually is) go as one command: the length of the run from i. */
static size_t run_from(const struct blk_io *io, unsigned i, unsigned *next)
{
    size_t len = io->iov[i].iov_len;
    unsigned j = i + 1;
    while (j < io->niov && (uint8_t *)io->iov[i].iov_base + len == io->iov[j].iov_base &&
           len + io->iov[j].iov_len <= MAX_RUN) {
        len += io->iov[j].iov_len;
        j++;
    }
    *next = j;
    return len;
}

static void issue_rw(struct nreq *r, const struct blk_io *io, bool write, uint32_t flags)
{
    uint64_t off = io->offset;
    for (unsigned i = 0, next; i < io->niov; i = next) {
        size_t len = run_from(io, i, &next);
        void *buf = io->iov[i].iov_base;
        issued(r, write ? nbd_aio_pwrite(r->n->h, buf, len, off, cb(r), flags)
                        : nbd_aio_pread(r->n->h, buf, len, off, cb(r), 0));
        off += len;
    }
}

static int nbd_start(struct blk_engine *e, const struct blk_io *io)
{
    struct blk_nbd *n = (struct blk_nbd *)e;
    if (n->watch.fd < 0 || !n->h || n->connecting)
        return -1;      /* the connection is gone (or not made yet) */
    struct nreq *r = calloc(1, sizeof(*r));
    if (!r)
        return -1;
    *r = (struct nreq){ .n = n, .tag = io->tag, .left = 1, .status = BLKIF_RSP_OKAY };
    switch (io->op) {
    case BLKIF_OP_READ:
        issue_rw(r, io, false, 0);
        break;
    case BLKIF_OP_WRITE:
        issue_rw(r, io, true, 0);
        break;
    case BLKIF_OP_DISCARD:
        for (uint64_t done = 0; done < io->length; done += ZERO_CHUNK) {
            uint64_t len = io->length - done < ZERO_CHUNK ? io->length - done : ZERO_CHUNK;
            /* Without NO_HOLE the server may punch a hole for it. */
            issued(r, n->zero ? nbd_aio_zero(n->h, len, io->offset + done, cb(r), 0)
                              : nbd_aio_trim(n->h, len, io->offset + done, cb(r), 0));
        }
        break;
    case BLKIF_OP_FLUSH_DISKCACHE:
        if (io->niov && !n->fua) {
            issue_rw(r, io, true, 0);
            r->flush_after = true;
        } else {
            if (io->niov)
                issue_rw(r, io, true, LIBNBD_CMD_FLAG_FUA);
            issued(r, nbd_aio_flush(n->h, cb(r), 0));
        }
        break;
    default:
        r->status = BLKIF_RSP_ERROR;
        break;
    }
    if (r->left == 1 && r->status != BLKIF_RSP_OKAY) {
        free(r);        /* nothing was issued */
        return -1;
    }
    r->next = n->live;
    if (n->live)
        n->live->prev = r;
    n->live = r;
    n->inflight++;
    put(r);             /* the issuing reference */
    if (n->done_head) {
        uint64_t one = 1;
        (void)!write(n->wake.fd, &one, sizeof(one));
    }
    return 1;
}

static void nbd_submit(struct blk_engine *e)
{
    /* libnbd sends as it is asked; what is left waits for POLLOUT. */
    update_events((struct blk_nbd *)e);
}

static void unlink_req(struct blk_nbd *n, struct nreq *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        n->live = r->next;
    if (r->next)
        r->next->prev = r->prev;
    n->inflight--;
}

static void stop_timer(struct blk_nbd *n);

/* Answer the requests whose commands all completed. */
static void deliver(struct blk_nbd *n)
{
    bool any = false;
    while (n->done_head) {
        struct nreq *list = n->done_head;
        n->done_head = NULL;
        while (list) {
            struct nreq *r = list;
            list = r->next_done;
            if (r->flush_after && r->status == BLKIF_RSP_OKAY && n->watch.fd >= 0 && n->h) {
                r->flush_after = false;
                r->left = 1;
                issued(r, nbd_aio_flush(n->h, cb(r), 0));
                put(r);
                continue;
            }
            if (r->flush_after)
                r->status = BLKIF_RSP_ERROR;    /* its flush cannot be sent */
            unlink_req(n, r);
            n->e.done(n->e.opaque, r->tag, r->status);
            free(r);
            any = true;
        }
    }
    if (n->draining && n->inflight == 0) {
        n->draining = false;
        stop_timer(n);
    }
    if (any && n->e.batch_done)
        n->e.batch_done(n->e.opaque);
    update_events(n);
}

/* The connection is over (the server died, hung up or does not answer):
 * what libnbd completed is answered, the rest fails, and so does every
 * later request. libnbd writes into granted pages only inside our calls
 * on this thread: after nbd_close nothing touches them. */
static void drop(struct blk_nbd *n, const char *why)
{
    if (!n->h)
        return;
    const char *e = nbd_get_error();
    log_limited(LOG_WARN, "%s: NBD connection dropped: %s%s%s", n->e.name, why,
                e ? ": " : "", e ? e : "");
    if (n->watch.fd >= 0) {
        ioloop_del(&n->watch);
        n->watch.fd = -1;   /* no flush follows, no request starts */
    }
    deliver(n);
    nbd_close(n->h);
    n->h = NULL;
    n->draining = false;
    stop_timer(n);
    bool any = n->live != NULL;
    while (n->live) {
        struct nreq *r = n->live;
        unlink_req(n, r);
        n->e.done(n->e.opaque, r->tag, BLKIF_RSP_ERROR);
        free(r);
    }
    if (any && n->e.batch_done)
        n->e.batch_done(n->e.opaque);
}

/* Tell libnbd what the socket is ready for; false when the connection
 * broke (the caller drops it). */
static bool notify(struct blk_nbd *n, short revents)
{
    unsigned dir = nbd_aio_get_direction(n->h);
    int rc = 0;
    bool done = false;
    if ((revents & (POLLIN | POLLHUP | POLLERR)) && (dir & LIBNBD_AIO_DIRECTION_READ)) {
        rc = nbd_aio_notify_read(n->h);
        done = true;
    } else if ((revents & (POLLOUT | POLLHUP | POLLERR)) &&
               (dir & LIBNBD_AIO_DIRECTION_WRITE)) {
        rc = nbd_aio_notify_write(n->h);
        done = true;
    }
    /* A hang-up libnbd is not waiting for would be reported for ever. */
    if (!done && (revents & (POLLHUP | POLLERR)))
        return false;
    return rc == 0 && !nbd_aio_is_dead(n->h) && !nbd_aio_is_closed(n->h);
}

/* epoll's readiness as poll's, which libnbd's notify takes, and back. */
static short poll_events(uint32_t events)
{
    return (short)(((events & EPOLLIN) ? POLLIN : 0) | ((events & EPOLLOUT) ? POLLOUT : 0) |
                   ((events & EPOLLHUP) ? POLLHUP : 0) | ((events & EPOLLERR) ? POLLERR : 0));
}

static uint32_t epoll_events(short revents)
{
    return ((revents & POLLIN) ? EPOLLIN : 0u) | ((revents & POLLOUT) ? EPOLLOUT : 0u) |
           ((revents & POLLHUP) ? EPOLLHUP : 0u) | ((revents & POLLERR) ? EPOLLERR : 0u);
}

static void handshake_step(struct blk_nbd *n, uint32_t events);

static void on_socket(struct io_watch *w, uint32_t events)
{
    struct blk_nbd *n = w->opaque;
    if (n->connecting) {
        handshake_step(n, events);
        return;
    }
    if (!notify(n, poll_events(events)))
        drop(n, "the server is gone");
    else
        deliver(n);
}

static void handshake_done(struct blk_nbd *n);

static void on_wake(struct io_watch *w, uint32_t events)
{
    (void)events;
    struct blk_nbd *n = w->opaque;
    uint64_t v;
    (void)!read(w->fd, &v, sizeof(v));
    /* The handshake may end inside nbd_aio_connect_socket (a server quick
     * to answer): create() wakes us to say so outside itself. */
    if (n->connecting) {
        if (nbd_aio_is_ready(n->h) > 0)
            handshake_done(n);
        return;
    }
    deliver(n);
}

/* Bounded, on the I/O loop: a server that does not answer within
 * DRAIN_MS loses its connection (on_timer), and what was in flight fails.
 * libnbd writes into granted pages only inside our calls on this thread,
 * so the wait holds nothing but the ring. */
static void nbd_drain(struct blk_engine *e)
{
    struct blk_nbd *n = (struct blk_nbd *)e;
    deliver(n);
    if (!n->h || n->connecting || n->inflight == 0 || n->draining)
        return;
    struct itimerspec t = { .it_value = { DRAIN_MS / 1000, (DRAIN_MS % 1000) * 1000000L } };
    n->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (n->timer.fd < 0 || timerfd_settime(n->timer.fd, 0, &t, NULL) < 0 ||
        ioloop_add(&n->timer, EPOLLIN) < 0) {
        if (n->timer.fd >= 0)
            close(n->timer.fd);
        n->timer.fd = -1;
        drop(n, "no timer to bound the drain");
        return;
    }
    n->draining = true;
}

static void nbd_cancel(struct blk_engine *e)
{
    struct blk_nbd *n = (struct blk_nbd *)e;
    if (n->h && !n->connecting) {
        deliver(n);
        if (n->inflight)
            drop(n, "the device goes with requests in flight");
    }
}

static void nbd_destroy(struct blk_engine *e)
{
    struct blk_nbd *n = (struct blk_nbd *)e;
    nbd_cancel(e);
    if (n->watch.fd >= 0)
        ioloop_del(&n->watch);
    if (n->h)
        nbd_close(n->h);    /* closes the socket */
    stop_timer(n);
    ioloop_del(&n->wake);
    close(n->wake.fd);
    free(n);
}

static const struct blk_engine_ops nbd_ops = {
    .start = nbd_start, .submit = nbd_submit, .drain = nbd_drain, .cancel = nbd_cancel,
    .destroy = nbd_destroy,
};

/* --- the handshake, on the I/O loop -------------------------------------- */

static void stop_timer(struct blk_nbd *n)
{
    if (n->timer.fd >= 0) {
        ioloop_del(&n->timer);
        close(n->timer.fd);
        n->timer.fd = -1;
    }
}

/* The handshake failed: no connection, every request refused. */
static void handshake_fail(struct blk_nbd *n, const char *why)
{
    log_err("%s: NBD: %s", n->e.name, why ? why : "failed");
    n->connecting = false;
    stop_timer(n);
    if (n->watch.fd >= 0) {
        ioloop_del(&n->watch);
        n->watch.fd = -1;
    }
    nbd_close(n->h);
    n->h = NULL;
    n->ready(n->e.opaque, NULL);
}

static void handshake_done(struct blk_nbd *n)
{
    int64_t size = nbd_get_size(n->h);
    int ro = nbd_is_read_only(n->h), fl = nbd_can_flush(n->h), tr = nbd_can_trim(n->h),
        fua = nbd_can_fua(n->h), zero = nbd_can_zero(n->h);
    if (size < 0 || ro < 0 || fl < 0 || tr < 0 || fua < 0 || zero < 0) {
        handshake_fail(n, nbd_get_error());
        return;
    }
    if (!n->readonly && ro) {
        handshake_fail(n, "the export is read-only, the disk is not");
        return;
    }
    n->connecting = false;
    stop_timer(n);
    n->fua = fua;
    n->zero = zero;
    update_events(n);
    log_info("%s: NBD export of %lld bytes%s%s%s%s%s", n->e.name, (long long)size,
             ro ? ", read-only" : "", fl ? ", flush" : "", fua ? ", fua" : "",
             tr ? ", trim" : "", zero ? ", zero" : "");
    struct blk_disk_info info = { .sectors = (uint64_t)size >> BLK_SECTOR_SHIFT,
                                  .readonly = ro, .flush = fl, .discard = tr || zero };
    n->ready(n->e.opaque, &info);
}

static void handshake_step(struct blk_nbd *n, uint32_t events)
{
    if (!notify(n, poll_events(events))) {
        handshake_fail(n, nbd_get_error() ? nbd_get_error() : "the server hung up");
        return;
    }
    if (nbd_aio_is_ready(n->h) > 0)
        handshake_done(n);
    else
        update_events(n);
}

/* The handshake's bound, from now: 0 or -1 with errno. */
static int arm_timer(struct blk_nbd *n)
{
    struct itimerspec t = { .it_value = { HANDSHAKE_MS / 1000,
                                          (HANDSHAKE_MS % 1000) * 1000000L } };
    return timerfd_settime(n->timer.fd, 0, &t, NULL);
}

/* The bound ran out. A server whose answer waits on the socket (the I/O
 * loop was busy, or the timer came first in a batch of events) has
 * answered in time: the handshake goes on and the bound starts again; a
 * silent one fails. */
static void on_timer(struct io_watch *w, uint32_t events)
{
    (void)events;
    struct blk_nbd *n = w->opaque;
    uint64_t v;
    (void)!read(w->fd, &v, sizeof(v));
    if (n->draining) {
        /* Answers waiting on the socket count as in time. */
        if (n->watch.fd >= 0 && notify(n, POLLIN | POLLOUT))
            deliver(n);
        if (n->draining)
            drop(n, "the server does not answer");
        return;
    }
    if (!n->connecting)
        return;
    if (nbd_aio_is_ready(n->h) > 0) {
        handshake_done(n);
        return;
    }
    unsigned dir = nbd_aio_get_direction(n->h);
    struct pollfd p = { .fd = n->watch.fd,
                        .events = (short)(((dir & LIBNBD_AIO_DIRECTION_READ) ? POLLIN : 0) |
                                          ((dir & LIBNBD_AIO_DIRECTION_WRITE) ? POLLOUT : 0)) };
    if (poll(&p, 1, 0) <= 0) {
        handshake_fail(n, "no handshake in time");
        return;
    }
    (void)arm_timer(n);
    handshake_step(n, epoll_events(p.revents));
}

struct blk_engine *blk_nbd_create(int fd, bool readonly, blk_done_fn *done,
                                  blk_ready_fn *ready, void *opaque, const char *name)
{
    struct blk_nbd *n = calloc(1, sizeof(*n));
    const char *why = "out of memory";
    if (!n) {
        close(fd);
        goto fail;
    }
    n->e = (struct blk_engine){ .ops = &nbd_ops, .done = done, .opaque = opaque, .name = name };
    n->watch = (struct io_watch){ .fd = -1, .ready = on_socket, .opaque = n };
    n->wake = (struct io_watch){ .fd = -1, .ready = on_wake, .opaque = n };
    n->timer = (struct io_watch){ .fd = -1, .ready = on_timer, .opaque = n };
    n->ready = ready;
    n->readonly = readonly;
    n->h = nbd_create();
    if (!n->h) {
        close(fd);
        why = nbd_get_error();
        goto fail;
    }
    /* The socket is libnbd's from here on; the handshake goes on in
     * on_socket, bounded by the timer. */
    if (nbd_aio_connect_socket(n->h, fd) < 0) {
        why = nbd_get_error();
        goto fail;
    }
    n->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    n->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (n->wake.fd < 0 || n->timer.fd < 0 || arm_timer(n) < 0) {
        why = strerror(errno);
        goto fail;
    }
    if (ioloop_add(&n->wake, EPOLLIN) < 0) {
        why = strerror(errno);
        goto fail;
    }
    if (ioloop_add(&n->timer, EPOLLIN) < 0) {
        why = strerror(errno);
        ioloop_del(&n->wake);
        goto fail;
    }
    n->watch.fd = nbd_aio_get_fd(n->h);
    n->events = EPOLLIN;
    if (n->watch.fd < 0 || ioloop_add(&n->watch, EPOLLIN) < 0) {
        why = n->watch.fd < 0 ? nbd_get_error() : strerror(errno);
        n->watch.fd = -1;
        ioloop_del(&n->timer);
        ioloop_del(&n->wake);
        goto fail;
    }
    n->connecting = true;
    update_events(n);
    if (nbd_aio_is_ready(n->h) > 0) {
        uint64_t one = 1;
        (void)!write(n->wake.fd, &one, sizeof(one));
    }
    return &n->e;
fail:
    log_err("%s: NBD: %s", name, why ? why : "failed");
    if (n) {
        if (n->h)
            nbd_close(n->h);
        if (n->wake.fd >= 0)
            close(n->wake.fd);
        if (n->timer.fd >= 0)
            close(n->timer.fd);
        free(n);
    }
    return NULL;
}
