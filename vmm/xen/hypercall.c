#include "hypercall.h"
#include "domain.h"
#include "exits.h"

#include <errno.h>
#include <string.h>
#include <xen/errno.h>

#include "log.h"

/* --- guest memory by virtual address ----------------------------------- */

/* Translate one guest-virtual address; returns the guest-physical address
 * or NO_GPA. */
static uint64_t translate(struct hcall *h, uint64_t gva, bool write)
{
    uint64_t gpa;
    switch (gva_translate(&h->d->mem, &h->paging, gva, write, &gpa)) {
    case GVA_OK:
        return gpa;
    case GVA_FAULT:
        return NO_GPA;
    case GVA_UNSUPPORTED:
        break;              /* 5-level paging: ask the platform */
    }
    return platform_translate(h->v, gva, write, &gpa) == 0 ? gpa : NO_GPA;
}

static int guest_copy(struct hcall *h, uint64_t gva, void *buf, size_t len,
                      bool write)
{
    uint8_t *p = buf;
    if (h->compat && (gva > 0xffffffffull || len > 0x100000000ull - gva))
        return -XEN_EFAULT;
    /* A buffer running off the top of the address space would wrap to
     * address 0 and on: a fault, not a copy. */
    if (len > 0 && len - 1 > UINT64_MAX - gva)
        return -XEN_EFAULT;
    while (len > 0) {
        size_t chunk = GMEM_PAGE_SIZE - (gva & (GMEM_PAGE_SIZE - 1));
        if (chunk > len)
            chunk = len;
        uint64_t gpa = translate(h, gva, write);
        if (gpa == NO_GPA)
            return -XEN_EFAULT;
        uint8_t *host = gmem_ptr(&h->d->mem, gpa, chunk);
        if (!host)
            return -XEN_EFAULT;
        if (write)
            memcpy(host, p, chunk);
        else
            memcpy(p, host, chunk);
        p += chunk;
        gva += chunk;
        len -= chunk;
    }
    return 0;
}

int guest_read(struct hcall *h, uint64_t gva, void *dst, size_t len)
{
    return guest_copy(h, gva, dst, len, false);
}

int guest_write(struct hcall *h, uint64_t gva, const void *src, size_t len)
{
    return guest_copy(h, gva, (void *)src, len, true);
}

/* --- the page and the dispatcher --------------------------------------- */

void hypercall_page_fill(uint8_t *page)
{
    /* 128 stubs of 32 bytes: mov $i,%eax; out %eax,$port; ret; int3 pad. */
    memset(page, 0xcc, GMEM_PAGE_SIZE);
    for (unsigned i = 0; i < GMEM_PAGE_SIZE / 32; i++) {
        uint8_t *s = page + i * 32;
        s[0] = 0xb8;
        memcpy(s + 1, &i, 4);
        s[5] = 0xe7;
        s[6] = XEN_HYPERCALL_PORT;
        s[7] = 0xc3;
    }
}

void hcall_log_enosys(struct hcall *h, const char *what, unsigned sub)
{
    struct domain *d = h->d;
    unsigned key = ((unsigned)h->nr * 31u + sub) % (sizeof(d->enosys_logged) * 8);
    if (d->enosys_logged[key / 8] & (1u << (key % 8)))
        return;
    d->enosys_logged[key / 8] |= (uint8_t)(1u << (key % 8));
    log_limited(LOG_WARN, "dom%u: unimplemented %s %u: returning -ENOSYS", d->domid, what, sub);
}

long hcall_continue(struct hcall *h)
{
    h->preempted = true;
    return 0;
}

/*
 * Whether a continuation can put the vCPU back on its hypercall
 * instruction: only if that is `out %eax, $XEN_HYPERCALL_PORT` (e7 5e, as
 * in our stubs and rerouted vmcalls), read back through the checked guest
 * path at the exit RIP. Prefixes before it (REX, segment) change nothing
 * for an `out` and may be skipped. Any other form is not re-issued: `out
 * %eax, %dx` (1 byte) takes its port from DX, which carries the third
 * argument, so the updated arguments would send it elsewhere; and a
 * guest could reach the port from code we did not write at all.
 */
static bool rewindable(struct hcall *h, const struct platform_regs *regs,
                       const struct platform_sregs *sregs)
{
    uint64_t at = regs->rip - XEN_HYPERCALL_INSN_LEN;
    if (h->compat)
        at = (uint32_t)(sregs->cs_base + (uint32_t)at);
    uint8_t insn[XEN_HYPERCALL_INSN_LEN];
    return regs->rip >= XEN_HYPERCALL_INSN_LEN &&
           guest_read(h, at, insn, sizeof(insn)) == 0 &&
           insn[0] == 0xe7 && insn[1] == XEN_HYPERCALL_PORT;
}

typedef long (*hc_handler)(struct hcall *);

static const hc_handler handlers[] = {
    [__HYPERVISOR_set_timer_op] = hc_set_timer_op,
    [__HYPERVISOR_memory_op] = hc_memory_op,
    [__HYPERVISOR_xen_version] = hc_xen_version,
    [__HYPERVISOR_console_io] = hc_console_io,
    [__HYPERVISOR_grant_table_op] = hc_grant_table_op,
    [__HYPERVISOR_vcpu_op] = hc_vcpu_op,
    [__HYPERVISOR_sched_op] = hc_sched_op,
    [__HYPERVISOR_event_channel_op] = hc_event_channel_op,
    [__HYPERVISOR_hvm_op] = hc_hvm_op,
};

