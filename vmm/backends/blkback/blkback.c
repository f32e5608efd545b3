/* See blkback.h. Rings of up to 16 pages (max-ring-page-order 4) and one
 * queue per disk; requests in flight never exceed the ring's entries, so
 * the pending table is sized by it. Indirect requests carry up to 256
 * segments. */
#include "blkback.h"
#include "backend.h"
#include "blk_engine.h"
#include "blkif_req.h"
#include "domain.h"
#include "grant_map.h"
#include "ioloop.h"
#include "xenbus_be.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <xen/io/ring.h>

#include "log.h"

#define PAGE_BYTES 4096u
#define MAX_RING_ORDER 4u               /* Xen's XENBUS_MAX_RING_GRANT_ORDER */
#define MAX_RING_PAGES (1u << MAX_RING_ORDER)
#define MAX_SEGS BLK_MAX_INDIRECT_SEGMENTS
#define MAX_QUEUES 4u                   /* multi-queue-max-queues */
/* Persistent grants kept mapped per ring, at most (Xen's blkback keeps up
 * to 1056 by default), in an open-addressed table twice that size. */
#define MAX_PGRANTS 1024u
/* The ring's watch after an answer that left nothing in flight: how long,
 * how many rounds of serving before the loop gets the thread back, and
 * how many occasions a watch that found nothing skips at most. */
#define RING_POLL_NS 50000u
#define RING_POLL_ROUNDS 16u
#define RING_POLL_SKIP_MAX 64u
#define PGRANT_SLOTS (2 * MAX_PGRANTS)

struct pgrant {
    bool used;
    grant_ref_t gref;
    grant_handle_t handle;
    void *page;
};

/* One request being carried out. */
struct pending {
    bool used;
    uint8_t op;                         /* what the I/O does: never INDIRECT */
    uint8_t rsp_op;                     /* what the response names */
    uint64_t id;
    int16_t status;
    size_t bytes;                       /* what a read or write must move */
    unsigned nr_maps;
    bool kept[MAX_SEGS];                /* a persistent grant: not unmapped */
    grant_handle_t handle[MAX_SEGS];
    struct iovec iov[MAX_SEGS];
};

/* One queue's ring (multi-queue: one per queue-N), with what is in flight
 * on it. */
struct blk_ring {
    struct blkback *b;
    unsigned index;                     /* its queue number */
    bool dead;
    struct backend chan;
    bool chan_bound;
    unsigned nr_pages;                  /* of the ring; 0: not mapped */
    grant_handle_t ring_handle[MAX_RING_PAGES];
    uint8_t *ring_page[MAX_RING_PAGES]; /* each its own mapping: not contiguous */
    void *ring_page0;                   /* the header's page (NULL: unmapped) */
    RING_IDX req_cons, rsp_prod_pvt;
    unsigned inflight;
    bool draining;                      /* a barrier waits for in-flight I/O */
    bool deferred;                      /* a request waits for room in the engine */
    struct pending *pend;               /* nr_ents of them */
    unsigned pend_hint;                 /* where to look for a free one */
    struct blk_seg segs[MAX_SEGS];      /* an indirect request's, copied out */
    bool persistent;                    /* negotiated: both said feature-persistent */
    unsigned nr_pgrants;
    struct pgrant *pgrants;             /* PGRANT_SLOTS, while persistent */
    unsigned poll_skip, poll_backoff;   /* the watch's backing off */
};

struct blkback {
    struct xenbus_dev *dev;
    struct domain *d;
    struct blk_engine *io;              /* NULL when empty (a cdrom) */
    char name[48];                      /* "domN: vbd M", for the log */
    uint32_t flags;                     /* XENON_DEV_F_* from the attach */
    bool readonly;
    bool flush;                         /* offered (feature-flush-cache) */
    bool discard;                       /* offered (feature-discard) */
    uint64_t sectors;

    /* While connected: the layout and size every queue's ring shares,
     * and the queues. */
    bool connected;
    bool closing;                       /* disconnected, waiting for in-flight I/O */
    unsigned in_service;                /* service() is taking and submitting */
    bool in_batch;                      /* on_batch() runs its rounds */
    bool batch_again;                   /* completions came inside service() */
    bool watching;                      /* a ring's watch runs (no nested one) */
    enum blkif_abi abi;
    size_t slot_size;
    unsigned nr_ents;
    unsigned nr_queues;
    struct blk_ring *q;                 /* nr_queues of them */
};

