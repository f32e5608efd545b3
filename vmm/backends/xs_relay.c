#include "xs_relay.h"
#include "backend.h"
#include "domain.h"
#include "ioloop.h"
#include "layout.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>

#include "log.h"
#include "util.h"

#define BUF_SIZE (XENSTORE_RING_SIZE * 8)

struct xs_relay {
    struct domain *d;
    struct backend backend;     /* port and wake-up */
    struct xenstore_domain_interface *ring;
    struct io_watch sock;
    /* Guest requests not yet written to the socket, and daemon replies not
     * yet placed in the ring. */
    uint8_t to_daemon[BUF_SIZE];
    size_t to_daemon_len;
    uint8_t to_guest[BUF_SIZE];
    size_t to_guest_len;
    /* What the socket is watched for: EPOLLIN only while to_guest has
     * room (a guest that leaves replies unread must not make a readable
     * socket wake us forever), EPOLLOUT while to_daemon holds bytes.
     * With neither, the socket is out of the loop (a hang-up would still
     * be reported, and spin us). */
    uint32_t watching;
};

static void watch_socket(struct xs_relay *x)
{
    if (x->sock.fd < 0)
        return;
    uint32_t want = (x->to_guest_len < BUF_SIZE ? EPOLLIN : 0) |
                    (x->to_daemon_len ? EPOLLOUT : 0);
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

/* Move bytes between the ring and our buffers; called with d->lock. */
static bool pump_ring(struct xs_relay *x)
{
    struct xenstore_domain_interface *r = x->ring;
    bool notify = false;

    /* Requests: ring -> to_daemon. Guest-controlled indices are clamped. */
    XENSTORE_RING_IDX cons = r->req_cons;
    XENSTORE_RING_IDX prod = __atomic_load_n(&r->req_prod, __ATOMIC_ACQUIRE);
    uint32_t avail = prod - cons;
    if (avail > XENSTORE_RING_SIZE)
        avail = 0, cons = prod;     /* corrupt indices: drop, resync */
    size_t room = BUF_SIZE - x->to_daemon_len;
    if (avail > room)
        avail = (uint32_t)room;
    for (uint32_t i = 0; i < avail; i++)
        x->to_daemon[x->to_daemon_len++] = (uint8_t)r->req[MASK_XENSTORE_IDX(cons + i)];
    if (avail || cons != r->req_cons) {
        __atomic_store_n(&r->req_cons, cons + avail, __ATOMIC_RELEASE);
        notify = true;
    }

    /* Replies: to_guest -> ring. */
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
    return notify;
}

static void flush_to_daemon(struct xs_relay *x)
{
    while (x->to_daemon_len) {
        ssize_t n = send(x->sock.fd, x->to_daemon, x->to_daemon_len,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n <= 0)
            break;
        memmove(x->to_daemon, x->to_daemon + n, x->to_daemon_len - (size_t)n);
        x->to_daemon_len -= (size_t)n;
    }
}

static void pump(void *opaque)
{
    struct xs_relay *x = opaque;
    struct domain *d = x->d;
    pthread_mutex_lock(&d->lock);
    if (pump_ring(x))
        backend_notify_locked(&x->backend);
    pthread_mutex_unlock(&d->lock);
    if (x->sock.fd >= 0)
        flush_to_daemon(x);
    watch_socket(x);
}

static void on_sock(struct io_watch *w, uint32_t events)
{
    struct xs_relay *x = w->opaque;
    if ((events & (EPOLLHUP | EPOLLERR)) && !(x->watching & EPOLLIN)) {
        /* Gone while we were not reading: what it sent has no room. */
        log_warn("dom%u: xenstored closed the connection", x->d->domid);
        ioloop_del(w);
        x->watching = 0;
        close(w->fd);
        w->fd = -1;
        return;
    }
    if (events & EPOLLIN) {
        size_t room = BUF_SIZE - x->to_guest_len;
        if (room) {
            ssize_t n = recv(w->fd, x->to_guest + x->to_guest_len, room, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN)) {
                log_warn("dom%u: xenstored closed the connection", x->d->domid);
                if (x->watching)
                    ioloop_del(w);
                x->watching = 0;
                close(w->fd);
                w->fd = -1;
                return;
            }
            if (n > 0)
                x->to_guest_len += (size_t)n;
        }
    }
    pump(x);
}

/* Connect and turn the connection into this domain's (see header). */
static int attach(struct xs_relay *x, const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    char payload[32];
    int len = snprintf(payload, sizeof(payload), "ring-attach%c%u", 0, x->d->domid);
    struct xsd_sockmsg hdr = { .type = XS_CONTROL, .len = (uint32_t)len + 1 };
    struct xsd_sockmsg rep;
    char body[XENSTORE_PAYLOAD_MAX];
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (write_full(fd, &hdr, sizeof(hdr)) < 0 ||
        write_full(fd, payload, hdr.len) < 0 ||
        poll(&p, 1, 5000) != 1 ||
        read_full(fd, &rep, sizeof(rep)) < 0 || rep.len > sizeof(body) ||
        read_full(fd, body, rep.len) < 0) {
        close(fd);
        return -EPROTO;
    }
    if (rep.type != XS_CONTROL) {
        log_err("xenstored refused ring-attach for dom%u: %.*s", x->d->domid,
                (int)rep.len, body);
        close(fd);
        return -EPERM;
    }
    x->sock = (struct io_watch){ .fd = fd, .ready = on_sock, .opaque = x };
    x->watching = EPOLLIN;
    return ioloop_add(&x->sock, EPOLLIN);
}

int xs_relay_init(struct domain *d, const char *socket_path)
{
    struct xs_relay *x = calloc(1, sizeof(*x));
    if (!x)
        return -ENOMEM;
    x->d = d;
    x->sock.fd = -1;
    d->xenstore = x;
    uint64_t gpa = LAYOUT_SPECIAL_START + SPECIAL_XENSTORE * GMEM_PAGE_SIZE;
    x->ring = gmem_ptr(&d->mem, gpa, GMEM_PAGE_SIZE);
    memset(x->ring, 0, GMEM_PAGE_SIZE);
    x->ring->connection = XENSTORE_CONNECTED;

    int rc = backend_init(d, &x->backend, XENON_PORT_XENSTORE, NULL, pump,
                          x);
    if (rc < 0)
        return rc;
    d->hvm_param[HVM_PARAM_STORE_PFN] = gpa >> GMEM_PAGE_SHIFT;
    d->hvm_param[HVM_PARAM_STORE_EVTCHN] = x->backend.port;

    if (socket_path) {
        rc = attach(x, socket_path);
        if (rc < 0) {
            log_err("xenstored at %s: %s", socket_path, strerror(-rc));
            return rc;
        }
    }
    return 0;
}

void xs_relay_fini(struct domain *d)
{
    struct xs_relay *x = d->xenstore;
    if (!x)
        return;
    if (x->sock.fd >= 0)
        close(x->sock.fd);
    backend_fini(&x->backend);
    free(x);
    d->xenstore = NULL;
}
