/* See blkif_req.h. */
#include "blkif_req.h"

#include <string.h>
#include <xen/io/protocols.h>
#include <xen/io/ring.h>

/* The x86_32 layout of a request, as an i386 frontend lays it out (Xen
 * ships no header for the other ABI's layout; the sizes are checked
 * below against the i386 ABI: 108-byte requests, 12-byte responses). */
#pragma pack(push, 4)
struct blkif_x86_32_request {
    uint8_t operation;
    uint8_t nr_segments;
    blkif_vdev_t handle;
    uint64_t id;
    blkif_sector_t sector_number;
    struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};
struct blkif_x86_32_request_discard {
    uint8_t operation;
    uint8_t flag;
    blkif_vdev_t handle;
    uint64_t id;
    blkif_sector_t sector_number;
    uint64_t nr_sectors;
};
struct blkif_x86_32_request_indirect {
    uint8_t operation;
    uint8_t indirect_op;
    uint16_t nr_segments;
    uint64_t id;
    blkif_sector_t sector_number;
    blkif_vdev_t handle;
    grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
    uint64_t pad;
};
struct blkif_x86_32_response {
    uint64_t id;
    uint8_t operation;
    int16_t status;
};
#pragma pack(pop)
_Static_assert(sizeof(struct blkif_x86_32_request) == 108, "i386 blkif request");
_Static_assert(sizeof(struct blkif_x86_32_response) == 12, "i386 blkif response");
_Static_assert(sizeof(struct blkif_x86_32_request_indirect) == 64, "i386 indirect request");
_Static_assert(sizeof(struct blkif_request_indirect) == 64, "x86_64 indirect request");
_Static_assert(sizeof(union blkif_sring_entry) == 112, "x86_64 blkif slot");
_Static_assert(offsetof(struct blkif_response, status) ==
               offsetof(struct blkif_x86_32_response, status) &&
               offsetof(struct blkif_response, operation) ==
               offsetof(struct blkif_x86_32_response, operation),
               "responses agree on their offsets");

size_t blkif_slot_size(enum blkif_abi abi)
{
    return abi == BLKIF_ABI_X86_32 ? sizeof(struct blkif_x86_32_request)
                                   : sizeof(union blkif_sring_entry);
}

unsigned blkif_ring_entries(enum blkif_abi abi, size_t bytes)
{
    size_t off = offsetof(struct blkif_sring, ring);
    if (bytes <= off)
        return 0;
    size_t n = (bytes - off) / blkif_slot_size(abi);
    unsigned p = 1;
    while ((size_t)p * 2 <= n)
        p *= 2;
    return n ? p : 0;
}

int blkif_abi_from_protocol(const char *protocol, enum blkif_abi *abi)
{
    if (!protocol || strcmp(protocol, XEN_IO_PROTO_ABI_X86_64) == 0)
        *abi = BLKIF_ABI_X86_64;
    else if (strcmp(protocol, XEN_IO_PROTO_ABI_X86_32) == 0)
        *abi = BLKIF_ABI_X86_32;
    else
        return -1;
    return 0;
}

/* The two layouts hold the same fields at different offsets (the i386 one
 * packs the 64-bit id and sector at 4-byte alignment), so one body reads
 * both: PARSE_LAYOUT(name, request, indirect request, discard request)
 * defines a reader of a slot in that layout into the ABI-free blk_req. */
#define PARSE_LAYOUT(name, req_t, indirect_t, discard_t)                      \
    static void name(const void *slot, struct blk_req *r)                     \
    {                                                                         \
        req_t q;                                                              \
        memcpy(&q, slot, sizeof(q));                                          \
        r->op = q.operation;                                                  \
        r->id = q.id;                                                         \
        if (q.operation == BLKIF_OP_INDIRECT) {                               \
            indirect_t iq;                                                    \
            memcpy(&iq, slot, sizeof(iq));                                    \
            r->indirect_op = iq.indirect_op;                                  \
            r->nr_segments = iq.nr_segments;                                  \
            r->sector = iq.sector_number;                                     \
            memcpy(r->indirect_gref, iq.indirect_grefs,                       \
                   sizeof(r->indirect_gref));                                 \
            return;                                                           \
        }                                                                     \
        if (q.operation == BLKIF_OP_DISCARD) {                                \
            discard_t dq;                                                     \
            memcpy(&dq, slot, sizeof(dq));                                    \
            r->discard_flag = dq.flag;                                        \
            r->sector = dq.sector_number;                                     \
            r->nr_sectors = dq.nr_sectors;                                    \
            return;                                                           \
        }                                                                     \
        r->nr_segments = q.nr_segments;                                       \
        r->sector = q.sector_number;                                          \
        for (unsigned i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++)         \
            r->seg[i] = (struct blk_seg){ q.seg[i].gref, q.seg[i].first_sect, \
                                          q.seg[i].last_sect };               \
    }

