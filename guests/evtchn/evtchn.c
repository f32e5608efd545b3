/*
 * evtchn: 2-level event channels seen from the guest: allocation, binding,
 * sending, masking and closing, with the pending/mask/selector bits checked
 * in shared info and vcpu_info, and Xen's error codes for misuse.
 */
#include "guest.h"

#include <xen/errno.h>
#include <xen/event_channel.h>
#include <xen/hvm/params.h>

#define WORD_BITS (sizeof(unsigned long) * 8)

static int pending(evtchn_port_t p)
{
    return !!(shared_info->evtchn_pending[p / WORD_BITS] & (1ul << (p % WORD_BITS)));
}

static void clear_pending(evtchn_port_t p)
{
    __atomic_fetch_and(&shared_info->evtchn_pending[p / WORD_BITS],
                       ~(1ul << (p % WORD_BITS)), __ATOMIC_SEQ_CST);
}

static void set_mask(evtchn_port_t p, int on)
{
    if (on)
        __atomic_fetch_or(&shared_info->evtchn_mask[p / WORD_BITS],
                          1ul << (p % WORD_BITS), __ATOMIC_SEQ_CST);
    else
        __atomic_fetch_and(&shared_info->evtchn_mask[p / WORD_BITS],
                           ~(1ul << (p % WORD_BITS)), __ATOMIC_SEQ_CST);
}

static void reset_upcall(void)
{
    shared_info->vcpu_info[0].evtchn_upcall_pending = 0;
    shared_info->vcpu_info[0].evtchn_pending_sel = 0;
}

static long send(evtchn_port_t p)
{
    struct evtchn_send s = { .port = p };
    return evtchn_op(EVTCHNOP_send, &s);
}

static long close_port(evtchn_port_t p)
{
    struct evtchn_close c = { .port = p };
    return evtchn_op(EVTCHNOP_close, &c);
}

static struct evtchn_status status(evtchn_port_t p, long *rc)
{
    struct evtchn_status s = { .dom = DOMID_SELF, .port = p };
    *rc = evtchn_op(EVTCHNOP_status, &s);
    return s;
}

