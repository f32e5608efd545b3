/* See hvm_convert.h. */
#include "hvm_convert.h"

#include <errno.h>
#include <string.h>

#define MSR_SYSENTER_CS     0x174u
#define MSR_SYSENTER_ESP    0x175u
#define MSR_SYSENTER_EIP    0x176u
#define MSR_STAR            0xc0000081u
#define MSR_LSTAR           0xc0000082u
#define MSR_CSTAR           0xc0000083u
#define MSR_SFMASK          0xc0000084u
#define MSR_KERNEL_GS_BASE  0xc0000102u
#define MSR_TSC_AUX         0xc0000103u
#define MSR_PAT             0x277u
#define MSR_MTRR_DEF_TYPE   0x2ffu
#define MSR_MTRR_PHYS_BASE0 0x200u
#define MSR_TSC_DEADLINE    0x6e0u
#define MTRR_CAP_VALUE      0x508ull    /* 8 variable ranges, fixed, WC */

#define APIC_BASE_ENABLE    (1ull << 11)
#define LAPIC_TPR           0x80
#define LAPIC_SVR           0xf0
#define LAPIC_TDCR          0x3e0
#define LAPIC_SVR_ENABLE    (1u << 8)

/* Xen's order of the fixed-range MTRRs (hvm_hw_mtrr.msr_mtrr_fixed). */
static const uint32_t mtrr_fixed[NUM_FIXED_MSR] = {
    0x250, 0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f,
};

/* Pending-event types (Xen's X86_EVENTTYPE_*, as VMX numbers them). */
enum { EV_EXT_INTR = 0, EV_NMI = 2, EV_HW_EXCEPTION = 3, EV_SW_INTERRUPT = 4,
       EV_SW_EXCEPTION = 6 };

static uint64_t msr_get(const struct platform_vcpu_state *s, uint32_t index)
{
    for (uint32_t i = 0; i < s->nr_msrs && i < PLATFORM_MAX_MSRS; i++)
        if (s->msr[i].index == index)
            return s->msr[i].value;
    return 0;
}

/* Set an MSR the base carries, or append it if there is room. */
static void msr_set(struct platform_vcpu_state *s, uint32_t index, uint64_t value)
{
    for (uint32_t i = 0; i < s->nr_msrs && i < PLATFORM_MAX_MSRS; i++)
        if (s->msr[i].index == index) {
            s->msr[i].value = value;
            return;
        }
    if (s->nr_msrs < PLATFORM_MAX_MSRS && value) {
        s->msr[s->nr_msrs].index = index;
        s->msr[s->nr_msrs].pad = 0;
        s->msr[s->nr_msrs].value = value;
        s->nr_msrs++;
    }
}

static uint32_t lapic_reg(const struct platform_vcpu_state *s, unsigned off)
{
    uint32_t v;
    memcpy(&v, s->lapic + off, sizeof(v));
    return v;
}

/* Xen's segment attributes: type:4 s:1 dpl:2 p:1 avl:1 l:1 db:1 g:1. An
 * unusable segment is written not present. */
static uint32_t arbytes(const struct platform_segment *g)
{
    uint32_t p = g->present && !g->unusable;
    return (g->type & 0xfu) | (g->s & 1u) << 4 | (g->dpl & 3u) << 5 | p << 7 |
           (g->avl & 1u) << 8 | (g->l & 1u) << 9 | (g->db & 1u) << 10 |
           (g->g & 1u) << 11;
}

static void seg_out(const struct platform_segment *g, uint32_t *sel, uint32_t *limit,
                    uint64_t *base, uint32_t *ar)
{
    *sel = g->selector;
    *limit = g->limit;
    *base = g->base;
    *ar = arbytes(g);
}

static void seg_in(struct platform_segment *g, uint32_t sel, uint32_t limit,
                   uint64_t base, uint32_t ar)
{
    *g = (struct platform_segment){
        .base = base, .limit = limit, .selector = (uint16_t)sel,
        .type = ar & 0xf, .s = (ar >> 4) & 1, .dpl = (ar >> 5) & 3,
        .present = (ar >> 7) & 1, .avl = (ar >> 8) & 1, .l = (ar >> 9) & 1,
        .db = (ar >> 10) & 1, .g = (ar >> 11) & 1,
    };
    g->unusable = !g->present;
}

