/*
 * Xen vCPU timers: the single-shot timer (set_timer_op, VCPUOP_set_
 * singleshot_timer) and the periodic timer. Each is a timerfd the I/O loop
 * watches; on expiry VIRQ_TIMER is sent to the vCPU. Times are Xen system
 * time in ns; 0 stops the timer. Call with d->lock held.
 */
#ifndef XENON_TIMER_H
#define XENON_TIMER_H

#include <stdint.h>

struct vcpu;
struct domain;

int timer_init(struct vcpu *v);
void timer_set_oneshot(struct vcpu *v, uint64_t deadline_ns);
void timer_set_periodic(struct vcpu *v, uint64_t period_ns);
/* The I/O loop calls this when a timer fd is readable. */
void timer_expired(struct vcpu *v, int fd);

#endif
