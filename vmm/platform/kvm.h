/*
 * The KVM platform's own state, private to platform/ (vm.c, vcpu.c): the
 * only header in the VMM that includes <linux/kvm.h>. struct domain and
 * struct vcpu point to these as opaque types.
 */
#ifndef XENON_KVM_H
#define XENON_KVM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "domain.h"

struct platform_vcpu {
    int fd;
    struct kvm_run *run;
    pthread_t thread;
    bool thread_started;
    bool in_exit;           /* between KVM_RUN and the next entry: the
                               synced registers in run->s.regs are live */
    bool entered;           /* has run guest code (launch trace) */
    atomic_bool callback_due;   /* assert the callback vector before the
                                   next entry (platform_raise_callback) */
    /* What KVM_SET_CPUID2 was given (the guest cannot change it): read
     * here, as KVM_GET_CPUID2 would wait for a running vCPU to exit (a
     * live save reads it while the vCPUs run). Freed by vm_destroy. */
    struct kvm_cpuid2 *cpuid;
};

struct platform_vm {
    int kvm_fd, vm_fd;
    int run_size;
    struct platform_vcpu vcpu[MAX_VCPUS];
    /* Dirty logging (platform_dirty_log_*): on, KVM's manual protect
     * enabled, and one slot's bitmap as fetched. */
    bool dirty_logging, manual_protect;
    uint64_t *dirty_scratch;
    size_t dirty_scratch_words;
};

#endif
