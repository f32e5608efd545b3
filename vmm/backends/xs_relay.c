/* The xenstore ring relay (see xs_relay.h and docs/vmm.md, "Xenstore"). */
#include "xs_relay.h"
#include "backend.h"
#include "dirty.h"
#include "domain.h"
#include "ioloop.h"
#include "layout.h"
#include "lazy_pages.h"
#include "xs_relay_track.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>

#include "log.h"
#include "util.h"

#define HDR_LEN sizeof(struct xsd_sockmsg)
#define XENSTORE_RING_GPA \
    (LAYOUT_SPECIAL_START + SPECIAL_XENSTORE * GMEM_PAGE_SIZE)
#define MSG_MAX (HDR_LEN + XENSTORE_PAYLOAD_MAX)
#define BUF_SIZE (XENSTORE_RING_SIZE * 8)
/* Guest requests held until answered (the guest waits beyond these: its
 * ring is not emptied). */
#define MAX_PENDING 64
/* Reconnection: the first retry soon, then doubling to once a second. */
#define RETRY_FIRST_MS 10
#define RETRY_MAX_MS 1000

enum link {
    LINK_NONE,          /* no xenstored configured */
    LINK_UP,            /* attached: the guest's stream flows */
    LINK_ATTACHING,     /* connected, ring-attach sent, reply awaited */
    LINK_DOWN,          /* waiting for the retry timer */
    LINK_PROTO,         /* xenstored dropped the guest: ring error set */
};

enum req_state {
    REQ_QUEUED,         /* to be sent (again) */
    REQ_SENT,           /* wholly sent on connection `gen` */
    REQ_LOCAL,          /* answered by the relay: `local_err` or "OK" */
};

/* One guest request, from the moment it is whole in the ring until its
 * reply is in to_guest. Requests are sent and answered in list order. */
struct req {
    struct req *next;
    enum req_state state;
    bool internal;          /* ours (a re-registered watch): no reply out */
    bool poison;            /* a header xenstored must drop us for */
    const char *local_err;  /* REQ_LOCAL: the error, or NULL for "OK" */
    uint32_t gen;
    uint32_t orig_tx;       /* the guest's tx_id (the header's may change) */
    size_t len;
    uint8_t msg[];          /* header + payload */
};

struct xs_relay {
    struct domain *d;
    struct backend backend;     /* port and wake-up */
    struct xenstore_domain_interface *ring;
    char *path;
    enum link link;
    uint32_t gen;               /* successful attachments so far */
    struct io_watch sock;
    uint32_t watching;          /* events sock is registered for */
    struct io_watch timer;
    unsigned retry_ms;
    /* Attach reply being read (LINK_ATTACHING). */
    uint8_t att[HDR_LEN + 64];
    size_t att_len;
    /* Guest -> daemon: the request being assembled from the ring, then
     * the list of requests not yet answered. */
    uint8_t asm_buf[MSG_MAX];
    size_t asm_len;
    bool bad_stream;            /* the guest sent an impossible header */
    struct req *head, *tail;
    unsigned npending;
    size_t send_off;            /* bytes of the first REQ_QUEUED sent */
    /* Daemon -> guest: bytes read, then whole messages for the ring. */
    uint8_t from_daemon[2 * MSG_MAX];
    size_t from_len;
    uint8_t to_guest[BUF_SIZE];
    size_t to_guest_len;
    struct xs_track track;      /* watches and transactions */
};

static void service(struct xs_relay *x);

/* ---- what replies teach (the bookkeeping: xs_relay_track.c) ---- */

static bool is_change(uint32_t type)
{
    return type == XS_WRITE || type == XS_MKDIR || type == XS_RM ||
           type == XS_SET_PERMS;
}

static bool is_read(uint32_t type)
{
    return type == XS_READ || type == XS_DIRECTORY ||
           type == XS_DIRECTORY_PART || type == XS_GET_PERMS;
}

static bool commits(const struct req *r)
{
    return r->len > HDR_LEN && r->msg[HDR_LEN] == 'T';
}

/* A reply for r reached the guest (or the relay, for its own): learn the
 * watches and transactions it made or ended. */