static struct blkif_sring *sring(struct blk_ring *q)
{
    return q->ring_page0;
}

/* Slot i's bytes start at ring offset off; a slot may straddle two pages
 * of a multi-page ring, so it is copied in pieces. */
static size_t slot_offset(struct blk_ring *q, RING_IDX i)
{
    struct blkback *b = q->b;
    return offsetof(struct blkif_sring, ring) + (size_t)(i & (b->nr_ents - 1)) * b->slot_size;
}

static void ring_copy(struct blk_ring *q, size_t off, void *buf, size_t len, bool out)
{
    uint8_t *p = buf;
    while (len) {
        size_t pg = off / PAGE_BYTES, in = off % PAGE_BYTES;
        size_t n = PAGE_BYTES - in < len ? PAGE_BYTES - in : len;
        if (pg >= q->nr_pages)
            return;     /* not reached: slots lie within the ring */
        if (out)
            memcpy(q->ring_page[pg] + in, p, n);
        else
            memcpy(p, q->ring_page[pg] + in, n);
        off += n, p += n, len -= n;
    }
}

/* --- responses ---------------------------------------------------------- */

static void respond(struct blk_ring *q, uint64_t id, uint8_t op, int16_t status)
{
    uint8_t rsp[sizeof(union blkif_sring_entry)];
    blkif_put_response(rsp, id, op, status);
    ring_copy(q, slot_offset(q, q->rsp_prod_pvt), rsp, 12, true);
    q->rsp_prod_pvt++;
}

/* RING_PUSH_RESPONSES_AND_CHECK_NOTIFY, then the notification. */
static void push_responses(struct blk_ring *q)
{
    struct blkif_sring *s = sring(q);
    RING_IDX old = s->rsp_prod, new = q->rsp_prod_pvt;
    if (old == new)
        return;
    __atomic_store_n(&s->rsp_prod, new, __ATOMIC_RELEASE);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    RING_IDX ev = __atomic_load_n(&s->rsp_event, __ATOMIC_ACQUIRE);
    if ((RING_IDX)(new - ev) < (RING_IDX)(new - old))
        evtchn_be_notify(&q->chan.chan);
}

static void release(struct blk_ring *q, struct pending *p)
{
    struct blkback *b = q->b;
    for (unsigned i = 0; i < p->nr_maps; i++)
        if (!p->kept[i])
            grant_unmap(&b->d->grants, p->handle[i]);
    p->nr_maps = 0;
    respond(q, p->id, p->rsp_op, p->status);
    p->used = false;
    q->inflight--;
}

/* --- requests ----------------------------------------------------------- */

static void shut_ring(struct blk_ring *q, const char *why)
{
    struct blkback *b = q->b;
    log_limited(LOG_WARN, "dom%u: vbd %u: %s; ring shut down", b->d->domid, b->dev->devid, why);
    q->dead = true;
}


static struct pending *alloc_pending(struct blk_ring *q)
{
    struct blkback *b = q->b;
    /* In flight <= nr_ents (checked), so a linear look finds one soon:
     * start where the last one was taken. */
    for (unsigned k = 0; k < b->nr_ents; k++) {
        unsigned i = (q->pend_hint + k) % b->nr_ents;
        if (!q->pend[i].used) {
            q->pend_hint = i + 1;
            return &q->pend[i];
        }
    }
    return NULL;
}

/* --- persistent grants ------------------------------------------------- */

/* The persistent mapping of gref, made (writable: frontends grant their
 * persistent pages read-write) if there is room; NULL when it cannot be
 * kept, the caller then maps for the request only. */
static struct pgrant *pgrant_get(struct blk_ring *q, grant_ref_t gref)
{
    struct blkback *b = q->b;
    if (!q->persistent)
        return NULL;
    unsigned h = (gref * 2654435761u) % PGRANT_SLOTS;
    for (unsigned k = 0; k < PGRANT_SLOTS; k++) {
        struct pgrant *g = &q->pgrants[(h + k) % PGRANT_SLOTS];
        if (g->used && g->gref == gref)
            return g;
        if (!g->used) {
            if (q->nr_pgrants >= MAX_PGRANTS)
                return NULL;
            void *page;
            if (grant_map(&b->d->grants, 0, gref, false, &g->handle, &page) != GNTST_okay)
                return NULL;
            *g = (struct pgrant){ .used = true, .gref = gref, .handle = g->handle,
                                  .page = page };
            q->nr_pgrants++;
            return g;
        }
    }
    return NULL;
}

