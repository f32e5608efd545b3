/* sched_op: yield, block, poll and shutdown. */
#include "hypercall.h"
#include "domain.h"
#include "compat32.h"
#include "shinfo.h"
#include "timer.h"

#include <errno.h>
#include <sched.h>
#include <time.h>

#include <xen/errno.h>
#include <xen/sched.h>

#define POLL_MAX_PORTS 128

/* Wait on the domain's event condition until cond() holds, the domain
 * stops, or the absolute system time deadline (0 = none) passes. While
 * the domain is paused or held the vCPU stays blocked whatever happens
 * (unpausing wakes the condition): a paused domain's vCPUs stay stopped
 * until it runs again, so what the toolstack reads from them holds. */
static void wait_event(struct domain *d, uint64_t deadline,
                       bool (*cond)(struct domain *, void *), void *arg)
{
    while (!atomic_load(&d->stopping)) {
        bool held = pause_holds(&d->pause);
        if (!held && cond(d, arg))
            return;
        if (deadline && !held) {
            uint64_t now = domain_system_time(d);
            if (now >= deadline)
                return;
            uint64_t abs = timer_monotonic_deadline(d, deadline);
            struct timespec ts = { .tv_sec = (time_t)(abs / 1000000000ull),
                                   .tv_nsec = (long)(abs % 1000000000ull) };
            pthread_cond_timedwait(&d->event_cond, &d->lock, &ts);
        } else {
            pthread_cond_wait(&d->event_cond, &d->lock);
        }
    }
}

static bool upcall_pending(struct domain *d, void *arg)
{
    return vcpu_upcall_pending(d, arg);
}

struct poll_set {
    uint32_t port[POLL_MAX_PORTS];
    unsigned n;
};

static bool any_pending(struct domain *d, void *arg)
{
    struct poll_set *ps = arg;
    for (unsigned i = 0; i < ps->n; i++)
        if (evtchn_is_pending(d, ps->port[i]))
            return true;
    return false;
}

static long do_poll(struct hcall *h)
{
    struct domain *d = h->d;
    uint64_t ports, timeout;
    uint32_t nr;
    if (h->compat) {
        struct compat_sched_poll p;
        if (guest_read(h, h->arg[1], &p, sizeof(p)))
            return -XEN_EFAULT;
        ports = p.ports; nr = p.nr_ports; timeout = p.timeout;
    } else {
        struct sched_poll p;
        if (guest_read(h, h->arg[1], &p, sizeof(p)))
            return -XEN_EFAULT;
        ports = (uintptr_t)p.ports.p; nr = p.nr_ports; timeout = p.timeout;
    }
    if (nr > POLL_MAX_PORTS)
        return -XEN_EINVAL;
    struct poll_set ps = { .n = nr };
    if (guest_read(h, ports, ps.port, nr * sizeof(uint32_t)))
        return -XEN_EFAULT;
    for (unsigned i = 0; i < nr; i++)
        if (ps.port[i] >= evtchn_max_ports(d))
            return -XEN_EINVAL;
    h->v->blocked = true;
    wait_event(d, timeout, any_pending, &ps);
    h->v->blocked = false;
    return 0;
}

long hc_sched_op(struct hcall *h)
{
    struct domain *d = h->d;
    switch (h->arg[0]) {
    case SCHEDOP_yield:
        pthread_mutex_unlock(&d->lock);
        sched_yield();
        pthread_mutex_lock(&d->lock);
        return 0;
    case SCHEDOP_block:
        h->v->blocked = true;
        wait_event(d, 0, upcall_pending, h->v);
        h->v->blocked = false;
        return 0;
    case SCHEDOP_poll:
        return do_poll(h);
    case SCHEDOP_shutdown: {
        struct sched_shutdown s;
        if (guest_read(h, h->arg[1], &s, sizeof(s)))
            return -XEN_EFAULT;
        /* As Xen: the reason is taken as a byte and any value is
         * accepted; main() keeps an undefined one from passing for a
         * defined exit status. */
        if ((uint8_t)s.reason == SHUTDOWN_suspend) {
            /* As Xen: the domain stops, and the toolstack saves it
             * (hypercalls run with d->lock held). */
            domain_suspend(d, h->v);
            return 0;
        }
        domain_shutdown(d, (int)(uint8_t)s.reason);
        return 0;
    }
    case SCHEDOP_shutdown_code: {
        struct sched_shutdown s;
        if (guest_read(h, h->arg[1], &s, sizeof(s)))
            return -XEN_EFAULT;
        d->shutdown_code = (int)(uint8_t)s.reason;
        return 0;
    }
    case SCHEDOP_remote_shutdown:
        return -XEN_EPERM;          /* for the control domain only */
    default:
        hcall_log_enosys(h, "sched_op", (unsigned)h->arg[0]);
        return -XEN_ENOSYS;
    }
}
