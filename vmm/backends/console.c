#include "console.h"
#include "backend.h"
#include "byteq.h"
#include "dirty.h"
#include "domain.h"
#include "ioloop.h"
#include "layout.h"
#include "stdout_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <xen/io/console.h>

#include "log.h"
#include "util.h"

#define MAX_CLIENTS 8
#define CONSOLE_RING_GPA \
    (LAYOUT_SPECIAL_START + SPECIAL_CONSOLE * GMEM_PAGE_SIZE)

struct console_backend {
    struct domain *d;
    struct backend backend;     /* port and wake-up */
    struct xencons_interface *ring;
    struct io_watch input;      /* stdin */
    struct io_watch listen;
    struct io_watch client[MAX_CLIENTS];
    unsigned nr_clients;
    struct byteq replay;        /* output no client has seen yet */
    struct logfile log;
    bool has_log;
    bool stdio;
    bool emitted;               /* any output yet (launch trace) */
    char *socket_path;
};

/* A send finds work only when the guest left output in the ring. */
static bool has_output(void *opaque)
{
    struct console_backend *c = opaque;
    return __atomic_load_n(&c->ring->out_prod, __ATOMIC_ACQUIRE) != c->ring->out_cons;
}

static void drop_client(struct console_backend *c, struct io_watch *w)
{
    ioloop_del(w);
    close(w->fd);
    w->fd = -1;
    c->nr_clients--;
}

/* A client that cannot keep up loses output rather than stall us. */
static void send_client(struct console_backend *c, struct io_watch *w,
                        const char *buf, size_t n)
{
    if (send(w->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN)
        drop_client(c, w);
}

static void emit(struct console_backend *c, const char *buf, size_t n)
{
    if (!c->emitted) {
        c->emitted = true;
        domain_trace_launch(c->d, "first-console-byte");
    }
    if (c->has_log)
        logfile_write(&c->log, buf, n);
    if (c->stdio)
        stdout_sink_write(buf, n);
    if (!c->nr_clients) {
        byteq_push_latest(&c->replay, buf, n);
        return;
    }
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (c->client[i].fd >= 0)
            send_client(c, &c->client[i], buf, n);
}

/* Drain the guest's output ring. Indices are guest-controlled: never read
 * more than the ring holds. */
static void drain_output(void *opaque)
{
    struct console_backend *c = opaque;
    char buf[sizeof(c->ring->out)];
    struct domain *d = c->d;
    pthread_mutex_lock(&d->lock);
    XENCONS_RING_IDX cons = c->ring->out_cons;
    XENCONS_RING_IDX prod = __atomic_load_n(&c->ring->out_prod, __ATOMIC_ACQUIRE);
    uint32_t avail = prod - cons;
    if (avail > sizeof(c->ring->out)) {
        cons = prod - (uint32_t)sizeof(c->ring->out);
        avail = sizeof(c->ring->out);
    }
    for (uint32_t i = 0; i < avail; i++)
        buf[i] = c->ring->out[MASK_XENCONS_IDX(cons + i, c->ring->out)];
    __atomic_store_n(&c->ring->out_cons, prod, __ATOMIC_RELEASE);
    gmem_mark_dirty(&d->mem, CONSOLE_RING_GPA, GMEM_PAGE_SIZE);
    if (avail)
        backend_notify_locked(&c->backend);
    pthread_mutex_unlock(&d->lock);
    if (avail)
        emit(c, buf, avail);
}

static void feed_input(struct console_backend *c, const char *buf, size_t n)
{
    struct domain *d = c->d;
    pthread_mutex_lock(&d->lock);
    XENCONS_RING_IDX prod = c->ring->in_prod;
    XENCONS_RING_IDX cons = __atomic_load_n(&c->ring->in_cons, __ATOMIC_ACQUIRE);
    size_t space = sizeof(c->ring->in) - (uint32_t)(prod - cons);
    if (space > sizeof(c->ring->in))
        space = 0;      /* the guest corrupted the indices */
    if (n > space)
        n = space;      /* the rest is dropped, as a full UART would */
    for (size_t i = 0; i < n; i++)
        c->ring->in[MASK_XENCONS_IDX(prod + i, c->ring->in)] = buf[i];
    __atomic_store_n(&c->ring->in_prod, prod + (uint32_t)n, __ATOMIC_RELEASE);
    gmem_mark_dirty(&d->mem, CONSOLE_RING_GPA, GMEM_PAGE_SIZE);
    if (n)
        backend_notify_locked(&c->backend);
    pthread_mutex_unlock(&d->lock);
}

static void on_input(struct io_watch *w, uint32_t events)
{
    struct console_backend *c = w->opaque;
    char buf[512];
    ssize_t n = read(w->fd, buf, sizeof(buf));
    if (n > 0) {
        feed_input(c, buf, (size_t)n);
        return;
    }
    if (n < 0 && errno == EAGAIN)
        return;
    if (w != &c->input) {
        drop_client(c, w);
        return;
    }
    ioloop_del(w);
    w->fd = -1;
}

/* Take one pending connection; false when there is none. */
static bool accept_one(struct console_backend *c)
{
    int fd = accept4(c->listen.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return false;
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (c->client[i].fd >= 0)
            continue;
        struct io_watch *w = &c->client[i];
        *w = (struct io_watch){ .fd = fd, .ready = on_input, .opaque = c };
        ioloop_add(w, EPOLLIN);
        c->nr_clients++;
        /* What the guest printed while no one watched. */
        char buf[4096];
        size_t n;
        while (w->fd >= 0 && (n = byteq_pop(&c->replay, buf, sizeof(buf))) > 0)
            send_client(c, w, buf, n);
        return true;
    }
    close(fd);      /* too many clients */
    return true;
}

static void on_accept(struct io_watch *w, uint32_t events)
{
    accept_one(w->opaque);
}

static int open_socket(struct console_backend *c, const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path)) {
        log_err("console socket path too long: %s", path);
        return -ENAMETOOLONG;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    unlink(path);
    /* Whoever connects can type into the guest: the socket is 0600 from
     * the moment it exists, whatever our caller's umask. No other thread
     * runs yet, so the process-wide umask can be borrowed. */
    mode_t old_mask = umask(0177);
    int bound = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old_mask);
    if (bound < 0 || listen(fd, 4) < 0) {
        int e = errno;
        log_err("console socket %s: %s", path, strerror(e));
        close(fd);
        return -e;
    }
    c->socket_path = strdup(path);
    c->listen = (struct io_watch){ .fd = fd, .ready = on_accept, .opaque = c };
    return ioloop_add(&c->listen, EPOLLIN);
}

