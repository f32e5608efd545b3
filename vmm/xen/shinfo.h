/*
 * The shared info page and vcpu_info structures, in the layout the guest
 * latched (64-bit or 32-bit, as Xen decides from the guest's mode when it
 * installs the hypercall page or sets the callback). Offsets come from the
 * canonical headers' structs. Bit updates are atomic on guest memory.
 * Callers hold d->lock; shinfo_gpa must be mapped unless stated.
 */
#ifndef XENON_SHINFO_H
#define XENON_SHINFO_H

#include <stdbool.h>
#include <stdint.h>

struct domain;
struct vcpu;

/* Set port pending; returns true if the vCPU's upcall became pending
 * (the caller then kicks it). */
bool shinfo_mark_pending(struct domain *d, uint32_t port, struct vcpu *v);
/* Clear the mask bit; returns true if that made an upcall pending. */
bool shinfo_unmask(struct domain *d, uint32_t port, struct vcpu *v);
void shinfo_clear_pending(struct domain *d, uint32_t port);
bool shinfo_test_pending(struct domain *d, uint32_t port);

/* Whether the vCPU's evtchn_upcall_pending is set. */
bool vcpu_upcall_pending(struct domain *d, const struct vcpu *v);

/* Fill in the time fields: wallclock in shared info, pvclock in every
 * vcpu_info. Safe to call repeatedly (version protocol). */
void shinfo_update_time(struct domain *d);
void vcpu_update_time(struct domain *d, struct vcpu *v);

/* Initialise the time base (TSC frequency and offset) once vCPU 0 exists. */
int time_init(struct domain *d);

#endif