static void learn(struct xs_relay *x, const struct req *r, uint32_t rtype,
                  const uint8_t *body, size_t blen)
{
    struct xsd_sockmsg h;
    memcpy(&h, r->msg, HDR_LEN);
    bool ok = rtype == h.type;
    const uint8_t *payload = r->msg + HDR_LEN;
    size_t plen = r->len - HDR_LEN;
    switch (h.type) {
    case XS_WATCH:
        if (ok)
            xs_track_add_watch(&x->track, payload, plen);
        else if (r->internal) {
            log_limited(LOG_WARN, "dom%u: re-registering a watch failed: %.*s", x->d->domid,
                        (int)blen, (const char *)body);
            xs_track_drop_watch(&x->track, payload, plen);
        }
        break;
    case XS_UNWATCH:
        if (ok)
            xs_track_drop_watch(&x->track, payload, plen);
        break;
    case XS_RESET_WATCHES:
        if (ok)
            xs_track_reset(&x->track);
        break;
    case XS_TRANSACTION_START:
        if (ok)
            xs_track_txn_started(&x->track, body, blen, r->gen);
        break;
    case XS_TRANSACTION_END:
        xs_track_txn_ended(&x->track, r->orig_tx);
        break;
    default:
        break;
    }
}

/* ---- the request list ---- */

static void unlink_req(struct xs_relay *x, struct req **pp)
{
    struct req *r = *pp;
    *pp = r->next;
    if (x->tail == r) {
        x->tail = NULL;
        for (struct req *q = x->head; q; q = q->next)
            x->tail = q;
    }
    if (!r->internal)
        x->npending--;
    free(r);
}

static struct req *new_req(const void *msg, size_t len)
{
    struct req *r = calloc(1, sizeof(*r) + len);
    if (!r)
        return NULL;
    memcpy(r->msg, msg, len);
    r->len = len;
    struct xsd_sockmsg h;
    memcpy(&h, msg, HDR_LEN);
    r->orig_tx = h.tx_id;
    return r;
}

static void append_req(struct xs_relay *x, struct req *r)
{
    if (x->tail)
        x->tail->next = r;
    else
        x->head = r;
    x->tail = r;
    if (!r->internal)
        x->npending++;
}

static void answer_locally(struct req *r, const char *err)
{
    r->state = REQ_LOCAL;
    r->local_err = err;
}

/* Put a message for the guest in to_guest, with the request's ids. */
static void put_guest(struct xs_relay *x, uint32_t type, const struct req *r,
                      const void *body, size_t blen)
{
    struct xsd_sockmsg h = { .type = type, .len = (uint32_t)blen };
    if (r) {
        struct xsd_sockmsg q;
        memcpy(&q, r->msg, HDR_LEN);
        h.req_id = q.req_id;
        h.tx_id = r->orig_tx;
    }
    memcpy(x->to_guest + x->to_guest_len, &h, HDR_LEN);
    memcpy(x->to_guest + x->to_guest_len + HDR_LEN, body, blen);
    x->to_guest_len += HDR_LEN + blen;
}

/* Replies the relay made, in order: those at the front of the list (a
 * re-registration of ours in between does not hold them back). */
static void emit_local(struct xs_relay *x)
{
    struct req **pp = &x->head;
    while (*pp && BUF_SIZE - x->to_guest_len >= HDR_LEN + 16) {
        struct req *r = *pp;
        if (r->internal) {
            pp = &r->next;
            continue;
        }
        if (r->state != REQ_LOCAL)
            break;
        struct xsd_sockmsg h;
        memcpy(&h, r->msg, HDR_LEN);
        if (r->local_err)
            put_guest(x, XS_ERROR, r, r->local_err, strlen(r->local_err) + 1);
        else
            put_guest(x, h.type, r, "OK", 3);
        learn(x, r, r->local_err ? XS_ERROR : h.type, NULL, 0);
        unlink_req(x, pp);
    }
}

/* Decide, just before it is sent, what a request in a transaction that a
 * restart ended gets (docs/vmm.md): the commit fails with EAGAIN as a
 * conflicting one would, an abort succeeds, a change is answered OK but
 * not made (the commit will fail), a read gets EAGAIN (the transaction's
 * view is gone: no answer would be consistent). true when the request is
 * to be sent. */