void guest_main(void)
{
    long rc;
    printk("evtchn: %d-bit guest\n", GUEST_BITS);
    CHECK_EQ("map shared info", map_shared_info(), 0);
    uint32_t a, b, c, d;
    cpuid(0x40000004, 0, &a, &b, &c, &d);
    domid_t self = (domid_t)c;

    /* Console and xenstore are interdomain channels to domain 0. */
    struct evtchn_status st = status(2, &rc);
    CHECK("console port is interdomain to dom0",
          rc == 0 && st.status == EVTCHNSTAT_interdomain && st.u.interdomain.dom == 0);

    struct evtchn_alloc_unbound au = { .dom = DOMID_SELF, .remote_dom = DOMID_SELF };
    CHECK_EQ("alloc_unbound", evtchn_op(EVTCHNOP_alloc_unbound, &au), 0);
    evtchn_port_t p1 = au.port;
    st = status(p1, &rc);
    CHECK("unbound status", rc == 0 && st.status == EVTCHNSTAT_unbound && st.u.unbound.dom == self);
    CHECK_EQ("send on unbound is dropped", send(p1), 0);
    CHECK("unbound send raises nothing", !pending(p1));

    reset_upcall();
    struct evtchn_bind_interdomain bi = { .remote_dom = DOMID_SELF, .remote_port = p1 };
    CHECK_EQ("bind_interdomain to self", evtchn_op(EVTCHNOP_bind_interdomain, &bi), 0);
    evtchn_port_t p2 = bi.local_port;
    CHECK("new interdomain port starts pending", pending(p2));
    CHECK("upcall pending after bind", shared_info->vcpu_info[0].evtchn_upcall_pending);
    CHECK("selector bit", shared_info->vcpu_info[0].evtchn_pending_sel & (1ul << (p2 / WORD_BITS)));
    clear_pending(p2);
    st = status(p2, &rc);
    CHECK("interdomain status", st.status == EVTCHNSTAT_interdomain &&
                                st.u.interdomain.dom == self && st.u.interdomain.port == p1);
    CHECK_EQ("bind_interdomain to a bound port",
             evtchn_op(EVTCHNOP_bind_interdomain, &bi), -XEN_EINVAL);
    bi.remote_dom = 0;
    bi.remote_port = 1;
    CHECK_EQ("bind_interdomain to dom0 port", evtchn_op(EVTCHNOP_bind_interdomain, &bi), -XEN_EINVAL);
    bi.remote_dom = 77;
    CHECK_EQ("bind_interdomain to a missing domain", evtchn_op(EVTCHNOP_bind_interdomain, &bi), -XEN_ESRCH);

    CHECK_EQ("send p1", send(p1), 0);
    CHECK("p1 send raises p2", pending(p2) && !pending(p1));
    CHECK_EQ("send p2", send(p2), 0);
    CHECK("p2 send raises p1", pending(p1));
    clear_pending(p1);
    clear_pending(p2);

    /* A masked port gets its pending bit but no upcall until unmasked.
     * The console's and xenstore's ports are masked meanwhile: their
     * backends may signal at any moment (the console answers the lines
     * printed above), and an upcall here must be p2's alone to count. */
    uint64_t con_port = 0, xs_port = 0;
    CHECK_EQ("console port param", hvm_get_param(HVM_PARAM_CONSOLE_EVTCHN, &con_port), 0);
    CHECK_EQ("xenstore port param", hvm_get_param(HVM_PARAM_STORE_EVTCHN, &xs_port), 0);
    set_mask((evtchn_port_t)con_port, 1);
    set_mask((evtchn_port_t)xs_port, 1);
    reset_upcall();
    set_mask(p2, 1);
    send(p1);
    CHECK("masked port still pending", pending(p2));
    CHECK("masked port raises no upcall", !shared_info->vcpu_info[0].evtchn_upcall_pending);
    struct evtchn_unmask um = { .port = p2 };
    CHECK_EQ("unmask", evtchn_op(EVTCHNOP_unmask, &um), 0);
    CHECK("unmask raises the upcall", shared_info->vcpu_info[0].evtchn_upcall_pending &&
          !(shared_info->evtchn_mask[p2 / WORD_BITS] & (1ul << (p2 % WORD_BITS))));
    clear_pending(p2);
    um.port = (evtchn_port_t)con_port;
    CHECK_EQ("unmask the console port", evtchn_op(EVTCHNOP_unmask, &um), 0);
    um.port = (evtchn_port_t)xs_port;
    CHECK_EQ("unmask the xenstore port", evtchn_op(EVTCHNOP_unmask, &um), 0);
    um.port = 100000;
    CHECK_EQ("unmask invalid port", evtchn_op(EVTCHNOP_unmask, &um), -XEN_EINVAL);

    CHECK_EQ("close p2", close_port(p2), 0);
    st = status(p1, &rc);
    CHECK("peer reverts to unbound", st.status == EVTCHNSTAT_unbound);
    CHECK_EQ("close twice", close_port(p2), -XEN_EINVAL);
    CHECK_EQ("send on closed port", send(p2), -XEN_EINVAL);
    CHECK_EQ("close port 0", close_port(0), -XEN_EINVAL);
    CHECK_EQ("send on port 0", send(0), -XEN_EINVAL);
    CHECK_EQ("send beyond the ports", send(5000), -XEN_EINVAL);

    struct evtchn_bind_virq bv = { .virq = VIRQ_TIMER, .vcpu = 0 };
    CHECK_EQ("bind VIRQ_TIMER", evtchn_op(EVTCHNOP_bind_virq, &bv), 0);
    st = status(bv.port, &rc);
    CHECK("virq status", st.status == EVTCHNSTAT_virq && st.u.virq == VIRQ_TIMER);
    CHECK_EQ("bind VIRQ_TIMER twice", evtchn_op(EVTCHNOP_bind_virq, &bv), -XEN_EEXIST);
    CHECK_EQ("send on a virq port", send(bv.port), -XEN_EINVAL);
    struct evtchn_bind_vcpu bvc = { .port = bv.port, .vcpu = 0 };
    CHECK_EQ("bind_vcpu a per-vCPU virq", evtchn_op(EVTCHNOP_bind_vcpu, &bvc), -XEN_EINVAL);
    bvc.vcpu = 9;
    CHECK_EQ("bind_vcpu to a missing vCPU", evtchn_op(EVTCHNOP_bind_vcpu, &bvc), -XEN_ENOENT);
    struct evtchn_bind_virq bad = { .virq = NR_VIRQS, .vcpu = 0 };
    CHECK_EQ("bind virq out of range", evtchn_op(EVTCHNOP_bind_virq, &bad), -XEN_EINVAL);
    bad.virq = VIRQ_CONSOLE;
    CHECK_EQ("bind a global virq (dom0's)", evtchn_op(EVTCHNOP_bind_virq, &bad), -XEN_EBUSY);
    bad.virq = VIRQ_CONSOLE;
    bad.vcpu = 1;
    CHECK_EQ("global virq on vCPU 1", evtchn_op(EVTCHNOP_bind_virq, &bad), -XEN_EINVAL);
    bad.virq = VIRQ_TIMER;
    bad.vcpu = 7;
    CHECK_EQ("VIRQ_TIMER on a missing vCPU", evtchn_op(EVTCHNOP_bind_virq, &bad), -XEN_ENOENT);
    CHECK_EQ("close the virq", close_port(bv.port), 0);
    CHECK_EQ("bind VIRQ_TIMER again after close", evtchn_op(EVTCHNOP_bind_virq, &bv), 0);

    struct evtchn_bind_ipi ipi = { .vcpu = 0 };
    CHECK_EQ("bind_ipi", evtchn_op(EVTCHNOP_bind_ipi, &ipi), 0);
    CHECK_EQ("send ipi", send(ipi.port), 0);
    CHECK("ipi pending", pending(ipi.port));
    ipi.vcpu = 5;
    CHECK_EQ("bind_ipi missing vCPU", evtchn_op(EVTCHNOP_bind_ipi, &ipi), -XEN_ENOENT);

    au.dom = 3;
    CHECK_EQ("alloc_unbound for another domain", evtchn_op(EVTCHNOP_alloc_unbound, &au), -XEN_EPERM);
    struct evtchn_status os = { .dom = 3, .port = 1 };
    CHECK_EQ("status of another domain", evtchn_op(EVTCHNOP_status, &os), -XEN_EPERM);
    CHECK_EQ("FIFO init_control is not offered", evtchn_op(EVTCHNOP_init_control, &au), -XEN_ENOSYS);

    /* Exhaust the port space: 2-level gives 1024 (32-bit) or 4096 ports. */
    au.dom = DOMID_SELF;
    unsigned n = 0;
    while (evtchn_op(EVTCHNOP_alloc_unbound, &au) == 0)
        n++;
    CHECK_EQ("port space exhausted with ENOSPC", evtchn_op(EVTCHNOP_alloc_unbound, &au), -XEN_ENOSPC);
    check("port count", au.port < (GUEST_BITS == 64 ? 4096 : 1024) && n > 100,
          "allocated %u, last %u", n, au.port);
    finish("evtchn");
}
