/* vcpu_op and set_timer_op: vCPU bring-up, vcpu_info placement, timers. */
#include "hypercall.h"
#include "dirty.h"
#include "domain.h"
#include "compat32.h"
#include "shinfo.h"
#include "timer.h"

#include <string.h>
#include <xen/errno.h>
#include <xen/hvm/hvm_vcpu.h>
#include <xen/sched.h>
#include <xen/vcpu.h>

/* Xen's checks on a segment of a 32-bit start context (check_segment() in
 * xen/arch/x86/hvm/domain.c); ar is as Xen sees it: accessed bit set on
 * present segments, busy bit on TR. */
enum seg_kind { SEG_CS, SEG_SS, SEG_DATA, SEG_TR };

static bool seg_ok(uint16_t ar, enum seg_kind k)
{
    unsigned type = ar & 0xf, s = (ar >> 4) & 1, p = (ar >> 7) & 1;
    if (ar & 0xf000)
        return false;
    if (ar == 0)
        return k == SEG_DATA;
    if (k == SEG_TR ? (s || type != 0xb) : !s)
        return false;
    if (!p)
        return false;
    switch (k) {
    case SEG_CS:
        return type & 0x8;
    case SEG_SS:
        return !(type & 0x8) && (type & 0x2);
    case SEG_DATA:
        return !((type & 0x8) && !(type & 0x2));
    default:
        return true;
    }
}

static uint16_t seg_ar(uint16_t ar)
{
    return (ar & 0x80) ? ar | 1 : ar;       /* accessed, if present */
}

/* The sanity checks Xen's arch_set_info_hvm_guest() makes before it
 * accepts a VCPUOP_initialise context: -EINVAL for what it refuses. */
long hvm_vcpu_context_check(const vcpu_hvm_context_t *c)
{
    if (c->pad != 0)
        return -XEN_EINVAL;
    if (c->mode == VCPU_HVM_MODE_32B) {
        const struct vcpu_hvm_x86_32 *x = &c->cpu_regs.x86_32;
        if (x->pad1 || x->pad2[0] || x->pad2[1] || x->pad2[2])
            return -XEN_EINVAL;
        uint16_t cs = seg_ar(x->cs_ar), ss = seg_ar(x->ss_ar);
        uint16_t ds = seg_ar(x->ds_ar), es = seg_ar(x->es_ar);
        if (!seg_ok(cs, SEG_CS) || !seg_ok(ss, SEG_SS) || !seg_ok(ds, SEG_DATA) ||
            !seg_ok(es, SEG_DATA) || !seg_ok(x->tr_ar | 2, SEG_TR))
            return -XEN_EINVAL;
        uint64_t limit = x->cs_limit;
        if (cs & (1u << 11))
            limit = (limit << 12) | 0xfff;
        unsigned cs_dpl = (cs >> 5) & 3;
        if (x->eip > limit || ((ss >> 5) & 3) != cs_dpl)
            return -XEN_EINVAL;
        if (((ds & 0x80) && ((ds >> 5) & 3) > cs_dpl) ||
            ((es & 0x80) && ((es >> 5) & 3) > cs_dpl))
            return -XEN_EINVAL;
        if ((x->efer & (1u << 10)) && !(x->efer & (1u << 8)))
            return -XEN_EINVAL;             /* LMA without LME */
        return 0;
    }
    if (c->mode == VCPU_HVM_MODE_64B) {
        const struct vcpu_hvm_x86_64 *x = &c->cpu_regs.x86_64;
        if ((uint64_t)((int64_t)(x->rip << 16) >> 16) != x->rip)
            return -XEN_EINVAL;             /* non-canonical */
        if (!(x->cr0 & (1ull << 31)) || !(x->cr4 & (1u << 5)) ||
            !(x->efer & (1u << 8)))
            return -XEN_EINVAL;             /* needs PG, PAE and LME */
        return 0;
    }
    return -XEN_EINVAL;
}

static long register_vcpu_info(struct hcall *h, struct vcpu *v)
{
    struct vcpu_register_vcpu_info info;
    if (guest_read(h, h->arg[2], &info, sizeof(info)))
        return -XEN_EFAULT;
    struct domain *d = h->d;
    if (info.mfn >= (1ull << (64 - GMEM_PAGE_SHIFT)))
        return -XEN_EINVAL;
    uint64_t gpa = (info.mfn << GMEM_PAGE_SHIFT) + info.offset;
    if ((gpa >> GMEM_PAGE_SHIFT) != info.mfn)
        return -XEN_EINVAL;
    if (v->vcpu_info_gpa != NO_GPA)
        return -XEN_EBUSY;
    if ((gpa >> GMEM_PAGE_SHIFT) !=
        ((gpa + sizeof(struct vcpu_info) - 1) >> GMEM_PAGE_SHIFT))
        return -XEN_ENXIO;
    if (gpa % (d->shinfo_32bit ? 4 : 8))
        return -XEN_ENXIO;
    if (!gmem_is_ram(&d->mem, gpa, sizeof(struct vcpu_info)))
        return -XEN_EINVAL;

    uint8_t *dst = gmem_ptr(&d->mem, gpa, sizeof(struct vcpu_info));
    uint8_t *old = vcpu_info_ptr(d, v);
    gmem_mark_dirty(&d->mem, gpa, sizeof(struct vcpu_info));
    if (old)
        memcpy(dst, old, sizeof(struct vcpu_info));
    else
        memset(dst, 0, sizeof(struct vcpu_info));
    v->vcpu_info_gpa = gpa;
    /* Anything pending may have been noted only in the old copy: mark
     * everything as pending so the guest rescans, as Xen does. */
    struct vcpu_info *vi = (struct vcpu_info *)dst;
    if (d->shinfo_32bit)
        memset((uint8_t *)vi + 4, 0xff, 4);
    else
        vi->evtchn_pending_sel = ~0ul;
    __atomic_store_n(&vi->evtchn_upcall_pending, 1, __ATOMIC_SEQ_CST);
    vcpu_update_time(d, v);
    vcpu_kick(v);
    return 0;
}

