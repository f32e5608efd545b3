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

/*
 * The complete architectural state of one vCPU, in Xenon's own terms, for
 * saved state (the "vcpu" record, xen/vcpu_state.c) and migration. It is
 * rich enough to be converted field by field into Xen's HVM save records
 * (/usr/include/xen/arch-x86/hvm/save.h), which the save-stream codec
 * does:
 *   struct hvm_hw_cpu        regs; the segments (selector, limit, base, and
 *                            the attributes packed as Xen's arbytes: type
 *                            s dpl present avl l db g, unusable when not
 *                            present); gdtr/idtr; cr0 cr2 cr3 cr4 dr0-3 dr6
 *                            dr7; efer; msrs SYSENTER_CS/ESP/EIP, STAR,
 *                            LSTAR, CSTAR, SFMASK (syscall_mask),
 *                            KERNEL_GS_BASE (shadow_gs); tsc; fpu_regs from
 *                            the first 512 bytes of xsave (the FXSAVE
 *                            image); pending_event/error_code from events
 *                            (an injected exception or interrupt)
 *   struct hvm_hw_lapic      apic_base (apic_base_msr; disabled when its
 *                            enable bit is clear), the TSC deadline MSR
 *                            (tdt_msr), timer_divisor from lapic[0x3e0]
 *   struct hvm_hw_lapic_regs lapic (the 1 KiB register page, same layout)
 *   XSAVE record             xcr[XCR0] (xcr0 and xcr0_accum), xsave
 *                            (the standard-format XSAVE area; xfeature_mask
 *                            from CPUID)
 *   struct hvm_hw_mtrr       the MTRR MSRs in msrs
 * MP state and pending NMI/SMI have no Xen record; Xen rebuilds them.
 */
/* A vCPU thread's stack. Its deepest path is a hypercall that logs
 * (vfprintf to an unbuffered stream, ~40 KiB); libc's default, 8 MiB from
 * RLIMIT_STACK, took a 2 MiB stretch of address space of its own, so a
 * page-table page per domain, and a fresh stack where the start-up
 * thread's cached one (the same size) is reused. */
#define VCPU_STACK_BYTES (512u * 1024)

#define PLATFORM_MAX_MSRS 64
#define PLATFORM_MAX_XCRS 16
#define PLATFORM_XSAVE_MAX 16384        /* XSAVE2 with AMX fits */
#define PLATFORM_LAPIC_SIZE 1024

struct platform_segment {
    uint64_t base;
    uint32_t limit;
    uint16_t selector;
    uint8_t type, present, dpl, db, s, l, g, avl, unusable;
};

struct platform_dtable {
    uint64_t base;
    uint16_t limit;
};

/* Exceptions, interrupts, NMI and SMI on their way in or held back. */
struct platform_events {
    uint8_t exception_injected, exception_nr, exception_has_error_code,
            exception_pending;
    uint32_t exception_error_code;
    uint8_t interrupt_injected, interrupt_nr, interrupt_soft, interrupt_shadow;
    uint8_t nmi_injected, nmi_pending, nmi_masked;
    uint8_t smi_smm, smi_pending, smi_inside_nmi, smi_latched_init;
    uint32_t sipi_vector;
};

/* Multiprocessor state (the SDM's wait-for-SIPI etc.). */
enum {
    PLATFORM_MP_RUNNABLE = 0,
    PLATFORM_MP_UNINITIALIZED = 1,
    PLATFORM_MP_INIT_RECEIVED = 2,
    PLATFORM_MP_HALTED = 3,
    PLATFORM_MP_SIPI_RECEIVED = 4,
};

