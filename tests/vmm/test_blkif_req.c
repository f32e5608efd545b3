/* blkif requests as blkback takes them: both layouts parsed to the same
 * request, and every check Xen's blkback makes (vmm/backends/blkback/
 * blkif_req.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "blkif_req.h"

#define DISK 2048u

/* An x86_32 slot, laid out by hand as an i386 frontend lays it out:
 * id at 4, sector at 12, segments (8 bytes each) from 20. */
static void put32(uint8_t *s, uint8_t op, uint8_t nseg, uint64_t id, uint64_t sector,
                  uint32_t gref, uint8_t first, uint8_t last)
{
    memset(s, 0, 108);
    s[0] = op;
    s[1] = nseg;
    memcpy(s + 4, &id, 8);
    memcpy(s + 12, &sector, 8);
    for (unsigned i = 0; i < 11; i++) {
        memcpy(s + 20 + 8 * i, &gref, 4);
        s[24 + 8 * i] = first;
        s[25 + 8 * i] = last;
    }
}

static void test_layouts(void **state)
{
    (void)state;
    assert_int_equal(blkif_slot_size(BLKIF_ABI_X86_64), 112);
    assert_int_equal(blkif_slot_size(BLKIF_ABI_X86_32), 108);
    assert_int_equal(blkif_ring_entries(BLKIF_ABI_X86_64, 4096), 32);
    assert_int_equal(blkif_ring_entries(BLKIF_ABI_X86_32, 4096), 32);
    assert_int_equal(blkif_ring_entries(BLKIF_ABI_X86_64, 8 * 4096), 256);
    enum blkif_abi abi;
    assert_int_equal(blkif_abi_from_protocol(NULL, &abi), 0);
    assert_int_equal(abi, BLKIF_ABI_X86_64);
    assert_int_equal(blkif_abi_from_protocol("x86_32-abi", &abi), 0);
    assert_int_equal(abi, BLKIF_ABI_X86_32);
    assert_int_equal(blkif_abi_from_protocol("arm-abi", &abi), -1);

    uint8_t s32[108];
    put32(s32, BLKIF_OP_WRITE, 2, 0x1122334455667788ull, 77, 9, 1, 6);
    struct blk_req a;
    blkif_parse(s32, BLKIF_ABI_X86_32, &a);
    blkif_request_t q = { .operation = BLKIF_OP_WRITE, .nr_segments = 2,
                          .id = 0x1122334455667788ull, .sector_number = 77 };
    for (int i = 0; i < 11; i++)
        q.seg[i] = (struct blkif_request_segment){ .gref = 9, .first_sect = 1, .last_sect = 6 };
    struct blk_req b;
    blkif_parse(&q, BLKIF_ABI_X86_64, &b);
    assert_memory_equal(&a, &b, sizeof(a));
    assert_int_equal(blkif_check(&a, DISK, false), BLKIF_RSP_OKAY);
    assert_int_equal(a.nr_sectors, 12);

    uint8_t rsp[112];
    memset(rsp, 0xee, sizeof(rsp));
    blkif_put_response(rsp, 42, BLKIF_OP_READ, BLKIF_RSP_ERROR);
    blkif_response_t r;
    memcpy(&r, rsp, sizeof(r));
    assert_int_equal(r.id, 42);
    assert_int_equal(r.operation, BLKIF_OP_READ);
    assert_int_equal(r.status, BLKIF_RSP_ERROR);
    assert_int_equal(rsp[12], 0xee);    /* 12 bytes: the i386 slot's response */
}

/* blkif_parse reads a whole slot: requests smaller than one go in one. */
static void parse_any(const void *req, size_t len, struct blk_req *r)
{
    uint8_t slot[sizeof(union blkif_sring_entry)] = { 0 };
    memcpy(slot, req, len);
    blkif_parse(slot, BLKIF_ABI_X86_64, r);
}

static int check_one(uint8_t op, uint8_t nseg, uint64_t sector, uint8_t first,
                     uint8_t last, bool ro)
{
    blkif_request_t q = { .operation = op, .nr_segments = nseg, .sector_number = sector };
    for (int i = 0; i < 11; i++)
        q.seg[i] = (struct blkif_request_segment){ .first_sect = first, .last_sect = last };
    struct blk_req r;
    blkif_parse(&q, BLKIF_ABI_X86_64, &r);
    return blkif_check(&r, DISK, ro);
}