static long register_runstate(struct hcall *h, struct vcpu *v)
{
    struct vcpu_register_runstate_memory_area area;
    if (guest_read(h, h->arg[2], &area, sizeof(area)))
        return -XEN_EFAULT;
    uint64_t gva = h->compat ? (uint32_t)area.addr.p : area.addr.p;
    if (gva == 0)
        return 0;                       /* unregister */
    /* Report the vCPU as running since boot. */
    uint64_t now = domain_system_time(h->d);
    if (h->compat) {
        struct compat_vcpu_runstate_info r = {
            .state = RUNSTATE_running, .state_entry_time = 0, .time = { now },
        };
        return guest_write(h, gva, &r, sizeof(r)) ? -XEN_EFAULT : 0;
    }
    struct vcpu_runstate_info r = {
        .state = RUNSTATE_running, .state_entry_time = 0, .time = { now },
    };
    return guest_write(h, gva, &r, sizeof(r)) ? -XEN_EFAULT : 0;
}

long hc_vcpu_op(struct hcall *h)
{
    struct domain *d = h->d;
    uint64_t cmd = h->arg[0], id = h->arg[1];
    if (id >= d->nr_vcpus)
        return -XEN_ENOENT;
    struct vcpu *v = &d->vcpu[id];

    switch (cmd) {
    case VCPUOP_initialise: {
        vcpu_hvm_context_t ctx;
        if (guest_read(h, h->arg[2], &ctx, sizeof(ctx)))
            return -XEN_EFAULT;
        /* Xen answers -EEXIST for an initialised vCPU before it looks at
         * the context. */
        if (v->up || v->has_init_ctx)
            return -XEN_EEXIST;
        long rc = hvm_vcpu_context_check(&ctx);
        if (rc < 0)
            return rc;
        v->init_ctx = ctx;
        v->has_init_ctx = true;
        return 0;
    }
    case VCPUOP_up:
        if (!v->up && !v->has_init_ctx)
            return -XEN_EINVAL;
        return vcpu_bring_up(v);
    case VCPUOP_down:
        /* As in Xen, the last vCPU going down powers the domain off. */
        for (unsigned i = 0; i < d->nr_vcpus; i++)
            if (i != id && d->vcpu[i].up && !d->vcpu[i].down)
                return vcpu_take_down(v, h->v);
        domain_shutdown(d, SHUTDOWN_poweroff);
        return 0;
    case VCPUOP_is_up:
        return v->up && !v->down;
    case VCPUOP_register_vcpu_info:
        return register_vcpu_info(h, v);
    case VCPUOP_register_runstate_memory_area:
        return register_runstate(h, v);
    case VCPUOP_set_periodic_timer: {
        struct vcpu_set_periodic_timer t;
        if (guest_read(h, h->arg[2], &t, sizeof(t)))
            return -XEN_EFAULT;
        if (t.period_ns < 1000000ull || t.period_ns > (1ull << 50))
            return -XEN_EINVAL;
        timer_set_periodic(v, t.period_ns);
        return 0;
    }
    case VCPUOP_stop_periodic_timer:
        timer_set_periodic(v, 0);
        return 0;
    case VCPUOP_set_singleshot_timer: {
        struct vcpu_set_singleshot_timer t;
        if (v != h->v)
            return -XEN_EINVAL;
        if (guest_read(h, h->arg[2], &t, h->compat ? 12 : sizeof(t)))
            return -XEN_EFAULT;
        if ((t.flags & VCPU_SSHOTTMR_future) &&
            t.timeout_abs_ns < domain_system_time(d))
            return -XEN_ETIME;
        timer_set_oneshot(v, t.timeout_abs_ns);
        return 0;
    }
    case VCPUOP_stop_singleshot_timer:
        if (v != h->v)
            return -XEN_EINVAL;
        timer_set_oneshot(v, 0);
        return 0;
    default:
        hcall_log_enosys(h, "vcpu_op", (unsigned)cmd);
        return -XEN_ENOSYS;
    }
}

long hc_set_timer_op(struct hcall *h)
{
    uint64_t timeout = h->compat ? (h->arg[0] | (h->arg[1] << 32)) : h->arg[0];
    timer_set_oneshot(h->v, timeout);
    return 0;
}
