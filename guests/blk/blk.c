/*
 * blk: the guest side of the PV block tests. For every device/vbd entry it
 * connects its blkfront and checks, on a writable disk, that patterns it
 * writes (a whole page, a single sector at the disk's last sector) read
 * back, that flush and discard work (a discarded page reads back as
 * zeroes), that the data the host put at sector 64 ("XENON-HOST") is
 * there, and that I/O past the end is refused; on a read-only disk that
 * reads work and writes are refused. Then it closes each frontend.
 *
 * With "durable" on its command line it stops after the first disk's
 * acknowledged flush, prints "BLK durable", and waits: the test then kills
 * the VMM and reads the image from the host.
 *
 * With "readbench" it only reads each disk whole, in 32-page indirect
 * requests, and prints the time taken (the figure compares the backend's
 * engines, raw on io_uring and qcow2 over NBD, in one run).
 *
 * With "hotplug" it keeps its disks connected ("BLK ready"), closes the
 * frontend when the toolstack closes the backend (xl block-detach: "BLK
 * detached"), then waits for a disk to appear again (xl block-attach),
 * connects to it and reads it ("BLK reattached").
 *
 * With "drain" (two disks: raw, then one served over NBD) it writes
 * data/drain = "wait", prints "BLK ready" and waits for the test's "go";
 * then it leaves one read in flight on the second disk ("BLK inflight"),
 * reads the first disk over and over ("BLK raw N" for each), closes the
 * second frontend when its backend goes Closing ("BLK nbd closed"), and
 * ends once that backend is Closed or gone ("BLK nbd gone").
 */
#include "guest.h"
#include "blkfront.h"
#include "xs.h"

#include <xen/io/blkif.h>

static uint8_t ring_pages[4][4 * 4096] __attribute__((aligned(4096)));
#define BIG_PAGES 32
static uint8_t big[BIG_PAGES * 4096] __attribute__((aligned(4096)));
static uint8_t big_back[BIG_PAGES * 4096] __attribute__((aligned(4096)));
static uint8_t buf[4096] __attribute__((aligned(4096)));
static uint8_t back[4096] __attribute__((aligned(4096)));

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

static void fill(uint8_t *p, unsigned seed)
{
    /* Word stores: kernel-mode guest code is emulated, one instruction at
     * a time. */
    uint32_t *w = (uint32_t *)p;
    for (unsigned i = 0; i < 1024; i++)
        w[i] = seed * 0x9e3779b9u + i;
}

