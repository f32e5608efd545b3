/*
 * KVM plumbing for a domain: the VM, its memory slots, its vCPUs, the CPUID
 * leaves a Xen guest expects, and the MSR filter that routes the hypercall
 * page MSR to us. The only file besides vcpu.c that issues KVM ioctls.
 */
#ifndef XENON_VM_H
#define XENON_VM_H

#include "domain.h"

/* The MSR a guest writes the hypercall page address to (CPUID 0x40000002). */
#define XEN_HYPERCALL_MSR 0x40000000u
/* The I/O port the hypercall page stubs use to reach the VMM. Chosen from
 * ports no PC device decodes; an 8-bit port so that `out %eax, $imm8`
 * leaves every argument register untouched. */
#define XEN_HYPERCALL_PORT 0x5e

#define XEN_VERSION_MAJOR 4
#define XEN_VERSION_MINOR 17

/* Open KVM, create the VM with a split irqchip (local APICs only, as a
 * PVH domain has) and map every gmem region. Returns 0 or -errno. */
int vm_create(struct domain *d);

/* Make a gmem region (added after creation) visible to the guest. */
int vm_map_region(struct domain *d, unsigned region_index);

/* Create the vCPUs, their run structures and CPUID tables. */
int vm_create_vcpus(struct domain *d);

/* Install the CPUID tables (after time_init: leaf 3 carries the TSC). */
int vm_set_cpuid_all(struct domain *d);

/* Inject a fixed interrupt with this vector into vCPU id (its APIC id). */
int vm_inject_vector(struct domain *d, unsigned vcpu, uint8_t vector);

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
