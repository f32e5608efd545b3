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
 *
 * Grants changed under a request in flight: reads of 11 pages are pushed
 * and, at once or a little later, their grants revoked, turned read-only or
 * pointed at another page. The backend either mapped them first (the read
 * lands in the pages granted then) or finds them changed (BLKIF_RSP_ERROR);
 * every request is answered, the page never granted is never written, and
 * once answered no grant is left marked in use. On the third disk, if
 * there is one (a qcow2 image: blkback's NBD engine), the same.
 *
 * Multi-queue frontends that lie: more queues claimed than keys written,
 * more than offered, a stray queue beyond those negotiated; then two
 * queues whose req_prod runs far ahead, one after the other: each ring is
 * shut alone, the other queue serving until its own turn.
 */
#include "guest.h"
#include "blkfront.h"
#include "xs.h"

#include <xen/event_channel.h>
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>

static uint8_t ring_pages[3][4096] __attribute__((aligned(4096)));
static uint8_t buf[4096] __attribute__((aligned(4096)));

static uint64_t next_id = 1000;

#define SEGS BLKIF_MAX_SEGMENTS_PER_REQUEST
static uint8_t inflight_pages[SEGS][4096] __attribute__((aligned(4096)));
static uint8_t never_granted[4096] __attribute__((aligned(4096)));
static uint8_t mq_rings[4][4096] __attribute__((aligned(4096)));

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

/* See the top: grants changed while their read is in flight. */
static void inflight_grants(struct blkfront *f, const char *disk)
{
    unsigned okay = 0, refused = 0, other = 0, untouched_bad = 0, data_bad = 0, busy = 0;
    memset(never_granted, 0x55, sizeof(never_granted));
    for (unsigned round = 0; round < 24; round++) {
        grant_ref_t g[SEGS];
        blkif_request_t r;
        memset(&r, 0, sizeof(r));
        r.operation = BLKIF_OP_READ;
        r.nr_segments = SEGS;
        r.id = next_id++;
        r.sector_number = 64;
        for (unsigned i = 0; i < SEGS; i++) {
            memset(inflight_pages[i], 0xaa, 4096);
            g[i] = gnt_grant(inflight_pages[i], 0);
            r.seg[i] = (struct blkif_request_segment){ .gref = g[i], .first_sect = 0,
                                                       .last_sect = 7 };
        }
        blkfront_push(f, &r);
        /* Later and later after the kick, so that some changes find the
         * grants mapped and some do not. */
        for (volatile unsigned k = 0; k < (round % 8) * 400; k++)
            ;
        for (unsigned i = 0; i < SEGS; i++) {
            switch (round % 3) {
            case 0: gnt_set(g[i], inflight_pages[i], 0); break;            /* revoked */
            case 1: gnt_set(g[i], inflight_pages[i], GTF_permit_access | GTF_readonly); break;
            default: gnt_set(g[i], never_granted, 0); break;               /* elsewhere */
            }
        }
        blkif_response_t rsp;
        if (blkfront_wait(f, &rsp, 5000) < 0 || rsp.id != r.id) {
            other++;
        } else if (rsp.status == BLKIF_RSP_OKAY) {
            okay++;
            /* Sector 64 holds the host's data; the rest of the image zeroes. */
            data_bad += memcmp(inflight_pages[0], "XENON-HOST", 10) != 0 ||
                        inflight_pages[SEGS - 1][4095] != 0;
        } else if (rsp.status == BLKIF_RSP_ERROR) {
            refused++;
        } else {
            other++;
        }
        for (unsigned i = 0; i < sizeof(never_granted); i++)
            untouched_bad += never_granted[i] != 0x55;
        for (unsigned i = 0; i < SEGS; i++) {
            busy += (gnt_flags(g[i]) & (GTF_reading | GTF_writing)) != 0;
            gnt_revoke(g[i]);
        }
    }
    printk("blk-hostile: %s: grants changed in flight: %u read before the change, "
           "%u refused after it\n", disk, okay, refused);
    char n[80];
    snprintf(n, sizeof(n), "%s: every request in flight answered, OKAY or ERROR", disk);
    CHECK_EQ(n, other, 0);
    snprintf(n, sizeof(n), "%s: a read done before the change holds the disk's data", disk);
    CHECK_EQ(n, data_bad, 0);
    snprintf(n, sizeof(n), "%s: the page never granted is never written", disk);
    CHECK_EQ(n, untouched_bad, 0);
    snprintf(n, sizeof(n), "%s: no grant left in use once answered", disk);
    CHECK_EQ(n, busy, 0);
    grant_ref_t gg = gnt_grant(inflight_pages[0], 0);
    blkif_request_t r;
    memset(&r, 0, sizeof(r));
    r.operation = BLKIF_OP_READ;
    r.nr_segments = 1;
    r.id = next_id++;
    r.sector_number = 64;
    r.seg[0] = (struct blkif_request_segment){ .gref = gg, .first_sect = 0, .last_sect = 7 };
    snprintf(n, sizeof(n), "%s: the ring serves on", disk);
    CHECK_EQ(n, blkfront_request(f, &r), BLKIF_RSP_OKAY);
    gnt_revoke(gg);
}

static int fe_write(const char *fe, const char *key, unsigned long v)
{
    char path[96], val[24];
    snprintf(path, sizeof(path), "%s/%s", fe, key);
    snprintf(val, sizeof(val), "%lu", v);
    return xs_write(path, val);
}

/* Wait for the backend's state `want` (or a state it never leaves for
 * it): the state seen. */
static int wait_be(struct blkfront *f, int want)
{
    int st = -1;
    for (int i = 0; i < 2500 && (st = blkfront_backend_state(f)) != want; i++)
        guest_sleep_ms(2);
    return st;
}

/* A multi-queue connect that lies: `claimed` queues in
 * multi-queue-num-queues, keys for `written` of them, and a stray queue-7.
 * The state the backend reaches (Connected, or Closing when it refuses). */
static int mq_connect(struct blkfront *fs, unsigned devid, unsigned written, unsigned claimed)
{
    struct blkfront *f = &fs[0];
    memset(f, 0, sizeof(*f));
    f->devid = devid;
    snprintf(f->fe, sizeof(f->fe), "device/vbd/%u", devid);
    char path[96];
    snprintf(path, sizeof(path), "%s/backend", f->fe);
    if (xs_read(path, f->be, sizeof(f->be)) < 0)
        return -1;
    if (blkfront_backend_state(f) == XenbusStateClosed)
        fe_write(f->fe, "state", XenbusStateInitialising);
    if (wait_be(f, XenbusStateInitWait) != XenbusStateInitWait)
        return -1;
    for (unsigned i = 0; i < written; i++) {
        struct blkfront *g = &fs[i];
        if (i)
            *g = *f;
        struct evtchn_alloc_unbound a = { .dom = DOMID_SELF, .remote_dom = 0 };
        if (evtchn_op(EVTCHNOP_alloc_unbound, &a))
            return -1;
        g->port = a.port;
        g->sring = (struct blkif_sring *)mq_rings[i];
        SHARED_RING_INIT(g->sring);
        FRONT_RING_INIT(&g->ring, g->sring, 4096);
        g->ring_ref = gnt_grant(g->sring, 0);
        char key[32];
        snprintf(key, sizeof(key), "queue-%u/ring-ref", i);
        fe_write(f->fe, key, g->ring_ref);
        snprintf(key, sizeof(key), "queue-%u/event-channel", i);
        fe_write(f->fe, key, g->port);
    }
    fe_write(f->fe, "queue-7/ring-ref", 100003);        /* beyond those negotiated */
    fe_write(f->fe, "queue-7/event-channel", 1);
    snprintf(path, sizeof(path), "%s/protocol", f->fe);
    xs_write(path, GUEST_BITS == 64 ? XEN_IO_PROTO_ABI_X86_64 : XEN_IO_PROTO_ABI_X86_32);
    fe_write(f->fe, "multi-queue-num-queues", claimed);
    fe_write(f->fe, "state", XenbusStateInitialised);
    int st = -1;
    for (int i = 0; i < 2500; i++) {
        st = blkfront_backend_state(f);
        if (st == XenbusStateConnected || st == XenbusStateClosing)
            break;
        guest_sleep_ms(2);
    }
    if (st == XenbusStateConnected) {
        fe_write(f->fe, "state", XenbusStateConnected);
        for (unsigned i = 0; i < written; i++)
            fs[i].sectors = 2048;
    } else if (st == XenbusStateClosing) {
        /* Refused: close as a frontend does, ready to try again. */
        fe_write(f->fe, "state", XenbusStateClosed);
        wait_be(f, XenbusStateClosed);
    }
    return st;
}

static void mq_hostile_closed(struct blkfront *a, struct blkfront *b)
{
    struct blkfront q[4];
    CHECK_EQ("3 queues claimed, keys for 2: refused", mq_connect(q, a->devid, 2, 3),
             XenbusStateClosing);
    CHECK_EQ("5 queues claimed, 4 offered: refused", mq_connect(q, a->devid, 4, 5),
             XenbusStateClosing);
    CHECK_EQ("0 queues claimed: refused", mq_connect(q, a->devid, 1, 0), XenbusStateClosing);
    CHECK_EQ("2 queues and a stray queue-7: connected", mq_connect(q, a->devid, 2, 2),
             XenbusStateConnected);
    grant_ref_t g = gnt_grant(buf, 0);
    blkif_request_t r;
    for (unsigned i = 0; i < 2; i++) {
        r = read_req(64, g);
        CHECK_EQ("each queue serves", blkfront_request(&q[i], &r), BLKIF_RSP_OKAY);
    }
    /* Queue 0 lies about its indices: shut alone. */
    q[0].sring->req_prod = q[0].ring.req_prod_pvt + 5000;
    struct evtchn_send s = { .port = q[0].port };
    evtchn_op(EVTCHNOP_send, &s);
    blkif_response_t rsp;
    CHECK("queue 0 ran ahead: no response on it", blkfront_wait(&q[0], &rsp, 500) < 0);
    r = read_req(64, g);
    CHECK_EQ("queue 1 still serves", blkfront_request(&q[1], &r), BLKIF_RSP_OKAY);
    /* Queue 1 lies the other way: responses it never got requests for
     * (rsp_event, req_event garbage), then req_prod behind its consumer. */
    q[1].sring->rsp_event = 0xdeadbeef;
    q[1].sring->req_event = 0;
    q[1].sring->req_prod = q[1].ring.req_prod_pvt - 3;
    s.port = q[1].port;
    evtchn_op(EVTCHNOP_send, &s);
    CHECK("queue 1 ran behind: no response on it", blkfront_wait(&q[1], &rsp, 500) < 0);
    r = read_req(0, g);
    CHECK_EQ("the other disk still serves", blkfront_request(b, &r), BLKIF_RSP_OKAY);
    gnt_revoke(g);
}

void guest_main(void)
{
    printk("blk-hostile: %d-bit guest\n", GUEST_BITS);
    if (xs_init() < 0) {
        CHECK("xenstore", 0);
        finish("blk-hostile");
    }
    unsigned ids[3];
    int nd = blkfront_list(ids, 3);
    CHECK("two or three vbds", nd == 2 || nd == 3);
    struct blkfront a, b, c;
    CHECK_EQ("connect the read-write disk", blkfront_connect(&a, ids[0], ring_pages[0]), 0);
    CHECK_EQ("connect the read-only disk", blkfront_connect(&b, ids[1], ring_pages[1]), 0);
    if (nd == 3) {
        CHECK_EQ("connect the third disk", blkfront_connect(&c, ids[2], ring_pages[2]), 0);
        inflight_grants(&c, "third disk");
    }
    inflight_grants(&a, "first disk");
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
    /* The shut ring's disk again, now as a multi-queue liar. */
    fe_write(a.fe, "state", XenbusStateClosing);
    wait_be(&a, XenbusStateClosing);
    fe_write(a.fe, "state", XenbusStateClosed);
    CHECK_EQ("the shut ring's disk closes", wait_be(&a, XenbusStateClosed), XenbusStateClosed);
    a.devid = ids[0];
    mq_hostile_closed(&a, &b);
    finish("blk-hostile");
}
