#include "mem_platform.h"
#include "dirty.h"
#include "exits.h"
#include "gnttab.h"
#include "hypercall.h"
#include "layout.h"
#include "memmap.h"
#include "shinfo.h"
#include "timer.h"
#include "uart.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#define MSR_IA32_TSC 0x10
#define MEM_TSC_KHZ 2000000ull      /* a 2 GHz TSC */
/* Where mem_hypercall's `out %eax,$port` sits: the first stub's in a
 * hypercall page at 0x3000, and written there by mem_hypercall itself for
 * domains that have none (the dispatcher reads it to rewind a
 * continuation). */
#define MEM_HCALL_RIP 0x3005ull

int platform_get_regs(struct vcpu *v, struct platform_regs *r)
{
    *r = v->pv->regs;
    return 0;
}

int platform_set_regs(struct vcpu *v, const struct platform_regs *r)
{
    v->pv->regs = *r;
    return 0;
}

int platform_get_sregs(struct vcpu *v, struct platform_sregs *s)
{
    *s = v->pv->sregs;
    return 0;
}

int platform_get_msr(struct vcpu *v, uint32_t index, uint64_t *value)
{
    (void)v;
    if (index != MSR_IA32_TSC)
        return -EINVAL;
    *value = __rdtsc();             /* the guest TSC is the host's */
    return 0;
}

/* The full state is what was last set, with the registers and modes the
 * Xen ABI reads kept in regs/sregs. */
int platform_get_vcpu_state(struct vcpu *v, struct platform_vcpu_state *s)
{
    const struct platform_vcpu *pv = v->pv;
    *s = pv->full;
    s->regs = pv->regs;
    s->cr0 = pv->sregs.cr0; s->cr2 = pv->sregs.cr2; s->cr3 = pv->sregs.cr3;
    s->cr4 = pv->sregs.cr4; s->efer = pv->sregs.efer;
    s->cs.selector = pv->sregs.cs_selector;
    s->cs.l = pv->sregs.cs_l;
    s->cs.base = pv->sregs.cs_base;
    s->ss.dpl = pv->sregs.cpl;
    return 0;
}

int platform_set_vcpu_state(struct vcpu *v, const struct platform_vcpu_state *s)
{
    if (s->nr_msrs > PLATFORM_MAX_MSRS || s->nr_xcrs > PLATFORM_MAX_XCRS ||
        s->xsave_len > PLATFORM_XSAVE_MAX || s->mp_state > PLATFORM_MP_SIPI_RECEIVED)
        return -EINVAL;
    struct platform_vcpu *pv = v->pv;
    pv->full = *s;
    pv->regs = s->regs;
    pv->sregs = (struct platform_sregs){
        .cr0 = s->cr0, .cr2 = s->cr2, .cr3 = s->cr3, .cr4 = s->cr4,
        .efer = s->efer, .cs_selector = s->cs.selector, .cs_l = s->cs.l != 0,
        .cs_base = s->cs.base, .cpl = s->ss.dpl & 3,
    };
    return 0;
}

int platform_get_cpuid(struct vcpu *v, struct platform_cpuid_leaf *out, unsigned cap,
                       unsigned *n)
{
    (void)v;
    *n = 0;
    if (cap) {
        out[0] = (struct platform_cpuid_leaf){ .leaf = 0, .a = 0xd };
        *n = 1;
    }
    return 0;
}

int platform_tsc_khz(struct domain *d, uint64_t *khz)
{
    *khz = d->pvm->tsc_khz;
    return 0;
}

/* memory/gva.c walks every mode a test puts a vCPU in; 5-level paging,
 * the one it leaves to the platform, has no walker here. */
int platform_translate(struct vcpu *v, uint64_t gva, bool write, uint64_t *gpa)
{
    (void)v; (void)gva; (void)write; (void)gpa;
    return -EFAULT;
}

int platform_map_region(struct domain *d, unsigned index)
{
    if (index >= gmem_nr_regions(&d->mem))
        return -EINVAL;
    d->pvm->mapped[index] = true;
    return 0;
}

int platform_unmap_region(struct domain *d, unsigned index)
{
    if (index >= gmem_nr_regions(&d->mem) || !d->pvm->mapped[index])
        return -EINVAL;
    d->pvm->mapped[index] = false;
    return 0;
}

