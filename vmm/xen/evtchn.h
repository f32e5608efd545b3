/*
 * Event channels, 2-level ABI. The table lives in the VMM; pending and
 * mask bits live in the guest's shared info page as Xen puts them there.
 *
 * Backends inside this VMM (PV console, xenstore relay, block, net) act as
 * domain 0: a port bound to a backend is interdomain with remote dom 0, and
 * a send on it calls the backend's notify function.
 *
 * All functions take the domain lock (d->lock) as held by the caller and
 * return 0 / a port, or a negative Xen errno.
 */
#ifndef XENON_EVTCHN_H
#define XENON_EVTCHN_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/event_channel.h>

#define EVTCHN_2L_MAX_64 4096   /* 64 words of 64 bits */
#define EVTCHN_2L_MAX_32 1024   /* 32 words of 32 bits */

struct domain;

/* A backend's end of an interdomain channel (evtchn_backend.h builds the
 * backend-facing API on it). notify() runs on the sending vCPU's thread
 * with the domain lock held: it must only signal, never block. */
struct evtchn_backend {
    void (*notify)(void *opaque);
    void *opaque;
    uint32_t domid;         /* the backend's domain (0: this VMM's own) */
    uint32_t dom0_port;     /* the port number the backend's side reports */
    uint32_t guest_port;    /* the guest's end; 0 once either end closed */
};

struct evtchn {
    uint8_t state;          /* EVTCHNSTAT_* */
    uint32_t vcpu;          /* vCPU notified */
    uint32_t remote_dom;    /* unbound / interdomain */
    uint32_t remote_port;   /* interdomain */
    uint32_t virq;
    struct evtchn_backend *be;
};

struct evtchn_table {
    /* Events raised before the guest mapped shared info, applied then. */
    uint8_t early_pending[EVTCHN_2L_MAX_64 / 8];
    uint32_t next_dom0_port;
    struct evtchn port[EVTCHN_2L_MAX_64];   /* last: the first ports used */
};

void evtchn_init(struct domain *d);
unsigned evtchn_max_ports(const struct domain *d);

int evtchn_alloc_unbound(struct domain *d, uint32_t remote_dom);
int evtchn_bind_interdomain(struct domain *d, uint32_t remote_dom,
                            uint32_t remote_port);
int evtchn_bind_virq(struct domain *d, uint32_t virq, uint32_t vcpu);
int evtchn_bind_ipi(struct domain *d, uint32_t vcpu);
int evtchn_close(struct domain *d, uint32_t port);
int evtchn_send(struct domain *d, uint32_t port);
int evtchn_status(struct domain *d, uint32_t port, struct evtchn_status *st);
int evtchn_bind_vcpu(struct domain *d, uint32_t port, uint32_t vcpu);
int evtchn_unmask(struct domain *d, uint32_t port);

/* Allocate a guest port connected to a backend in this VMM. */
int evtchn_alloc_backend(struct domain *d, struct evtchn_backend *be);
/* Connect a backend at a port fixed in advance (include/xenon/contract.h's
 * XENON_PORT_*, which the toolstack publishes without asking us); dom0's
 * end reports the same number. The port, or -XEN_EINVAL out of range,
 * -XEN_EBUSY if it is taken. */
int evtchn_alloc_backend_at(struct domain *d, uint32_t port,
                            struct evtchn_backend *be);

/* The backend's side of EVTCHNOP_bind_interdomain: connect be to a port
 * the guest allocated unbound for be->domid. 0 or -XEN_EINVAL. */
int evtchn_bind_backend(struct domain *d, uint32_t guest_port,
                        struct evtchn_backend *be);

/* The backend closes its end: the guest's port becomes unbound for
 * be->domid, as Xen's evtchn_close leaves the remote end. */
void evtchn_unbind_backend(struct domain *d, struct evtchn_backend *be);

/* A send from the backend's end: raise the guest's port, or nothing if
 * the guest closed it (Xen drops a send on an unbound port). */
void evtchn_backend_send(struct domain *d, struct evtchn_backend *be);

/* Raise an event on a guest port (from a backend or a timer). */
void evtchn_set_pending(struct domain *d, uint32_t port);

/* Deliver a per-vCPU or domain VIRQ if the guest bound it. */
void evtchn_send_virq(struct domain *d, unsigned vcpu, uint32_t virq);

/* Apply events raised before shared info was mapped. */
void evtchn_flush_early(struct domain *d);

/* Whether a VIRQ is bound per vCPU (timer, debug...) rather than once per
 * domain; a per-domain VIRQ's port sits in vCPU 0's virq_port table. */
bool evtchn_virq_is_per_vcpu(uint32_t virq);

/* Whether a port is pending (for SCHEDOP_poll). */
bool evtchn_is_pending(struct domain *d, uint32_t port);

#endif
