/* A running VM held still while VM.snapshot or VM.checkpoint copies its
 * disks (vm_clone.c):
 *
 * - snapshot: the domain is paused (xenon_domain_pause: no guest code
 *   runs, so it issues no new I/O) and unpaused after the copies; a VM
 *   that was Paused already stays paused;
 * - checkpoint: its memory is saved as `xl save -c` does (the guest asked
 *   through PV control, else paused) into <image>.part, the suspend image
 *   of the new snapshot (vm_suspend.h), and the domain is left stopped
 *   until the copies are done, so memory and disks are of one moment;
 *   then it runs on as after xl save -c.
 *
 * Once it is held, the qemu-nbd of each writable qcow2 disk is flushed
 * (xenon_domain_flush_disks: its write-back metadata cache goes onto the
 * file), so each image reads as of the hold (shared: qemu-img -U, as the
 * server keeps QEMU's lock). As for a raw disk, only requests the guest
 * had in flight at the pause may land during the copy. */
#ifndef XAPI_VM_HOLD_H
#define XAPI_VM_HOLD_H

#include <stdbool.h>
#include <stdio.h>

#include "domain.h"

struct vm_hold {
    unsigned domid;
    bool active;            /* the domain is held by us */
    bool was_paused;        /* it was Paused before: it stays so */
    bool checkpoint;
    bool suspended;         /* the save had the guest suspend itself */
    char img[XENON_PATH_MAX + 64], part[XENON_PATH_MAX + 80];
};

/* Hold the domain `domid` (power "Running" or "Paused"); for a
 * checkpoint, save its memory for the snapshot `snap_uuid`. 0, or -1
 * (err printed, nothing held, no file left). */
int vm_hold_begin(struct vm_hold *h, unsigned domid, const char *power, bool checkpoint,
                  const char *snap_uuid, FILE *err);
/* Let the domain run as it did before (repeatable). 0 or -1 (err). */
int vm_hold_end(struct vm_hold *h, FILE *err);
/* A checkpoint's image: given its name (renamed from .part, the
 * directory synced), or removed. keep: 0 or -1 (err printed, removed). */
int vm_hold_keep_image(struct vm_hold *h, FILE *err);
void vm_hold_drop_image(struct vm_hold *h);

#endif