void hypercall_dispatch(struct vcpu *v, struct platform_regs *regs,
                        const struct platform_sregs *sregs)
{
    struct domain *d = v->d;
    bool long_mode = platform_long_mode(sregs);
    struct hcall h = {
        .d = d, .v = v,
        .compat = !long_mode,
        .paging = { .cr0 = sregs->cr0, .cr3 = sregs->cr3, .cr4 = sregs->cr4,
                    .efer = sregs->efer, .user = sregs->cpl == 3 },
        .nr = regs->rax & 0xffffffffull,
    };
    if (long_mode) {
        h.arg[0] = regs->rdi; h.arg[1] = regs->rsi; h.arg[2] = regs->rdx;
        h.arg[3] = regs->r10; h.arg[4] = regs->r8;
    } else {
        h.arg[0] = regs->rbx & 0xffffffff; h.arg[1] = regs->rcx & 0xffffffff;
        h.arg[2] = regs->rdx & 0xffffffff; h.arg[3] = regs->rsi & 0xffffffff;
        h.arg[4] = regs->rdi & 0xffffffff;
    }
    v->nr_hypercalls++;

    long ret;
    if (sregs->cpl != 0 && !d->user_hypercalls) {
        ret = -XEN_EPERM;           /* Xen refuses hypercalls from user mode */
    } else if (h.nr < sizeof(handlers) / sizeof(handlers[0]) && handlers[h.nr]) {
        ret = handlers[h.nr](&h);
        /* A continuation the guest cannot be handed back: the next pieces
         * here, with the lock dropped between them as between exits. */
        while (h.preempted && !rewindable(&h, regs, sregs)) {
            h.preempted = false;
            pthread_mutex_unlock(&d->lock);
            pthread_mutex_lock(&d->lock);
            if (atomic_load(&d->stopping))
                break;              /* the domain ends: no result matters */
            ret = handlers[h.nr](&h);
        }
    } else {
        hcall_log_enosys(&h, "hypercall", (unsigned)h.nr);
        ret = -XEN_ENOSYS;
    }
    if (h.preempted) {
        regs->rip -= XEN_HYPERCALL_INSN_LEN;
        if (long_mode) {
            regs->rdi = h.arg[0]; regs->rsi = h.arg[1]; regs->rdx = h.arg[2];
            regs->r10 = h.arg[3]; regs->r8 = h.arg[4];
        } else {
            regs->rbx = (uint32_t)h.arg[0]; regs->rcx = (uint32_t)h.arg[1];
            regs->rdx = (uint32_t)h.arg[2]; regs->rsi = (uint32_t)h.arg[3];
            regs->rdi = (uint32_t)h.arg[4];
        }
        return;
    }
    regs->rax = long_mode ? (uint64_t)ret : (uint64_t)(uint32_t)ret;
}

/* --- the exits that reach us ------------------------------------------- */

/* `out %eax, $XEN_HYPERCALL_PORT` from a hypercall page stub. Anything
 * else on the port (a read, another width, string I/O) decodes nothing. */
static void on_hypercall_port(struct vcpu *v, uint16_t port, bool out,
                              uint8_t *data, unsigned size, unsigned count,
                              void *opaque)
{
    (void)port;
    (void)opaque;
    if (!out || size != 4 || count != 1) {
        if (!out)
            memset(data, 0xff, (size_t)size * count);
        return;
    }
    struct domain *d = v->d;
    struct platform_regs regs;
    struct platform_sregs sregs;
    if (platform_get_regs(v, &regs) < 0 || platform_get_sregs(v, &sregs) < 0)
        return;
    pthread_mutex_lock(&d->lock);
    hypercall_dispatch(v, &regs, &sregs);
    pthread_mutex_unlock(&d->lock);
    platform_set_regs(v, &regs);
}

/* The guest asks for the hypercall page at a guest-physical address (low
 * 12 bits: the page index; we provide one page). Reads give #GP. */
static bool on_hypercall_msr(struct vcpu *v, uint32_t index, bool write,
                             uint64_t *value, void *opaque)
{
    (void)index;
    (void)opaque;
    if (!write || (*value & 0xfff) != 0)
        return false;
    struct domain *d = v->d;
    uint64_t gpa = *value & ~0xfffull;
    struct platform_sregs s;
    bool have_mode = platform_get_sregs(v, &s) == 0;
    pthread_mutex_lock(&d->lock);
    uint8_t *page = gmem_is_ram(&d->mem, gpa, GMEM_PAGE_SIZE)
                        ? gmem_ptr(&d->mem, gpa, GMEM_PAGE_SIZE) : NULL;
    if (page) {
        hypercall_page_fill(page);
        d->hypercall_page_gpa = gpa;
        /* Xen latches the shared info layout from the guest's mode here. */
        if (have_mode)
            d->shinfo_32bit = !platform_long_mode(&s);
    }
    pthread_mutex_unlock(&d->lock);
    return page != NULL;
}

int hypercall_register_exits(struct domain *d)
{
    int rc = exits_register_ports(&d->exits, XEN_HYPERCALL_PORT, 1,
                                  on_hypercall_port, NULL);
    return rc < 0 ? rc : exits_register_msr(&d->exits, XEN_HYPERCALL_MSR,
                                            on_hypercall_msr, NULL);
}