static bool send_or_answer(struct xs_relay *x, struct req *r)
{
    struct xsd_sockmsg h;
    memcpy(&h, r->msg, HDR_LEN);
    if (!r->orig_tx || r->poison)
        return true;
    const struct xs_txn_rec *t = xs_track_txn(&x->track, r->orig_tx);
    if (!t || t->gen == x->gen)
        return true;
    if (h.type == XS_TRANSACTION_END) {
        answer_locally(r, commits(r) ? "EAGAIN" : NULL);
        return false;
    }
    if (is_change(h.type)) {
        answer_locally(r, NULL);
        return false;
    }
    if (is_read(h.type)) {
        answer_locally(r, "EAGAIN");
        return false;
    }
    return true;
}

static bool has_unsent(const struct xs_relay *x)
{
    for (const struct req *r = x->head; r; r = r->next)
        if (r->state == REQ_QUEUED)
            return true;
    return false;
}

static void send_requests(struct xs_relay *x)
{
    for (struct req *r = x->head; r && x->link == LINK_UP; r = r->next) {
        if (r->state != REQ_QUEUED)
            continue;
        if (x->send_off == 0 && !send_or_answer(x, r))
            continue;
        ssize_t n = send(x->sock.fd, r->msg + x->send_off, r->len - x->send_off,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n <= 0)
            return;         /* EAGAIN: EPOLLOUT; a break: the read sees it */
        x->send_off += (size_t)n;
        if (x->send_off < r->len)
            return;
        x->send_off = 0;
        r->state = REQ_SENT;
        r->gen = x->gen;
    }
}

/* ---- the socket ---- */

static void watch_socket(struct xs_relay *x)
{
    uint32_t want = 0;
    if (x->link == LINK_ATTACHING)
        want = EPOLLIN;
    else if (x->link == LINK_UP)
        want = (x->from_len + MSG_MAX <= sizeof(x->from_daemon) ? EPOLLIN : 0) |
               (has_unsent(x) ? EPOLLOUT : 0);
    /* With neither, the socket is out of the loop (a hang-up would still
     * be reported, and spin us); it is looked at again once there is
     * room. */
    if (want == x->watching)
        return;
    if (!want)
        ioloop_del(&x->sock);
    else if (!x->watching)
        ioloop_add(&x->sock, want);
    else
        ioloop_mod(&x->sock, want);
    x->watching = want;
}

static void close_socket(struct xs_relay *x)
{
    if (x->sock.fd < 0)
        return;
    if (x->watching)
        ioloop_del(&x->sock);
    x->watching = 0;
    close(x->sock.fd);
    x->sock.fd = -1;
}

static void arm_retry(struct xs_relay *x)
{
    struct itimerspec its = {
        .it_value = { x->retry_ms / 1000, (long)(x->retry_ms % 1000) * 1000000 } };
    timerfd_settime(x->timer.fd, 0, &its, NULL);
    x->retry_ms = x->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : x->retry_ms * 2;
    x->link = LINK_DOWN;
}

/* The complete messages at the front of from_daemon that answer requests
 * (watch events do not). Drops a partial message at the end. */
static size_t complete_replies(struct xs_relay *x, bool truncate)
{
    size_t off = 0, n = 0;
    while (x->from_len - off >= HDR_LEN) {
        struct xsd_sockmsg h;
        memcpy(&h, x->from_daemon + off, HDR_LEN);
        if (h.len > XENSTORE_PAYLOAD_MAX || x->from_len - off < HDR_LEN + h.len)
            break;
        if (h.type != XS_WATCH_EVENT)
            n++;
        off += HDR_LEN + h.len;
    }
    if (truncate)
        x->from_len = off;
    return n;
}

/* The connection broke (xenstored stopped, restarted, or dropped us):
 * decide the fate of each request it had not answered (docs/vmm.md) and
 * reconnect. Replies already read still go to the guest. */
static void link_lost(struct xs_relay *x, const char *why)
{
    if (x->link == LINK_UP)
        log_warn("dom%u: xenstored connection lost (%s): reconnecting",
                 x->d->domid, why);
    close_socket(x);
    size_t answered = complete_replies(x, true);
    for (struct req **pp = &x->head; *pp;) {
        struct req *r = *pp;
        if (r->state == REQ_SENT && answered) {
            answered--;             /* its reply is in from_daemon */
            pp = &r->next;
            continue;
        }
        if (r->internal) {          /* re-registered afresh next time */
            unlink_req(x, pp);
            continue;
        }
        if (r->state == REQ_SENT) {
            struct xsd_sockmsg h;
            memcpy(&h, r->msg, HDR_LEN);
            if (h.type == XS_TRANSACTION_END) {
                /* Committed or not, we cannot tell: a commit is failed
                 * (the guest retries it), an abort is done. */
                answer_locally(r, commits(r) ? "EAGAIN" : NULL);
            } else if (is_change(h.type) && !r->orig_tx) {
                answer_locally(r, "EAGAIN");    /* made or not: unknown */
            } else {
                r->state = REQ_QUEUED;          /* safe to send again */
            }
        }
        pp = &r->next;
    }
    x->send_off = 0;
    arm_retry(x);
}

