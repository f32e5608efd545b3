#include "console.h"
#include "backend.h"
#include "domain.h"
#include "ioloop.h"
#include "layout.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <xen/io/console.h>

#include "log.h"
#include "util.h"

#define MAX_CLIENTS 8

struct console_backend {
    struct domain *d;
    struct backend backend;     /* port and wake-up */
    struct xencons_interface *ring;
    struct io_watch input;      /* stdin */
    struct io_watch listen;
    struct io_watch client[MAX_CLIENTS];
    int log_fd;
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

static void emit(struct console_backend *c, const char *buf, size_t n)
{
    if (!c->emitted) {
        c->emitted = true;
        domain_trace_launch(c->d, "first-console-byte");
    }
    if (c->log_fd >= 0)
        write_full(c->log_fd, buf, n);
    if (c->stdio)
        write_full(STDOUT_FILENO, buf, n);
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (c->client[i].fd < 0)
            continue;
        /* A client that cannot keep up loses output rather than stall us. */
        if (send(c->client[i].fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
            errno != EAGAIN) {
            ioloop_del(&c->client[i]);
            close(c->client[i].fd);
            c->client[i].fd = -1;
        }
    }
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
    ioloop_del(w);
    if (w != &c->input)
        close(w->fd);
    w->fd = -1;
}

static void on_accept(struct io_watch *w, uint32_t events)
{
    struct console_backend *c = w->opaque;
    int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (c->client[i].fd >= 0)
            continue;
        c->client[i] = (struct io_watch){ .fd = fd, .ready = on_input, .opaque = c };
        ioloop_add(&c->client[i], EPOLLIN);
        return;
    }
    close(fd);      /* too many clients */
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
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
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
    c->log_fd = -1;
    c->listen.fd = c->input.fd = -1;
    for (int i = 0; i < MAX_CLIENTS; i++)
        c->client[i].fd = -1;
    d->console = c;

    uint64_t gpa = LAYOUT_SPECIAL_START + SPECIAL_CONSOLE * GMEM_PAGE_SIZE;
    c->ring = gmem_ptr(&d->mem, gpa, GMEM_PAGE_SIZE);
    memset(c->ring, 0, GMEM_PAGE_SIZE);

    int rc = backend_init(d, &c->backend, XENON_PORT_CONSOLE, has_output,
                          drain_output, c);
    if (rc < 0)
        return rc;
    d->hvm_param[HVM_PARAM_CONSOLE_PFN] = gpa >> GMEM_PAGE_SHIFT;
    d->hvm_param[HVM_PARAM_CONSOLE_EVTCHN] = c->backend.port;

    if (o->log_path) {
        c->log_fd = open(o->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (c->log_fd < 0) {
            int e = errno;
            log_err("console log %s: %s", o->log_path, strerror(e));
            return -e;
        }
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

void console_fini(struct domain *d)
{
    struct console_backend *c = d->console;
    if (!c)
        return;
    drain_output(c);    /* whatever the guest wrote last */
    if (c->log_fd >= 0)
        close(c->log_fd);
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