static void test_checks(void **state)
{
    (void)state;
    assert_int_equal(check_one(BLKIF_OP_READ, 1, 0, 0, 7, false), BLKIF_RSP_OKAY);
    assert_int_equal(check_one(BLKIF_OP_READ, 11, 0, 0, 7, true), BLKIF_RSP_OKAY);
    assert_int_equal(check_one(BLKIF_OP_READ, 0, 0, 0, 7, false), BLKIF_RSP_ERROR);
    assert_int_equal(check_one(BLKIF_OP_READ, 12, 0, 0, 7, false), BLKIF_RSP_ERROR);
    assert_int_equal(check_one(BLKIF_OP_READ, 1, 0, 5, 4, false), BLKIF_RSP_ERROR);
    assert_int_equal(check_one(BLKIF_OP_READ, 1, 0, 0, 8, false), BLKIF_RSP_ERROR);
    assert_int_equal(check_one(BLKIF_OP_READ, 1, DISK - 8, 0, 7, false), BLKIF_RSP_OKAY);
    assert_int_equal(check_one(BLKIF_OP_READ, 1, DISK - 7, 0, 7, false), BLKIF_RSP_ERROR);
    assert_int_equal(check_one(BLKIF_OP_READ, 1, UINT64_MAX - 2, 0, 7, false),
                     BLKIF_RSP_ERROR);
    assert_int_equal(check_one(BLKIF_OP_WRITE, 1, 0, 0, 7, true), BLKIF_RSP_ERROR);
    assert_int_equal(check_one(BLKIF_OP_FLUSH_DISKCACHE, 0, 0, 0, 0, false), BLKIF_RSP_OKAY);
    assert_int_equal(check_one(BLKIF_OP_FLUSH_DISKCACHE, 0, 0, 0, 0, true), BLKIF_RSP_ERROR);
    assert_int_equal(check_one(BLKIF_OP_WRITE_BARRIER, 1, 0, 0, 7, false), BLKIF_RSP_OKAY);
    assert_int_equal(check_one(BLKIF_OP_RESERVED_1, 1, 0, 0, 7, false), BLKIF_RSP_EOPNOTSUPP);
    assert_int_equal(check_one(200, 1, 0, 0, 7, false), BLKIF_RSP_EOPNOTSUPP);

    blkif_request_discard_t d = { .operation = BLKIF_OP_DISCARD, .flag = BLKIF_DISCARD_SECURE,
                                  .sector_number = 8, .nr_sectors = DISK - 8 };
    struct blk_req r;
    parse_any(&d, sizeof(d), &r);
    assert_int_equal(blkif_check(&r, DISK, false), BLKIF_RSP_OKAY);
    assert_int_equal(blkif_check(&r, DISK, true), BLKIF_RSP_ERROR);
    d.nr_sectors = DISK;
    parse_any(&d, sizeof(d), &r);
    assert_int_equal(blkif_check(&r, DISK, false), BLKIF_RSP_ERROR);
    d.nr_sectors = UINT64_MAX;
    parse_any(&d, sizeof(d), &r);
    assert_int_equal(blkif_check(&r, DISK, false), BLKIF_RSP_ERROR);
}

/* Indirect: the header here, the segments from the indirect pages. */
static void test_indirect(void **state)
{
    (void)state;
    blkif_request_indirect_t q = { .operation = BLKIF_OP_INDIRECT,
                                   .indirect_op = BLKIF_OP_WRITE, .nr_segments = 256,
                                   .id = 5, .sector_number = 16 };
    for (int i = 0; i < 8; i++)
        q.indirect_grefs[i] = 100 + i;
    struct blk_req r;
    parse_any(&q, sizeof(q), &r);
    assert_int_equal(r.nr_segments, 256);
    assert_int_equal(r.indirect_gref[7], 107);
    assert_int_equal(blkif_rsp_op(&r), BLKIF_OP_WRITE);
    assert_int_equal(blkif_indirect_pages(&r), 1);
    assert_int_equal(blkif_check(&r, DISK, false), BLKIF_RSP_OKAY);
    assert_int_equal(blkif_check(&r, DISK, true), BLKIF_RSP_ERROR);
    /* The i386 layout: id at 4, sector at 12, handle at 20, grefs at 24. */
    uint8_t s32[108] = { BLKIF_OP_INDIRECT, BLKIF_OP_READ, 0, 1 };   /* 256 segments */
    uint64_t id = 5, sector = 16;
    memcpy(s32 + 4, &id, 8);
    memcpy(s32 + 12, &sector, 8);
    for (uint32_t i = 0; i < 8; i++) {
        uint32_t g = 100 + i;
        memcpy(s32 + 24 + 4 * i, &g, 4);
    }
    struct blk_req r32;
    blkif_parse(s32, BLKIF_ABI_X86_32, &r32);
    assert_int_equal(r32.nr_segments, 256);
    assert_int_equal(r32.indirect_gref[0], 100);
    assert_int_equal(r32.indirect_gref[7], 107);
    assert_int_equal(r32.sector, 16);
    q.nr_segments = 257;
    parse_any(&q, sizeof(q), &r);
    assert_int_equal(blkif_check(&r, DISK, false), BLKIF_RSP_ERROR);
    q.nr_segments = 0;
    parse_any(&q, sizeof(q), &r);
    assert_int_equal(blkif_check(&r, DISK, false), BLKIF_RSP_ERROR);
    q.nr_segments = 8, q.indirect_op = BLKIF_OP_FLUSH_DISKCACHE;
    parse_any(&q, sizeof(q), &r);
    assert_int_equal(blkif_check(&r, DISK, false), BLKIF_RSP_ERROR);

    /* Segments out of a page, then checked. */
    static uint8_t page[4096];
    struct blkif_request_segment sg[512];
    for (int i = 0; i < 512; i++)
        sg[i] = (struct blkif_request_segment){ .gref = (grant_ref_t)i, .first_sect = 0,
                                                .last_sect = 7 };
    memcpy(page, sg, sizeof(page));
    struct blk_seg out[512];
    blkif_indirect_segs(page, 0, 512, out);
    assert_int_equal(out[511].gref, 511);
    uint64_t n;
    assert_int_equal(blkif_check_segs(out, 256, 0, DISK, &n), BLKIF_RSP_OKAY);
    assert_int_equal(n, 2048);
    assert_int_equal(blkif_check_segs(out, 256, 1, DISK, &n), BLKIF_RSP_ERROR);
    out[3].first_sect = 6, out[3].last_sect = 5;
    assert_int_equal(blkif_check_segs(out, 8, 0, DISK, &n), BLKIF_RSP_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_indirect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
