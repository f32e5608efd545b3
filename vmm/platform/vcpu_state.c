/*
 * The full state of a KVM vCPU (platform.h, struct platform_vcpu_state):
 * KVM_GET/SET_REGS, SREGS, DEBUGREGS, XSAVE (XSAVE2 when KVM's area is
 * larger than 4 KiB), XCRS, MSRS, LAPIC, VCPU_EVENTS and MP_STATE.
 *
 * The MSRs are the ones a guest needs back, from a fixed list filtered by
 * what this KVM offers (KVM_GET_MSR_INDEX_LIST): SYSENTER, STAR, LSTAR,
 * CSTAR, SFMASK, KERNEL_GS_BASE, TSC_AUX, PAT, MISC_ENABLE, the MTRRs, the
 * TSC deadline, and the kvmclock / async-PF / steal-time / PV-EOI ones.
 * FS and GS bases travel as segment bases, EFER and the APIC base in the
 * special registers, the TSC as its own field.
 *
 * Order on set, as KVM needs it: special registers first (mode, APIC
 * base), then general registers, XSAVE, XCRs, MSRs (the TSC among them),
 * MP state, the LAPIC, the TSC deadline (KVM drops it unless the LAPIC
 * timer is already in deadline mode), pending events, debug registers.
 */
#include "kvm.h"
#include "platform.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define MSR_IA32_TSC            0x10
#define MSR_IA32_TSC_DEADLINE   0x6e0

static const uint32_t wanted_msrs[] = {
    0x174, 0x175, 0x176,                        /* SYSENTER_CS/ESP/EIP */
    0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, /* STAR LSTAR CSTAR SFMASK */
    0xc0000102, 0xc0000103,                     /* KERNEL_GS_BASE, TSC_AUX */
    0x277, 0x1a0,                               /* PAT, MISC_ENABLE */
    0x2ff, 0x250, 0x258, 0x259,                 /* MTRR def type, fixed */
    0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f,
    0x200, 0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207, /* variable */
    0x208, 0x209, 0x20a, 0x20b, 0x20c, 0x20d, 0x20e, 0x20f,
    0x11, 0x12,                                 /* kvmclock (old) */
    0x4b564d00, 0x4b564d01, 0x4b564d02,         /* kvmclock, async PF */
    0x4b564d03, 0x4b564d04,                     /* steal time, PV EOI */
    MSR_IA32_TSC_DEADLINE,
};
_Static_assert(sizeof(wanted_msrs) / sizeof(wanted_msrs[0]) <= PLATFORM_MAX_MSRS,
               "the MSR list fits the state");

_Static_assert(PLATFORM_MP_RUNNABLE == KVM_MP_STATE_RUNNABLE &&
               PLATFORM_MP_UNINITIALIZED == KVM_MP_STATE_UNINITIALIZED &&
               PLATFORM_MP_INIT_RECEIVED == KVM_MP_STATE_INIT_RECEIVED &&
               PLATFORM_MP_HALTED == KVM_MP_STATE_HALTED &&
               PLATFORM_MP_SIPI_RECEIVED == KVM_MP_STATE_SIPI_RECEIVED,
               "MP states are KVM's");
_Static_assert(PLATFORM_LAPIC_SIZE == KVM_APIC_REG_SIZE, "LAPIC page");
_Static_assert(PLATFORM_MAX_XCRS == KVM_MAX_XCRS, "XCRs");

