/*
 * Saving and loading the vCPUs (state/state.h): each vCPU's architectural
 * state from the platform (platform.h, struct platform_vcpu_state) and
 * the VMM's own per-vCPU state: up/down, a VCPUOP_initialise context
 * waiting for VCPUOP_up, whether it was blocked (SCHEDOP_block/poll), and
 * whether an upcall was pending for it.
 *
 * A vCPU blocked in SCHEDOP_block or SCHEDOP_poll sits inside the
 * hypercall, past the instruction, its result not yet written. Its record
 * holds RAX = 0: restored, it returns from the call as if woken, which
 * both operations allow (the guest re-checks its events). A pending
 * upcall is re-raised on load (the pending bit itself is in vcpu_info, in
 * guest memory). The TSC travels as the guest's own value; the pvclock
 * offset is derived again from it after the load.
 *
 * Load is all or nothing: every record is checked first; if the platform
 * then refuses one vCPU's state, the vCPUs already set get their previous
 * state back.
 *
 * Payload, version 1:
 *     uint32_t nr_vcpus                the restoring domain's
 *     uint32_t pad                     0
 *     then per vCPU:
 *     struct vcpu_record               flags below, 0 or 1 each
 *     vcpu_hvm_context_t init_ctx      zero unless has_init_ctx
 *     struct platform_vcpu_state up to its xsave area (host layout),
 *     then xsave_len bytes of XSAVE area
 */
#include "domain.h"
#include "hypercall.h"
#include "platform.h"
#include "shinfo.h"
#include "state.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#define FIXED offsetof(struct platform_vcpu_state, xsave)
#define XSAVE_MIN 576           /* legacy area + XSAVE header */
#define MSR_IA32_TSC 0x10

struct vcpu_record {
    uint8_t up, down, has_init_ctx, start_pending;
    uint8_t blocked, upcall_pending, pad[2];
};
_Static_assert(sizeof(struct vcpu_record) == 8, "record layout");