static void pgrants_unmap(struct blk_ring *q)
{
    struct blkback *b = q->b;
    for (unsigned i = 0; q->pgrants && i < PGRANT_SLOTS; i++)
        if (q->pgrants[i].used)
            grant_unmap(&b->d->grants, q->pgrants[i].handle);
    free(q->pgrants);
    q->pgrants = NULL;
    q->nr_pgrants = 0;
    q->persistent = false;
}

/* Copy an indirect request's segments out of its indirect pages (mapped
 * read-only for the copy only) into b->segs: BLKIF_RSP_OKAY, or
 * BLKIF_RSP_ERROR (a bad grant, bad segments). */
static int read_indirect(struct blk_ring *q, struct blk_req *r)
{
    struct blkback *b = q->b;
    unsigned pages = blkif_indirect_pages(r);
    for (unsigned i = 0; i < pages; i++) {
        grant_handle_t h;
        void *page;
        struct pgrant *pg = pgrant_get(q, r->indirect_gref[i]);
        if (pg)
            page = pg->page;
        else if (grant_map(&b->d->grants, 0, r->indirect_gref[i], true, &h, &page) !=
                 GNTST_okay)
            return BLKIF_RSP_ERROR;
        unsigned first = i * BLK_SEGS_PER_INDIRECT_PAGE;
        unsigned n = r->nr_segments - first < BLK_SEGS_PER_INDIRECT_PAGE
                         ? r->nr_segments - first : BLK_SEGS_PER_INDIRECT_PAGE;
        blkif_indirect_segs(page, 0, n, q->segs + first);
        if (!pg)
            grant_unmap(&b->d->grants, h);
    }
    return blkif_check_segs(q->segs, r->nr_segments, r->sector, b->sectors, &r->nr_sectors);
}

/* Map the segments' grants and point the iovecs into them: 0, or -1 with
 * everything mapped so far unmapped again (a bad or revoked grant). */
static int map_segments(struct blk_ring *q, const struct blk_seg *segs, unsigned nseg,
                        bool to_guest, struct pending *p)
{
    struct blkback *b = q->b;
    /* A read writes into the guest's pages; a write only reads them. */
    bool readonly = !to_guest;
    p->bytes = 0;
    for (unsigned i = 0; i < nseg; i++) {
        void *page;
        struct pgrant *pg = pgrant_get(q, segs[i].gref);
        int16_t st = GNTST_okay;
        p->kept[i] = pg != NULL;
        if (pg)
            page = pg->page;
        else
            st = grant_map(&b->d->grants, 0, segs[i].gref, readonly, &p->handle[i], &page);
        if (st != GNTST_okay) {
            log_debug("dom%u: vbd %u: grant %u: status %d", b->d->domid,
                      b->dev->devid, segs[i].gref, st);
            return -1;
        }
        p->nr_maps = i + 1;
        unsigned first = segs[i].first_sect, last = segs[i].last_sect;
        p->iov[i].iov_base = (uint8_t *)page + ((size_t)first << BLK_SECTOR_SHIFT);
        p->iov[i].iov_len = (size_t)(last - first + 1) << BLK_SECTOR_SHIFT;
        p->bytes += p->iov[i].iov_len;
    }
    return 0;
}