static uint32_t pending_event(const struct platform_events *e, uint32_t *error_code)
{
    uint32_t vector, type, err_valid = 0;
    *error_code = 0;
    if (e->exception_injected) {
        vector = e->exception_nr;
        type = EV_HW_EXCEPTION;
        err_valid = e->exception_has_error_code;
        *error_code = err_valid ? e->exception_error_code : 0;
    } else if (e->nmi_injected) {
        vector = 2;
        type = EV_NMI;
    } else if (e->interrupt_injected) {
        vector = e->interrupt_nr;
        type = e->interrupt_soft ? EV_SW_INTERRUPT : EV_EXT_INTR;
    } else {
        return 0;
    }
    return (vector & 0xffu) | type << 8 | err_valid << 11 | 1u << 31;
}

void hvm_from_platform(const struct platform_vcpu_state *s, uint64_t xfeature_mask,
                       struct hvm_ctx_vcpu *out, uint8_t *xsave_buf)
{
    memset(out, 0, sizeof(*out));
    out->present = true;
    struct hvm_hw_cpu *c = &out->cpu;
    const struct platform_regs *r = &s->regs;
    if (s->xsave_len >= sizeof(c->fpu_regs))
        memcpy(c->fpu_regs, s->xsave, sizeof(c->fpu_regs));
    c->rax = r->rax; c->rbx = r->rbx; c->rcx = r->rcx; c->rdx = r->rdx;
    c->rbp = r->rbp; c->rsi = r->rsi; c->rdi = r->rdi; c->rsp = r->rsp;
    c->r8 = r->r8; c->r9 = r->r9; c->r10 = r->r10; c->r11 = r->r11;
    c->r12 = r->r12; c->r13 = r->r13; c->r14 = r->r14; c->r15 = r->r15;
    c->rip = r->rip; c->rflags = r->rflags;
    c->cr0 = s->cr0; c->cr2 = s->cr2; c->cr3 = s->cr3; c->cr4 = s->cr4;
    c->dr0 = s->dr[0]; c->dr1 = s->dr[1]; c->dr2 = s->dr[2]; c->dr3 = s->dr[3];
    c->dr6 = s->dr6; c->dr7 = s->dr7;
    seg_out(&s->cs, &c->cs_sel, &c->cs_limit, &c->cs_base, &c->cs_arbytes);
    seg_out(&s->ds, &c->ds_sel, &c->ds_limit, &c->ds_base, &c->ds_arbytes);
    seg_out(&s->es, &c->es_sel, &c->es_limit, &c->es_base, &c->es_arbytes);
    seg_out(&s->fs, &c->fs_sel, &c->fs_limit, &c->fs_base, &c->fs_arbytes);
    seg_out(&s->gs, &c->gs_sel, &c->gs_limit, &c->gs_base, &c->gs_arbytes);
    seg_out(&s->ss, &c->ss_sel, &c->ss_limit, &c->ss_base, &c->ss_arbytes);
    seg_out(&s->tr, &c->tr_sel, &c->tr_limit, &c->tr_base, &c->tr_arbytes);
    seg_out(&s->ldt, &c->ldtr_sel, &c->ldtr_limit, &c->ldtr_base, &c->ldtr_arbytes);
    c->idtr_limit = s->idt.limit; c->idtr_base = s->idt.base;
    c->gdtr_limit = s->gdt.limit; c->gdtr_base = s->gdt.base;
    c->sysenter_cs = msr_get(s, MSR_SYSENTER_CS);
    c->sysenter_esp = msr_get(s, MSR_SYSENTER_ESP);
    c->sysenter_eip = msr_get(s, MSR_SYSENTER_EIP);
    c->shadow_gs = msr_get(s, MSR_KERNEL_GS_BASE);
    c->msr_lstar = msr_get(s, MSR_LSTAR);
    c->msr_star = msr_get(s, MSR_STAR);
    c->msr_cstar = msr_get(s, MSR_CSTAR);
    c->msr_syscall_mask = msr_get(s, MSR_SFMASK);
    c->msr_efer = s->efer;
    c->msr_tsc_aux = msr_get(s, MSR_TSC_AUX);
    c->tsc = s->tsc;
    c->pending_event = pending_event(&s->events, &c->error_code);
    c->flags = XEN_X86_FPU_INITIALISED;

