/*
 * One domain: the state of the VM this process runs. Layer 1 keeps all of
 * it in this process; nothing here makes policy (names of files, sockets and
 * which devices to attach come from the command line, set by libxenon).
 */
#ifndef XENON_VMM_DOMAIN_H
#define XENON_VMM_DOMAIN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/hvm/hvm_vcpu.h>
#include <xen/hvm/params.h>

#include "xenon/contract.h"
#include "gmem.h"
#include "evtchn.h"
#include "exits.h"
#include "gnttab.h"
#include "grant_map.h"
#include "memmap.h"
#include "uart.h"
#include "pause.h"

#define MAX_VCPUS 64
#define NO_GPA UINT64_MAX

/* Exit status of the VMM process (the contract): 100 + Xen's SHUTDOWN_*
 * reason, so the toolstack can read why the domain ended. */
#define VMM_EXIT_SHUTDOWN_BASE XENON_EXIT_SHUTDOWN_BASE
#define VMM_EXIT_ERROR XENON_EXIT_ERROR

struct domain;
struct platform_vcpu;
struct platform_vm;

struct vcpu {
    struct domain *d;
    unsigned id;
    struct platform_vcpu *pv;       /* the platform's own (platform.h) */

    /* Bring-up: vCPU 0 starts at boot; others wait for VCPUOP_up. */
    bool up;                        /* guarded by d->lock */
    bool down;                      /* VCPUOP_down: parked outside KVM_RUN */
    bool start_pending;             /* load init_ctx before running */
    bool has_init_ctx;              /* VCPUOP_initialise was called */
    vcpu_hvm_context_t init_ctx;    /* from VCPUOP_initialise, validated */

    /* Xen per-vCPU state, guarded by d->lock. */
    uint64_t vcpu_info_gpa;         /* NO_GPA: the slot in shared_info */
    uint8_t upcall_vector;          /* HVMOP_set_evtchn_upcall_vector, 0 none */
    int oneshot_fd, periodic_fd;    /* timerfds (timer.c) */
    uint64_t oneshot_deadline;      /* system time; 0 when not armed */
    uint64_t periodic_ns;           /* period; 0 when stopped */
    unsigned virq_port[NR_VIRQS];   /* per-vCPU VIRQs (timer, debug) */
    bool blocked;                   /* in SCHEDOP_block / poll */
    bool parked;                    /* waiting at its loop top (pause.h) */
    bool exited;                    /* its thread has ended */
    pthread_cond_t wake;            /* VCPUOP_up / down */

    /* Counters for tests and the log. */
    uint64_t nr_hypercalls;
};

struct console_backend;
struct serial_sink;
struct xs_relay;

struct domain {
    uint32_t domid;
    char name[64];
    uint8_t uuid[16];
    bool user_hypercalls;           /* benchmark knob: allow CPL3 hypercalls */
    bool launch_trace;              /* print launch milestones (benchmarks) */

    struct platform_vm *pvm;        /* the platform's own (platform.h) */
    struct exits exits;             /* port and MSR exit handlers */
    struct gmem mem;
    unsigned nr_vcpus;

    pthread_mutex_t lock;           /* Xen state below, vCPU bring-up */
    pthread_cond_t event_cond;      /* events for blocked / polling vCPUs;
                                     * waits on CLOCK_MONOTONIC */
    struct pause_state pause;       /* held for GO, paused (control/pause.h) */

    /* Shared info: guest-physical location once mapped, and its layout
     * (latched from the guest's mode as Xen does). */
    uint64_t shinfo_gpa;
    bool shinfo_32bit;
    uint64_t hypercall_page_gpa;

    uint64_t hvm_param[HVM_NR_PARAMS];
    uint8_t callback_vector;        /* from HVM_PARAM_CALLBACK_IRQ type 2 */
    unsigned nr_e820;


    struct gnttab gnttab;
    struct grant_mapper grants;     /* the backends' maps of our grants */

