/*
 * Port-I/O and MSR exits, dispatched through handlers that modules
 * register (the model of Solo5's hvt tender modules): the hypercall port
 * and the hypercall-page MSR (xen/), the UART and the 0xe9 debug port
 * (devices/) each register their own, and the vCPU loop knows none of them
 * by name. The KVM platform also asks the table which MSRs to take from KVM
 * (its MSR filter), so registering an MSR is all a module does.
 *
 * The table belongs to the domain (struct domain's `exits`); register
 * before the vCPUs start and before the VM is created (the MSR filter is
 * installed then). Lookups are lock-free reads of a table that no longer
 * changes.
 */
#ifndef XENON_EXITS_H
#define XENON_EXITS_H

#include <stdbool.h>
#include <stdint.h>

struct vcpu;

#define EXITS_MAX_PORT_RANGES 16
#define EXITS_MAX_MSRS 16

/* One port access (count > 1 for string I/O): `data` holds count * size
 * bytes, the bytes to write (out) or the buffer to fill (in). Runs on the
 * vCPU's thread with no lock held. */
typedef void (*port_handler)(struct vcpu *v, uint16_t port, bool out,
                             uint8_t *data, unsigned size, unsigned count,
                             void *opaque);

/* One MSR access: a write passes *value, a read fills it. Return true if
 * handled, false to give the guest #GP. Runs on the vCPU's thread. */
typedef bool (*msr_handler)(struct vcpu *v, uint32_t index, bool write,
                            uint64_t *value, void *opaque);

struct exits {
    struct {
        uint16_t first;
        uint16_t count;
        port_handler fn;
        void *opaque;
    } port[EXITS_MAX_PORT_RANGES];
    unsigned nr_ports;
    struct {
        uint32_t index;
        msr_handler fn;
        void *opaque;
    } msr[EXITS_MAX_MSRS];
    unsigned nr_msrs;
};

/* Claim ports [first, first + count) or one MSR. 0, -EEXIST if another
 * handler holds any of them, -ENOSPC if the table is full, -EINVAL for an
 * empty or wrapping range. */
int exits_register_ports(struct exits *t, uint16_t first, uint16_t count,
                         port_handler fn, void *opaque);
int exits_register_msr(struct exits *t, uint32_t index, msr_handler fn,
                       void *opaque);

/* Dispatch an exit. An unclaimed port reads as all ones (nothing decodes
 * it) and ignores writes; an unclaimed MSR gives #GP (returns false). */
void exits_port_io(const struct exits *t, struct vcpu *v, uint16_t port,
                   bool out, uint8_t *data, unsigned size, unsigned count);
bool exits_msr(const struct exits *t, struct vcpu *v, uint32_t index,
               bool write, uint64_t *value);

#endif