    out->has_lapic = true;
    out->lapic.apic_base_msr = s->apic_base;
    out->lapic.disabled =
        (s->apic_base & APIC_BASE_ENABLE ? 0 : HVM_VLAPIC_HW_DISABLED) |
        (lapic_reg(s, LAPIC_SVR) & LAPIC_SVR_ENABLE ? 0 : HVM_VLAPIC_SW_DISABLED);
    uint32_t dcr = lapic_reg(s, LAPIC_TDCR);
    out->lapic.timer_divisor = 1u << ((((dcr & 3) | ((dcr & 8) >> 1)) + 1) & 7);
    out->lapic.tdt_msr = msr_get(s, MSR_TSC_DEADLINE);
    out->has_lapic_regs = true;
    memcpy(out->lapic_regs.data, s->lapic, sizeof(out->lapic_regs.data));

    out->has_mtrr = true;
    out->mtrr.msr_pat_cr = msr_get(s, MSR_PAT);
    for (unsigned i = 0; i < MTRR_VCNT * 2; i++)
        out->mtrr.msr_mtrr_var[i] = msr_get(s, MSR_MTRR_PHYS_BASE0 + i);
    for (unsigned i = 0; i < NUM_FIXED_MSR; i++)
        out->mtrr.msr_mtrr_fixed[i] = msr_get(s, mtrr_fixed[i]);
    out->mtrr.msr_mtrr_cap = MTRR_CAP_VALUE;
    out->mtrr.msr_mtrr_def_type = msr_get(s, MSR_MTRR_DEF_TYPE);

    uint32_t area = s->xsave_len <= PLATFORM_XSAVE_MAX ? s->xsave_len : 0;
    if (area >= sizeof(((struct hvm_hw_cpu_xsave *)0)->save_area)) {
        struct hvm_hw_cpu_xsave h = { .xfeature_mask = xfeature_mask };
        for (uint32_t i = 0; i < s->nr_xcrs && i < PLATFORM_MAX_XCRS; i++)
            if (s->xcrs[i].xcr == 0)
                h.xcr0 = h.xcr0_accum = s->xcrs[i].value;
        size_t head = offsetof(struct hvm_hw_cpu_xsave, save_area);
        memcpy(xsave_buf, &h, head);
        memcpy(xsave_buf + head, s->xsave, area);
        out->xsave = xsave_buf;
        out->xsave_len = (uint32_t)(head + area);
    }
}

