/*
 * Grant tables, version 1 (Xenon behaves as Xen with max_grant_version=1).
 *
 * Grant frames are placed where the guest maps them (add_to_physmap); the
 * VMM reads entries there. Backends map and copy granted pages through
 * grant_map.h, which pins entries and sets GTF_reading/GTF_writing as Xen
 * does while a mapping is held. Callers hold d->lock.
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

/* Number of grant entries the table has (Xen's nr_grant_entries). */
unsigned gnttab_nr_entries(const struct domain *d);

/* The entry for ref in guest memory, or NULL when ref is beyond the table
 * or its frame has not been placed by the guest (an unplaced frame reads
 * as zeroes in Xen: no entry in it grants anything). The pointer is valid
 * while d->lock is held: the guest may move the frame after. */
grant_entry_v1_t *gnttab_entry(struct domain *d, grant_ref_t ref);
/* Its guest-physical address, or NO_GPA where gnttab_entry() is NULL. */
uint64_t gnttab_entry_gpa(struct domain *d, grant_ref_t ref);

/* Resolve a grant for a copy by domain `by`: returns the page or NULL. */
void *gnttab_copy_resolve(struct domain *d, grant_ref_t ref, bool write,
                          domid_t by, int16_t *status);

#endif