PARSE_LAYOUT(parse_x86_32, struct blkif_x86_32_request,
             struct blkif_x86_32_request_indirect,
             struct blkif_x86_32_request_discard)
PARSE_LAYOUT(parse_x86_64, struct blkif_request, struct blkif_request_indirect,
             struct blkif_request_discard)
#undef PARSE_LAYOUT

void blkif_parse(const void *slot, enum blkif_abi abi, struct blk_req *r)
{
    memset(r, 0, sizeof(*r));
    if (abi == BLKIF_ABI_X86_32)
        parse_x86_32(slot, r);
    else
        parse_x86_64(slot, r);
}

static bool range_ok(uint64_t sector, uint64_t n, uint64_t disk_sectors)
{
    uint64_t end = sector + n;
    return end >= sector && end <= disk_sectors;
}

int blkif_check_segs(const struct blk_seg *segs, unsigned n, uint64_t sector,
                     uint64_t disk_sectors, uint64_t *nr_sectors)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < n; i++) {
        if (segs[i].last_sect >= BLK_SECTORS_PER_PAGE ||
            segs[i].last_sect < segs[i].first_sect)
            return BLKIF_RSP_ERROR;
        sum += (uint64_t)(segs[i].last_sect - segs[i].first_sect + 1);
    }
    if (sum && !range_ok(sector, sum, disk_sectors))
        return BLKIF_RSP_ERROR;
    *nr_sectors = sum;
    return BLKIF_RSP_OKAY;
}

int blkif_check(struct blk_req *r, uint64_t disk_sectors, bool readonly)
{
    switch (r->op) {
    case BLKIF_OP_READ:
    case BLKIF_OP_WRITE:
    case BLKIF_OP_FLUSH_DISKCACHE:
    case BLKIF_OP_WRITE_BARRIER: {
        bool flush = r->op == BLKIF_OP_FLUSH_DISKCACHE || r->op == BLKIF_OP_WRITE_BARRIER;
        /* As dispatch_rw_block_io: no segments only for a bare flush. */
        if ((r->nr_segments == 0 && !flush) ||
            r->nr_segments > BLKIF_MAX_SEGMENTS_PER_REQUEST)
            return BLKIF_RSP_ERROR;
        /* xen_vbd_translate: anything but a read is refused read-only. */
        if (r->op != BLKIF_OP_READ && readonly)
            return BLKIF_RSP_ERROR;
        return blkif_check_segs(r->seg, r->nr_segments, r->sector, disk_sectors,
                                &r->nr_sectors);
    }
    case BLKIF_OP_INDIRECT:
        if ((r->indirect_op != BLKIF_OP_READ && r->indirect_op != BLKIF_OP_WRITE) ||
            r->nr_segments == 0 || r->nr_segments > BLK_MAX_INDIRECT_SEGMENTS ||
            (r->indirect_op != BLKIF_OP_READ && readonly))
            return BLKIF_RSP_ERROR;
        return BLKIF_RSP_OKAY;
    case BLKIF_OP_DISCARD:
        /* BLKIF_DISCARD_SECURE is ignored (we publish no discard-secure),
         * as Xen's blkback ignores it then. */
        if (readonly || !range_ok(r->sector, r->nr_sectors, disk_sectors))
            return BLKIF_RSP_ERROR;
        return BLKIF_RSP_OKAY;
    default:
        return BLKIF_RSP_EOPNOTSUPP;    /* reserved, unknown */
    }
}

void blkif_indirect_segs(const void *page, unsigned first, unsigned n,
                         struct blk_seg *out)
{
    const uint8_t *p = page;
    for (unsigned i = 0; i < n && first + i < BLK_SEGS_PER_INDIRECT_PAGE; i++) {
        struct blkif_request_segment s;
        memcpy(&s, p + (first + i) * sizeof(s), sizeof(s));
        out[i] = (struct blk_seg){ s.gref, s.first_sect, s.last_sect };
    }
}

void blkif_put_response(void *slot, uint64_t id, uint8_t op, int16_t status)
{
    struct blkif_response rsp;
    memset(&rsp, 0, sizeof(rsp));
    rsp.id = id;
    rsp.operation = op;
    rsp.status = status;
    /* 12 bytes: what both layouts have in common (the i386 slot's
     * response is 12 bytes long). */
    memcpy(slot, &rsp, sizeof(struct blkif_x86_32_response));
}
