#include "domain.h"
#include "platform.h"

#include <xen/sched.h>

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

void domain_init(struct domain *d, uint32_t domid, unsigned nr_vcpus)
{
    d->domid = domid;
    d->nr_vcpus = nr_vcpus;
    d->wake_fd = -1;
    d->shinfo_gpa = NO_GPA;
    d->hypercall_page_gpa = NO_GPA;
    atomic_init(&d->stopping, false);
    atomic_init(&d->shutdown_reason, -1);
    pthread_mutex_init(&d->lock, NULL);
    /* Deadlines (SCHEDOP_poll) are CLOCK_MONOTONIC, as is system time:
     * a CLOCK_REALTIME wait would take them for long past, and spin. */
    pthread_condattr_t mono;
    pthread_condattr_init(&mono);
    pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);
    pthread_cond_init(&d->event_cond, &mono);
    pthread_condattr_destroy(&mono);
    for (unsigned i = 0; i < nr_vcpus; i++) {
        struct vcpu *v = &d->vcpu[i];
        v->d = d;
        v->id = i;
        v->oneshot_fd = v->periodic_fd = -1;
        v->vcpu_info_gpa = NO_GPA;
        pthread_cond_init(&v->wake, NULL);
    }
    evtchn_init(d);
    grant_mapper_init(&d->grants, d);
}

void domain_wake_io(struct domain *d)
{
    if (d->wake_fd >= 0) {
        uint64_t one = 1;
        if (write(d->wake_fd, &one, sizeof(one)) < 0) {
            /* the loop is already being woken */
        }
    }
}

void domain_shutdown(struct domain *d, int reason)
{
    int expected = -1;
    atomic_compare_exchange_strong(&d->shutdown_reason, &expected, reason);
    atomic_store(&d->stopping, true);
    pthread_cond_broadcast(&d->event_cond);
    for (unsigned i = 0; i < d->nr_vcpus; i++) {
        pthread_cond_broadcast(&d->vcpu[i].wake);
        platform_kick(&d->vcpu[i]);
    }
    domain_wake_io(d);
}

void domain_suspend(struct domain *d, struct vcpu *v)
{
    if (d->suspend_ends) {
        domain_shutdown(d, SHUTDOWN_suspend);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    d->suspended = true;
    d->suspend_noticed = false;
    d->suspend_vcpu = v->id;
    d->pause.paused = true;
    d->pause.paused_at_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    /* The toolstack is told once the last vCPU has stopped
     * (pause_note_stopped). */
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        platform_kick(&d->vcpu[i]);
}

void domain_trace_launch(struct domain *d, const char *event)
{
    if (d->launch_trace)
        fprintf(stderr, "launch: %s %llu\n", event, (unsigned long long)now_ns());
}

void vcpu_kick(struct vcpu *v)
{
    struct domain *d = v->d;
    pthread_cond_broadcast(&d->event_cond);
    if (v->upcall_vector)       /* a LAPIC interrupt, as Xen's vlapic_set_irq() */
        platform_inject_vector(d, v->id, v->upcall_vector);
    else if (d->callback_vector)
        platform_raise_callback(v);
}

long vcpu_bring_up(struct vcpu *v)
{
    if (v->has_init_ctx)
        v->start_pending = true;
    v->up = true;
    v->down = false;
    pthread_cond_broadcast(&v->wake);
    platform_kick(v);
    return 0;
}

long vcpu_take_down(struct vcpu *v, struct vcpu *caller)
{
    v->down = true;
    if (v != caller)
        platform_kick(v);
    return 0;
}