int hvm_to_platform(const struct hvm_ctx_vcpu *v, struct platform_vcpu_state *s)
{
    if (!v->present)
        return -EINVAL;
    const struct hvm_hw_cpu *c = &v->cpu;
    struct platform_regs *r = &s->regs;
    r->rax = c->rax; r->rbx = c->rbx; r->rcx = c->rcx; r->rdx = c->rdx;
    r->rbp = c->rbp; r->rsi = c->rsi; r->rdi = c->rdi; r->rsp = c->rsp;
    r->r8 = c->r8; r->r9 = c->r9; r->r10 = c->r10; r->r11 = c->r11;
    r->r12 = c->r12; r->r13 = c->r13; r->r14 = c->r14; r->r15 = c->r15;
    r->rip = c->rip; r->rflags = c->rflags;
    s->cr0 = c->cr0; s->cr2 = c->cr2; s->cr3 = c->cr3; s->cr4 = c->cr4;
    s->dr[0] = c->dr0; s->dr[1] = c->dr1; s->dr[2] = c->dr2; s->dr[3] = c->dr3;
    s->dr6 = c->dr6; s->dr7 = c->dr7;
    s->efer = c->msr_efer;
    seg_in(&s->cs, c->cs_sel, c->cs_limit, c->cs_base, c->cs_arbytes);
    seg_in(&s->ds, c->ds_sel, c->ds_limit, c->ds_base, c->ds_arbytes);
    seg_in(&s->es, c->es_sel, c->es_limit, c->es_base, c->es_arbytes);
    seg_in(&s->fs, c->fs_sel, c->fs_limit, c->fs_base, c->fs_arbytes);
    seg_in(&s->gs, c->gs_sel, c->gs_limit, c->gs_base, c->gs_arbytes);
    seg_in(&s->ss, c->ss_sel, c->ss_limit, c->ss_base, c->ss_arbytes);
    seg_in(&s->tr, c->tr_sel, c->tr_limit, c->tr_base, c->tr_arbytes);
    seg_in(&s->ldt, c->ldtr_sel, c->ldtr_limit, c->ldtr_base, c->ldtr_arbytes);
    s->idt = (struct platform_dtable){ c->idtr_base, (uint16_t)c->idtr_limit };
    s->gdt = (struct platform_dtable){ c->gdtr_base, (uint16_t)c->gdtr_limit };
    msr_set(s, MSR_SYSENTER_CS, c->sysenter_cs);
    msr_set(s, MSR_SYSENTER_ESP, c->sysenter_esp);
    msr_set(s, MSR_SYSENTER_EIP, c->sysenter_eip);
    msr_set(s, MSR_KERNEL_GS_BASE, c->shadow_gs);
    msr_set(s, MSR_LSTAR, c->msr_lstar);
    msr_set(s, MSR_STAR, c->msr_star);
    msr_set(s, MSR_CSTAR, c->msr_cstar);
    msr_set(s, MSR_SFMASK, c->msr_syscall_mask);
    msr_set(s, MSR_TSC_AUX, c->msr_tsc_aux);
    s->tsc = c->tsc;

    struct platform_events *e = &s->events;
    e->exception_injected = e->exception_pending = e->exception_has_error_code = 0;
    e->exception_nr = 0;
    e->exception_error_code = 0;
    e->interrupt_injected = e->interrupt_soft = e->interrupt_nr = 0;
    e->nmi_injected = 0;
    if (c->pending_event & (1u << 31)) {
        uint32_t vector = c->pending_event & 0xff, type = (c->pending_event >> 8) & 7;
        bool err_valid = (c->pending_event >> 11) & 1;
        switch (type) {
        case EV_HW_EXCEPTION:
        case EV_SW_EXCEPTION:
            if (vector >= 32)
                return -EINVAL;
            e->exception_injected = 1;
            e->exception_nr = (uint8_t)vector;
            e->exception_has_error_code = err_valid;
            e->exception_error_code = err_valid ? c->error_code : 0;
            break;
        case EV_NMI:
            e->nmi_injected = 1;
            break;
        case EV_EXT_INTR:
        case EV_SW_INTERRUPT:
            e->interrupt_injected = 1;
            e->interrupt_nr = (uint8_t)vector;
            e->interrupt_soft = type == EV_SW_INTERRUPT;
            break;
        default:
            return -EINVAL;
        }
    }

    /* A vCPU with a CPU record runs (Xen has no MP state). */
    s->mp_state = PLATFORM_MP_RUNNABLE;
    if (v->has_lapic)
        s->apic_base = v->lapic.apic_base_msr;
    if (v->has_lapic) {
        msr_set(s, MSR_TSC_DEADLINE, v->lapic.tdt_msr);
    }
    if (v->has_lapic_regs) {
        memcpy(s->lapic, v->lapic_regs.data, sizeof(s->lapic));
        s->cr8 = (lapic_reg(s, LAPIC_TPR) >> 4) & 0xf;
    }
    if (v->has_mtrr) {
        msr_set(s, MSR_PAT, v->mtrr.msr_pat_cr);
        for (unsigned i = 0; i < MTRR_VCNT * 2; i++)
            msr_set(s, MSR_MTRR_PHYS_BASE0 + i, v->mtrr.msr_mtrr_var[i]);
        for (unsigned i = 0; i < NUM_FIXED_MSR; i++)
            msr_set(s, mtrr_fixed[i], v->mtrr.msr_mtrr_fixed[i]);
        msr_set(s, MSR_MTRR_DEF_TYPE, v->mtrr.msr_mtrr_def_type);
    }
    size_t head = offsetof(struct hvm_hw_cpu_xsave, save_area);
    if (v->xsave && v->xsave_len >= head) {
        struct hvm_hw_cpu_xsave h;
        memcpy(&h, v->xsave, head);
        size_t area = v->xsave_len - head;
        if (area > s->xsave_len || s->xsave_len > PLATFORM_XSAVE_MAX)
            return -EINVAL;
        memcpy(s->xsave, v->xsave + head, area);
        memset(s->xsave + area, 0, s->xsave_len - area);
        bool set = false;
        for (uint32_t i = 0; i < s->nr_xcrs && i < PLATFORM_MAX_XCRS; i++)
            if (s->xcrs[i].xcr == 0) {
                s->xcrs[i].value = h.xcr0;
                set = true;
            }
        if (!set && s->nr_xcrs < PLATFORM_MAX_XCRS)
            s->xcrs[s->nr_xcrs++] = (typeof(s->xcrs[0])){ 0, 0, h.xcr0 };
    } else if (s->xsave_len >= sizeof(c->fpu_regs)) {
        memcpy(s->xsave, c->fpu_regs, sizeof(c->fpu_regs));
    }
    return 0;
}
