/*
 * Saving a domain to, and restoring it from, a descriptor: the two parts
 * the control channel's SAVE and RESTORE name (include/xenon/contract.h,
 * docs/savefile.md).
 *   IMAGE    libxc's image (stream.h): CPUID and MSR policies, every page,
 *            TSC_INFO, HVM_CONTEXT with each running vCPU's state as Xen's
 *            HVM save records (hvm_convert.h), HVM_PARAMS, END.
 *   DEVICES  libxl's EMULATOR_CONTEXT record carrying the VMM's own state
 *            (state.h: every STATE_MODULE, the vCPUs' exact platform state
 *            among them), as Xen carries QEMU's.
 * A restore applies IMAGE (memory, then the vCPUs from HVM_CONTEXT), then
 * DEVICES, whose records replace what Xen's records could not say (MP
 * state, pending NMIs, event channels, grants, timers).
 *
 * Callers: the I/O thread, with the domain paused (save) or held before
 * its first GO (restore). The reads and writes block: the console and
 * xenstore relay wait meanwhile (the guest does not run).
 */
#ifndef XENON_DOMAIN_SAVE_H
#define XENON_DOMAIN_SAVE_H

#include <stddef.h>
#include <stdint.h>

#include "xenon/contract.h"

struct domain;

/* 0 or a negative errno (from the descriptor, or -ENOMEM). */
int domain_save_image(struct domain *d, int fd, struct xenon_ctl_save_result *r);
int domain_save_devices(struct domain *d, int fd, struct xenon_ctl_save_result *r);

/* A live save of the image (contract.h, XENON_SAVE_F_LIVE). start runs
 * the pre-copy while the vCPUs run (on a thread of its own: it blocks on
 * fd; it takes no lock the vCPUs wait for) and leaves dirty logging on;
 * *live is then the save in progress. finish (the I/O thread, the domain
 * stopped) drains the console, sends the last dirty pages and the rest of
 * the image and frees *live, leaving dirty logging on: switching it off
 * rewrites every KVM memory slot, which the caller does once the stream
 * is done (platform_dirty_log_stop), outside the downtime. cancel frees
 * *live without writing, logging stopped. r describes the rounds each
 * wrote. 0 or a negative errno; a failed start leaves nothing to cancel. */
struct domain_live;
int domain_save_live_start(struct domain *d, int fd, struct domain_live **live,
                           struct xenon_ctl_save_result *r);
int domain_save_live_finish(struct domain *d, struct domain_live *live, int fd,
                            struct xenon_ctl_save_result *r);
void domain_save_live_cancel(struct domain *d, struct domain_live *live);

/* 0, or -EINVAL with a message naming the record and the problem in err
 * (also for a stream that ends early), or another negative errno. A part
 * refused may be partly applied: the domain must not run then. */
int domain_restore_image(struct domain *d, int fd, struct xenon_ctl_save_result *r,
                         char *err, size_t errlen);
int domain_restore_devices(struct domain *d, int fd, uint64_t length,
                           struct xenon_ctl_save_result *r, char *err, size_t errlen);

#endif
