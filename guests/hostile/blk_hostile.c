/*
 * blk-hostile: a frontend that lies to blkback. On the first disk (read-
 * write) it sends requests Xen's blkback refuses: first_sect > last_sect,
 * last_sect past the page, no segments, 12 segments, sectors past the end
 * and a range that wraps, grant refs beyond the table, never granted, or
 * granted read-only for a read into them, an unknown operation, an
 * indirect request (not offered); each must get BLKIF_RSP_ERROR (or
 * BLKIF_RSP_EOPNOTSUPP) and the ring must go on serving good requests. A
 * write to the second disk (read-only) is refused. Last, it moves req_prod
 * far past the ring: the backend shuts that ring down (no response), and
 * the VMM and the second disk go on as before.
 */
#include "guest.h"
#include "blkfront.h"
#include "xs.h"

#include <xen/event_channel.h>
#include <xen/io/blkif.h>

static uint8_t ring_pages[2][4096] __attribute__((aligned(4096)));
static uint8_t buf[4096] __attribute__((aligned(4096)));

static uint64_t next_id = 1000;

static blkif_request_t read_req(uint64_t sector, grant_ref_t ref)
{
    blkif_request_t r;
    memset(&r, 0, sizeof(r));
    r.operation = BLKIF_OP_READ;
    r.nr_segments = 1;
    r.id = next_id++;
    r.sector_number = sector;
    r.seg[0].gref = ref;
    r.seg[0].first_sect = 0;
    r.seg[0].last_sect = 7;
    return r;
}

