#include "evtchn.h"
#include "domain.h"
#include "shinfo.h"

#include <string.h>
#include <xen/errno.h>

void evtchn_init(struct domain *d)
{
    /* The table (4096 ports, 128 KiB) starts zeroed: domain_init's caller
     * passes zeroed storage. Clearing it here again would make every page
     * of it resident in every domain, used or not. */
    /* Port 0 is never handed out, as in Xen. */
    d->evtchn.port[0].state = EVTCHNSTAT_closed;
    d->evtchn.next_dom0_port = 1;
}

unsigned evtchn_max_ports(const struct domain *d)
{
    return d->shinfo_32bit ? EVTCHN_2L_MAX_32 : EVTCHN_2L_MAX_64;
}

static struct evtchn *port_get(struct domain *d, uint32_t port)
{
    if (port == 0 || port >= evtchn_max_ports(d))
        return NULL;
    return &d->evtchn.port[port];
}

static int port_alloc(struct domain *d)
{
    unsigned max = evtchn_max_ports(d);
    for (unsigned p = 1; p < max; p++) {
        if (d->evtchn.port[p].state == EVTCHNSTAT_closed) {
            /* A reused port must not carry a stale pending bit. */
            shinfo_clear_pending(d, p);
            d->evtchn.port[p] = (struct evtchn){ .vcpu = 0 };
            return (int)p;
        }
    }
    return -XEN_ENOSPC;
}

int evtchn_alloc_unbound(struct domain *d, uint32_t remote_dom)
{
    int port = port_alloc(d);
    if (port < 0)
        return port;
    struct evtchn *c = &d->evtchn.port[port];
    c->state = EVTCHNSTAT_unbound;
    c->remote_dom = remote_dom == DOMID_SELF ? d->domid : remote_dom;
    return port;
}

int evtchn_bind_interdomain(struct domain *d, uint32_t remote_dom,
                            uint32_t remote_port)
{
    if (!domain_is_self(d, remote_dom)) {
        /* Domain 0's ports live in backends that bind from their side;
         * other domains are separate processes we cannot reach yet. */
        return remote_dom == 0 ? -XEN_EINVAL : -XEN_ESRCH;
    }
    struct evtchn *r = port_get(d, remote_port);
    if (!r || r->state != EVTCHNSTAT_unbound || r->remote_dom != d->domid)
        return -XEN_EINVAL;
    int port = port_alloc(d);
    if (port < 0)
        return port;
    struct evtchn *l = &d->evtchn.port[port];
    l->state = EVTCHNSTAT_interdomain;
    l->remote_dom = d->domid;
    l->remote_port = remote_port;
    r->state = EVTCHNSTAT_interdomain;
    r->remote_dom = d->domid;
    r->remote_port = (uint32_t)port;
    /* Notifications sent to the unbound port may have been lost: raise
     * one on the new port, as Xen does. */
    evtchn_set_pending(d, (uint32_t)port);
    return port;
}

bool evtchn_virq_is_per_vcpu(uint32_t virq)
{
    return virq == VIRQ_TIMER || virq == VIRQ_DEBUG ||
           virq == VIRQ_XENOPROF || virq == VIRQ_XENPMU;
}

int evtchn_bind_virq(struct domain *d, uint32_t virq, uint32_t vcpu)
{
    if (virq >= NR_VIRQS)
        return -XEN_EINVAL;
    if (!evtchn_virq_is_per_vcpu(virq) && vcpu != 0)
        return -XEN_EINVAL;
    if (vcpu >= d->nr_vcpus)
        return -XEN_ENOENT;
    /* Global VIRQs belong to the hardware domain; ARGO is per-domain. */
    if (!evtchn_virq_is_per_vcpu(virq) && virq != VIRQ_ARGO)
        return -XEN_EBUSY;
    struct vcpu *v = &d->vcpu[vcpu];
    if (v->virq_port[virq])
        return -XEN_EEXIST;
    int port = port_alloc(d);
    if (port < 0)
        return port;
    struct evtchn *c = &d->evtchn.port[port];
    c->state = EVTCHNSTAT_virq;
    c->virq = virq;
    c->vcpu = vcpu;
    v->virq_port[virq] = (unsigned)port;
    return port;
}

