#include "backend.h"
#include "domain.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* The guest sent on our port (vCPU thread, domain lock held). */
static void on_send(void *opaque)
{
    struct backend *b = opaque;
    if (b->has_work && !b->has_work(b->opaque))
        return;
    if (__atomic_exchange_n(&b->wake_pending, true, __ATOMIC_ACQ_REL))
        return;
    uint64_t one = 1;
    if (write(b->wake.fd, &one, sizeof(one)) < 0) {
        /* Only a saturated counter fails: the loop is awake anyway. */
    }
}

static void on_wake(struct io_watch *w, uint32_t events)
{
    struct backend *b = w->opaque;
    uint64_t n;
    if (read(w->fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        return;
    __atomic_store_n(&b->wake_pending, false, __ATOMIC_RELEASE);
    b->service(b->opaque);
}

int backend_init(struct domain *d, struct backend *b, uint32_t port,
                 bool (*has_work)(void *), void (*service)(void *),
                 void *opaque)
{
    *b = (struct backend){ .d = d, .has_work = has_work, .service = service,
                           .opaque = opaque };
    b->wake = (struct io_watch){
        .fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), .ready = on_wake, .opaque = b,
    };
    if (b->wake.fd < 0)
        return -errno;
    int rc = ioloop_add(&b->wake, EPOLLIN);
    if (rc < 0)
        return rc;
    b->be = (struct evtchn_backend){ .notify = on_send, .opaque = b };
    pthread_mutex_lock(&d->lock);
    int bound = port ? evtchn_bind_backend(d, port, &b->be)
                     : evtchn_alloc_backend(d, &b->be);
    pthread_mutex_unlock(&d->lock);
    if (bound < 0)
        return port ? -EBUSY : -ENOSPC;
    b->port = (uint32_t)bound;
    return 0;
}

void backend_fini(struct backend *b)
{
    if (b->wake.fd >= 0) {
        ioloop_del(&b->wake);
        close(b->wake.fd);
        b->wake.fd = -1;
    }
}
