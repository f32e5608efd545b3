/*
 * Xen vCPU timers: the single-shot timer (set_timer_op, VCPUOP_set_
 * singleshot_timer) and the periodic timer. Each is a timerfd the I/O loop
 * watches; on expiry VIRQ_TIMER is sent to the vCPU. Times are Xen system
 * time in ns; 0 stops the timer. The vCPU keeps what it armed
 * (oneshot_deadline, periodic_ns) for saved state. Call with d->lock held.
 */
#ifndef XENON_TIMER_H
#define XENON_TIMER_H

#include <stdint.h>

struct vcpu;
struct domain;

int timer_init(struct vcpu *v);
/* Close the timerfds (the in-memory platform's domains). */
void timer_fini(struct vcpu *v);
void timer_set_oneshot(struct vcpu *v, uint64_t deadline_ns);
void timer_set_periodic(struct vcpu *v, uint64_t period_ns);
/* Re-arm the periodic timer with its next tick next_ns from now (a
 * restore); next_ns 0 ticks at once. */
void timer_restart_periodic(struct vcpu *v, uint64_t next_ns, uint64_t period_ns);
/* Time to the periodic timer's next tick, in ns; 0 when stopped. */
uint64_t timer_periodic_next(const struct vcpu *v);
/* The CLOCK_MONOTONIC time of a system-time deadline (now if it is past,
 * capped far ahead for an absurd one). */
uint64_t timer_monotonic_deadline(const struct domain *d, uint64_t deadline);
/* The I/O loop calls this when a timer fd is readable. */
void timer_expired(struct vcpu *v, int fd);

#endif