static void proto_dropped(struct xs_relay *x)
{
    log_err("dom%u: xenstored dropped the guest for a protocol error: "
            "ring error set", x->d->domid);
    close_socket(x);
    x->link = LINK_PROTO;
    pthread_mutex_lock(&x->d->lock);
    __atomic_store_n(&x->ring->error, XENSTORE_ERROR_PROTO, __ATOMIC_RELEASE);
    gmem_mark_dirty(&x->d->mem, XENSTORE_RING_GPA, GMEM_PAGE_SIZE);
    backend_notify_locked(&x->backend);
    pthread_mutex_unlock(&x->d->lock);
}

static int attach_request(struct xs_relay *x, uint8_t *buf, size_t size)
{
    char payload[48];
    int len = x->track.max_tx
        ? snprintf(payload, sizeof(payload), "ring-attach%c%u%c%u", 0,
                   x->d->domid, 0, x->track.max_tx + 1)
        : snprintf(payload, sizeof(payload), "ring-attach%c%u", 0, x->d->domid);
    struct xsd_sockmsg hdr = { .type = XS_CONTROL, .len = (uint32_t)len + 1 };
    if (HDR_LEN + hdr.len > size)
        return -1;
    memcpy(buf, &hdr, HDR_LEN);
    memcpy(buf + HDR_LEN, payload, hdr.len);
    return (int)(HDR_LEN + hdr.len);
}

static int open_socket(const char *path, int flags)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* Our own XS_WATCH of payload ("path\0token\0", at most
 * XENSTORE_PAYLOAD_MAX bytes): its reply goes nowhere but learn(). */
static struct req *watch_req(const void *payload, size_t len)
{
    uint8_t msg[MSG_MAX];
    struct xsd_sockmsg h = { .type = XS_WATCH, .len = (uint32_t)len };
    memcpy(msg, &h, HDR_LEN);
    memcpy(msg + HDR_LEN, payload, len);
    struct req *r = new_req(msg, HDR_LEN + len);
    if (r)
        r->internal = true;
    return r;
}

/* Attached (again): the guest's watches are registered anew, ahead of its
 * requests (xenstored fires each once: the guest sees one event per
 * watch, which the protocol allows). */
static void link_up(struct xs_relay *x)
{
    if (x->gen)
        log_info("dom%u: xenstored reattached; %u watches re-registered",
                 x->d->domid, x->track.nwatches);
    x->gen++;
    x->link = LINK_UP;
    x->retry_ms = RETRY_FIRST_MS;
    struct req *first = NULL, **tailp = &first;
    for (unsigned i = 0; i < x->track.nwatches; i++) {
        const struct xs_watch_rec *w = &x->track.watches[i];
        struct req *r = watch_req(w->payload, w->len);
        if (!r)
            break;
        *tailp = r;
        tailp = &r->next;
    }
    if (!first)
        return;
    /* After the requests whose replies (from the old connection) are
     * still to be read, before everything still to be sent. */
    struct req **at = &x->head;
    for (struct req **pp = &x->head; *pp; pp = &(*pp)->next)
        if ((*pp)->state == REQ_SENT)
            at = &(*pp)->next;
    *tailp = *at;
    *at = first;
    x->tail = NULL;
    for (struct req *q = x->head; q; q = q->next)
        x->tail = q;
}

static void start_connect(struct xs_relay *x)
{
    int fd = open_socket(x->path, SOCK_NONBLOCK);
    uint8_t req[HDR_LEN + 48];
    int len = attach_request(x, req, sizeof(req));
    if (fd >= 0 && len > 0 &&
        send(fd, req, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) == len) {
        x->sock = (struct io_watch){ .fd = fd, .ready = x->sock.ready, .opaque = x };
        x->watching = 0;
        x->att_len = 0;
        x->link = LINK_ATTACHING;
        watch_socket(x);
        return;
    }
    if (fd >= 0)
        close(fd);
    arm_retry(x);
}

