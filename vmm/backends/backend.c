#include "backend.h"
#include "domain.h"

#include <errno.h>
#include <sys/epoll.h>
#include <xen/errno.h>

static void on_wake(struct io_watch *w, uint32_t events)
{
    struct backend *b = w->opaque;
    if (evtchn_be_consume(&b->chan))
        b->service(b->opaque);
}

int backend_init(struct domain *d, struct backend *b, uint32_t port,
                 bool (*has_work)(void *), void (*service)(void *),
                 void *opaque)
{
    *b = (struct backend){ .d = d, .service = service, .opaque = opaque };
    b->wake.fd = -1;
    int rc = evtchn_be_alloc(&b->chan, d, 0, port, has_work, opaque);
    if (rc < 0)
        return rc == -XEN_ENOMEM ? -ENOMEM : rc == -XEN_EBUSY ? -EBUSY : -ENOSPC;
    b->port = b->chan.hook.guest_port;
    b->wake = (struct io_watch){ .fd = b->chan.fd, .ready = on_wake, .opaque = b };
    rc = ioloop_add(&b->wake, EPOLLIN);
    if (rc < 0) {
        evtchn_be_unbind(&b->chan);
        b->wake.fd = -1;
    }
    return rc;
}

int backend_bind(struct domain *d, struct backend *b, uint32_t guest_port,
                 bool (*has_work)(void *), void (*service)(void *),
                 void *opaque)
{
    *b = (struct backend){ .d = d, .service = service, .opaque = opaque };
    b->wake.fd = -1;
    int rc = evtchn_be_bind(&b->chan, d, 0, guest_port, has_work, opaque);
    if (rc < 0)
        return rc == -XEN_ENOMEM ? -ENOMEM : -EINVAL;
    b->port = guest_port;
    b->wake = (struct io_watch){ .fd = b->chan.fd, .ready = on_wake, .opaque = b };
    rc = ioloop_add(&b->wake, EPOLLIN);
    if (rc < 0) {
        evtchn_be_unbind(&b->chan);
        b->wake.fd = -1;
    }
    return rc;
}

void backend_fini(struct backend *b)
{
    if (b->wake.fd >= 0) {
        ioloop_del(&b->wake);
        b->wake.fd = -1;
    }
    evtchn_be_unbind(&b->chan);
}

void backend_notify_locked(struct backend *b)
{
    evtchn_be_notify_locked(&b->chan);
}