static void test_rw_disk(struct blkfront *f, unsigned id, int durable)
{
    char n[64];
    fill(buf, id);
    snprintf(n, sizeof(n), "vbd %u: write a page at sector 0", id);
    CHECK_EQ(n, blkfront_rw(f, 1, 0, buf, 0, 7), BLKIF_RSP_OKAY);
    snprintf(n, sizeof(n), "vbd %u: flush", id);
    CHECK_EQ(n, blkfront_flush(f), BLKIF_RSP_OKAY);
    if (durable) {
        printk("BLK durable\n");
        for (;;)
            guest_sleep_ms(1000);
    }
    memset(back, 0, sizeof(back));
    snprintf(n, sizeof(n), "vbd %u: read the page back", id);
    CHECK_EQ(n, blkfront_rw(f, 0, 0, back, 0, 7), BLKIF_RSP_OKAY);
    snprintf(n, sizeof(n), "vbd %u: what was written is read", id);
    CHECK(n, memcmp(buf, back, 4096) == 0);

    /* One sector, the disk's last, from the middle of a page. */
    fill(buf, id + 100);
    snprintf(n, sizeof(n), "vbd %u: write the last sector", id);
    CHECK_EQ(n, blkfront_rw(f, 1, f->sectors - 1, buf, 3, 3), BLKIF_RSP_OKAY);
    memset(back, 0, sizeof(back));
    snprintf(n, sizeof(n), "vbd %u: read the last sector", id);
    CHECK_EQ(n, blkfront_rw(f, 0, f->sectors - 1, back, 5, 5), BLKIF_RSP_OKAY);
    snprintf(n, sizeof(n), "vbd %u: last sector round trip", id);
    CHECK(n, memcmp(buf + 3 * 512, back + 5 * 512, 512) == 0);

    snprintf(n, sizeof(n), "vbd %u: a read past the end is refused", id);
    CHECK_EQ(n, blkfront_rw(f, 0, f->sectors, back, 0, 0), BLKIF_RSP_ERROR);
    snprintf(n, sizeof(n), "vbd %u: a page across the end is refused", id);
    CHECK_EQ(n, blkfront_rw(f, 0, f->sectors - 4, back, 0, 7), BLKIF_RSP_ERROR);

    memset(back, 0, sizeof(back));
    snprintf(n, sizeof(n), "vbd %u: read the host's data at sector 64", id);
    CHECK_EQ(n, blkfront_rw(f, 0, 64, back, 0, 0), BLKIF_RSP_OKAY);
    snprintf(n, sizeof(n), "vbd %u: the host's data is there", id);
    CHECK(n, memcmp(back, "XENON-HOST", 10) == 0);

    if (f->discard) {
        fill(buf, 7);
        blkfront_rw(f, 1, 8, buf, 0, 7);
        snprintf(n, sizeof(n), "vbd %u: discard a page", id);
        CHECK_EQ(n, blkfront_discard(f, 8, 8), BLKIF_RSP_OKAY);
        memset(back, 0xff, sizeof(back));
        blkfront_rw(f, 0, 8, back, 0, 7);
        static const uint8_t zero[4096];
        snprintf(n, sizeof(n), "vbd %u: a discarded page reads as zeroes", id);
        CHECK(n, memcmp(back, zero, 4096) == 0);
    }
    if (f->max_indirect >= BIG_PAGES && !f->persistent) {
        for (unsigned i = 0; i < BIG_PAGES; i++)
            fill(big + 4096 * i, id * 1000 + i);
        snprintf(n, sizeof(n), "vbd %u: indirect write of %u pages", id, BIG_PAGES);
        CHECK_EQ(n, blkfront_rw_indirect(f, 1, 256, big, BIG_PAGES), BLKIF_RSP_OKAY);
        memset(big_back, 0, sizeof(big_back));
        snprintf(n, sizeof(n), "vbd %u: indirect read of %u pages", id, BIG_PAGES);
        CHECK_EQ(n, blkfront_rw_indirect(f, 0, 256, big_back, BIG_PAGES), BLKIF_RSP_OKAY);
        const uint32_t *x = (const uint32_t *)big, *y = (const uint32_t *)big_back;
        unsigned bad = 0;
        for (unsigned i = 0; i < sizeof(big) / 4; i++)
            bad += x[i] != y[i];
        snprintf(n, sizeof(n), "vbd %u: indirect round trip", id);
        CHECK_EQ(n, bad, 0);
    }
    /* What the host checks after we are gone: sector 128 holds this. */
    memset(buf, 0, sizeof(buf));
    memcpy(buf, "XENON-GUEST", 11);
    snprintf(n, sizeof(n), "vbd %u: write for the host to read", id);
    CHECK_EQ(n, blkfront_rw(f, 1, 128, buf, 0, 0), BLKIF_RSP_OKAY);
    CHECK_EQ("flush before the host reads", blkfront_flush(f), BLKIF_RSP_OKAY);
}

static void test_ro_disk(struct blkfront *f, unsigned id)
{
    char n[64];
    memset(back, 0, sizeof(back));
    snprintf(n, sizeof(n), "vbd %u (ro): read sector 64", id);
    CHECK_EQ(n, blkfront_rw(f, 0, 64, back, 0, 0), BLKIF_RSP_OKAY);
    snprintf(n, sizeof(n), "vbd %u (ro): the host's data is there", id);
    CHECK(n, memcmp(back, "XENON-HOST", 10) == 0);
    fill(buf, 5);
    snprintf(n, sizeof(n), "vbd %u (ro): a write is refused", id);
    CHECK_EQ(n, blkfront_rw(f, 1, 0, buf, 0, 7), BLKIF_RSP_ERROR);
    snprintf(n, sizeof(n), "vbd %u (ro): persistent grants negotiated", id);
    CHECK_EQ(n, f->persistent, 1);
    snprintf(n, sizeof(n), "vbd %u (ro): no discard offered", id);
    CHECK_EQ(n, f->discard, 0);
}