/* Read the ring-attach reply, exactly its bytes. */
static void read_attach_reply(struct xs_relay *x)
{
    size_t want = HDR_LEN;
    if (x->att_len >= HDR_LEN) {
        struct xsd_sockmsg h;
        memcpy(&h, x->att, HDR_LEN);
        if (h.len > sizeof(x->att) - HDR_LEN) {
            link_lost(x, "bad attach reply");
            return;
        }
        want = HDR_LEN + h.len;
    }
    ssize_t n = recv(x->sock.fd, x->att + x->att_len, want - x->att_len, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        link_lost(x, n == 0 ? "end of file" : strerror(errno));
        return;
    }
    if (n < 0)
        return;
    x->att_len += (size_t)n;
    if (x->att_len < HDR_LEN)
        return;
    struct xsd_sockmsg h;
    memcpy(&h, x->att, HDR_LEN);
    if (x->att_len == HDR_LEN && h.len)
        return read_attach_reply(x);        /* the body, if already there */
    if (x->att_len < HDR_LEN + h.len)
        return;
    const char *body = (const char *)x->att + HDR_LEN;
    if (h.type == XS_CONTROL) {
        link_up(x);
    } else if (h.type == XS_ERROR && h.len == 7 && memcmp(body, "EPROTO", 7) == 0) {
        proto_dropped(x);
    } else {
        /* EEXIST: xenstored has not yet seen our old connection go. */
        close_socket(x);
        arm_retry(x);
    }
}

/* Whole daemon messages into to_guest (while it has room), in order. */
static void deliver(struct xs_relay *x)
{
    size_t off = 0;
    while (x->from_len - off >= HDR_LEN) {
        emit_local(x);
        struct xsd_sockmsg h;
        memcpy(&h, x->from_daemon + off, HDR_LEN);
        if (h.len > XENSTORE_PAYLOAD_MAX) {
            /* Nonsense: the stream is lost (what came before it is
             * delivered). */
            x->from_len = 0;
            off = 0;
            if (x->link == LINK_UP)
                link_lost(x, "bad message from xenstored");
            break;
        }
        if (x->from_len - off < HDR_LEN + h.len ||
            BUF_SIZE - x->to_guest_len < HDR_LEN + h.len)
            break;
        const uint8_t *body = x->from_daemon + off + HDR_LEN;
        off += HDR_LEN + h.len;
        if (h.type == XS_WATCH_EVENT) {
            put_guest(x, h.type, NULL, body, h.len);
            continue;
        }
        struct req **pp = &x->head;
        while (*pp && (*pp)->state != REQ_SENT)
            pp = &(*pp)->next;
        if (!*pp)
            continue;               /* a reply to nothing: not the guest's */
        struct req *r = *pp;
        learn(x, r, h.type, body, h.len);
        if (!r->internal)
            put_guest(x, h.type, r, body, h.len);
        unlink_req(x, pp);
    }
    if (off) {
        memmove(x->from_daemon, x->from_daemon + off, x->from_len - off);
        x->from_len -= off;
    }
    emit_local(x);
}

static void on_sock(struct io_watch *w, uint32_t events)
{
    struct xs_relay *x = w->opaque;
    if (x->link == LINK_ATTACHING) {
        read_attach_reply(x);
    } else if (x->link == LINK_UP) {
        if ((events & (EPOLLHUP | EPOLLERR)) && !(x->watching & EPOLLIN)) {
            link_lost(x, "hang-up");
        } else if (events & EPOLLIN) {
            size_t room = sizeof(x->from_daemon) - x->from_len;
            ssize_t n = room ? recv(w->fd, x->from_daemon + x->from_len, room,
                                    MSG_DONTWAIT) : -1;
            if (room && (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)))
                link_lost(x, n == 0 ? "end of file" : strerror(errno));
            else if (n > 0)
                x->from_len += (size_t)n;
        }
    }
    service(x);
}

static void on_timer(struct io_watch *w, uint32_t events)
{
    (void)events;
    struct xs_relay *x = w->opaque;
    uint64_t ticks;
    (void)!read(w->fd, &ticks, sizeof(ticks));
    if (x->link == LINK_DOWN)
        start_connect(x);
    service(x);
}

