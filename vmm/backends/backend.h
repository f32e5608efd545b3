/*
 * A device backend in this VMM, acting as domain 0 for one guest ring: its
 * end of an event channel (evtchn_backend.h) whose eventfd the I/O loop
 * watches, so that a guest's send wakes the I/O thread to service the ring.
 * The console and the xenstore relay are built on it.
 *
 * Wake-ups are coalesced: a send while a wake-up is pending costs nothing,
 * and a backend can say (has_work, called on the sending vCPU's thread with
 * the domain lock held) that a send finds nothing to do.
 */
#ifndef XENON_BACKEND_H
#define XENON_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "evtchn_backend.h"
#include "ioloop.h"

struct domain;

struct backend {
    struct domain *d;
    struct evtchn_be chan;          /* our end of the guest's port */
    struct io_watch wake;           /* chan's eventfd on the I/O loop */
    uint32_t port;                  /* the guest's end, as allocated */
    void (*service)(void *opaque);  /* on the I/O thread, no lock held */
    void *opaque;
};

/* Bind the guest port (`port`, fixed by the contract, or 0 for any free
 * one) and the wake-up; 0 or a negative errno. */
int backend_init(struct domain *d, struct backend *b, uint32_t port,
                 bool (*has_work)(void *), void (*service)(void *),
                 void *opaque);
/* The same for a port the guest allocated (EVTCHNOP_alloc_unbound for
 * domain 0) and published in xenstore: the backend binds to it, as
 * EVTCHNOP_bind_interdomain would. -EINVAL when the port is not the
 * guest's unbound port for dom0. */
int backend_bind(struct domain *d, struct backend *b, uint32_t guest_port,
                 bool (*has_work)(void *), void (*service)(void *),
                 void *opaque);
void backend_fini(struct backend *b);

/* Notify the guest, with d->lock held (nothing once it closed its port). */
void backend_notify_locked(struct backend *b);

#endif
