/*
 * bench-blk: a blkfront whose every step runs in ring 3 (native speed on
 * the build machines; guest kernel code is emulated there): xenstore, the
 * connection, the grant entries, the ring and the request loop. The VMM
 * must run with --bench-user-hypercalls.
 *
 * The loop keeps up to QD requests in flight on a ring of 4 pages with
 * persistent grants (buffers granted once, as Linux's blkfront keeps its
 * persistent pool), kicks through EVTCHNOP_send only when the backend's
 * req_event asks for it, and polls the responses (it asks for no response
 * events: it takes no interrupts). 1 MiB requests are indirect (256
 * segments, one indirect page).
 *
 * Bench mode (the default; secs=N per phase, default 2) runs, on the first
 * vbd: 4 KiB random reads and writes at QD1 and QD32, 1 MiB sequential
 * reads and writes at QD1 (skip=NAME leaves one out), each printing
 *   "PHASE begin NAME" ... "BENCH NAME ops=N ns=T lat_avg_ns=L kicks=K errors=E"
 * (the host reads its own CPU figures between the two lines), and first
 * "BENCH bare-exit ns=N": a bare port-I/O exit from ring 3, this run's.
 *
 * With "check" on the command line it runs a few hundred I/Os whose data
 * it checks instead: 128 distinct 4 KiB blocks written at QD32 in a
 * scattered order and read back at QD32 and QD1, and 4 MiB in 1 MiB
 * requests written and read back; every read is compared with what was
 * written.
 */
#include "guest.h"
#include "blkfront.h"
#include "ring3.h"
#include "xs.h"

#include <xen/event_channel.h>
#include <xen/io/blkif.h>

#define QMAX 32
#define BIG_SEGS 256                    /* 1 MiB */
#define PAGE_SECTORS 8

static uint8_t ring_pages[4 * 4096] __attribute__((aligned(4096)));
static uint8_t bufs[QMAX][4096] __attribute__((aligned(4096)));
static uint8_t big[BIG_SEGS * 4096] __attribute__((aligned(4096)));
static struct blkif_request_segment ind[BIG_SEGS] __attribute__((aligned(4096)));
static grant_ref_t buf_ref[QMAX], ind_ref;

static struct blkfront f;
static uint64_t kicks;

struct phase {
    const char *name;
    int write, big, seq;
    unsigned qd;
    uint64_t ns;                /* run this long, or */
    unsigned ops;               /* this many (check mode: block i of a permutation) */
    int verify;                 /* check mode: fill writes, compare reads */
};

struct slot {
    uint64_t t0;
    uint64_t block;             /* check mode: which block it carries */
};
static struct slot slots[QMAX];

static int has_arg(const char *word)
{
    const char *c = start_info->cmdline_paddr
                        ? (const char *)(uintptr_t)start_info->cmdline_paddr : "";
    size_t n = strlen(word);
    for (; *c; c++)
        if (memcmp(c, word, n) == 0)
            return 1;
    return 0;
}

static unsigned arg_uint(const char *key, unsigned dflt)
{
    const char *c = start_info->cmdline_paddr
                        ? (const char *)(uintptr_t)start_info->cmdline_paddr : "";
    size_t n = strlen(key);
    for (; *c; c++)
        if (memcmp(c, key, n) == 0) {
            unsigned v = 0;
            for (c += n; *c >= '0' && *c <= '9'; c++)
                v = v * 10 + (unsigned)(*c - '0');
            return v;
        }
    return dflt;
}

/* What block b's page p holds in check mode. */
static void fill(uint8_t *page, uint64_t b, unsigned p)
{
    uint64_t *w = (uint64_t *)page;
    for (unsigned i = 0; i < 512; i++)
        w[i] = (b * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)p << 32) ^ i;
}

static int same(const uint8_t *page, uint64_t b, unsigned p)
{
    const uint64_t *w = (const uint64_t *)page;
    for (unsigned i = 0; i < 512; i++)
        if (w[i] != ((b * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)p << 32) ^ i))
            return 0;
    return 1;
}

static void kick(void)
{
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f.ring, notify);
    if (notify) {
        struct evtchn_send s = { .port = f.port };
        evtchn_op(EVTCHNOP_send, &s);
        kicks++;
    }
}

