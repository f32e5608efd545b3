/*
 * KVM plumbing for a domain: the VM, its memory slots, its vCPUs, the CPUID
 * leaves a Xen guest expects, and the MSR filter that routes the MSRs that
 * modules registered (exits.h) to us. With vcpu.c, the KVM implementation
 * of platform.h: the only files that issue KVM ioctls.
 */
#ifndef XENON_VM_H
#define XENON_VM_H

#include "domain.h"

/* Open KVM, create the VM with a split irqchip (local APICs only, as a
 * PVH domain has), take the registered MSRs from KVM (exits.h) and map
 * every gmem region. Returns 0 or -errno. */
int vm_create(struct domain *d);

/* A standby's head start (standby.h): open KVM and make an empty VM
 * (KVM_CREATE_VM, nothing of any domain in it) that the next vm_create
 * takes instead of making one. Best effort. vm_prepare_drop closes it
 * unused (before exit: KVM's per-VM worker is a task of ours, which
 * LeakSanitizer's exit check waits for). */
void vm_prepare(void);
void vm_prepare_drop(void);

/* Create the vCPUs, their run structures and CPUID tables. */
int vm_create_vcpus(struct domain *d);

/* Start reading KVM's supported CPUID on a thread of its own (its own
 * /dev/kvm fd), off the start-up path; vm_set_cpuid_all waits for it.
 * Best effort: without the thread, vm_set_cpuid_all reads it itself. Call
 * once, before vm_set_cpuid_all, from the main thread. */
void vm_prefetch_host_cpuid(void);

/* Install the CPUID tables (after time_init: leaf 3 carries the TSC). */
int vm_set_cpuid_all(struct domain *d);

/* Queue vector as an external interrupt (KVM_INTERRUPT). With the split
 * irqchip KVM injects it as soon as the guest takes interrupts, past the
 * LAPIC's IRR and ISR: no EOI follows, whether or not the LAPIC is
 * software-enabled. Only on the vCPU's own thread, outside KVM_RUN.
 * Returns 0, -EEXIST if one is still queued, or -errno. */
int vm_queue_extint(struct vcpu *v, uint8_t vector);

/* Whether KVM lets an external interrupt through v's LAPIC: the LAPIC is
 * hardware-disabled (apic_base is the vCPU's APIC_BASE MSR), or its LVT0
 * is unmasked in ExtINT mode (KVM's reset state for vCPU 0). */
bool vm_lapic_takes_extint(struct vcpu *v, uint64_t apic_base);

void vm_destroy(struct domain *d);

#endif
