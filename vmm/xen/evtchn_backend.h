/*
 * The backend-facing event channel API: a backend's end of an interdomain
 * channel with one guest, with the semantics Xen gives the two ends
 * (xen/common/event_channel.c). Every PV backend goes through it, and a
 * later cross-process broker implements the same calls for a backend in
 * its own process (the eventfd is what it would pass over).
 *
 * The contract:
 * - evtchn_be_bind() is the backend's EVTCHNOP_bind_interdomain: the
 *   guest's port must be unbound and allocated for the backend's domain
 *   (EVTCHNOP_alloc_unbound with remote_dom = `by`), else -XEN_EINVAL.
 *   The guest's port becomes interdomain; EVTCHNOP_status on it reports
 *   `by` and the backend's own port number. As in Xen, the binding end
 *   gets one notification at once, since sends to the unbound port may
 *   have been lost.
 * - evtchn_be_alloc() allocates the guest's port already bound to the
 *   backend: the toolstack's alloc_unbound and the backend's bind in one,
 *   for the ports the domain starts with (console, xenstore), at the port
 *   number the contract fixes for them (or any free one for port 0).
 * - The guest's sends on its port make the eventfd readable. They are
 *   coalesced: any number of sends before the backend looks is one
 *   wake-up. The backend polls the fd on its own thread (the I/O thread)
 *   and calls evtchn_be_consume() before it looks at its ring, so that a
 *   send after the look wakes it again. A vCPU never waits for the backend.
 * - evtchn_be_notify() is a send from the backend's end: it sets the
 *   guest's port pending and raises the upcall, as a send from the remote
 *   end does in Xen. Once the guest has closed its end, the backend's end
 *   is unbound and notify is dropped (returns 0), as Xen drops a send on
 *   an unbound port: a port the guest later reuses never sees it.
 * - evtchn_be_unbind() closes the backend's end: the guest's port becomes
 *   unbound, remote domain `by` (Xen's evtchn_close of the remote end), and
 *   the backend gets no further wake-ups. The eventfd is closed.
 * - has_work, optional, runs on the sending vCPU's thread with the domain
 *   lock held and may say that a send finds nothing to do (no wake-up).
 *   A broker may not offer it; a backend must work without it.
 * - evtchn_be_notify() takes the domain lock; evtchn_be_notify_locked()
 *   is for a backend already holding it (to update a ring and notify as
 *   one step). Neither is called from has_work.
 */
#ifndef XENON_EVTCHN_BACKEND_H
#define XENON_EVTCHN_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "evtchn.h"

struct domain;

struct evtchn_be {
    struct domain *d;
    struct evtchn_backend hook;     /* what evtchn.c sees */
    int fd;                         /* eventfd: readable after a guest send */
    bool wake_pending;              /* the fd has been written, not consumed */
    bool (*has_work)(void *opaque); /* NULL: every send has work */
    void *opaque;
};

/* Bind to the guest's unbound port guest_port as domain `by`. */
int evtchn_be_bind(struct evtchn_be *p, struct domain *d, domid_t by,
                   uint32_t guest_port, bool (*has_work)(void *),
                   void *opaque);

/* Allocate a guest port bound to the backend (domain `by`): `port`, or
 * any free one when port is 0 (-XEN_EBUSY: taken, -XEN_EINVAL: out of
 * range). */
int evtchn_be_alloc(struct evtchn_be *p, struct domain *d, domid_t by,
                    uint32_t port, bool (*has_work)(void *), void *opaque);

/* The guest's end (0 once either end has closed). */
uint32_t evtchn_be_guest_port(struct evtchn_be *p);

/* Notify the guest. 0, or -XEN_EINVAL if the backend's end is closed. */
int evtchn_be_notify(struct evtchn_be *p);
int evtchn_be_notify_locked(struct evtchn_be *p);

/* Make the eventfd readable as a guest send does (coalesced the same
 * way): a backend that stopped with work left comes back to it from its
 * loop, after the other watches had their turn. Any thread. */
void evtchn_be_wake(struct evtchn_be *p);

/* On the backend's thread: take the pending wake-up, if any. Returns
 * whether the guest sent since the last call. */
bool evtchn_be_consume(struct evtchn_be *p);

/* Close the backend's end. Safe on an unbound or never-bound p. */
void evtchn_be_unbind(struct evtchn_be *p);

#endif
