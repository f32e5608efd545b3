/*
 * Pausing a domain's vCPUs without stopping the process: the console, the
 * xenstore relay, timers and the control channel go on being served by the
 * I/O thread while no vCPU runs guest code (as under Xen, where pausing a
 * domain deschedules its vCPUs and leaves its backends alone).
 *
 * A vCPU thread stops at the top of its run loop (platform/vcpu.c,
 * park_if_needed) while the domain is held (built, waiting for the
 * toolstack's GO) or paused. A vCPU counts as stopped when it is parked
 * there, blocked in SCHEDOP_block/poll (it can only return to the guest
 * through the loop top), or its thread has ended.
 */
#ifndef XENON_PAUSE_H
#define XENON_PAUSE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct domain;
struct vcpu;

struct pause_state {               /* guarded by d->lock */
    bool held;                     /* waiting for GO (--hold) */
    bool paused;                   /* by the toolstack (or --paused) */
    uint64_t paused_at_ns;         /* CLOCK_MONOTONIC when all had stopped
                                    * (PAUSE), 0 while running */
    pthread_cond_t stopped;        /* a vCPU parked or ended (CLOCK_MONOTONIC) */
};

void pause_init(struct domain *d, bool held, bool paused);

/* Whether vCPUs must stay parked. Call with d->lock held. */
static inline bool pause_holds(const struct pause_state *p)
{
    return p->held || p->paused;
}

/* From a vCPU thread, d->lock held: it parked, or its thread ends. */
void pause_note_stopped(struct vcpu *v);

/* Stop every vCPU and wait until each is stopped (see above), at most
 * timeout_ms: 0, or -ETIMEDOUT (the domain stays marked paused; a later
 * pause waits again). Idempotent. From the I/O thread. */
int pause_domain(struct domain *d, unsigned timeout_ms);

/* Let the vCPUs run again (they stay held until GO). */
void unpause_domain(struct domain *d);

/* GO: end the hold. The vCPUs run unless the domain is paused. */
void pause_release_hold(struct domain *d);

/* Whether every vCPU is stopped. Call with d->lock held. */
bool pause_all_stopped(struct domain *d);

#endif