/* Hot-plug: see the top. */
static void hotplug(struct blkfront *f, int n)
{
    printk("BLK ready\n");
    int gone = -1;
    for (int round = 0; round < 30000 && gone < 0; round++) {
        for (int i = 0; i < n && gone < 0; i++)
            if (blkfront_backend_state(&f[i]) == 5) {   /* XenbusStateClosing */
                CHECK_EQ("close when the toolstack detaches", blkfront_close(&f[i]), 0);
                gone = i;
            }
        guest_sleep_ms(10);
    }
    printk("BLK detached\n");
    /* A disk we have not had (the detached one's nodes may linger a
     * moment, until the toolstack removes them). */
    unsigned ids[4];
    int id = -1;
    for (int round = 0; round < 30000 && id < 0; round++) {
        int m = blkfront_list(ids, 4);
        for (int i = 0; i < m; i++) {
            int known = 0;
            for (int j = 0; j < n; j++)
                known |= ids[i] == f[j].devid;
            if (!known)
                id = (int)ids[i];
        }
        guest_sleep_ms(10);
    }
    struct blkfront g;
    static uint8_t ring[4096] __attribute__((aligned(4096)));
    CHECK("a disk attached again", id >= 0);
    CHECK_EQ("connect to the attached disk", blkfront_connect(&g, (unsigned)id, ring), 0);
    memset(back, 0, sizeof(back));
    CHECK_EQ("read the attached disk", blkfront_rw(&g, 0, 64, back, 0, 0), BLKIF_RSP_OKAY);
    CHECK("the attached disk holds the host's data", memcmp(back, "XENON-HOST", 10) == 0);
    printk("BLK reattached\n");
    CHECK_EQ("close the attached disk", blkfront_close(&g), 0);
    finish("blk");
}

/* Drain: see the top. The in-flight read's answer is never waited for:
 * the frontend closes under it, as a guest shutting down may. */
static void drain(struct blkfront *f, int n)
{
    CHECK("two disks", n >= 2);
    if (n < 2)
        finish("blk");
    char v[16] = "";
    CHECK_EQ("write data/drain", xs_write("data/drain", "wait"), 0);
    printk("BLK ready\n");
    for (int i = 0; i < 30000 && strcmp(v, "go") != 0; i++) {
        if (xs_read("data/drain", v, sizeof(v)) < 0)
            v[0] = 0;
        guest_sleep_ms(10);
    }
    CHECK("the test said go", strcmp(v, "go") == 0);
    /* xvda raw, xvdb over NBD, whatever order the directory listed them. */
    struct blkfront *raw = f[0].devid < f[1].devid ? &f[0] : &f[1];
    struct blkfront *nbd = raw == &f[0] ? &f[1] : &f[0];
    blkif_request_t r;
    memset(&r, 0, sizeof(r));
    r.operation = BLKIF_OP_READ;
    r.nr_segments = 1;
    r.id = 0xd7a1;
    r.seg[0].gref = gnt_grant(big, 0);
    r.seg[0].last_sect = 7;
    blkfront_push(nbd, &r);
    printk("BLK inflight\n");
    int closed = 0, bad = 0;
    unsigned k;
    for (k = 1; k < 100000; k++) {
        bad |= blkfront_rw(raw, 0, 64, back, 0, 0) != BLKIF_RSP_OKAY;
        printk("BLK raw %u\n", k);
        int s = blkfront_backend_state(nbd);
        if (!closed && s == 5) {            /* XenbusStateClosing */
            char path[64];
            snprintf(path, sizeof(path), "%s/state", nbd->fe);
            CHECK_EQ("close the NBD disk's frontend", xs_write(path, "6"), 0);
            printk("BLK nbd closed\n");
            closed = 1;
        } else if (closed && s != 5) {
            break;
        }
    }
    printk("BLK nbd gone\n");
    CHECK_EQ("every read of the raw disk answered OKAY", bad, 0);
    CHECK("the NBD disk closed", k < 100000);
    CHECK_EQ("close the raw disk", blkfront_close(raw), 0);
    finish("blk");
}