struct platform_vcpu_state {
    struct platform_regs regs;
    struct platform_segment cs, ds, es, fs, gs, ss, tr, ldt;
    struct platform_dtable gdt, idt;
    uint64_t cr0, cr2, cr3, cr4, cr8, efer, apic_base;
    uint64_t dr[4], dr6, dr7;
    uint64_t tsc;                       /* the guest's TSC when read */
    uint32_t nr_msrs;                   /* MSRs the guest needs (no TSC) */
    struct { uint32_t index, pad; uint64_t value; } msr[PLATFORM_MAX_MSRS];
    uint32_t nr_xcrs;
    struct { uint32_t xcr, pad; uint64_t value; } xcrs[PLATFORM_MAX_XCRS];
    struct platform_events events;
    uint32_t mp_state;                  /* PLATFORM_MP_* */
    uint32_t xsave_len;                 /* bytes used in xsave */
    uint8_t lapic[PLATFORM_LAPIC_SIZE];
    uint8_t xsave[PLATFORM_XSAVE_MAX];
};

/* Read and replace the full state of a vCPU that is not running (before
 * it starts, while the domain is paused, or after vcpus_stop()). Setting
 * the TSC moves the guest's TSC there; the caller re-derives the pvclock
 * offset. 0 or a negative errno (-EINVAL for state the platform refuses,
 * which may then be partly applied: callers check first). */
int platform_get_vcpu_state(struct vcpu *v, struct platform_vcpu_state *s);
int platform_set_vcpu_state(struct vcpu *v, const struct platform_vcpu_state *s);

/* The CPUID leaves the vCPU sees (has_index: the subleaf matters), for
 * the policy a save stream carries. Up to cap leaves; 0 with *n set, or a
 * negative errno. */
struct platform_cpuid_leaf {
    uint32_t leaf, subleaf;
    bool has_index;
    uint32_t a, b, c, d;
};
int platform_get_cpuid(struct vcpu *v, struct platform_cpuid_leaf *out, unsigned cap,
                       unsigned *n);

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

/*
 * Dirty tracking, for live migration and checkpoints: which pages of guest
 * memory were written since the last fetch, by the guest (the platform's
 * log) or by the VMM itself (gmem_mark_dirty, memory/dirty.h: KVM does
 * not see the VMM's writes through its own mapping). Every region is
 * logged, RAM and the special and Xen pages alike; regions mapped while
 * logging are logged too.
 *
 * KVM offers a per-slot bitmap (KVM_GET_DIRTY_LOG) and a per-vCPU ring of
 * dirtied GFNs (KVM_CAP_DIRTY_LOG_RING). We use the bitmap, with
 * KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 where the host has it (fetching then
 * does not re-protect; KVM_CLEAR_DIRTY_LOG re-protects only the pages
 * fetched, with a shorter hold of KVM's MMU lock). Why not the ring:
 *  - a ring has a fixed size per vCPU chosen when the VM is created (it
 *    must be enabled before any vCPU exists), and a full ring forces its
 *    vCPU out with KVM_EXIT_DIRTY_RING_FULL until userspace harvests it:
 *    a guest dirtying fast stalls on our harvesting thread, the opposite
 *    of what a pre-copy wants, and every domain would pay for the ring
 *    (memory, and the reset protocol) from its start whether it is ever
 *    migrated or not;
 *  - the bitmap costs, per round, a scan proportional to the guest's size:
 *    8 KiB for 256 MiB (64 Ki pages), 32 KiB per GiB, which is nothing
 *    beside copying even one page in a hundred; logging is switched on
 *    only for a migration, on a running VM, with no cost before.
 * A ring would pay off for very large guests dirtying few pages; then
 * this call keeps its contract and the implementation changes.
 *
 * start: 0 or a negative errno. stop: logging off (harmless when off).
 * fetch: OR every page written since start or the previous fetch into
 * bitmap (bit pfn, a PFN being gpa >> 12, for pfn < nr_pfns; the caller
 * clears it first if it wants only the new set) and clear those; *count
 * (optional) is the number of bits this set that were clear. Pages dirtied during the
 * fetch show in this one or the next. One fetching thread at a time; the
 * vCPUs may run. */
int platform_dirty_log_start(struct domain *d);
void platform_dirty_log_stop(struct domain *d);
int platform_dirty_log_fetch(struct domain *d, uint64_t *bitmap,
                             uint64_t nr_pfns, uint64_t *count);

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