int console_init(struct domain *d, const struct console_opts *o)
{
    struct console_backend *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->d = d;
    c->log.fd = -1;
    c->listen.fd = c->input.fd = -1;
    for (int i = 0; i < MAX_CLIENTS; i++)
        c->client[i].fd = -1;
    d->console = c;

    c->ring = gmem_ptr(&d->mem, CONSOLE_RING_GPA, GMEM_PAGE_SIZE);
    memset(c->ring, 0, GMEM_PAGE_SIZE);
    gmem_mark_dirty(&d->mem, CONSOLE_RING_GPA, GMEM_PAGE_SIZE);

    int rc = backend_init(d, &c->backend, XENON_PORT_CONSOLE, has_output,
                          drain_output, c);
    if (rc < 0)
        return rc;
    d->hvm_param[HVM_PARAM_CONSOLE_PFN] = CONSOLE_RING_GPA >> GMEM_PAGE_SHIFT;
    d->hvm_param[HVM_PARAM_CONSOLE_EVTCHN] = c->backend.port;

    if (byteq_init(&c->replay, CONSOLE_REPLAY_SIZE) < 0)
        return -ENOMEM;
    if (o->log_path) {
        rc = logfile_open(&c->log, o->log_path, &o->log_limits);
        if (rc < 0) {
            log_err("console log %s: %s", o->log_path, strerror(-rc));
            return rc;
        }
        c->has_log = true;
    }
    if (o->socket_path && (rc = open_socket(c, o->socket_path)) < 0)
        return rc;
    c->stdio = o->stdio;
    if (o->stdio) {
        fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
        c->input = (struct io_watch){ .fd = STDIN_FILENO, .ready = on_input, .opaque = c };
        if (ioloop_add(&c->input, EPOLLIN) < 0)
            c->input.fd = -1;   /* stdin is a file or closed: output only */
    }
    return 0;
}

void console_drain(struct domain *d)
{
    if (d->console)
        drain_output(d->console);
}

void console_fini(struct domain *d)
{
    struct console_backend *c = d->console;
    if (!c)
        return;
    /* A client that connected while the guest ran its last steps (xl
     * create -c of a short-lived guest) still gets all of its output. */
    while (c->listen.fd >= 0 && accept_one(c))
        ;
    drain_output(c);    /* whatever the guest wrote last */
    if (c->has_log)
        logfile_close(&c->log);
    byteq_fini(&c->replay);
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (c->client[i].fd >= 0)
            close(c->client[i].fd);
    if (c->listen.fd >= 0)
        close(c->listen.fd);
    if (c->socket_path) {
        unlink(c->socket_path);
        free(c->socket_path);
    }
    backend_fini(&c->backend);
    free(c);
    d->console = NULL;
}