/* Start one checked request; false when the engine has no room now. */
static bool start(struct blk_ring *q, struct blk_req *r)
{
    struct blkback *b = q->b;
    struct pending *p = alloc_pending(q);
    if (!p) {
        shut_ring(q, "more requests in flight than the ring holds");
        return true;
    }
    uint8_t op = r->op == BLKIF_OP_INDIRECT ? r->indirect_op : r->op;
    /* Field by field, not a compound literal: that cleared all 256
     * segments' iovecs, handles and flags (5 KiB) for every request,
     * most of which carry one segment. map_segments() sets a segment's
     * entries before nr_maps counts it, and nothing reads beyond. */
    p->used = true;
    p->op = op;
    p->rsp_op = blkif_rsp_op(r);
    p->id = r->id;
    p->status = BLKIF_RSP_OKAY;
    p->bytes = 0;
    p->nr_maps = 0;
    q->inflight++;
    const struct blk_seg *segs = r->seg;
    if (r->op == BLKIF_OP_INDIRECT) {
        if (read_indirect(q, r) != BLKIF_RSP_OKAY) {
            p->status = BLKIF_RSP_ERROR;
            release(q, p);
            return true;
        }
        segs = q->segs;
    }
    if (!b->io || map_segments(q, segs, r->nr_segments, op == BLKIF_OP_READ, p) < 0) {
        p->status = BLKIF_RSP_ERROR;
        release(q, p);
        return true;
    }
    /* WRITE_BARRIER is carried out as Xen's blkback carries it out: the
     * I/O before it drained (take_requests), then as a flush. */
    struct blk_io io = {
        .op = op == BLKIF_OP_WRITE_BARRIER ? BLKIF_OP_FLUSH_DISKCACHE : op,
        .tag = (uint32_t)q->index << 16 | (uint32_t)(p - q->pend),
        .offset = r->sector << BLK_SECTOR_SHIFT,
        .length = (uint64_t)r->nr_sectors << BLK_SECTOR_SHIFT,
        .iov = p->iov, .niov = r->nr_segments, .bytes = p->bytes,
    };
    int rc = b->io->ops->start(b->io, &io);
    if (rc <= 0) {
        /* No room: unmapped again, the request stays on the ring. */
        p->status = BLKIF_RSP_ERROR;
        if (rc == 0) {
            for (unsigned i = 0; i < p->nr_maps; i++)
                if (!p->kept[i])
                    grant_unmap(&b->d->grants, p->handle[i]);
            p->nr_maps = 0;
            p->used = false;
            q->inflight--;
            return false;
        }
        release(q, p);
    }
    return true;
}

/* Take every request the frontend has produced (one batch per kick). */
static void take_requests(struct blk_ring *q)
{
    struct blkback *b = q->b;
    struct blkif_sring *s = sring(q);
    uint8_t buf[sizeof(union blkif_sring_entry)];
    /* A frontend producing without end must not hold the I/O thread (and
     * with it the console and the other disks): after a budget, come back
     * through our own wake-up, behind whatever else is ready. */
    unsigned budget = 4 * b->nr_ents;
    for (;;) {
        RING_IDX rp = __atomic_load_n(&s->req_prod, __ATOMIC_ACQUIRE);
        /* RING_REQUEST_PROD_OVERFLOW: more requests than the ring holds. */
        if ((RING_IDX)(rp - q->rsp_prod_pvt) > b->nr_ents) {
            shut_ring(q, "the frontend's req_prod runs past the ring");
            return;
        }
        while (q->req_cons != rp && !q->dead) {
            if (q->draining)
                return;
            if (budget-- == 0) {
                uint64_t one = 1;
                (void)!write(q->chan.chan.fd, &one, sizeof(one));
                return;
            }
            ring_copy(q, slot_offset(q, q->req_cons), buf, b->slot_size, false);
            struct blk_req r;
            blkif_parse(buf, b->abi, &r);
            int st = blkif_check(&r, b->sectors, b->readonly);
            if (st == BLKIF_RSP_OKAY && r.op == BLKIF_OP_DISCARD && !b->discard)
                st = BLKIF_RSP_EOPNOTSUPP;      /* not offered (discard-enable=0) */
            if (st == BLKIF_RSP_OKAY && !b->flush && (r.op == BLKIF_OP_FLUSH_DISKCACHE ||
                                                      r.op == BLKIF_OP_WRITE_BARRIER))
                st = BLKIF_RSP_EOPNOTSUPP;      /* an export without flush */
            if (st != BLKIF_RSP_OKAY) {
                q->req_cons++;
                respond(q, r.id, blkif_rsp_op(&r), (int16_t)st);
                continue;
            }
            if (r.op == BLKIF_OP_WRITE_BARRIER && q->inflight) {
                q->draining = true;     /* taken again once they completed */
                return;
            }
            if (!start(q, &r)) {
                q->deferred = true;
                return;
            }
            q->req_cons++;
        }
        /* RING_FINAL_CHECK_FOR_REQUESTS */
        __atomic_store_n(&s->req_event, q->req_cons + 1, __ATOMIC_RELEASE);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (__atomic_load_n(&s->req_prod, __ATOMIC_ACQUIRE) == q->req_cons)
            return;
    }
}