void guest_main(void)
{
    printk("blk-hostile: %d-bit guest\n", GUEST_BITS);
    if (xs_init() < 0) {
        CHECK("xenstore", 0);
        finish("blk-hostile");
    }
    unsigned ids[2];
    CHECK_EQ("two vbds", blkfront_list(ids, 2), 2);
    struct blkfront a, b;
    CHECK_EQ("connect the read-write disk", blkfront_connect(&a, ids[0], ring_pages[0]), 0);
    CHECK_EQ("connect the read-only disk", blkfront_connect(&b, ids[1], ring_pages[1]), 0);
    CHECK("the second disk is read-only", b.info & VDISK_READONLY);

    grant_ref_t g = gnt_grant(buf, 0);
    blkif_request_t r = read_req(0, g);
    CHECK_EQ("a good read", blkfront_request(&a, &r), BLKIF_RSP_OKAY);

    r = read_req(0, g);
    r.seg[0].first_sect = 5, r.seg[0].last_sect = 2;
    CHECK_EQ("first_sect > last_sect", blkfront_request(&a, &r), BLKIF_RSP_ERROR);
    r = read_req(0, g);
    r.seg[0].last_sect = 8;
    CHECK_EQ("last_sect past the page", blkfront_request(&a, &r), BLKIF_RSP_ERROR);
    r = read_req(0, g);
    r.nr_segments = 0;
    CHECK_EQ("a read of no segments", blkfront_request(&a, &r), BLKIF_RSP_ERROR);
    r = read_req(0, g);
    r.nr_segments = BLKIF_MAX_SEGMENTS_PER_REQUEST + 1;
    CHECK_EQ("12 segments", blkfront_request(&a, &r), BLKIF_RSP_ERROR);
    r = read_req(0, g);
    r.nr_segments = 255;
    CHECK_EQ("255 segments", blkfront_request(&a, &r), BLKIF_RSP_ERROR);
    r = read_req(a.sectors, g);
    CHECK_EQ("a sector past the end", blkfront_request(&a, &r), BLKIF_RSP_ERROR);
    r = read_req(~0ull - 3, g);
    CHECK_EQ("a range that wraps", blkfront_request(&a, &r), BLKIF_RSP_ERROR);
    r = read_req(0, 100000);
    CHECK_EQ("a grant ref beyond the table", blkfront_request(&a, &r), BLKIF_RSP_ERROR);
    r = read_req(0, 499);
    CHECK_EQ("a grant ref never granted", blkfront_request(&a, &r), BLKIF_RSP_ERROR);
    grant_ref_t ro = gnt_grant(buf, 1);
    r = read_req(0, ro);
    CHECK_EQ("a read into a read-only grant", blkfront_request(&a, &r), BLKIF_RSP_ERROR);
    gnt_revoke(ro);
    /* Two segments, the second one bad: nothing of it may be done. */
    r = read_req(0, g);
    r.nr_segments = 2;
    r.seg[1] = r.seg[0];
    r.seg[1].gref = 100001;
    CHECK_EQ("a bad second segment", blkfront_request(&a, &r), BLKIF_RSP_ERROR);
    /* A grant revoked after the request was written, before the kick:
     * the backend finds it revoked and refuses the request. */
    {
        grant_ref_t gr = gnt_grant(buf, 0);
        r = read_req(0, gr);
        gnt_revoke(gr);
        CHECK_EQ("a grant revoked before the backend saw it", blkfront_request(&a, &r),
                 BLKIF_RSP_ERROR);
    }
    r = read_req(0, g);
    r.operation = 99;
    CHECK_EQ("an unknown operation", blkfront_request(&a, &r), BLKIF_RSP_EOPNOTSUPP);
    /* Indirect requests: bad indirect pages, bad segments in them. */
    {
        static struct blkif_request_segment ind[512] __attribute__((aligned(4096)));
        blkif_request_indirect_t ir;
        memset(&ir, 0, sizeof(ir));
        ir.operation = BLKIF_OP_INDIRECT;
        ir.indirect_op = BLKIF_OP_READ;
        ir.nr_segments = 2;
        ir.id = next_id++;
        ir.indirect_grefs[0] = 100002;                  /* beyond the table */
        CHECK_EQ("indirect: a bad indirect page", blkfront_request(&a, (blkif_request_t *)&ir),
                 BLKIF_RSP_ERROR);
        grant_ref_t gi = gnt_grant(ind, 1);
        ind[0] = (struct blkif_request_segment){ .gref = g, .first_sect = 0, .last_sect = 7 };
        ind[1] = (struct blkif_request_segment){ .gref = g, .first_sect = 7, .last_sect = 1 };
        ir.indirect_grefs[0] = gi;
        ir.id = next_id++;
        CHECK_EQ("indirect: first_sect > last_sect inside", blkfront_request(&a,
                 (blkif_request_t *)&ir), BLKIF_RSP_ERROR);
        ir.nr_segments = 300;
        ir.id = next_id++;
        CHECK_EQ("indirect: 300 segments", blkfront_request(&a, (blkif_request_t *)&ir),
                 BLKIF_RSP_ERROR);
        ir.nr_segments = 1;
        ir.indirect_op = BLKIF_OP_DISCARD;
        ir.id = next_id++;
        CHECK_EQ("indirect: not a read or write", blkfront_request(&a,
                 (blkif_request_t *)&ir), BLKIF_RSP_ERROR);
        ind[1].first_sect = 0;
        ir.indirect_op = BLKIF_OP_READ;
        ir.nr_segments = 2;
        ir.sector_number = a.sectors - 8;               /* 16 sectors, 8 past the end */
        ir.id = next_id++;
        CHECK_EQ("indirect: past the end", blkfront_request(&a, (blkif_request_t *)&ir),
                 BLKIF_RSP_ERROR);
        gnt_revoke(gi);
    }
    r = read_req(0, g);
    CHECK_EQ("the ring still serves good reads", blkfront_request(&a, &r), BLKIF_RSP_OKAY);

    grant_ref_t gb = gnt_grant(buf, 1);
    r = read_req(0, gb);
    r.operation = BLKIF_OP_WRITE;
    CHECK_EQ("a write to the read-only disk", blkfront_request(&b, &r), BLKIF_RSP_ERROR);
    memset(&r, 0, sizeof(r));
    r.operation = BLKIF_OP_FLUSH_DISKCACHE;
    r.id = next_id++;
    CHECK_EQ("a flush of the read-only disk", blkfront_request(&b, &r), BLKIF_RSP_ERROR);
    gnt_revoke(gb);

    /* req_prod far ahead: as Xen's blkback, the backend shuts the ring. */
    a.sring->req_prod = a.ring.req_prod_pvt + 1000;
    struct evtchn_send s = { .port = a.port };
    evtchn_op(EVTCHNOP_send, &s);
    blkif_response_t rsp;
    CHECK("no response on a ring whose req_prod ran ahead",
          blkfront_wait(&a, &rsp, 1000) < 0);
    char v[16];
    CHECK("xenstore still answers", xs_read("device/vbd", v, sizeof(v)) == 0);
    g = gnt_grant(buf, 0);
    r = read_req(0, g);
    CHECK_EQ("the other disk still serves", blkfront_request(&b, &r), BLKIF_RSP_OKAY);
    finish("blk-hostile");
}