static void readbench(struct blkfront *f, unsigned id)
{
    uint64_t t0 = xen_system_time(), bytes = 0;
    int bad = 0;
    for (unsigned pass = 0; pass < 4; pass++)
        for (uint64_t s = 0; s + BIG_PAGES * 8 <= f->sectors; s += BIG_PAGES * 8) {
            bad |= blkfront_rw_indirect(f, 0, s, big, BIG_PAGES) != BLKIF_RSP_OKAY;
            bytes += BIG_PAGES * 4096;
        }
    uint64_t ns = xen_system_time() - t0;
    char n[64];
    snprintf(n, sizeof(n), "vbd %u: bench reads", id);
    CHECK_EQ(n, bad, 0);
    /* No 64-bit division in a 32-bit guest: the host divides. */
    printk("BLK bench vbd %u: %llu KiB in %llu ns\n", id, (unsigned long long)(bytes >> 10),
           (unsigned long long)ns);
}

void guest_main(void)
{
    printk("blk: %d-bit guest\n", GUEST_BITS);
    int durable = has_arg("durable");
    if (xs_init() < 0) {
        CHECK("xenstore", 0);
        finish("blk");
    }
    unsigned ids[4];
    int n = blkfront_list(ids, 4);
    CHECK("found vbds", n >= 1);
    struct blkfront f[4];
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof(name), "vbd %u: connect", ids[i]);
        /* The first disk on a ring of 4 pages, if offered; the others
         * with persistent grants, if offered. */
        int ok = blkfront_connect_opts(&f[i], ids[i], ring_pages[i], i == 0 ? 2 : 0,
                                       i > 0) == 0;
        check(name, ok, "see above");
        if (!ok) {
            n = i;
            break;
        }
        printk("blk: vbd %u: %llu sectors of %u bytes, info %u%s%s, ring of %u page(s), "
               "%u indirect segments%s\n", ids[i],
               (unsigned long long)f[i].sectors, f[i].sector_size, f[i].info,
               f[i].flush ? ", flush" : "", f[i].discard ? ", discard" : "",
               1u << f[i].ring_order, f[i].max_indirect,
               f[i].persistent ? ", persistent grants" : "");
        snprintf(name, sizeof(name), "vbd %u: sector size 512", ids[i]);
        CHECK_EQ(name, f[i].sector_size, 512);
        if (has_arg("drain"))
            continue;
        if (has_arg("readbench"))
            readbench(&f[i], ids[i]);
        else if (f[i].info & VDISK_READONLY)
            test_ro_disk(&f[i], ids[i]);
        else
            test_rw_disk(&f[i], ids[i], durable);
    }
    if (has_arg("hotplug"))
        hotplug(f, n);
    if (has_arg("drain"))
        drain(f, n);
    if (has_arg("readbench")) {
        for (int i = 0; i < n; i++)
            blkfront_close(&f[i]);
        finish("blk");
    }
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof(name), "vbd %u: close", ids[i]);
        CHECK_EQ(name, blkfront_close(&f[i]), 0);
    }
    if (n > 0) {
        /* The first disk again, with two queues: each queue serves its own
         * requests. */
        static uint8_t mq_rings[2][4096] __attribute__((aligned(4096)));
        struct blkfront q[2];
        CHECK_EQ("connect with two queues", blkfront_connect_queues(q, 2, ids[0], mq_rings), 0);
        for (int i = 0; i < 2; i++) {
            memset(back, 0, sizeof(back));
            char name[64];
            snprintf(name, sizeof(name), "queue %d: read", i);
            CHECK_EQ(name, blkfront_rw(&q[i], 0, 64, back, 0, 0), BLKIF_RSP_OKAY);
            snprintf(name, sizeof(name), "queue %d: the host's data", i);
            CHECK(name, memcmp(back, "XENON-HOST", 10) == 0);
        }
        CHECK_EQ("close the two-queue disk", blkfront_close(&q[0]), 0);
        /* A frontend that closed connects again, and is served. */
        CHECK_EQ("reconnect after a close", blkfront_connect(&f[0], ids[0], ring_pages[0]), 0);
        memset(back, 0, sizeof(back));
        CHECK_EQ("read after reconnecting", blkfront_rw(&f[0], 0, 64, back, 0, 0),
                 BLKIF_RSP_OKAY);
        CHECK("the data after reconnecting", memcmp(back, "XENON-HOST", 10) == 0);
        CHECK_EQ("close again", blkfront_close(&f[0]), 0);
    }
    finish("blk");
}
