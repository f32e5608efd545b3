/*
 * The in-memory platform: a second, complete implementation of platform.h
 * over plain memory, for the Xen ABI's unit tests and its fuzz target (no
 * /dev/kvm). A vCPU is its saved registers; guest memory is the domain's
 * gmem as in xenon-vmm; what the Xen ABI asks of the platform (injected
 * vectors, kicks, mapped slots) is recorded for tests to assert on.
 *
 * A hypercall runs exactly as under KVM from the exit on: the port write
 * goes through the domain's exit table (exits.h) to the handler xen/
 * registered, which reads the registers, dispatches and writes them back.
 */
#ifndef XENON_MEM_PLATFORM_H
#define XENON_MEM_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

#include "domain.h"
#include "platform.h"

struct platform_vcpu {
    struct platform_regs regs;
    struct platform_sregs sregs;
    struct platform_vcpu_state full;    /* the rest of the state, as set */
    unsigned kicks;                 /* platform_kick() calls */
    unsigned callbacks;             /* platform_raise_callback() calls */
    unsigned injected;              /* platform_inject_vector() calls */
    uint8_t last_vector;
    unsigned continuations;         /* hypercalls re-issued (hcall_continue) */
    unsigned max_continuations;     /* mem_hypercall() gives up after these */
};

struct platform_vm {
    uint64_t tsc_khz;
    bool mapped[GMEM_MAX_REGIONS];  /* slots the ABI made visible */
    /* The "guest's" dirty log: mem_guest_write() marks it while on. */
    bool dirty_logging;
    uint64_t *guest_dirty[GMEM_MAX_REGIONS];
    unsigned dirty_fetches;         /* platform_dirty_log_fetch() calls */
    struct platform_vcpu vcpu[MAX_VCPUS];
};

/* Where mem_vcpu_long_mode() puts its identity page tables (2 pages). */
#define MEM_PLATFORM_PML4 0x1000ull

/* A domain as xenon-vmm builds one up to its first entry, minus KVM:
 * gmem with ram_bytes of RAM and the special pages, the e820 map, grant
 * tables, the exit handlers, the time base. vCPUs start in 32-bit
 * protected mode with paging off at CPL 0. NULL on failure. */
struct domain *mem_domain_create(uint32_t domid, unsigned nr_vcpus,
                                 uint64_t ram_bytes);
void mem_domain_destroy(struct domain *d);

/* Put a vCPU in 32-bit protected mode, paging off (virtual = physical). */
void mem_vcpu_compat_mode(struct vcpu *v);
/* Put a vCPU in 64-bit mode with identity page tables (1 GiB pages over
 * the first 512 GiB) at MEM_PLATFORM_PML4. */
void mem_vcpu_long_mode(struct vcpu *v);

/* Make hypercall nr with up to five arguments from vCPU v in its current
 * mode, through the hypercall port as a hypercall page stub would, and
 * return what the guest would see in RAX (sign-extended from EAX for a
 * 32-bit guest). A continuation (the vCPU put back on the hypercall
 * instruction) is re-issued as a guest would, up to max_continuations
 * times (then RAX still holds the hypercall number). */
long mem_hypercall(struct vcpu *v, uint64_t nr, uint64_t a0, uint64_t a1,
                   uint64_t a2, uint64_t a3, uint64_t a4);

/* A write by the guest itself to [gpa, gpa+len): into its memory, and
 * into the platform's dirty log when logging (as KVM logs a vCPU's
 * writes; the VMM's own writes go to gmem_mark_dirty instead). 0 or
 * -EFAULT. */
int mem_guest_write(struct domain *d, uint64_t gpa, const void *src,
                    uint64_t len);

#endif