static void put_request(unsigned slot, const struct phase *ph, uint64_t sector)
{
    blkif_request_t *r = RING_GET_REQUEST(&f.ring, f.ring.req_prod_pvt);
    f.ring.req_prod_pvt++;
    uint8_t op = ph->write ? BLKIF_OP_WRITE : BLKIF_OP_READ;
    if (ph->big) {
        blkif_request_indirect_t *ri = (blkif_request_indirect_t *)r;
        ri->operation = BLKIF_OP_INDIRECT;
        ri->indirect_op = op;
        ri->nr_segments = BIG_SEGS;
        ri->id = slot;
        ri->sector_number = sector;
        ri->handle = 0;
        ri->indirect_grefs[0] = ind_ref;
    } else {
        r->operation = op;
        r->nr_segments = 1;
        r->handle = 0;
        r->id = slot;
        r->sector_number = sector;
        r->seg[0] = (struct blkif_request_segment){ .gref = buf_ref[slot],
                                                    .first_sect = 0, .last_sect = 7 };
    }
}

/* Run one phase; errors (bad status, bad id, bad data) counted. */
static unsigned run(const struct phase *ph, uint64_t *ops_out, uint64_t *ns_out,
                    uint64_t *lat_out)
{
    uint64_t bs = ph->big ? BIG_SEGS * PAGE_SECTORS : PAGE_SECTORS;
    uint64_t blocks = f.sectors / bs, cursor = 0;
    unsigned qd = ph->qd > QMAX ? QMAX : ph->qd, inflight = 0, errors = 0;
    unsigned free_slot[QMAX], nr_free = 0;
    for (unsigned i = 0; i < qd; i++)
        free_slot[nr_free++] = qd - 1 - i;
    uint64_t issued = 0, done = 0, lat = 0;
    uint64_t t0 = xen_system_time(), end = t0 + ph->ns;
    for (;;) {
        uint64_t now = xen_system_time();
        int more = ph->ops ? issued < ph->ops : now < end;
        int put = 0;
        while (more && nr_free) {
            unsigned s = free_slot[--nr_free];
            uint64_t b;
            if (ph->ops)                    /* a permutation of 0..ops-1 (ops a power of 2) */
                b = (issued * 37) & (ph->ops - 1);
            else if (ph->seq)
                b = cursor++ % blocks;
            else
                b = rand64() % blocks;
            if (ph->verify && ph->write) {
                if (ph->big)
                    for (unsigned p = 0; p < BIG_SEGS; p++)
                        fill(big + 4096 * p, b, p);
                else
                    fill(bufs[s], b, 0);
            }
            slots[s].block = b;
            slots[s].t0 = now;
            put_request(s, ph, b * bs);
            inflight++;
            issued++;
            put = 1;
            more = ph->ops ? issued < ph->ops : now < end;
        }
        if (put)
            kick();
        int got = 0;
        while (RING_HAS_UNCONSUMED_RESPONSES(&f.ring)) {
            xen_rmb();
            blkif_response_t *rsp = RING_GET_RESPONSE(&f.ring, f.ring.rsp_cons);
            uint64_t id = rsp->id;
            int16_t st = rsp->status;
            f.ring.rsp_cons++;
            got = 1;
            if (id >= qd || st != BLKIF_RSP_OKAY) {
                errors++;
                if (id >= qd)
                    continue;
            }
            unsigned s = (unsigned)id;
            if (ph->verify && !ph->write) {
                if (ph->big) {
                    for (unsigned p = 0; p < BIG_SEGS; p++)
                        errors += !same(big + 4096 * p, slots[s].block, p);
                } else {
                    errors += !same(bufs[s], slots[s].block, 0);
                }
            }
            lat += xen_system_time() - slots[s].t0;
            free_slot[nr_free++] = s;
            inflight--;
            done++;
        }
        if (!more && inflight == 0)
            break;
        if (!got)
            __asm__ volatile("pause");
    }
    *ops_out = done;
    *ns_out = xen_system_time() - t0;
    *lat_out = done ? lat / done : 0;
    return errors;
}

