/*
 * vCPU threads. Each vCPU runs KVM_RUN on its own thread and handles its
 * exits there (port I/O, the hypercall port, the hypercall-page MSR, faults).
 * Secondary vCPUs enter KVM_RUN at once, so KVM holds them until an INIT/SIPI
 * (Linux's way) unless the guest starts them Xen's way (VCPUOP_initialise
 * then VCPUOP_up).
 */
#ifndef XENON_VCPU_H
#define XENON_VCPU_H

#include "domain.h"

/* Boot state: 32-bit protected mode, paging off, flat segments, EBX the
 * physical address of hvm_start_info (the PVH entry). */
int vcpu_set_pvh_entry(struct vcpu *v, uint32_t entry, uint32_t ebx);

/* Start every vCPU thread; vCPU 0 begins at its boot state. */
int vcpus_start(struct domain *d);
/* Kick all vCPUs out of the guest and join their threads. */
void vcpus_stop(struct domain *d);

/* Log a vCPU's registers (it must be out of KVM_RUN). */
void vcpu_dump_registers(struct vcpu *v, const char *why);

#endif
