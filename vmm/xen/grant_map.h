/*
 * The backend-facing grant API: map, unmap and copy of a guest's grants,
 * with the semantics of Xen's GNTTABOP_map_grant_ref, unmap_grant_ref and
 * copy (xen/common/grant_table.c). Every PV backend (console and xenstore
 * use fixed pages; blkback and netback use this) goes through it, and a
 * later cross-process broker implements the same calls for a backend that
 * runs in its own process.
 *
 * One grant_mapper per guest domain, d->grants (two would each clear the
 * flags the other's mappings need). It holds what Xen keeps for it: the
 * active entries (a pin count per grant ref, read-only and writable kept
 * apart, and the page pinned when the first pin was taken) and the maptrack
 * (one handle per mapping). The `by` argument names the domain the backend
 * acts as (0 for the backends inside this VMM): a grant must name it.
 *
 * The contract:
 * - grant_map() checks the entry as Xen does: GTF_permit_access (and not
 *   GTF_sub_page), the entry's domid equal to `by`, GTF_readonly refused
 *   for a writable map. It sets GTF_reading (and GTF_writing for a
 *   writable map) in the entry with a compare-and-swap over flags and
 *   domid together, retried while the guest changes the entry at the same
 *   moment; an entry still changing after five tries fails with
 *   GNTST_general_error, as in Xen. The frame is read once the flags are
 *   set and bounds-checked against guest RAM (GNTST_bad_page otherwise).
 * - The page returned stays valid, and stays the same page, until that
 *   handle is unmapped: a guest that revokes the grant or points the entry
 *   at another frame meanwhile changes nothing for the backend. While a ref
 *   is pinned, further maps of it reuse the pinned page without reading the
 *   entry again (only a read-only to writable step re-checks GTF_readonly),
 *   as Xen does.
 * - grant_unmap() drops the handle's pin; GTF_writing is cleared when the
 *   last writable pin of the ref goes, GTF_reading when the last pin goes.
 * - grant_copy() pins each ref for the copy only (a transient pin, same
 *   checks, GTF_sub_page allowed as Xen allows it for copies), checks that
 *   offset + len lies within the page (GNTST_bad_copy_arg), copies, and
 *   unpins. Each op gets its own status.
 * - Errors are Xen's GNTST_* codes: GNTST_bad_gntref for a ref beyond the
 *   table, GNTST_general_error for a bad entry, GNTST_bad_handle for an
 *   unknown handle, GNTST_no_device_space when the maptrack is full.
 * - At most 128 read-only and 128 writable pins per ref (Xen's counters
 *   are 8 bits; a pin is refused once any of them has its top bit set).
 * - The calls take the domain lock themselves: call them from a backend's
 *   thread (the I/O thread), never with d->lock held and never from an
 *   event channel notify hook (which runs under it).
 *
 * Grant table v2 (not offered: Xenon behaves as Xen with max_grant_version
 * 1) would need: status frames (GTF_reading/GTF_writing live in a separate
 * grant_status_t array, set with a plain store and then the header re-read
 * behind a barrier, undone if it changed, instead of the CAS on the
 * header), sub-page grants (start and length kept in the active entry and
 * copies bounded by them), transitive grants (GTF_transitive: acquiring the
 * grant it names in a third domain's table, possibly in another process),
 * and 64-bit full_page.frame numbers.
 */
#ifndef XENON_GRANT_MAP_H
#define XENON_GRANT_MAP_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/grant_table.h>

#include "gnttab.h"

struct domain;

/* Most mappings one guest's backends hold at once (Xen's default maptrack
 * holds 1024 frames of 256 handles; our backends need far fewer). */
#define GRANT_MAP_MAX_HANDLES 65536u

/* Per grant ref: pins and the page pinned (Xen's active_grant_entry). */
struct grant_active {
    uint8_t ro_pins, rw_pins;
    domid_t domid;              /* who pinned it */
    uint32_t frame;             /* the frame read when the first pin came */
    void *page;                 /* host pointer to that frame */
};

/* One mapping (Xen's grant_mapping), free when !in_use. */
struct grant_mapping {
    grant_ref_t ref;            /* in use: the ref; free: next free handle */
    bool in_use, readonly;
};

struct grant_mapper {
    struct domain *d;
    /* Active entries in chunks of one grant frame, allocated on first pin. */
    struct grant_active *active[GNTTAB_DEFAULT_MAX_FRAMES];
    struct grant_mapping *track;
    uint32_t nr_track;          /* allocated handles */
    uint32_t free_head;         /* UINT32_MAX: none free */
    uint32_t nr_mapped;
};

void grant_mapper_init(struct grant_mapper *m, struct domain *d);
/* Unmap whatever is still mapped (clearing the entries' flags) and free. */
void grant_mapper_fini(struct grant_mapper *m);

/* Map ref for domain `by`. On GNTST_okay, *handle and *page are set. */
int16_t grant_map(struct grant_mapper *m, domid_t by, grant_ref_t ref,
                  bool readonly, grant_handle_t *handle, void **page);

/* Unmap a handle from grant_map(); the page must no longer be touched. */
int16_t grant_unmap(struct grant_mapper *m, grant_handle_t handle);

/* Many maps under one take of the domain lock (a backend maps a whole
 * packet's pages at once). Each op is judged as grant_map() alone and gets
 * its own status; ops that fail hold nothing. Returns how many failed. */
struct grant_map_op {
    grant_ref_t ref;
    bool readonly;
    int16_t status;             /* out: GNTST_* */
    grant_handle_t handle;      /* out, when GNTST_okay */
    void *page;                 /* out, when GNTST_okay */
};
unsigned grant_map_batch(struct grant_mapper *m, domid_t by,
                         struct grant_map_op *ops, unsigned n);
/* Unmap every op of a grant_map_batch() whose status is GNTST_okay. */
void grant_unmap_batch(struct grant_mapper *m, const struct grant_map_op *ops,
                       unsigned n);

/* One copy between a granted page and the backend's own memory. */
struct grant_copy_op {
    grant_ref_t ref;
    uint16_t offset;            /* within the granted page */
    uint16_t len;
    bool to_guest;              /* write the granted page (needs it writable) */
    void *buf;                  /* len bytes of the backend's memory */
    int16_t status;             /* out: GNTST_* */
};

/* Run n copies for domain `by`; each op's status says how it went.
 * Returns the number of ops that failed. */
unsigned grant_copy(struct grant_mapper *m, domid_t by,
                    struct grant_copy_op *ops, unsigned n);

/* Note every page pinned writable right now (mapped for write, or in the
 * middle of a copy to the guest) in the VMM's dirty log (memory/dirty.h):
 * before a migration's final fetch, since those pages are marked only
 * when their last writable pin goes. */
void grant_mark_mapped_dirty(struct grant_mapper *m);

/* Pins currently held on ref (for tests and the dump). */
void grant_pins(struct grant_mapper *m, grant_ref_t ref, unsigned *ro,
                unsigned *rw);

#endif