/* ---- the ring ---- */

/* Take whole requests from the ring (while we may hold more) and put
 * replies in; called with d->lock. true when the guest is to be told. */
static bool pump_ring(struct xs_relay *x)
{
    struct xenstore_domain_interface *r = x->ring;
    bool notify = false;

    /* Requests. Guest-controlled indices are clamped. */
    XENSTORE_RING_IDX cons = r->req_cons;
    XENSTORE_RING_IDX prod = __atomic_load_n(&r->req_prod, __ATOMIC_ACQUIRE);
    uint32_t avail = prod - cons;
    if (avail > XENSTORE_RING_SIZE)
        avail = 0, cons = prod;     /* corrupt indices: drop, resync */
    uint32_t took = 0;
    while (!x->bad_stream && x->link != LINK_PROTO) {
        size_t want = HDR_LEN;
        if (x->asm_len >= HDR_LEN) {
            struct xsd_sockmsg h;
            memcpy(&h, x->asm_buf, HDR_LEN);
            if (h.len > XENSTORE_PAYLOAD_MAX) {
                /* Framing is lost. Sent on, it has xenstored drop the
                 * guest and say so (EPROTO at our re-attach). */
                struct req *q = new_req(x->asm_buf, HDR_LEN);
                if (q) {
                    q->poison = true;
                    append_req(x, q);
                }
                x->bad_stream = true;
                x->asm_len = 0;
                break;
            }
            want = HDR_LEN + h.len;
            if (x->asm_len == want) {
                struct req *q = new_req(x->asm_buf, x->asm_len);
                if (!q)
                    break;
                append_req(x, q);
                x->asm_len = 0;
                continue;
            }
        }
        if (took == avail || x->npending >= MAX_PENDING)
            break;
        while (x->asm_len < want && took < avail)
            x->asm_buf[x->asm_len++] = (uint8_t)r->req[MASK_XENSTORE_IDX(cons + took++)];
    }
    if (took || cons != r->req_cons) {
        __atomic_store_n(&r->req_cons, cons + took, __ATOMIC_RELEASE);
        notify = true;
    }

    /* Replies. */
    XENSTORE_RING_IDX rprod = r->rsp_prod;
    XENSTORE_RING_IDX rcons = __atomic_load_n(&r->rsp_cons, __ATOMIC_ACQUIRE);
    uint32_t used = rprod - rcons;
    size_t space = used > XENSTORE_RING_SIZE ? 0 : XENSTORE_RING_SIZE - used;
    size_t n = x->to_guest_len < space ? x->to_guest_len : space;
    for (size_t i = 0; i < n; i++)
        r->rsp[MASK_XENSTORE_IDX(rprod + i)] = (char)x->to_guest[i];
    if (n) {
        memmove(x->to_guest, x->to_guest + n, x->to_guest_len - n);
        x->to_guest_len -= n;
        __atomic_store_n(&r->rsp_prod, rprod + (uint32_t)n, __ATOMIC_RELEASE);
        notify = true;
    }
    /* Our index and data writes: one page, marked once (memory/dirty.h). */
    if (notify)
        gmem_mark_dirty(&x->d->mem, XENSTORE_RING_GPA, GMEM_PAGE_SIZE);
    return notify;
}

static void service(struct xs_relay *x)
{
    struct domain *d = x->d;
    /* Round again while something moved: the ring took replies (room for
     * more), gave requests, or the relay answered some itself. */
    for (int round = 0; round < 8; round++) {
        size_t before = x->to_guest_len + x->npending + x->from_len;
        deliver(x);
        pthread_mutex_lock(&d->lock);
        if (pump_ring(x))
            backend_notify_locked(&x->backend);
        pthread_mutex_unlock(&d->lock);
        if (x->link == LINK_UP)
            send_requests(x);
        emit_local(x);
        if (x->to_guest_len + x->npending + x->from_len == before)
            break;
    }
    watch_socket(x);
}

static void pump(void *opaque)
{
    service(opaque);
}

