/*
 * The platform: the only way the Xen ABI (xen/), guest memory (memory/)
 * and the domain's state (domain.c) reach the hardware virtualisation
 * underneath. Everything here is stated in terms of Xenon's own types, so
 * no caller includes <linux/kvm.h> or issues an ioctl.
 *
 * Two implementations, chosen at link time:
 *   platform/vm.c, vcpu.c    Linux KVM (state in platform/kvm.h), linked
 *                            into xenon-vmm
 *   platform/mem_platform.c  plain memory and recorded calls, linked into
 *                            the unit tests and the hypercall fuzz target
 *                            (no /dev/kvm needed)
 *
 * Threading: the register calls are made on the vCPU's own thread while it
 * handles an exit, or while the vCPU is not running (before it starts, or
 * after vcpus_stop()). The other calls are safe from any thread.
 */
#ifndef XENON_PLATFORM_H
#define XENON_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

struct domain;
struct vcpu;

/* The general registers, in the order KVM and the SDM's pushal list them
 * (the KVM implementation copies them as one block). */
struct platform_regs {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rip, rflags;
};

/* What the Xen ABI needs of a vCPU's system state: its paging mode (for
 * guest-virtual addresses) and its operating mode (32- or 64-bit, CPL). */
struct platform_sregs {
    uint64_t cr0, cr2, cr3, cr4, efer;
    uint16_t cs_selector;
    bool cs_l;          /* 64-bit code segment */
    uint64_t cs_base;   /* linear address of CS:0 (ignored in 64-bit mode) */
    uint8_t cpl;        /* SS.DPL */
};

#define PLATFORM_EFER_LMA (1ull << 10)

/* Whether the vCPU executes 64-bit code (long mode and a 64-bit CS). */
static inline bool platform_long_mode(const struct platform_sregs *s)
{
    return (s->efer & PLATFORM_EFER_LMA) && s->cs_l;
}

/* Read and write a vCPU's state; 0 or a negative errno. */
int platform_get_regs(struct vcpu *v, struct platform_regs *r);
int platform_set_regs(struct vcpu *v, const struct platform_regs *r);
int platform_get_sregs(struct vcpu *v, struct platform_sregs *s);
int platform_get_msr(struct vcpu *v, uint32_t index, uint64_t *value);

/* The guest TSC's frequency in kHz; 0 or a negative errno. */
int platform_tsc_khz(struct domain *d, uint64_t *khz);

/* Translate a guest-virtual address with the vCPU's current MMU state, for
 * the modes the Xen ABI's own page walk (memory/gva.c) leaves to the
 * platform (5-level paging). 0 with *gpa set, or -EFAULT. */
int platform_translate(struct vcpu *v, uint64_t gva, bool write, uint64_t *gpa);

/* Make gmem region `index` visible to the guest at its guest-physical
 * address, or take it away again. 0 or a negative errno. */
int platform_map_region(struct domain *d, unsigned index);
int platform_unmap_region(struct domain *d, unsigned index);

/* Deliver a fixed interrupt with this vector to vCPU `vcpu` (its APIC id). */
int platform_inject_vector(struct domain *d, unsigned vcpu, uint8_t vector);

/* Deliver the domain's global callback vector (HVM_PARAM_CALLBACK_IRQ
 * type 2) to v as Xen does: past the local APIC, needing no EOI, while the
 * vCPU's evtchn_upcall_pending is set. Asserted on the vCPU's own thread
 * before its next entry; safe from any thread. */
void platform_raise_callback(struct vcpu *v);

/* Force a vCPU out of guest mode so that its thread re-examines the
 * domain's state (shutdown, VCPUOP_down, a start context). Harmless on a
 * vCPU that is not running or does not exist yet. */
void platform_kick(struct vcpu *v);

/* Whether the vCPU's thread has started (a vCPU not yet started runs no
 * guest code), and the CPU time that thread has used, in ns (0 before it
 * starts). For the control channel's pause and domain info. */
bool platform_vcpu_started(const struct vcpu *v);
uint64_t platform_vcpu_cpu_ns(const struct vcpu *v);

#endif
