/* A backend's end of an event channel (contract in evtchn_backend.h). */
#include "evtchn_backend.h"
#include "domain.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <xen/errno.h>

void evtchn_be_wake(struct evtchn_be *p)
{
    if (!p->d || p->fd < 0)
        return;
    if (__atomic_exchange_n(&p->wake_pending, true, __ATOMIC_ACQ_REL))
        return;
    uint64_t one = 1;
    if (write(p->fd, &one, sizeof(one)) < 0) {
        /* Only a saturated counter fails: the backend is awake anyway. */
    }
}

/* The guest sent on its port (vCPU thread, domain lock held). */
static void on_guest_send(void *opaque)
{
    struct evtchn_be *p = opaque;
    if (p->has_work && !p->has_work(p->opaque))
        return;
    evtchn_be_wake(p);
}

static int prepare(struct evtchn_be *p, struct domain *d, domid_t by,
                   bool (*has_work)(void *), void *opaque)
{
    *p = (struct evtchn_be){ .d = d, .has_work = has_work, .opaque = opaque };
    p->hook = (struct evtchn_backend){ .notify = on_guest_send, .opaque = p,
                                       .domid = by };
    p->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return p->fd < 0 ? -XEN_ENOMEM : 0;
}

static void undo(struct evtchn_be *p)
{
    close(p->fd);
    p->fd = -1;
}

int evtchn_be_bind(struct evtchn_be *p, struct domain *d, domid_t by,
                   uint32_t guest_port, bool (*has_work)(void *),
                   void *opaque)
{
    int rc = prepare(p, d, by, has_work, opaque);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&d->lock);
    rc = evtchn_bind_backend(d, guest_port, &p->hook);
    pthread_mutex_unlock(&d->lock);
    if (rc < 0) {
        undo(p);
        return rc;
    }
    evtchn_be_wake(p);    /* sends to the unbound port may have been lost */
    return 0;
}

int evtchn_be_alloc(struct evtchn_be *p, struct domain *d, domid_t by,
                    uint32_t port, bool (*has_work)(void *), void *opaque)
{
    int rc = prepare(p, d, by, has_work, opaque);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&d->lock);
    rc = port ? evtchn_alloc_backend_at(d, port, &p->hook)
              : evtchn_alloc_backend(d, &p->hook);
    pthread_mutex_unlock(&d->lock);
    if (rc < 0) {
        undo(p);
        return rc;
    }
    return 0;
}

uint32_t evtchn_be_guest_port(struct evtchn_be *p)
{
    pthread_mutex_lock(&p->d->lock);
    uint32_t port = p->hook.guest_port;
    pthread_mutex_unlock(&p->d->lock);
    return port;
}

int evtchn_be_notify_locked(struct evtchn_be *p)
{
    if (!p->d || p->fd < 0)
        return -XEN_EINVAL;
    evtchn_backend_send(p->d, &p->hook);
    return 0;
}

int evtchn_be_notify(struct evtchn_be *p)
{
    if (!p->d)
        return -XEN_EINVAL;
    pthread_mutex_lock(&p->d->lock);
    int rc = evtchn_be_notify_locked(p);
    pthread_mutex_unlock(&p->d->lock);
    return rc;
}

bool evtchn_be_consume(struct evtchn_be *p)
{
    uint64_t n;
    if (!p->d || p->fd < 0)
        return false;
    if (read(p->fd, &n, sizeof(n)) < 0)
        return false;
    /* Cleared after the read: a send from now on writes the fd again. */
    __atomic_store_n(&p->wake_pending, false, __ATOMIC_RELEASE);
    return true;
}

void evtchn_be_unbind(struct evtchn_be *p)
{
    if (!p->d || p->fd < 0)
        return;
    pthread_mutex_lock(&p->d->lock);
    evtchn_unbind_backend(p->d, &p->hook);
    pthread_mutex_unlock(&p->d->lock);
    undo(p);
}
