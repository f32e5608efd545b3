/* What libxenon learns about a domain's processes from /proc, and waits for.
 * Internal to libxenon.
 *
 * A domain is a xenon-vmm process: its main thread runs the I/O loop and
 * thread k (in creation order) runs vCPU k-1. KVM may add workers of its own
 * to the thread group (e.g. kvm-nx-lpage-recovery); they are never counted
 * as the domain's threads. */
#ifndef XENON_PROC_H
#define XENON_PROC_H

#include <stdbool.h>
#include <sys/types.h>

/* The start time (clock ticks after boot) of a live, non-zombie process, or
 * 0 when there is none; `cpu` (may be NULL) gets its CPU seconds. A pid is
 * only trusted together with this value, so a reused pid is never mistaken
 * for ours. */
unsigned long long proc_start(pid_t pid, double *cpu);

/* True while `pid` is the process that started at `start`. */
bool proc_alive(pid_t pid, unsigned long long start);

/* Wait until that process is gone; false when it is still there after
 * timeout_ms. */
bool proc_wait_gone(pid_t pid, unsigned long long start, unsigned timeout_ms);

/* What the VMM's threads are doing, from one pass over them. */
struct vmm_activity {
    bool blocked;   /* none is on a CPU or runnable */
    bool stopped;   /* all are in a group stop (SIGSTOP): no guest code runs
                     * and no device is served */
};
struct vmm_activity vmm_activity(pid_t pid);

/* What a pid from a state file must be before libxenon signals it: */
/* ... alive since `start` and run by our user; */
bool proc_is_ours(pid_t pid, unsigned long long start);
/* ... named `comm` (the monitor names itself, see monitor.c); */
bool proc_comm_is(pid_t pid, const char *comm);
/* ... of this boot (a pid and start time recorded in another boot name
 * nothing): its id (/proc/sys/kernel/random/boot_id, read once), "" when
 * it cannot be read; */
const char *proc_boot_id(void);
/* ... started with `arg` among its arguments, followed by `next` (may be
 * NULL: anywhere). */
bool proc_cmdline_has(pid_t pid, const char *arg, const char *next);

#endif
