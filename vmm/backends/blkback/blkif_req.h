/*
 * blkif requests as a backend takes them off the ring (io/blkif.h): both
 * layouts (x86_64, and x86_32 where uint64_t is 4-byte aligned, chosen by
 * the frontend's `protocol` key), copied out of the shared slot once and
 * then checked as Xen's blkback checks them. Pure functions over bytes,
 * for the backend, the unit tests and the libFuzzer target
 * (fuzz/vmm/fuzz_blkif.c).
 */
#ifndef XENON_BLKIF_REQ_H
#define XENON_BLKIF_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/grant_table.h>
#include <xen/io/blkif.h>

#define BLK_SECTOR_SHIFT 9
#define BLK_SECTORS_PER_PAGE (4096u >> BLK_SECTOR_SHIFT)

enum blkif_abi { BLKIF_ABI_X86_64, BLKIF_ABI_X86_32 };

/* Segments an indirect request may carry (what blkback publishes as
 * feature-max-indirect-segments, Xen's MAX_INDIRECT_SEGMENTS), and the
 * segments one indirect page holds. */
#define BLK_MAX_INDIRECT_SEGMENTS 256u
#define BLK_SEGS_PER_INDIRECT_PAGE (4096u / sizeof(struct blkif_request_segment))

struct blk_seg {
    grant_ref_t gref;
    uint8_t first_sect, last_sect;
};

/* A request, whatever its layout. */
struct blk_req {
    uint8_t op;                     /* BLKIF_OP_* */
    uint8_t indirect_op;            /* BLKIF_OP_INDIRECT: READ or WRITE */
    uint16_t nr_segments;           /* read, write, flush, barrier, indirect */
    uint8_t discard_flag;           /* BLKIF_DISCARD_SECURE or 0 */
    uint64_t id;
    uint64_t sector;
    uint64_t nr_sectors;            /* read/write: the segments' sum; discard: asked */
    struct blk_seg seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
    grant_ref_t indirect_gref[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
};

/* The operation a request's response names: an indirect request's
 * indirect_op (as Xen's blkback answers it), else its own. */
static inline uint8_t blkif_rsp_op(const struct blk_req *r)
{
    return r->op == BLKIF_OP_INDIRECT ? r->indirect_op : r->op;
}
/* Indirect pages a checked indirect request uses. */
static inline unsigned blkif_indirect_pages(const struct blk_req *r)
{
    return (r->nr_segments + BLK_SEGS_PER_INDIRECT_PAGE - 1) / BLK_SEGS_PER_INDIRECT_PAGE;
}

/* Bytes of one ring slot (request and response union) in each layout. */
size_t blkif_slot_size(enum blkif_abi abi);
/* Ring entries in a shared ring of `bytes` (a power of two, as
 * __RING_SIZE computes it). */
unsigned blkif_ring_entries(enum blkif_abi abi, size_t bytes);
/* The frontend's `protocol` value (NULL: absent, the native x86_64):
 * 0 with *abi, or -1 for one we do not serve. */
int blkif_abi_from_protocol(const char *protocol, enum blkif_abi *abi);

/* Take a request out of a slot's bytes (blkif_slot_size(abi) of them,
 * already copied out of shared memory). Never fails: checking is next. */
void blkif_parse(const void *slot, enum blkif_abi abi, struct blk_req *r);

/* What Xen's blkback answers before any I/O: BLKIF_RSP_OKAY for a request
 * to carry out, BLKIF_RSP_ERROR (bad segment count, first_sect >
 * last_sect, last_sect past the page, a range past the disk's end or
 * wrapping, a write, flush, barrier or discard on a read-only disk) or
 * BLKIF_RSP_EOPNOTSUPP (an operation we do not serve: reserved, unknown).
 * nr_sectors is filled in for reads and writes. */
int blkif_check(struct blk_req *r, uint64_t disk_sectors, bool readonly);

/* An indirect request's segments are in its indirect pages: blkif_check
 * checks only its header (indirect_op READ or WRITE, 1..256 segments, no
 * write on a read-only disk); the backend copies the segments out
 * (blkif_indirect_segs) and checks them with blkif_check_segs. */

/* Segments segs[0..n) of a request at `sector`: each within its page,
 * their sum within the disk. BLKIF_RSP_OKAY with *nr_sectors, or
 * BLKIF_RSP_ERROR. */
int blkif_check_segs(const struct blk_seg *segs, unsigned n, uint64_t sector,
                     uint64_t disk_sectors, uint64_t *nr_sectors);

/* Copy segments [first, first + n) out of one mapped indirect page (the
 * same 8-byte entries in both layouts). */
void blkif_indirect_segs(const void *page, unsigned first, unsigned n,
                         struct blk_seg *out);

/* Write a response into a slot (the same offsets in both layouts). */
void blkif_put_response(void *slot, uint64_t id, uint8_t op, int16_t status);

#endif
