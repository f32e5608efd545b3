/* libFuzzer target: the xenstore relay (vmm/backends/xs_relay.c) between
 * a hostile guest ring and a hostile daemon socket, through restarts.
 * The backend and I/O loop are stubbed: the harness calls the relay's
 * callbacks itself. The input is a list of operations:
 *   0 N bytes   the guest puts N bytes in its request ring, kicks
 *   1 N bytes   the daemon sends N bytes, the socket is readable
 *   2           the guest takes every reply from its ring
 *   3 R         the daemon goes away; the retry timer fires; the new
 *               daemon answers ring-attach with OK, EPROTO or EEXIST (R)
 *   4 I         the guest sets its ring indices to nonsense (I)
 *   5           the socket is writable
 *   6 N bytes   a saved record of watches is restored (xs_relay_state.c);
 *               then the relay's own record must be one it accepts
 * The relay must never overrun a buffer, leak, or put more in the
 * response ring than it has room for. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>

#include "dirty.h"
#include "backend.h"
#include "domain.h"
#include "ioloop.h"
#include "log.h"
#include "xs_relay.h"

/* ---- stubs of what the relay runs on ---- */

static uint8_t page[4096] __attribute__((aligned(4096)));
static void (*service_fn)(void *);
static void *service_arg;
static struct io_watch *timer_w, *sock_w;

void *gmem_ptr(const struct gmem *gm, uint64_t gpa, uint64_t len)
{
    (void)gm;
    (void)gpa;
    return len <= sizeof(page) ? page : NULL;
}

/* The VMM's dirty log (memory/dirty.h): nothing is being migrated here. */
void gmem_mark_dirty(const struct gmem *gm, uint64_t gpa, uint64_t len)
{
    (void)gm;
    (void)gpa;
    (void)len;
}

int backend_init(struct domain *d, struct backend *b, uint32_t port,
                 bool (*has_work)(void *), void (*service)(void *),
                 void *opaque)
{
    (void)has_work;
    b->d = d;
    b->wake.fd = -1;        /* no wake-up: the harness calls service */
    b->port = port;
    service_fn = service;
    service_arg = opaque;
    return 0;
}

void backend_fini(struct backend *b)
{
    (void)b;
}

void backend_notify_locked(struct backend *b)
{
    (void)b;
}

int ioloop_add(struct io_watch *w, uint32_t events)
{
    (void)events;
    if (!timer_w)
        timer_w = w;        /* the relay adds its timer first */
    else
        sock_w = w;
    return 0;
}

int ioloop_mod(struct io_watch *w, uint32_t events)
{
    (void)w;
    (void)events;
    return 0;
}

void ioloop_del(struct io_watch *w)
{
    (void)w;
}

/* ---- the fake daemon ---- */

static int listener = -1;
static char sock_path[108];

static void setup(void)
{
    log_init("fuzz-xs-relay", NULL, LOG_ERR);
    snprintf(sock_path, sizeof(sock_path), "/tmp/fuzz-xs-relay-%d.sock", (int)getpid());
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    strcpy(sa.sun_path, sock_path);
    unlink(sock_path);
    listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(listener, 16) < 0)
        abort();
}