static int vcpu_save(struct domain *d, struct state_buf *out)
{
    uint32_t head[2] = { d->nr_vcpus, 0 };
    int rc = state_put(out, head, sizeof(head));
    struct platform_vcpu_state *s = malloc(sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (unsigned i = 0; i < d->nr_vcpus && rc == 0; i++) {
        struct vcpu *v = &d->vcpu[i];
        struct vcpu_record r = {
            .up = v->up, .down = v->down, .has_init_ctx = v->has_init_ctx,
            .start_pending = v->start_pending, .blocked = v->blocked,
            .upcall_pending = vcpu_upcall_pending(d, v),
        };
        vcpu_hvm_context_t ctx;
        memset(&ctx, 0, sizeof(ctx));
        if (v->has_init_ctx)
            ctx = v->init_ctx;
        rc = platform_get_vcpu_state(v, s);
        if (rc == 0 && v->blocked)
            s->regs.rax = 0;            /* woken, see above */
        if (rc == 0)
            rc = state_put(out, &r, sizeof(r));
        if (rc == 0)
            rc = state_put(out, &ctx, sizeof(ctx));
        if (rc == 0)
            rc = state_put(out, s, FIXED);
        if (rc == 0)
            rc = state_put(out, s->xsave, s->xsave_len);
    }
    free(s);
    return rc;
}

static bool flag(uint8_t b) { return b <= 1; }

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

static bool segment_ok(const struct platform_segment *g)
{
    return g->type <= 15 && g->dpl <= 3 && flag(g->present) && flag(g->db) &&
           flag(g->s) && flag(g->l) && flag(g->g) && flag(g->avl) &&
           flag(g->unusable);
}

/* What the platform-neutral record can say wrong; the platform checks the
 * rest (reserved bits, consistent modes) when it is set. */
static bool state_ok(const struct platform_vcpu_state *s)
{
    const struct platform_segment *seg[] = { &s->cs, &s->ds, &s->es, &s->fs,
                                             &s->gs, &s->ss, &s->tr, &s->ldt };
    for (unsigned i = 0; i < 8; i++)
        if (!segment_ok(seg[i]))
            return false;
    if (s->nr_msrs > PLATFORM_MAX_MSRS || s->nr_xcrs > PLATFORM_MAX_XCRS ||
        s->mp_state > PLATFORM_MP_SIPI_RECEIVED)
        return false;
    for (unsigned i = 0; i < s->nr_msrs; i++) {
        if (s->msr[i].pad || s->msr[i].index == MSR_IA32_TSC)
            return false;
        for (unsigned j = 0; j < i; j++)
            if (s->msr[j].index == s->msr[i].index)
                return false;
    }
    for (unsigned i = 0; i < s->nr_xcrs; i++)
        if (s->xcrs[i].pad)
            return false;
    const struct platform_events *e = &s->events;
    return flag(e->exception_injected) && flag(e->exception_has_error_code) &&
           flag(e->exception_pending) && e->exception_nr < 32 &&
           flag(e->interrupt_injected) && flag(e->interrupt_soft) &&
           e->interrupt_shadow <= 3 && flag(e->nmi_injected) &&
           flag(e->nmi_pending) && flag(e->nmi_masked) && flag(e->smi_smm) &&
           flag(e->smi_pending) && flag(e->smi_inside_nmi) &&
           flag(e->smi_latched_init) && e->sipi_vector <= 0xff;
}

struct parsed {
    struct vcpu_record r;
    vcpu_hvm_context_t ctx;
    struct platform_vcpu_state s;
};

static int vcpu_load(struct domain *d, const uint8_t *p, size_t len)
{
    uint32_t head[2];
    if (len < sizeof(head))
        return -EINVAL;
    memcpy(head, p, sizeof(head));
    if (head[0] != d->nr_vcpus || head[1] != 0)
        return -EINVAL;
    struct parsed *in = calloc(d->nr_vcpus, sizeof(*in));
    struct platform_vcpu_state *old = calloc(d->nr_vcpus, sizeof(*old));
    int rc = in && old ? 0 : -ENOMEM;
    size_t at = sizeof(head);
    bool any_running = false;
    for (unsigned i = 0; i < d->nr_vcpus && rc == 0; i++) {
        struct parsed *x = &in[i];
        if (len - at < sizeof(x->r) + sizeof(x->ctx) + FIXED) {
            rc = -EINVAL;
            break;
        }
        memcpy(&x->r, p + at, sizeof(x->r));
        memcpy(&x->ctx, p + at + sizeof(x->r), sizeof(x->ctx));
        memcpy(&x->s, p + at + sizeof(x->r) + sizeof(x->ctx), FIXED);
        at += sizeof(x->r) + sizeof(x->ctx) + FIXED;
        const struct vcpu_record *r = &x->r;
        uint32_t xl = x->s.xsave_len;
        if (!flag(r->up) || !flag(r->down) || !flag(r->has_init_ctx) ||
            !flag(r->start_pending) || !flag(r->blocked) ||
            !flag(r->upcall_pending) || r->pad[0] || r->pad[1] ||
            (r->start_pending && !r->has_init_ctx) ||
            (r->has_init_ctx ? hvm_vcpu_context_check(&x->ctx) < 0
                             : !all_zero(&x->ctx, sizeof(x->ctx))) ||
            !state_ok(&x->s) || xl > PLATFORM_XSAVE_MAX ||
            (xl && xl < XSAVE_MIN) || len - at < xl) {
            rc = -EINVAL;
            break;
        }
        memcpy(x->s.xsave, p + at, xl);
        at += xl;
        any_running |= r->up && !r->down;
    }
    /* A domain none of whose vCPUs runs would never run again. */
    if (rc == 0 && (at != len || !any_running))
        rc = -EINVAL;
    unsigned failed = d->nr_vcpus;      /* the vCPU the platform refused */
    for (unsigned i = 0; rc == 0 && i < d->nr_vcpus; i++) {
        struct vcpu *v = &d->vcpu[i];
        rc = platform_get_vcpu_state(v, &old[i]);
        if (rc == 0 && platform_set_vcpu_state(v, &in[i].s) < 0) {
            platform_set_vcpu_state(v, &old[i]);    /* it may be half set */
            rc = -EINVAL;
        }
        if (rc < 0)
            failed = i;
    }
    for (unsigned k = 0; rc < 0 && k < failed && failed < d->nr_vcpus; k++)
        platform_set_vcpu_state(&d->vcpu[k], &old[k]);  /* put back */
    if (rc == 0) {
        for (unsigned i = 0; i < d->nr_vcpus; i++) {
            struct vcpu *v = &d->vcpu[i];
            v->up = in[i].r.up;
            v->down = in[i].r.down;
            v->has_init_ctx = in[i].r.has_init_ctx;
            v->start_pending = in[i].r.start_pending;
            v->init_ctx = in[i].ctx;
        }
        /* The guest TSC moved: the pvclock offset follows it. */
        uint64_t guest_tsc;
        uint64_t before = __rdtsc();
        if (platform_get_msr(&d->vcpu[0], MSR_IA32_TSC, &guest_tsc) == 0) {
            uint64_t after = __rdtsc();
            d->guest_tsc_offset = (int64_t)(guest_tsc - (before + (after - before) / 2));
        }
        shinfo_update_time(d);
        for (unsigned i = 0; i < d->nr_vcpus; i++)
            if (in[i].r.upcall_pending && d->vcpu[i].up && !d->vcpu[i].down)
                vcpu_kick(&d->vcpu[i]);
    }
    free(in);
    free(old);
    return rc;
}

/* Between two saves the TSC and the LAPIC timer's current count move on
 * (the TSC forwards only); everything else must read back as it was set. */
#define LAPIC_TMCCT 0x390

static bool vcpu_same(const uint8_t *a, const uint8_t *b, size_t len)
{
    uint32_t head[2];
    if (len < sizeof(head) || memcmp(a, b, sizeof(head)) != 0)
        return false;
    memcpy(head, a, sizeof(head));
    struct platform_vcpu_state *sa = malloc(sizeof(*sa)), *sb = malloc(sizeof(*sb));
    bool same = sa && sb;
    size_t at = sizeof(head);
    size_t rec = sizeof(struct vcpu_record) + sizeof(vcpu_hvm_context_t);
    for (uint32_t i = 0; i < head[0] && same; i++) {
        if (len - at < rec + FIXED || memcmp(a + at, b + at, rec) != 0) {
            same = false;
            break;
        }
        memset(sa, 0, sizeof(*sa));
        memset(sb, 0, sizeof(*sb));
        memcpy(sa, a + at + rec, FIXED);
        memcpy(sb, b + at + rec, FIXED);
        at += rec + FIXED;
        if (sa->xsave_len != sb->xsave_len || len - at < sa->xsave_len ||
            memcmp(a + at, b + at, sa->xsave_len) != 0 || sb->tsc < sa->tsc) {
            same = false;
            break;
        }
        at += sa->xsave_len;
        sb->tsc = sa->tsc;
        memcpy(sb->lapic + LAPIC_TMCCT, sa->lapic + LAPIC_TMCCT, 4);
        same = memcmp(sa, sb, FIXED) == 0;
    }
    free(sa);
    free(sb);
    return same && at == len;
}

STATE_MODULE(vcpu_state) = {
    .name = "vcpu", .version = 1, .save = vcpu_save, .load = vcpu_load,
    .same = vcpu_same,
};