    /* Time: system time is CLOCK_MONOTONIC since boot_ns, published in
     * pvclock form against the guest TSC. */
    uint64_t boot_ns;
    uint64_t tsc_khz;
    int64_t guest_tsc_offset;       /* guest TSC = host TSC + offset */
    uint32_t tsc_mul;
    int8_t tsc_shift;
    uint64_t boot_wallclock_ns;

    struct console_backend *console;
    struct xs_relay *xenstore;
    struct uart uart_state;         /* guarded by lock */
    struct serial_sink *serial;     /* where UART / 0xe9 / console_io go */

    /* SCHEDOP_shutdown(SHUTDOWN_suspend), guarded by lock: the vCPUs are
     * stopped (pause.paused) and the VMM goes on serving until the
     * toolstack saves the domain, resumes it (XENON_CTL_RESUME) or ends
     * it. The caller's hypercall returns 0 when it runs again, unless
     * RESUME makes it 1 ("cancelled", as xc_domain_resume's fast path). */
    bool suspended;
    bool suspend_noticed;           /* NOTICE_SUSPENDED sent */
    unsigned suspend_vcpu;          /* the vCPU that asked */
    bool suspend_ends;              /* no control channel: suspend is an end */

    /* End of life. */
    atomic_bool stopping;
    atomic_int shutdown_reason;     /* SHUTDOWN_*, -1 while running */
    int shutdown_code;              /* SCHEDOP_shutdown_code */
    int wake_fd;                    /* eventfd: wakes the I/O loop */

    /* Logged once per unimplemented hypercall / subop. */
    uint8_t enosys_logged[64];

    /* The large tables last. The VMM's domain is static, zero pages until
     * written, and a domain uses the first entries of each (e820's, the
     * lowest ports, vcpu[0]): so the fields above share a page with
     * e820's first entries, and each table costs one resident page rather
     * than the fields being spread over the pages between them. */
    struct xen_e820entry e820[E820_MAX];
    struct evtchn_table evtchn;
    struct vcpu vcpu[MAX_VCPUS];
};

/* Initialise the state above for nr_vcpus vCPUs (no KVM yet). d must be
 * zero-filled (static or calloc'd): large tables are not cleared again. */
void domain_init(struct domain *d, uint32_t domid, unsigned nr_vcpus);

/* With --launch-trace, print "launch: EVENT NS" (CLOCK_MONOTONIC) once
 * per event on stderr, for benchmarks measuring launch time. */
void domain_trace_launch(struct domain *d, const char *event);

/* Whether a domid names this domain (DOMID_SELF or its own id). */
static inline bool domain_is_self(const struct domain *d, uint32_t dom)
{
    return dom == DOMID_SELF || dom == d->domid;
}

/* Wake the I/O loop (d->wake_fd), which then looks at the domain's
 * shutdown and suspend state. Safe from any thread. */
void domain_wake_io(struct domain *d);

/* Request the domain to stop with a Xen shutdown reason. Safe from any
 * thread; the first reason wins. */
void domain_shutdown(struct domain *d, int reason);

/* The guest suspended itself (SCHEDOP_shutdown(SHUTDOWN_suspend)) from
 * vCPU v: stop every vCPU, keep serving, tell the toolstack. Call with
 * d->lock held. */
void domain_suspend(struct domain *d, struct vcpu *v);

/* System time in ns (Xen's "system time": since the domain booted). */
uint64_t domain_system_time(const struct domain *d);

/* Host pointer to a vCPU's vcpu_info (either layout; the leading fields
 * agree), or NULL when the guest has not mapped shared info yet. */
void *vcpu_info_ptr(struct domain *d, const struct vcpu *v);

/* Wake a vCPU that may be blocked, and interrupt it if it is running with
 * an event for it pending. Call with d->lock held. */
void vcpu_kick(struct vcpu *v);

/* VCPUOP_up / VCPUOP_down. Called with d->lock held. */
long vcpu_bring_up(struct vcpu *v);
long vcpu_take_down(struct vcpu *v, struct vcpu *caller);

#endif
