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
    assert_int_equal(check_one(BLKIF_OP_INDIRECT, 1, 0, 0, 7, false), BLKIF_RSP_EOPNOTSUPP);
    assert_int_equal(check_one(BLKIF_OP_RESERVED_1, 1, 0, 0, 7, false), BLKIF_RSP_EOPNOTSUPP);
    assert_int_equal(check_one(200, 1, 0, 0, 7, false), BLKIF_RSP_EOPNOTSUPP);

    blkif_request_discard_t d = { .operation = BLKIF_OP_DISCARD, .flag = BLKIF_DISCARD_SECURE,
                                  .sector_number = 8, .nr_sectors = DISK - 8 };
    struct blk_req r;
    blkif_parse(&d, BLKIF_ABI_X86_64, &r);
    assert_int_equal(blkif_check(&r, DISK, false), BLKIF_RSP_OKAY);
    assert_int_equal(blkif_check(&r, DISK, true), BLKIF_RSP_ERROR);
    d.nr_sectors = DISK;
    blkif_parse(&d, BLKIF_ABI_X86_64, &r);
    assert_int_equal(blkif_check(&r, DISK, false), BLKIF_RSP_ERROR);
    d.nr_sectors = UINT64_MAX;
    blkif_parse(&d, BLKIF_ABI_X86_64, &r);
    assert_int_equal(blkif_check(&r, DISK, false), BLKIF_RSP_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