static void bench(void)
{
    uint64_t ns = (uint64_t)arg_uint("secs=", 2) * 1000000000ull;
    const struct phase phases[] = {
        { .name = "randread-4k-qd1", .qd = 1, .ns = ns },
        { .name = "randwrite-4k-qd1", .write = 1, .qd = 1, .ns = ns },
        { .name = "randread-4k-qd32", .qd = 32, .ns = ns },
        { .name = "randwrite-4k-qd32", .write = 1, .qd = 32, .ns = ns },
        { .name = "seqread-1m-qd1", .big = 1, .seq = 1, .qd = 1, .ns = ns },
        { .name = "seqwrite-1m-qd1", .write = 1, .big = 1, .seq = 1, .qd = 1, .ns = ns },
    };
    unsigned total_errors = 0;
    printk("BENCH bare-exit ns=%llu\n", (unsigned long long)ring3_bare_exit_ns(2000));
    for (unsigned i = 0; i < sizeof(phases) / sizeof(phases[0]); i++) {
        uint64_t ops, t, lat, k0 = kicks;
        char want[48];
        snprintf(want, sizeof(want), "skip=%s", phases[i].name);
        if (has_arg(want))
            continue;
        printk("PHASE begin %s\n", phases[i].name);
        unsigned e = run(&phases[i], &ops, &t, &lat);
        printk("BENCH %s ops=%llu ns=%llu lat_avg_ns=%llu kicks=%llu errors=%u\n",
               phases[i].name, (unsigned long long)ops, (unsigned long long)t,
               (unsigned long long)lat, (unsigned long long)(kicks - k0), e);
        total_errors += e;
    }
    CHECK_EQ("every bench I/O succeeded", total_errors, 0);
}

static void check_data(void)
{
    const struct phase phases[] = {
        { .name = "4 KiB writes at QD32", .write = 1, .qd = 32, .ops = 128, .verify = 1 },
        { .name = "4 KiB reads at QD32", .qd = 32, .ops = 128, .verify = 1 },
        { .name = "4 KiB reads at QD1", .qd = 1, .ops = 128, .verify = 1 },
        { .name = "1 MiB writes", .write = 1, .big = 1, .qd = 1, .ops = 4, .verify = 1 },
        { .name = "1 MiB reads", .big = 1, .qd = 1, .ops = 4, .verify = 1 },
    };
    for (unsigned i = 0; i < sizeof(phases) / sizeof(phases[0]); i++) {
        uint64_t ops, t, lat;
        unsigned e = run(&phases[i], &ops, &t, &lat);
        char n[64];
        snprintf(n, sizeof(n), "%s: all done", phases[i].name);
        CHECK_EQ(n, ops, phases[i].ops);
        snprintf(n, sizeof(n), "%s: no error, data as written", phases[i].name);
        CHECK_EQ(n, e, 0);
    }
}

static void user_main(void)
{
    CHECK("xenstore from ring 3", xs_init() == 0);
    unsigned ids[4];
    int n = blkfront_list(ids, 4);
    CHECK("found a vbd", n >= 1);
    if (n < 1)
        finish("bench-blk");
    int rc = blkfront_connect_opts(&f, ids[0], ring_pages, 2, 1);
    CHECK_EQ("connect from ring 3", rc, 0);
    if (rc)
        finish("bench-blk");
    CHECK("the ring holds QD32", RING_SIZE(&f.ring) >= QMAX);
    CHECK("the backend takes 1 MiB indirect requests", f.max_indirect >= BIG_SEGS);
    CHECK("a writable disk", !(f.info & VDISK_READONLY));
    CHECK("the disk holds 1 MiB requests", f.sectors >= BIG_SEGS * PAGE_SECTORS * 4);
    for (unsigned i = 0; i < QMAX; i++)
        buf_ref[i] = gnt_grant(bufs[i], 0);
    for (unsigned p = 0; p < BIG_SEGS; p++)
        ind[p] = (struct blkif_request_segment){ .gref = gnt_grant(big + 4096 * p, 0),
                                                 .first_sect = 0, .last_sect = 7 };
    ind_ref = gnt_grant(ind, 1);
    CHECK("grants for every buffer", ind_ref != 0 && ind[BIG_SEGS - 1].gref != 0 &&
                                     buf_ref[QMAX - 1] != 0);
    printk("bench-blk: vbd %u, %llu sectors, ring of %u entries, %s grants\n", ids[0],
           (unsigned long long)f.sectors, RING_SIZE(&f.ring),
           f.persistent ? "persistent" : "per-request");
    if (has_arg("check"))
        check_data();
    else
        bench();
    CHECK_EQ("close", blkfront_close(&f), 0);
    finish("bench-blk");
}

void guest_main(void)
{
    ring3_run(user_main);
}