int xs_relay_init(struct domain *d, const char *socket_path)
{
    /* Its buffers (a few KiB each) are mostly never written. */
    struct xs_relay *x = lazy_pages_alloc(sizeof(*x));
    if (!x)
        return -ENOMEM;
    x->d = d;
    x->track.domid = d->domid;
    x->sock = (struct io_watch){ .fd = -1, .ready = on_sock, .opaque = x };
    x->timer = (struct io_watch){ .fd = -1, .ready = on_timer, .opaque = x };
    x->retry_ms = RETRY_FIRST_MS;
    d->xenstore = x;
    x->ring = gmem_ptr(&d->mem, XENSTORE_RING_GPA, GMEM_PAGE_SIZE);
    memset(x->ring, 0, GMEM_PAGE_SIZE);
    x->ring->connection = XENSTORE_CONNECTED;
    x->ring->server_features = XENSTORE_SERVER_FEATURE_ERROR;
    gmem_mark_dirty(&d->mem, XENSTORE_RING_GPA, GMEM_PAGE_SIZE);

    int rc = backend_init(d, &x->backend, XENON_PORT_XENSTORE, NULL, pump,
                          x);
    if (rc < 0)
        return rc;
    d->hvm_param[HVM_PARAM_STORE_PFN] = XENSTORE_RING_GPA >> GMEM_PAGE_SHIFT;
    d->hvm_param[HVM_PARAM_STORE_EVTCHN] = x->backend.port;
    if (!socket_path)
        return 0;

    /* The first attachment is waited for: a domain does not start without
     * its xenstore. Later ones are made from the I/O loop. */
    x->path = strdup(socket_path);
    x->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (!x->path || x->timer.fd < 0 || ioloop_add(&x->timer, EPOLLIN) < 0)
        return -ENOMEM;
    int fd = open_socket(socket_path, 0);
    if (fd < 0) {
        log_err("xenstored at %s: %s", socket_path, strerror(-fd));
        return fd;
    }
    uint8_t req[HDR_LEN + 48];
    int len = attach_request(x, req, sizeof(req));
    struct xsd_sockmsg rep;
    char body[XENSTORE_PAYLOAD_MAX];
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int ready = len < 0 || write_full(fd, req, (size_t)len) < 0 ? -1 : 0;
    while (ready == 0 && (ready = poll(&p, 1, 5000)) < 0 && errno == EINTR)
        ready = 0;
    if (ready != 1 ||
        read_full(fd, &rep, sizeof(rep)) < 0 || rep.len > sizeof(body) ||
        read_full(fd, body, rep.len) < 0) {
        close(fd);
        log_err("xenstored at %s: %s", socket_path, strerror(EPROTO));
        return -EPROTO;
    }
    if (rep.type != XS_CONTROL) {
        log_err("xenstored refused ring-attach for dom%u: %.*s", d->domid,
                (int)rep.len, body);
        close(fd);
        return -EPERM;
    }
    x->sock.fd = fd;
    link_up(x);
    watch_socket(x);
    return 0;
}

void xs_relay_fini(struct domain *d)
{
    struct xs_relay *x = d->xenstore;
    if (!x)
        return;
    if (x->sock.fd >= 0)
        close(x->sock.fd);
    if (x->timer.fd >= 0)
        close(x->timer.fd);
    backend_fini(&x->backend);
    while (x->head)
        unlink_req(x, &x->head);
    xs_track_fini(&x->track);
    free(x->path);
    lazy_pages_free(x, sizeof(*x));
    d->xenstore = NULL;
}

/* ---- saved state (xs_relay_state.c) ---- */

int xs_relay_save_watches(struct domain *d, uint8_t **out, size_t *len)
{
    struct xs_relay *x = d->xenstore;
    if (!x)
        return -ENODEV;
    return xs_track_save_watches(&x->track, out, len);
}

static void restore_watch(void *ctx, const void *payload, size_t len)
{
    struct xs_relay *x = ctx;
    if (xs_track_has_watch(&x->track, payload, len))
        return;
    struct req *r = watch_req(payload, len);
    if (r)
        append_req(x, r);
}

int xs_relay_restore_watches(struct domain *d, const uint8_t *p, size_t len)
{
    struct xs_relay *x = d->xenstore;
    if (!x)
        return -ENODEV;
    int rc = xs_track_load_watches(p, len, restore_watch, x);
    /* Sent from the I/O loop: the caller may hold the domain lock, which
     * the relay's service takes. The backend's wake-up is the guest's own
     * kick of the port. */
    if (rc == 0 && x->backend.wake.fd >= 0)
        (void)!eventfd_write(x->backend.wake.fd, 1);
    return rc;
}
