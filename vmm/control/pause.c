/* See pause.h. */
#include "pause.h"
#include "domain.h"
#include "platform.h"

#include <errno.h>
#include <time.h>

#include "util.h"

void pause_init(struct domain *d, bool held, bool paused)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&d->pause.stopped, &a);
    pthread_condattr_destroy(&a);
    d->pause.held = held;
    d->pause.paused = paused;
}

static bool vcpu_stopped(const struct vcpu *v)
{
    return !platform_vcpu_started(v) || v->parked || v->blocked || v->exited;
}

void pause_note_stopped(struct vcpu *v)
{
    struct domain *d = v->d;
    pthread_cond_broadcast(&d->pause.stopped);
    /* A guest that suspended itself is reported suspended once none of
     * its vCPUs runs (contract.h): the I/O loop looks again then. */
    if (d->suspended && !d->suspend_noticed && pause_all_stopped(d))
        domain_wake_io(d);
}

bool pause_all_stopped(struct domain *d)
{
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        if (!vcpu_stopped(&d->vcpu[i]))
            return false;
    return true;
}

/* A vCPU that enters SCHEDOP_block after the first look does not signal
 * `stopped`, so the wait looks again every RECHECK_NS; this costs only
 * while a pause call waits. */
#define RECHECK_NS 5000000ull

int pause_domain(struct domain *d, unsigned timeout_ms)
{
    pthread_mutex_lock(&d->lock);
    d->pause.paused = true;
    pthread_mutex_unlock(&d->lock);
    /* Out of KVM_RUN: each vCPU then parks at its loop top. */
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        platform_kick(&d->vcpu[i]);
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
    int rc = 0;
    pthread_mutex_lock(&d->lock);
    while (!pause_all_stopped(d)) {
        uint64_t now = now_ns();
        if (now >= deadline) {
            rc = -ETIMEDOUT;
            break;
        }
        uint64_t until = now + RECHECK_NS < deadline ? now + RECHECK_NS : deadline;
        struct timespec ts = { .tv_sec = (time_t)(until / 1000000000ull),
                               .tv_nsec = (long)(until % 1000000000ull) };
        pthread_cond_timedwait(&d->pause.stopped, &d->lock, &ts);
    }
    if (rc == 0 && !d->pause.paused_at_ns)
        d->pause.paused_at_ns = now_ns();
    pthread_mutex_unlock(&d->lock);
    return rc;
}

/* The parked vCPUs, and the blocked ones (which stay blocked while the
 * domain is paused or held: xen/hc_sched.c). */
static void wake_all(struct domain *d)
{
    pthread_cond_broadcast(&d->event_cond);
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        pthread_cond_broadcast(&d->vcpu[i].wake);
}

void unpause_domain(struct domain *d)
{
    pthread_mutex_lock(&d->lock);
    d->pause.paused = false;
    d->pause.paused_at_ns = 0;
    wake_all(d);
    pthread_mutex_unlock(&d->lock);
}

void pause_release_hold(struct domain *d)
{
    pthread_mutex_lock(&d->lock);
    d->pause.held = false;
    wake_all(d);
    pthread_mutex_unlock(&d->lock);
}