int platform_dirty_log_start(struct domain *d)
{
    struct platform_vm *pvm = d->pvm;
    if (pvm->dirty_logging)
        return 0;
    for (unsigned i = 0; i < gmem_nr_regions(&d->mem); i++) {
        size_t words = DIRTY_WORDS(d->mem.region[i].size >> GMEM_PAGE_SHIFT);
        free(pvm->guest_dirty[i]);
        pvm->guest_dirty[i] = calloc(words, 8);
        if (!pvm->guest_dirty[i])
            return -ENOMEM;
    }
    int rc = gmem_dirty_start(&d->mem);
    if (rc < 0)
        return rc;
    pvm->dirty_logging = true;
    return 0;
}

void platform_dirty_log_stop(struct domain *d)
{
    d->pvm->dirty_logging = false;
    gmem_dirty_stop(&d->mem);
    for (unsigned i = 0; i < GMEM_MAX_REGIONS; i++) {
        free(d->pvm->guest_dirty[i]);
        d->pvm->guest_dirty[i] = NULL;
    }
}

int platform_dirty_log_fetch(struct domain *d, uint64_t *bitmap,
                             uint64_t nr_pfns, uint64_t *count)
{
    struct platform_vm *pvm = d->pvm;
    if (!pvm->dirty_logging)
        return -EINVAL;
    pvm->dirty_fetches++;
    uint64_t total = 0;
    for (unsigned i = 0; i < gmem_nr_regions(&d->mem); i++) {
        const struct gmem_region *r = &d->mem.region[i];
        uint64_t pages = r->size >> GMEM_PAGE_SHIFT;
        if (!pvm->guest_dirty[i]) {         /* mapped while logging */
            pvm->guest_dirty[i] = calloc(DIRTY_WORDS(pages), 8);
            if (!pvm->guest_dirty[i])
                return -ENOMEM;
            for (uint64_t p = 0; p < pages; p++)
                dirty_set(pvm->guest_dirty[i], p);
        }
        total += dirty_merge(bitmap, nr_pfns, r->gpa >> GMEM_PAGE_SHIFT,
                             pvm->guest_dirty[i], pages);
        memset(pvm->guest_dirty[i], 0, DIRTY_WORDS(pages) * 8);
    }
    total += gmem_dirty_fetch(&d->mem, bitmap, nr_pfns);
    if (count)
        *count = total;
    return 0;
}

int mem_guest_write(struct domain *d, uint64_t gpa, const void *src,
                    uint64_t len)
{
    int rc = gmem_write(&d->mem, gpa, src, len);
    if (rc < 0 || !d->pvm->dirty_logging || len == 0)
        return rc;
    const struct gmem_region *r = gmem_find(&d->mem, gpa);
    uint64_t *log = d->pvm->guest_dirty[r - d->mem.region];
    if (!log)
        return 0;                   /* mapped while logging: all dirty */
    for (uint64_t p = (gpa - r->gpa) >> GMEM_PAGE_SHIFT;
         p <= (gpa - r->gpa + len - 1) >> GMEM_PAGE_SHIFT; p++)
        dirty_set(log, p);
    return 0;
}

int platform_inject_vector(struct domain *d, unsigned vcpu, uint8_t vector)
{
    if (vcpu >= d->nr_vcpus)
        return -EINVAL;
    d->pvm->vcpu[vcpu].injected++;
    d->pvm->vcpu[vcpu].last_vector = vector;
    return 0;
}

void platform_raise_callback(struct vcpu *v)
{
    if (v->pv)
        v->pv->callbacks++;
}

void platform_kick(struct vcpu *v)
{
    if (v->pv)
        v->pv->kicks++;
}

/* No threads here: the in-memory vCPUs never run. */
bool platform_vcpu_started(const struct vcpu *v)
{
    (void)v;
    return false;
}

uint64_t platform_vcpu_cpu_ns(const struct vcpu *v)
{
    (void)v;
    return 0;
}

/* --- building a domain -------------------------------------------------- */

void mem_vcpu_compat_mode(struct vcpu *v)
{
    v->pv->sregs = (struct platform_sregs){ .cr0 = 0x11, .cs_selector = 0x10 };
}