/* Accept the relay's connection, read its ring-attach, answer `answer`. */
static int accept_attach(const char *answer, uint32_t type, bool block)
{
    int fl = fcntl(listener, F_GETFL);
    fcntl(listener, F_SETFL, block ? fl & ~O_NONBLOCK : fl | O_NONBLOCK);
    int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return -1;
    struct xsd_sockmsg h;
    char body[64];
    if (read(fd, &h, sizeof(h)) != sizeof(h) || h.type != XS_CONTROL ||
        h.len > sizeof(body) || read(fd, body, h.len) != (ssize_t)h.len ||
        memcmp(body, "ring-attach", 12) != 0)
        abort();        /* the relay always attaches first, whole */
    struct xsd_sockmsg r = { .type = type, .len = (uint32_t)strlen(answer) + 1 };
    if (send(fd, &r, sizeof(r), MSG_NOSIGNAL) != sizeof(r) ||
        send(fd, answer, r.len, MSG_NOSIGNAL) != (ssize_t)r.len) {
        close(fd);      /* the relay gave up on this one meanwhile */
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static void *first_attach(void *arg)
{
    *(int *)arg = accept_attach("OK", XS_CONTROL, true);
    return NULL;
}

static void sock_ready(uint32_t events)
{
    if (sock_w && sock_w->fd >= 0)
        sock_w->ready(sock_w, events);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (listener < 0)
        setup();
    struct domain *d = calloc(1, sizeof(*d));
    if (!d)
        return 0;
    d->domid = 5;
    pthread_mutex_init(&d->lock, NULL);
    timer_w = sock_w = NULL;
    int dfd = -1;
    pthread_t t;
    pthread_create(&t, NULL, first_attach, &dfd);
    if (xs_relay_init(d, sock_path) < 0)
        abort();
    pthread_join(t, NULL);
    struct xenstore_domain_interface *ring = (void *)page;

    bool sane = true;       /* the guest's rsp_cons is where it belongs */
    size_t i = 0;
    while (i < size) {
        uint8_t op = data[i++] % 7;
        size_t n = 0;
        if (op != 2 && op != 5 && i < size)
            n = data[i++];
        if (op == 0) {
            n = n < size - i ? n : size - i;
            XENSTORE_RING_IDX prod = ring->req_prod;
            uint32_t room = XENSTORE_RING_SIZE - (prod - ring->req_cons);
            if (room > XENSTORE_RING_SIZE)
                room = 0;
            if (n > room)
                n = room;
            for (size_t k = 0; k < n; k++)
                ring->req[MASK_XENSTORE_IDX(prod + k)] = (char)data[i + k];
            ring->req_prod = prod + (uint32_t)n;
            i += n;
            service_fn(service_arg);
        } else if (op == 1) {
            n = n < size - i ? n : size - i;
            if (dfd >= 0)
                (void)!send(dfd, data + i, n, MSG_DONTWAIT | MSG_NOSIGNAL);
            i += n;
            sock_ready(EPOLLIN);
        } else if (op == 2) {
            ring->rsp_cons = ring->rsp_prod;
            sane = true;
            service_fn(service_arg);
        } else if (op == 3) {
            if (dfd >= 0)
                close(dfd);
            dfd = -1;
            sock_ready(EPOLLIN | EPOLLHUP);
            timer_w->ready(timer_w, EPOLLIN);
            static const char *answers[] = { "OK", "EPROTO", "EEXIST" };
            dfd = accept_attach(answers[n % 3], n % 3 ? XS_ERROR : XS_CONTROL, false);
            sock_ready(EPOLLIN);
        } else if (op == 4) {
            ring->req_cons = (XENSTORE_RING_IDX)(n * 0x01010101u);
            ring->rsp_cons = (XENSTORE_RING_IDX)(n * 0x10001u);
            sane = false;
            service_fn(service_arg);
        } else if (op == 6) {
            n = n < size - i ? n : size - i;
            (void)xs_relay_restore_watches(d, data + i, n);
            i += n;
            service_fn(service_arg);
            uint8_t *rec;
            size_t len;
            if (xs_relay_save_watches(d, &rec, &len) == 0) {
                if (xs_relay_restore_watches(d, rec, len) != 0)
                    abort();
                free(rec);
            }
        } else {
            sock_ready(EPOLLOUT);
        }
        /* What the relay put in the response ring fits it. */
        if (sane && ring->rsp_prod - ring->rsp_cons > XENSTORE_RING_SIZE)
            abort();
    }
    xs_relay_fini(d);
    if (dfd >= 0)
        close(dfd);
    /* Connections the relay made and left in the backlog. */
    fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK);
    for (int fd; (fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0;)
        close(fd);
    pthread_mutex_destroy(&d->lock);
    free(d);
    return 0;
}