int evtchn_bind_ipi(struct domain *d, uint32_t vcpu)
{
    if (vcpu >= d->nr_vcpus)
        return -XEN_ENOENT;
    int port = port_alloc(d);
    if (port < 0)
        return port;
    struct evtchn *c = &d->evtchn.port[port];
    c->state = EVTCHNSTAT_ipi;
    c->vcpu = vcpu;
    return port;
}

int evtchn_close(struct domain *d, uint32_t port)
{
    struct evtchn *c = port_get(d, port);
    if (!c)
        return -XEN_EINVAL;
    switch (c->state) {
    case EVTCHNSTAT_closed:
        return -XEN_EINVAL;
    case EVTCHNSTAT_virq: {
        /* A per-domain VIRQ stays bound on vCPU 0 when bind_vcpu moves
         * its notifications elsewhere. */
        unsigned owner = evtchn_virq_is_per_vcpu(c->virq) ? c->vcpu : 0;
        if (owner < d->nr_vcpus && d->vcpu[owner].virq_port[c->virq] == port)
            d->vcpu[owner].virq_port[c->virq] = 0;
        break;
    }
    case EVTCHNSTAT_interdomain:
        if (c->be) {
            /* The backend's end is left unbound: it sees no more sends
             * and its own sends go nowhere. */
            c->be->guest_port = 0;
            c->be = NULL;
        } else if (c->remote_port != port) {
            /* Loopback within this domain: the peer reverts to unbound. */
            struct evtchn *r = port_get(d, c->remote_port);
            if (r && r->state == EVTCHNSTAT_interdomain) {
                r->state = EVTCHNSTAT_unbound;
                r->remote_dom = d->domid;
            }
        }
        break;
    default:
        break;
    }
    memset(c, 0, sizeof(*c));
    return 0;
}

int evtchn_send(struct domain *d, uint32_t port)
{
    struct evtchn *c = port_get(d, port);
    if (!c)
        return -XEN_EINVAL;
    switch (c->state) {
    case EVTCHNSTAT_interdomain:
        if (c->be)
            c->be->notify(c->be->opaque);
        else
            evtchn_set_pending(d, c->remote_port);
        return 0;
    case EVTCHNSTAT_ipi:
        evtchn_set_pending(d, port);
        return 0;
    case EVTCHNSTAT_unbound:
        return 0;           /* silently dropped, as Xen does */
    default:
        return -XEN_EINVAL;
    }
}

int evtchn_status(struct domain *d, uint32_t port, struct evtchn_status *st)
{
    struct evtchn *c = port_get(d, port);
    if (!c)
        return -XEN_EINVAL;
    st->status = c->state;
    st->vcpu = c->vcpu;
    switch (c->state) {
    case EVTCHNSTAT_unbound:
        st->u.unbound.dom = (domid_t)c->remote_dom;
        break;
    case EVTCHNSTAT_interdomain:
        st->u.interdomain.dom = c->be ? (domid_t)c->be->domid
                                      : (domid_t)c->remote_dom;
        st->u.interdomain.port = c->be ? c->be->dom0_port : c->remote_port;
        break;
    case EVTCHNSTAT_virq:
        st->u.virq = c->virq;
        break;
    default:
        break;
    }
    return 0;
}

int evtchn_bind_vcpu(struct domain *d, uint32_t port, uint32_t vcpu)
{
    if (vcpu >= d->nr_vcpus)
        return -XEN_ENOENT;
    struct evtchn *c = port_get(d, port);
    if (!c)
        return -XEN_EINVAL;
    switch (c->state) {
    case EVTCHNSTAT_virq:
        if (evtchn_virq_is_per_vcpu(c->virq))
            return -XEN_EINVAL;
        c->vcpu = vcpu;
        return 0;
    case EVTCHNSTAT_unbound:
    case EVTCHNSTAT_interdomain:
        c->vcpu = vcpu;
        return 0;
    default:
        return -XEN_EINVAL;
    }
}

