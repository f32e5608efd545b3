/* A running VM held still while VM.snapshot copies its disks
 * (vm_clone.c): the domain is paused (xenon_domain_pause: no guest code
 * runs, so it issues no new I/O) and unpaused after the copies; a VM
 * that was Paused already stays paused.
 *
 * Only raw disks can be copied so (the caller checks): a qcow2 one is
 * served by its qemu-nbd, whose write-back metadata cache is not on the
 * file until the guest flushes. */
#ifndef XAPI_VM_HOLD_H
#define XAPI_VM_HOLD_H

#include <stdbool.h>
#include <stdio.h>

#include "domain.h"

struct vm_hold {
    unsigned domid;
    bool active;            /* the domain is held by us */
    bool was_paused;        /* it was Paused before: it stays so */
};

/* Hold the domain `domid` (power "Running" or "Paused"). 0, or -1 (err
 * printed, nothing held). */
int vm_hold_begin(struct vm_hold *h, unsigned domid, const char *power, FILE *err);
/* Let the domain run as it did before (repeatable). 0 or -1 (err). */
int vm_hold_end(struct vm_hold *h, FILE *err);

#endif