/* The wanted MSRs this KVM has, in list order; the count. */
static unsigned offered_msrs(struct domain *d, uint32_t *out)
{
    struct kvm_msr_list probe = { .nmsrs = 0 };
    struct kvm_msr_list *list = NULL;
    unsigned n = 0;
    if (d->pvm->kvm_fd >= 0 &&
        ioctl(d->pvm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno == E2BIG &&
        (list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(uint32_t)))) {
        list->nmsrs = probe.nmsrs;
        if (ioctl(d->pvm->kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
            free(list);
            list = NULL;
        }
    }
    for (unsigned i = 0; i < sizeof(wanted_msrs) / sizeof(wanted_msrs[0]); i++) {
        bool have = !list;      /* no list: try them all, keep what reads */
        for (unsigned j = 0; list && j < list->nmsrs && !have; j++)
            have = list->indices[j] == wanted_msrs[i];
        if (have)
            out[n++] = wanted_msrs[i];
    }
    free(list);
    return n;
}

union msr_buf {
    struct kvm_msrs hdr;
    uint8_t bytes[sizeof(struct kvm_msrs) +
                  (PLATFORM_MAX_MSRS + 1) * sizeof(struct kvm_msr_entry)];
};

static int get_msrs(struct vcpu *v, struct platform_vcpu_state *s)
{
    uint32_t idx[PLATFORM_MAX_MSRS];
    unsigned n = offered_msrs(v->d, idx);
    union msr_buf m;
    s->nr_msrs = 0;
    /* One at a time: KVM_GET_MSRS stops at the first it cannot read. */
    for (unsigned i = 0; i < n; i++) {
        memset(&m, 0, sizeof(m));
        m.hdr.nmsrs = 1;
        m.hdr.entries[0].index = idx[i];
        if (ioctl(v->pv->fd, KVM_GET_MSRS, &m) != 1)
            continue;
        s->msr[s->nr_msrs].index = idx[i];
        s->msr[s->nr_msrs].pad = 0;
        s->msr[s->nr_msrs].value = m.hdr.entries[0].data;
        s->nr_msrs++;
    }
    memset(&m, 0, sizeof(m));
    m.hdr.nmsrs = 1;
    m.hdr.entries[0].index = MSR_IA32_TSC;
    if (ioctl(v->pv->fd, KVM_GET_MSRS, &m) != 1)
        return errno ? -errno : -EIO;
    s->tsc = m.hdr.entries[0].data;
    return 0;
}

/* Set the TSC and every MSR but the TSC deadline (deadline: the other
 * way round). */
static int set_msrs(struct vcpu *v, const struct platform_vcpu_state *s,
                    bool deadline)
{
    union msr_buf m;
    memset(&m, 0, sizeof(m));
    unsigned n = 0;
    if (!deadline)
        m.hdr.entries[n++] = (struct kvm_msr_entry){ .index = MSR_IA32_TSC,
                                                     .data = s->tsc };
    for (unsigned i = 0; i < s->nr_msrs; i++)
        if ((s->msr[i].index == MSR_IA32_TSC_DEADLINE) == deadline)
            m.hdr.entries[n++] = (struct kvm_msr_entry){ .index = s->msr[i].index,
                                                         .data = s->msr[i].value };
    m.hdr.nmsrs = n;
    if (n == 0)
        return 0;
    int r = ioctl(v->pv->fd, KVM_SET_MSRS, &m);
    return r == (int)n ? 0 : r < 0 ? -errno : -EINVAL;
}

static void seg_out(struct platform_segment *p, const struct kvm_segment *k)
{
    *p = (struct platform_segment){
        .base = k->base, .limit = k->limit, .selector = k->selector,
        .type = k->type, .present = k->present, .dpl = k->dpl, .db = k->db,
        .s = k->s, .l = k->l, .g = k->g, .avl = k->avl, .unusable = k->unusable,
    };
}

static void seg_in(struct kvm_segment *k, const struct platform_segment *p)
{
    *k = (struct kvm_segment){
        .base = p->base, .limit = p->limit, .selector = p->selector,
        .type = p->type, .present = p->present, .dpl = p->dpl, .db = p->db,
        .s = p->s, .l = p->l, .g = p->g, .avl = p->avl, .unusable = p->unusable,
    };
}

static size_t xsave_size(struct vcpu *v)
{
    int r = ioctl(v->d->pvm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
    return r > (int)sizeof(struct kvm_xsave) ? (size_t)r : sizeof(struct kvm_xsave);
}

int platform_get_vcpu_state(struct vcpu *v, struct platform_vcpu_state *s)
{
    int fd = v->pv->fd;
    memset(s, 0, sizeof(*s));
    int rc = platform_get_regs(v, &s->regs);
    if (rc < 0)
        return rc;
    struct kvm_sregs sr;
    if (ioctl(fd, KVM_GET_SREGS, &sr) < 0)
        return -errno;
    seg_out(&s->cs, &sr.cs); seg_out(&s->ds, &sr.ds); seg_out(&s->es, &sr.es);
    seg_out(&s->fs, &sr.fs); seg_out(&s->gs, &sr.gs); seg_out(&s->ss, &sr.ss);
    seg_out(&s->tr, &sr.tr); seg_out(&s->ldt, &sr.ldt);
    s->gdt = (struct platform_dtable){ sr.gdt.base, sr.gdt.limit };
    s->idt = (struct platform_dtable){ sr.idt.base, sr.idt.limit };
    s->cr0 = sr.cr0; s->cr2 = sr.cr2; s->cr3 = sr.cr3; s->cr4 = sr.cr4;
    s->cr8 = sr.cr8; s->efer = sr.efer; s->apic_base = sr.apic_base;

    struct kvm_debugregs dbg;
    if (ioctl(fd, KVM_GET_DEBUGREGS, &dbg) < 0)
        return -errno;
    memcpy(s->dr, dbg.db, sizeof(s->dr));
    s->dr6 = dbg.dr6;
    s->dr7 = dbg.dr7;

    size_t xs = xsave_size(v);
    if (xs > PLATFORM_XSAVE_MAX)
        return -E2BIG;
    struct kvm_xsave *x = calloc(1, xs);
    if (!x)
        return -ENOMEM;
    rc = ioctl(fd, xs > sizeof(*x) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE, x) < 0 ? -errno : 0;
    if (rc == 0) {
        memcpy(s->xsave, x, xs);
        s->xsave_len = (uint32_t)xs;
    }
    free(x);
    if (rc < 0)
        return rc;

    struct kvm_xcrs xcrs;
    if (ioctl(fd, KVM_GET_XCRS, &xcrs) < 0)
        return -errno;
    s->nr_xcrs = xcrs.nr_xcrs < PLATFORM_MAX_XCRS ? xcrs.nr_xcrs : PLATFORM_MAX_XCRS;
    for (unsigned i = 0; i < s->nr_xcrs; i++) {
        s->xcrs[i].xcr = xcrs.xcrs[i].xcr;
        s->xcrs[i].value = xcrs.xcrs[i].value;
    }
    if ((rc = get_msrs(v, s)) < 0)
        return rc;

    struct kvm_lapic_state lapic;
    if (ioctl(fd, KVM_GET_LAPIC, &lapic) < 0)
        return -errno;
    memcpy(s->lapic, lapic.regs, sizeof(s->lapic));

    struct kvm_vcpu_events ev;
    if (ioctl(fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
        return -errno;
    s->events = (struct platform_events){
        .exception_injected = ev.exception.injected,
        .exception_nr = ev.exception.nr,
        .exception_has_error_code = ev.exception.has_error_code,
        .exception_pending = ev.exception.pending,
        .exception_error_code = ev.exception.error_code,
        .interrupt_injected = ev.interrupt.injected,
        .interrupt_nr = ev.interrupt.nr, .interrupt_soft = ev.interrupt.soft,
        .interrupt_shadow = ev.interrupt.shadow,
        .nmi_injected = ev.nmi.injected, .nmi_pending = ev.nmi.pending,
        .nmi_masked = ev.nmi.masked,
        .smi_smm = ev.smi.smm, .smi_pending = ev.smi.pending,
        .smi_inside_nmi = ev.smi.smm_inside_nmi,
        .smi_latched_init = ev.smi.latched_init,
        .sipi_vector = ev.sipi_vector,
    };

    struct kvm_mp_state mp;
    if (ioctl(fd, KVM_GET_MP_STATE, &mp) < 0)
        return -errno;
    s->mp_state = mp.mp_state;
    return 0;
}

int platform_set_vcpu_state(struct vcpu *v, const struct platform_vcpu_state *s)
{
    int fd = v->pv->fd;
    if (s->nr_msrs > PLATFORM_MAX_MSRS || s->nr_xcrs > PLATFORM_MAX_XCRS ||
        s->mp_state > PLATFORM_MP_SIPI_RECEIVED || s->xsave_len != xsave_size(v))
        return -EINVAL;
    /* Only the MSRs this file saves: a stream names no others. */
    for (unsigned i = 0; i < s->nr_msrs; i++) {
        bool known = false;
        for (unsigned j = 0; j < sizeof(wanted_msrs) / sizeof(wanted_msrs[0]); j++)
            known |= s->msr[i].index == wanted_msrs[j];
        if (!known)
            return -EINVAL;
    }
    struct kvm_sregs sr;
    if (ioctl(fd, KVM_GET_SREGS, &sr) < 0)     /* keeps the interrupt bitmap */
        return -errno;
    seg_in(&sr.cs, &s->cs); seg_in(&sr.ds, &s->ds); seg_in(&sr.es, &s->es);
    seg_in(&sr.fs, &s->fs); seg_in(&sr.gs, &s->gs); seg_in(&sr.ss, &s->ss);
    seg_in(&sr.tr, &s->tr); seg_in(&sr.ldt, &s->ldt);
    sr.gdt = (struct kvm_dtable){ .base = s->gdt.base, .limit = s->gdt.limit };
    sr.idt = (struct kvm_dtable){ .base = s->idt.base, .limit = s->idt.limit };
    sr.cr0 = s->cr0; sr.cr2 = s->cr2; sr.cr3 = s->cr3; sr.cr4 = s->cr4;
    sr.cr8 = s->cr8; sr.efer = s->efer; sr.apic_base = s->apic_base;
    memset(sr.interrupt_bitmap, 0, sizeof(sr.interrupt_bitmap));
    if (ioctl(fd, KVM_SET_SREGS, &sr) < 0)
        return -errno;

    /* Registers a handler left for the next entry are superseded. */
    if (v->pv->run)
        v->pv->run->kvm_dirty_regs = 0;
    struct kvm_regs r;
    memcpy(&r, &s->regs, sizeof(r));
    if (ioctl(fd, KVM_SET_REGS, &r) < 0)
        return -errno;
    if (v->pv->in_exit)
        memcpy(&v->pv->run->s.regs.regs, &r, sizeof(r));

    struct kvm_xsave *x = calloc(1, s->xsave_len);
    if (!x)
        return -ENOMEM;
    memcpy(x, s->xsave, s->xsave_len);
    int rc = ioctl(fd, KVM_SET_XSAVE, x) < 0 ? -errno : 0;
    free(x);
    if (rc < 0)
        return rc;

    struct kvm_xcrs xcrs = { .nr_xcrs = s->nr_xcrs };
    for (unsigned i = 0; i < s->nr_xcrs; i++)
        xcrs.xcrs[i] = (struct kvm_xcr){ .xcr = s->xcrs[i].xcr,
                                         .value = s->xcrs[i].value };
    if (s->nr_xcrs && ioctl(fd, KVM_SET_XCRS, &xcrs) < 0)
        return -errno;
    if ((rc = set_msrs(v, s, false)) < 0)
        return rc;

    struct kvm_mp_state mp = { .mp_state = s->mp_state };
    if (ioctl(fd, KVM_SET_MP_STATE, &mp) < 0)
        return -errno;
    struct kvm_lapic_state lapic;
    memcpy(lapic.regs, s->lapic, sizeof(lapic.regs));
    if (ioctl(fd, KVM_SET_LAPIC, &lapic) < 0)
        return -errno;
    if ((rc = set_msrs(v, s, true)) < 0)
        return rc;

    const struct platform_events *e = &s->events;
    struct kvm_vcpu_events ev = {
        .exception = { e->exception_injected, e->exception_nr,
                       e->exception_has_error_code, e->exception_pending,
                       e->exception_error_code },
        .interrupt = { e->interrupt_injected, e->interrupt_nr,
                       e->interrupt_soft, e->interrupt_shadow },
        .nmi = { e->nmi_injected, e->nmi_pending, e->nmi_masked, 0 },
        .sipi_vector = e->sipi_vector,
        .flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |
                 KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM,
        .smi = { e->smi_smm, e->smi_pending, e->smi_inside_nmi, e->smi_latched_init },
    };
    if (ioctl(fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
        return -errno;

    struct kvm_debugregs dbg = { .dr6 = s->dr6, .dr7 = s->dr7 };
    memcpy(dbg.db, s->dr, sizeof(dbg.db));
    return ioctl(fd, KVM_SET_DEBUGREGS, &dbg) < 0 ? -errno : 0;
}