int evtchn_alloc_backend(struct domain *d, struct evtchn_backend *be)
{
    int port = port_alloc(d);
    if (port < 0)
        return port;
    struct evtchn *c = &d->evtchn.port[port];
    c->state = EVTCHNSTAT_interdomain;
    c->remote_dom = be->domid;
    c->be = be;
    be->dom0_port = d->evtchn.next_dom0_port++;
    be->guest_port = (uint32_t)port;
    return port;
}

int evtchn_alloc_backend_at(struct domain *d, uint32_t port,
                            struct evtchn_backend *be)
{
    struct evtchn *c = port_get(d, port);
    if (!c)
        return -XEN_EINVAL;
    if (c->state != EVTCHNSTAT_closed)
        return -XEN_EBUSY;
    shinfo_clear_pending(d, port);
    *c = (struct evtchn){ .state = EVTCHNSTAT_interdomain, .remote_dom = be->domid,
                          .be = be };
    be->dom0_port = port;
    be->guest_port = port;
    return (int)port;
}

int evtchn_bind_backend(struct domain *d, uint32_t guest_port,
                        struct evtchn_backend *be)
{
    struct evtchn *c = port_get(d, guest_port);
    if (!c || c->state != EVTCHNSTAT_unbound || c->remote_dom != be->domid)
        return -XEN_EINVAL;
    c->state = EVTCHNSTAT_interdomain;
    c->be = be;
    be->dom0_port = d->evtchn.next_dom0_port++;
    be->guest_port = guest_port;
    return 0;
}

void evtchn_unbind_backend(struct domain *d, struct evtchn_backend *be)
{
    struct evtchn *c = port_get(d, be->guest_port);
    if (c && c->state == EVTCHNSTAT_interdomain && c->be == be) {
        c->state = EVTCHNSTAT_unbound;
        c->remote_dom = be->domid;
        c->be = NULL;
    }
    be->guest_port = 0;
}

void evtchn_backend_send(struct domain *d, struct evtchn_backend *be)
{
    if (be->guest_port)
        evtchn_set_pending(d, be->guest_port);
}

void evtchn_set_pending(struct domain *d, uint32_t port)
{
    if (port == 0 || port >= evtchn_max_ports(d))
        return;
    if (d->shinfo_gpa == NO_GPA) {
        d->evtchn.early_pending[port / 8] |= (uint8_t)(1u << (port % 8));
        return;
    }
    unsigned vcpu = d->evtchn.port[port].vcpu;
    if (vcpu >= d->nr_vcpus)
        vcpu = 0;
    if (shinfo_mark_pending(d, port, &d->vcpu[vcpu]))
        vcpu_kick(&d->vcpu[vcpu]);
    else    /* no upcall (masked, or one pending): pollers still wake, as
             * Xen's evtchn_check_pollers runs for every port set pending */
        pthread_cond_broadcast(&d->event_cond);
}

int evtchn_unmask(struct domain *d, uint32_t port)
{
    if (port >= evtchn_max_ports(d))
        return -XEN_EINVAL;
    unsigned vcpu = d->evtchn.port[port].vcpu;
    if (vcpu >= d->nr_vcpus)
        vcpu = 0;
    if (d->shinfo_gpa != NO_GPA && shinfo_unmask(d, port, &d->vcpu[vcpu]))
        vcpu_kick(&d->vcpu[vcpu]);
    return 0;
}

void evtchn_send_virq(struct domain *d, unsigned vcpu, uint32_t virq)
{
    if (vcpu >= d->nr_vcpus || virq >= NR_VIRQS)
        return;
    unsigned port = d->vcpu[vcpu].virq_port[virq];
    if (port)
        evtchn_set_pending(d, port);
}

void evtchn_flush_early(struct domain *d)
{
    for (unsigned p = 1; p < EVTCHN_2L_MAX_64; p++) {
        if (d->evtchn.early_pending[p / 8] & (1u << (p % 8)))
            evtchn_set_pending(d, p);
    }
    memset(d->evtchn.early_pending, 0, sizeof(d->evtchn.early_pending));
}

bool evtchn_is_pending(struct domain *d, uint32_t port)
{
    if (port >= evtchn_max_ports(d) || d->shinfo_gpa == NO_GPA)
        return false;
    return shinfo_test_pending(d, port);
}
