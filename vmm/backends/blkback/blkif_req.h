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

/* A request, whatever its layout. */
struct blk_req {
    uint8_t op;                     /* BLKIF_OP_* */
    uint8_t nr_segments;            /* read, write, flush, barrier */
    uint8_t discard_flag;           /* BLKIF_DISCARD_SECURE or 0 */
    uint64_t id;
    uint64_t sector;
    uint64_t nr_sectors;            /* read/write: the segments' sum; discard: asked */
    struct {
        grant_ref_t gref;
        uint8_t first_sect, last_sect;
    } seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};

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
 * BLKIF_RSP_EOPNOTSUPP (an operation we do not serve: indirect, reserved,
 * unknown). nr_sectors is filled in for reads and writes. */
int blkif_check(struct blk_req *r, uint64_t disk_sectors, bool readonly);

/* Write a response into a slot (the same offsets in both layouts). */
void blkif_put_response(void *slot, uint64_t id, uint8_t op, int16_t status);

#endif