void mem_vcpu_long_mode(struct vcpu *v)
{
    /* PML4[0] -> PDPT; PDPT[i] maps 1 GiB at i GiB, writable. */
    uint64_t pml4e = (MEM_PLATFORM_PML4 + 0x1000) | 0x3;
    gmem_write(&v->d->mem, MEM_PLATFORM_PML4, &pml4e, sizeof(pml4e));
    for (uint64_t i = 0; i < 512; i++) {
        uint64_t pdpte = (i << 30) | 0x83;      /* P RW PS */
        gmem_write(&v->d->mem, MEM_PLATFORM_PML4 + 0x1000 + i * 8, &pdpte, 8);
    }
    v->pv->sregs = (struct platform_sregs){
        .cr0 = 0x80050033, .cr3 = MEM_PLATFORM_PML4, .cr4 = 0x20,
        .efer = (1u << 8) | PLATFORM_EFER_LMA, .cs_selector = 0x10,
        .cs_l = true,
    };
}

struct domain *mem_domain_create(uint32_t domid, unsigned nr_vcpus,
                                 uint64_t ram_bytes)
{
    if (nr_vcpus == 0 || nr_vcpus > MAX_VCPUS)
        return NULL;
    struct domain *d = calloc(1, sizeof(*d));
    struct platform_vm *pvm = calloc(1, sizeof(*pvm));
    if (!d || !pvm)
        goto fail;
    domain_init(d, domid, nr_vcpus);
    snprintf(d->name, sizeof(d->name), "mem%u", domid);
    d->pvm = pvm;
    pvm->tsc_khz = MEM_TSC_KHZ;
    for (unsigned i = 0; i < nr_vcpus; i++) {
        d->vcpu[i].pv = &pvm->vcpu[i];
        pvm->vcpu[i].max_continuations = UINT32_MAX;
        mem_vcpu_compat_mode(&d->vcpu[i]);
        if (timer_init(&d->vcpu[i]) < 0)
            goto fail_timers;
    }
    if (gmem_init(&d->mem, ram_bytes, LAYOUT_NR_SPECIAL) < 0)
        goto fail_mem;
    memmap_init(d);
    gnttab_init(d, GNTTAB_DEFAULT_MAX_FRAMES);
    if (hypercall_register_exits(d) < 0 || uart_register_exits(d) < 0 ||
        time_init(d) < 0)
        goto fail_all;
    for (unsigned i = 0; i < gmem_nr_regions(&d->mem); i++)
        platform_map_region(d, i);
    d->vcpu[0].up = true;
    return d;
fail_all:
    gmem_destroy(&d->mem);
fail_mem:
fail_timers:
    for (unsigned i = 0; d && i < nr_vcpus; i++)
        timer_fini(&d->vcpu[i]);
fail:
    free(pvm);
    free(d);
    return NULL;
}

void mem_domain_destroy(struct domain *d)
{
    if (!d)
        return;
    grant_mapper_fini(&d->grants);
    gmem_destroy(&d->mem);
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        timer_fini(&d->vcpu[i]);
    for (unsigned i = 0; i < GMEM_MAX_REGIONS; i++)
        free(d->pvm->guest_dirty[i]);
    free(d->pvm);
    free(d);
}

long mem_hypercall(struct vcpu *v, uint64_t nr, uint64_t a0, uint64_t a1,
                   uint64_t a2, uint64_t a3, uint64_t a4)
{
    struct platform_regs *r = &v->pv->regs;
    bool long_mode = platform_long_mode(&v->pv->sregs);
    static const uint8_t out_imm8[XEN_HYPERCALL_INSN_LEN] = {
        0xe7, XEN_HYPERCALL_PORT };
    gmem_write(&v->d->mem, MEM_HCALL_RIP, out_imm8, sizeof(out_imm8));
    r->rax = nr;
    r->rip = MEM_HCALL_RIP + XEN_HYPERCALL_INSN_LEN;
    if (long_mode) {
        r->rdi = a0; r->rsi = a1; r->rdx = a2; r->r10 = a3; r->r8 = a4;
    } else {
        r->rbx = a0; r->rcx = a1; r->rdx = a2; r->rsi = a3; r->rdi = a4;
    }
    for (unsigned n = 0;; n++) {
        /* The stub's `out %eax, $XEN_HYPERCALL_PORT`. */
        uint32_t eax = (uint32_t)r->rax;
        exits_port_io(&v->d->exits, v, XEN_HYPERCALL_PORT, true,
                      (uint8_t *)&eax, 4, 1);
        if (r->rip != MEM_HCALL_RIP || n >= v->pv->max_continuations)
            break;
        v->pv->continuations++;     /* back on the instruction: again */
        r->rip = MEM_HCALL_RIP + XEN_HYPERCALL_INSN_LEN;
    }
    return long_mode ? (long)r->rax : (long)(int32_t)r->rax;
}
