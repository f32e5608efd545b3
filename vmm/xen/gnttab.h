/*
 * Grant tables, version 1 (Xenon behaves as Xen with max_grant_version=1).
 *
 * Grant frames are placed where the guest maps them (add_to_physmap); the
 * VMM reads entries there. Backends in this VMM act as domain 0: they map
 * and copy granted pages with gnttab_backend_*(), which check the entry and
 * set GTF_reading/GTF_writing as Xen does while a mapping is held.
 * Callers hold d->lock.
 */
#ifndef XENON_GNTTAB_H
#define XENON_GNTTAB_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/grant_table.h>

#define GNTTAB_DEFAULT_MAX_FRAMES 64
#define GNTTAB_ENTRIES_PER_FRAME (4096 / sizeof(grant_entry_v1_t))

struct domain;

struct gnttab {
    unsigned nr_frames;         /* frames that exist (grown on demand) */
    unsigned max_frames;
    uint64_t frame_gpa[GNTTAB_DEFAULT_MAX_FRAMES];   /* NO_GPA = unmapped */
};

void gnttab_init(struct domain *d, unsigned max_frames);

/* XENMEM_add_to_physmap(XENMAPSPACE_grant_table): map frame idx at gpa. */
int gnttab_map_frame(struct domain *d, uint64_t idx, uint64_t gpa);

/* Dom0-side access for backends in this VMM. Returns a host pointer to the
 * granted page, or NULL with *status set to a GNTST_* code. */
void *gnttab_backend_map(struct domain *d, grant_ref_t ref, bool readonly,
                         int16_t *status);
void gnttab_backend_unmap(struct domain *d, grant_ref_t ref, bool readonly);

/* Resolve a grant for a copy by domain `by`: returns the page or NULL. */
void *gnttab_copy_resolve(struct domain *d, grant_ref_t ref, bool write,
                          domid_t by, int16_t *status);

#endif