static void on_batch(void *opaque);

static void serve(struct blk_ring *q)
{
    struct blkback *b = q->b;
    q->deferred = false;
    /* The engine may complete requests inside submit() (a read the page
     * cache holds): their batch is run below, not from inside it. */
    b->in_service++;
    take_requests(q);
    if (b->io)
        b->io->ops->submit(b->io);
    b->in_service--;
    push_responses(q);
    if (b->batch_again && !b->in_service && !b->in_batch)
        on_batch(b);
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static bool requests_queued(struct blk_ring *q)
{
    return __atomic_load_n(&sring(q)->req_prod, __ATOMIC_ACQUIRE) != q->req_cons;
}

/* Everything answered, nothing in flight: the frontend's next request is
 * what comes next, often within microseconds (a QD1 loop). Watch the ring
 * for it a while with the frontend's kicks off (req_event left at
 * req_cons, as netback's tx watch), answering completions the engine has
 * meanwhile, so that request costs the guest no exit and this thread no
 * wake-up. True when there is something to serve. A watch that finds
 * nothing turns kicks back on, then looks once more, and backs off. */
static bool ring_watch(struct blk_ring *q)
{
    struct blkback *b = q->b;
    if (q->inflight || q->dead || !b->connected)
        return false;
    if (q->poll_skip) {
        q->poll_skip--;
        return false;
    }
    struct blkif_sring *s = sring(q);
    __atomic_store_n(&s->req_event, q->req_cons, __ATOMIC_RELEASE);
    uint64_t end = now_ns() + RING_POLL_NS;
    do {
        for (unsigned i = 0; i < 64; i++) {
            if (requests_queued(q))
                goto hit;
            __builtin_ia32_pause();
        }
        /* The vCPU we wait for may need this CPU (both SCHED_FIFO, one
         * core left to us): let it run. */
        sched_yield();
    } while (now_ns() < end);
    __atomic_store_n(&s->req_event, q->req_cons + 1, __ATOMIC_RELEASE);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (requests_queued(q))
        goto hit;
    q->poll_backoff = q->poll_backoff ? q->poll_backoff * 2 : 1;
    if (q->poll_backoff > RING_POLL_SKIP_MAX)
        q->poll_backoff = RING_POLL_SKIP_MAX;
    q->poll_skip = q->poll_backoff;
    return false;
hit:
    q->poll_backoff = 0;
    return true;
}

/* Serve the ring again while its watch finds requests (bounded rounds:
 * then the loop gets the thread back, kicks on again). */
static void watch_and_serve(struct blk_ring *q)
{
    struct blkback *b = q->b;
    if (b->watching || b->in_service || b->in_batch)
        return;     /* the running watch or batch comes back here */
    b->watching = true;
    for (unsigned r = 0; r < RING_POLL_ROUNDS && ring_watch(q); r++)
        serve(q);
    b->watching = false;
}

static void service(struct blk_ring *q)
{
    struct blkback *b = q->b;
    if (!b->connected || q->dead)
        return;
    serve(q);
    watch_and_serve(q);
}

static void on_kick(void *opaque)
{
    service(opaque);
}

/* --- completions -------------------------------------------------------- */

static void on_done(void *opaque, uint32_t tag, int16_t status)
{
    struct blkback *b = opaque;
    /* The tag: queue << 16 | pending slot. */
    unsigned qi = tag >> 16, slot = tag & 0xffff;
    if (qi >= b->nr_queues || slot >= b->nr_ents || !b->q[qi].pend ||
        !b->q[qi].pend[slot].used)
        return;
    struct blk_ring *q = &b->q[qi];
    struct pending *p = &q->pend[slot];
    p->status = status;
    release(q, p);
}

/* After a pass of completions: push the responses, and take what waited
 * (a barrier's drain, a full engine). */
static void finish_disconnect(struct blkback *b);
static unsigned inflight(struct blkback *b);

static void on_batch(void *opaque)
{
    struct blkback *b = opaque;
    if (!b->connected) {
        /* A disconnect waited for these: the rings can go now. */
        if (b->closing && inflight(b) == 0) {
            b->closing = false;
            finish_disconnect(b);
            xenbus_dev_disconnected(b->dev);
        }
        return;
    }
    if (b->in_service || b->in_batch) {
        b->batch_again = true;      /* the round running takes it */
        return;
    }
    /* Rounds, not recursion: a service that completes at once brings
     * another batch. A frontend that keeps that going gets its next
     * rounds through its own wake-up, behind whatever else is ready. */
    b->in_batch = true;
    unsigned rounds = 0;
    do {
        b->batch_again = false;
        for (unsigned i = 0; i < b->nr_queues && b->connected; i++) {
            struct blk_ring *q = &b->q[i];
            if (q->draining && !q->inflight)
                q->draining = false;
            push_responses(q);
            if (!q->draining || q->deferred)
                service(q);
        }
    } while (b->batch_again && b->connected && ++rounds < 8);
    b->in_batch = false;
    for (unsigned i = 0; i < b->nr_queues && b->connected && !b->batch_again; i++)
        watch_and_serve(&b->q[i]);
    if (b->batch_again && b->connected) {
        b->batch_again = false;
        for (unsigned i = 0; i < b->nr_queues; i++) {
            uint64_t one = 1;
            (void)!write(b->q[i].chan.chan.fd, &one, sizeof(one));
        }
    }
}

/* --- the xenbus driver -------------------------------------------------- */

/* The features the frontend reads before it connects, once the disk is
 * known (di NULL: an empty cdrom). */
static void publish(struct blkback *b, const struct blk_disk_info *di)
{
    struct xenbus_dev *dev = b->dev;
    if (di) {
        b->readonly |= di->readonly;
        b->sectors = di->sectors;
        b->flush = di->flush;
        b->discard = !b->readonly && di->discard && !(b->flags & XENON_DEV_F_NO_DISCARD);
    }
    unsigned info = (b->readonly ? VDISK_READONLY : 0) |
                    ((b->flags & XENON_DEV_F_CDROM) ? VDISK_CDROM | VDISK_REMOVABLE : 0);
    /* An empty cdrom offers what its medium will (xl cd-insert). */
    xenbus_dev_printf(dev, "feature-flush-cache", "%d", b->flush || !b->io);
    /* As Xen's blkback: a barrier is carried out (drain, then flush). */
    xenbus_dev_printf(dev, "feature-barrier", "%d", b->flush || !b->io);
    xenbus_dev_printf(dev, "feature-persistent", "1");
    if (b->discard) {
        xenbus_dev_printf(dev, "feature-discard", "1");
        xenbus_dev_printf(dev, "discard-granularity", "4096");
        xenbus_dev_printf(dev, "discard-alignment", "0");
        xenbus_dev_printf(dev, "discard-secure", "0");
    }
    xenbus_dev_printf(dev, "max-ring-page-order", "%u", MAX_RING_ORDER);
    xenbus_dev_printf(dev, "feature-max-indirect-segments", "%u", MAX_SEGS);
    xenbus_dev_printf(dev, "multi-queue-max-queues", "%u", MAX_QUEUES);
    xenbus_dev_printf(dev, "sectors", "%llu", (unsigned long long)b->sectors);
    xenbus_dev_printf(dev, "sector-size", "512");
    xenbus_dev_printf(dev, "physical-sector-size", "512");
    xenbus_dev_printf(dev, "info", "%u", info);
}

/* The NBD engine's handshake ended (on the I/O loop, after probe). */
static void on_ready(void *opaque, const struct blk_disk_info *di)
{
    struct blkback *b = opaque;
    if (di)
        publish(b, di);
    xenbus_dev_probed(b->dev, di ? 0 : -EIO);
}

static int probe(struct xenbus_dev *dev, int fd, uint32_t flags)
{
    struct blkback *b = calloc(1, sizeof(*b));
    if (!b) {
        if (fd >= 0)
            close(fd);
        return -ENOMEM;
    }
    b->dev = dev;
    b->d = dev->d;
    b->flags = flags;
    snprintf(b->name, sizeof(b->name), "dom%u: vbd %u", dev->d->domid, dev->devid);
    b->readonly = (flags & XENON_DEV_F_READONLY) || fd < 0;
    if (fd >= 0 && (flags & XENON_DEV_F_NBD)) {
        /* A socket to the domain's NBD server: its handshake runs on the
         * I/O loop (a slow server stalls nothing else), and the features
         * are published, then InitWait, once it is done. */
        b->io = blk_nbd_create(fd, b->readonly, on_done, on_ready, b, b->name);
        if (!b->io) {
            free(b);
            return -EIO;
        }
        b->io->batch_done = on_batch;
        dev->priv = b;
        return 1;
    }
    struct blk_disk_info di = { 0 };
    if (fd >= 0) {
        b->io = blk_uring_create(fd, on_done, b, b->name, &di);
        if (!b->io) {
            free(b);
            return -EIO;
        }
        b->io->batch_done = on_batch;
    }
    dev->priv = b;
    publish(b, fd >= 0 ? &di : NULL);
    return 0;
}

static unsigned inflight(struct blkback *b)
{
    unsigned n = 0;
    for (unsigned i = 0; i < b->nr_queues; i++)
        n += b->q[i].inflight;
    return n;
}

static void unmap_ring(struct blk_ring *q)
{
    struct blkback *b = q->b;
    for (unsigned i = 0; i < q->nr_pages; i++)
        grant_unmap(&b->d->grants, q->ring_handle[i]);
    q->nr_pages = 0;
    q->ring_page0 = NULL;
    free(q->pend);
    q->pend = NULL;
}

/* The rings unmapped and unbound: nothing is in flight any more. */
static void finish_disconnect(struct blkback *b)
{
    for (unsigned i = 0; i < b->nr_queues; i++) {
        struct blk_ring *q = &b->q[i];
        if (q->chan_bound && q->ring_page0)
            push_responses(q);
        if (q->chan_bound) {
            backend_fini(&q->chan);
            q->chan_bound = false;
        }
        unmap_ring(q);
        pgrants_unmap(q);
    }
    free(b->q);
    b->q = NULL;
    b->nr_queues = 0;
    b->connected = false;
}

/* The requests in flight may still be written into granted pages (by the
 * kernel, or by libnbd inside the engine's calls), so the rings and grants
 * stay mapped until they completed; that wait is the engine's, on the I/O
 * loop (bounded there), and the backend reports Closed after it. */
static void blk_disconnect(struct xenbus_dev *dev)
{
    struct blkback *b = dev->priv;
    if (!b->q || b->closing)
        return;
    b->connected = false;   /* completions while draining only answer */
    unsigned n = inflight(b);
    if (b->io && n) {
        log_info("%s: disconnect waits for %u request(s) in flight", b->name, n);
        b->io->ops->drain(b->io);
        if (inflight(b)) {
            b->closing = true;
            xenbus_dev_disconnect_later(dev);
            return;
        }
    }
    finish_disconnect(b);
}

/* One queue's keys: under `prefix` ("" or "queue-N/"), its ring-ref (one
 * page) or ring-ref0..N-1 (ring-page-order) and its event-channel; mapped
 * and bound. 0 or -errno. */
static int connect_queue(struct xenbus_dev *dev, struct blk_ring *q, const char *prefix,
                         unsigned order, bool persistent)
{
    struct blkback *b = q->b;
    char key[48];
    unsigned long port, ref;
    snprintf(key, sizeof(key), "%sevent-channel", prefix);
    if (xenbus_dev_fe_uint(dev, key, UINT32_MAX, &port) < 0) {
        log_limited(LOG_WARN, "dom%u: vbd %u: no %s", dev->d->domid, dev->devid, key);
        return -EINVAL;
    }
    q->pend = calloc(b->nr_ents, sizeof(*q->pend));
    if (!q->pend)
        return -ENOMEM;
    for (unsigned i = 0; i < (1u << order); i++) {
        if (order)
            snprintf(key, sizeof(key), "%sring-ref%u", prefix, i);
        else
            snprintf(key, sizeof(key), "%sring-ref", prefix);
        void *page;
        if (xenbus_dev_fe_uint(dev, key, UINT32_MAX, &ref) < 0 ||
            grant_map(&b->d->grants, 0, (grant_ref_t)ref, false, &q->ring_handle[i],
                      &page) != GNTST_okay) {
            log_limited(LOG_WARN, "dom%u: vbd %u: %s: missing, or not a grant we can map",
                        dev->d->domid, dev->devid, key);
            unmap_ring(q);
            return -EINVAL;
        }
        q->ring_page[i] = page;
        q->nr_pages = i + 1;
    }
    q->ring_page0 = q->ring_page[0];
    q->req_cons = q->rsp_prod_pvt = 0;
    q->inflight = 0;
    if (persistent) {
        q->pgrants = calloc(PGRANT_SLOTS, sizeof(*q->pgrants));
        q->persistent = q->pgrants != NULL;
    }
    int rc = backend_bind(b->d, &q->chan, (uint32_t)port, NULL, on_kick, q);
    if (rc < 0) {
        log_limited(LOG_WARN, "dom%u: vbd %u: event channel %lu: cannot bind", dev->d->domid,
                    dev->devid, port);
        unmap_ring(q);
        pgrants_unmap(q);
        return rc;
    }
    q->chan_bound = true;
    return 0;
}

static int blk_connect(struct xenbus_dev *dev)
{
    struct blkback *b = dev->priv;
    unsigned long order = 0, nq = 1, pers = 0;
    int rc = xenbus_dev_fe_uint(dev, "ring-page-order", MAX_RING_ORDER, &order);
    if (rc == -EINVAL) {
        log_limited(LOG_WARN, "dom%u: vbd %u: ring-page-order above %u", dev->d->domid, dev->devid,
                    MAX_RING_ORDER);
        return -EINVAL;
    }
    rc = xenbus_dev_fe_uint(dev, "multi-queue-num-queues", MAX_QUEUES, &nq);
    if (rc == -EINVAL || nq == 0) {
        log_limited(LOG_WARN, "dom%u: vbd %u: multi-queue-num-queues not in 1..%u", dev->d->domid,
                    dev->devid, MAX_QUEUES);
        return -EINVAL;
    }
    if (blkif_abi_from_protocol(xenbus_dev_fe_str(dev, "protocol"), &b->abi) < 0) {
        log_limited(LOG_WARN, "dom%u: vbd %u: unknown protocol %s", dev->d->domid, dev->devid,
                    xenbus_dev_fe_str(dev, "protocol"));
        return -EINVAL;
    }
    bool persistent = xenbus_dev_fe_uint(dev, "feature-persistent", 1, &pers) == 0 && pers;
    b->slot_size = blkif_slot_size(b->abi);
    b->nr_ents = blkif_ring_entries(b->abi, (size_t)PAGE_BYTES << order);
    b->q = calloc(nq, sizeof(*b->q));
    if (!b->q)
        return -ENOMEM;
    b->nr_queues = (unsigned)nq;
    for (unsigned i = 0; i < b->nr_queues; i++) {
        b->q[i].b = b;
        b->q[i].index = i;
        /* One queue: the keys at the top, as Xen's blkback reads them. */
        char prefix[24] = "";
        if (nq > 1)
            snprintf(prefix, sizeof(prefix), "queue-%u/", i);
        rc = connect_queue(dev, &b->q[i], prefix, (unsigned)order, persistent);
        if (rc < 0) {
            finish_disconnect(b);
            return rc;
        }
    }
    b->connected = true;
    log_limited(LOG_INFO,
                "dom%u: vbd %u connected: %s ring of %u page(s), %u entries, %u queue(s), "
                "%llu sectors%s%s",
                dev->d->domid, dev->devid, b->abi == BLKIF_ABI_X86_32 ? "x86_32" : "x86_64",
                b->q[0].nr_pages, b->nr_ents, b->nr_queues, (unsigned long long)b->sectors,
                b->readonly ? ", read-only" : "", persistent ? ", persistent grants" : "");
    return 0;
}

static void remove_dev(struct xenbus_dev *dev)
{
    struct blkback *b = dev->priv;
    if (!b)
        return;
    if (b->q) {
        /* Gone now, whatever is in flight (a detach forced, the VMM's end). */
        b->connected = false;
        b->closing = false;
        if (b->io && inflight(b))
            b->io->ops->cancel(b->io);
        finish_disconnect(b);
    }
    if (b->io)
        b->io->ops->destroy(b->io);
    free(b);
    dev->priv = NULL;
}

static const struct xenbus_driver blkback_driver = {
    .kind = XENON_DEV_VBD,
    .name = "vbd",
    .probe = probe,
    .connect = blk_connect,
    .disconnect = blk_disconnect,
    .remove = remove_dev,
};

void blkback_register(void)
{
    xenbus_be_register(&blkback_driver);
}
