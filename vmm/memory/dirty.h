/*
 * The VMM's own dirty log: pages of guest memory written by the VMM
 * rather than by the guest. KVM's dirty log (platform_dirty_log_*) sees
 * only writes made by vCPUs through the guest's page tables; a backend
 * copying into a granted page, the event channel bits in shared info, the
 * pvclock in vcpu_info and the console and xenstore rings are written
 * through the VMM's own mapping of the memfd, which KVM never sees. Each
 * such writer calls gmem_mark_dirty() for what it wrote: while logging is
 * off that is one relaxed load; while on, one atomic OR per page.
 *
 * One bitmap per gmem region (a bit per page, allocated at the first
 * start, kept until gmem_destroy so that a writer racing a stop never
 * touches freed memory). A region added while logging is marked dirty
 * whole: the destination has never seen it.
 *
 * The dirty set is handed out as a bitmap indexed by PFN (guest-physical
 * address >> 12) over [0, nr_pfns): the form the pre-copy engine and the
 * platform's fetch use (platform.h).
 */
#ifndef XENON_DIRTY_H
#define XENON_DIRTY_H

#include <stdbool.h>
#include <stdint.h>

#include "gmem.h"

/* Words of a bitmap of n bits. */
#define DIRTY_WORDS(n) (((n) + 63) / 64)

/* Start logging: bitmaps allocated (or cleared) for every region. 0 or
 * -ENOMEM. Not thread-safe against gmem_add_region or another start. */
int gmem_dirty_start(struct gmem *gm);
/* Stop logging; the bits are kept until the next start or destroy. */
void gmem_dirty_stop(struct gmem *gm);
bool gmem_dirty_logging(const struct gmem *gm);
/* gmem_add_region's hook for region i, just published. Returns 0. */
int gmem_dirty_region_added(struct gmem *gm, unsigned i);

/* Note that the VMM wrote [gpa, gpa+len). Any thread; nothing when
 * logging is off or the range is outside guest memory. */
void gmem_mark_dirty(const struct gmem *gm, uint64_t gpa, uint64_t len);

/* OR the pages written since the last fetch into bitmap (PFN-indexed,
 * nr_pfns bits) and clear them. Pages at or above nr_pfns are dropped.
 * Returns the number of bits it set (that were clear in bitmap). */
uint64_t gmem_dirty_fetch(struct gmem *gm, uint64_t *bitmap, uint64_t nr_pfns);

/* OR npages bits of src (bit i = page first_pfn + i) into the PFN-indexed
 * bitmap, dropping those at or above nr_pfns: the merge the platforms use
 * for their per-slot logs too. Returns the number of bits it set (that
 * were clear). */
uint64_t dirty_merge(uint64_t *bitmap, uint64_t nr_pfns, uint64_t first_pfn,
                     const uint64_t *src, uint64_t npages);

/* The PFN count a domain's image covers: one past its highest page. */
uint64_t gmem_nr_pfns(const struct gmem *gm);

static inline bool dirty_test(const uint64_t *bitmap, uint64_t pfn)
{
    return (bitmap[pfn / 64] >> (pfn % 64)) & 1;
}

static inline void dirty_set(uint64_t *bitmap, uint64_t pfn)
{
    bitmap[pfn / 64] |= 1ull << (pfn % 64);
}

/* Set bits in a bitmap of n bits. */
uint64_t dirty_count(const uint64_t *bitmap, uint64_t n);

#endif
