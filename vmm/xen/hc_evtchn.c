/* event_channel_op: argument marshalling around evtchn.c. Every struct in
 * this interface has the same layout for 32- and 64-bit guests. */
#include "hypercall.h"
#include "domain.h"

#include <xen/errno.h>
#include <xen/event_channel.h>

#define IN(x) do { if (guest_read(h, h->arg[1], &(x), sizeof(x))) return -XEN_EFAULT; } while (0)
#define OUT(x) (guest_write(h, h->arg[1], &(x), sizeof(x)) ? -XEN_EFAULT : 0)

static long foreign(uint32_t dom)
{
    /* Acting on another domain's channels takes privilege we never give
     * a guest; ids that cannot name a domain do not exist. */
    return dom >= DOMID_FIRST_RESERVED ? -XEN_ESRCH : -XEN_EPERM;
}

long hc_event_channel_op(struct hcall *h)
{
    struct domain *d = h->d;
    int rc;
    switch (h->arg[0]) {
    case EVTCHNOP_alloc_unbound: {
        struct evtchn_alloc_unbound a;
        IN(a);
        if (!domain_is_self(h->d, a.dom))
            return foreign(a.dom);
        if ((rc = evtchn_alloc_unbound(d, a.remote_dom)) < 0)
            return rc;
        a.port = (evtchn_port_t)rc;
        return OUT(a);
    }
    case EVTCHNOP_bind_interdomain: {
        struct evtchn_bind_interdomain b;
        IN(b);
        if ((rc = evtchn_bind_interdomain(d, b.remote_dom, b.remote_port)) < 0)
            return rc;
        b.local_port = (evtchn_port_t)rc;
        return OUT(b);
    }
    case EVTCHNOP_bind_virq: {
        struct evtchn_bind_virq b;
        IN(b);
        if ((rc = evtchn_bind_virq(d, b.virq, b.vcpu)) < 0)
            return rc;
        b.port = (evtchn_port_t)rc;
        return OUT(b);
    }
    case EVTCHNOP_bind_ipi: {
        struct evtchn_bind_ipi b;
        IN(b);
        if ((rc = evtchn_bind_ipi(d, b.vcpu)) < 0)
            return rc;
        b.port = (evtchn_port_t)rc;
        return OUT(b);
    }
    case EVTCHNOP_close: {
        struct evtchn_close c;
        IN(c);
        return evtchn_close(d, c.port);
    }
    case EVTCHNOP_send: {
        struct evtchn_send s;
        IN(s);
        return evtchn_send(d, s.port);
    }
    case EVTCHNOP_status: {
        struct evtchn_status s;
        IN(s);
        if (!domain_is_self(h->d, s.dom))
            return foreign(s.dom);
        if ((rc = evtchn_status(d, s.port, &s)) < 0)
            return rc;
        return OUT(s);
    }
    case EVTCHNOP_bind_vcpu: {
        struct evtchn_bind_vcpu b;
        IN(b);
        return evtchn_bind_vcpu(d, b.port, b.vcpu);
    }
    case EVTCHNOP_unmask: {
        struct evtchn_unmask u;
        IN(u);
        return evtchn_unmask(d, u.port);
    }
    case EVTCHNOP_init_control:
    case EVTCHNOP_expand_array:
    case EVTCHNOP_set_priority:
        /* FIFO channels are not offered: guests stay on 2-level. */
        return -XEN_ENOSYS;
    default:
        hcall_log_enosys(h, "event_channel_op", (unsigned)h->arg[0]);
        return -XEN_ENOSYS;
    }
}
