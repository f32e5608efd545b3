/* Unit tests for the guest page-table walker (vmm/memory/gva.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gmem.h"
#include "gva.h"

#define RAM (8u << 20)
#define P 1ull
#define RW 2ull
#define US 4ull
#define PS 0x80ull

static struct gmem gm;

static void put64(uint64_t gpa, uint64_t v) { memcpy(gmem_ptr(&gm, gpa, 8), &v, 8); }
static void put32(uint64_t gpa, uint32_t v) { memcpy(gmem_ptr(&gm, gpa, 4), &v, 4); }

static int setup(void **state)
{
    (void)state;
    assert_int_equal(gmem_init(&gm, RAM, 0), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gmem_destroy(&gm);
    return 0;
}

static enum gva_result tr(const struct paging *pg, uint64_t gva, bool write, uint64_t *gpa)
{
    return gva_translate(&gm, pg, gva, write, gpa);
}

static void test_long_mode(void **state)
{
    (void)state;
    /* PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000 -> PT 0x4000. */
    const uint64_t va = 0xffff888000201000ull;   /* pml4 273, pdpt 0, pd 1, pt 1 */
    put64(0x1000 + 273 * 8, 0x2000 | P | RW);
    put64(0x2000 + 0 * 8, 0x3000 | P | RW);
    put64(0x3000 + 1 * 8, 0x4000 | P | RW);
    put64(0x4000 + 1 * 8, 0x5000 | P);            /* read-only 4 KiB page */
    put64(0x3000 + 2 * 8, 0x600000 | P | RW | PS); /* 2 MiB page */
    put64(0x2000 + 1 * 8, 0x40000000 | P | RW | PS); /* 1 GiB page */
    struct paging pg = { .cr0 = (1ull << 31) | (1ull << 16), .cr3 = 0x1000,
                         .cr4 = 1ull << 5, .efer = 1ull << 10 };
    uint64_t gpa = 0;
    assert_int_equal(tr(&pg, va + 0x123, false, &gpa), GVA_OK);
    assert_int_equal(gpa, 0x5123);
    assert_int_equal(tr(&pg, va, true, &gpa), GVA_FAULT);     /* WP: no write */
    pg.cr0 &= ~(1ull << 16);
    assert_int_equal(tr(&pg, va, true, &gpa), GVA_OK);        /* WP off */
    assert_int_equal(tr(&pg, 0xffff888000412345ull, true, &gpa), GVA_OK);
    assert_int_equal(gpa, 0x612345);
    assert_int_equal(tr(&pg, 0xffff888040000010ull, false, &gpa), GVA_OK);
    assert_int_equal(gpa, 0x40000010);
    assert_int_equal(tr(&pg, 0xffff888000202000ull, false, &gpa), GVA_FAULT); /* pt 2 absent */
    assert_int_equal(tr(&pg, 0x0000900000000000ull, false, &gpa), GVA_FAULT); /* non-canonical */
    pg.user = true;
    assert_int_equal(tr(&pg, va, false, &gpa), GVA_FAULT);    /* supervisor page */
    pg.user = false;
    pg.cr3 = RAM;                                             /* tables outside RAM */
    assert_int_equal(tr(&pg, va, false, &gpa), GVA_FAULT);
    pg.cr4 |= 1ull << 12;                                     /* LA57 */
    assert_int_equal(tr(&pg, va, false, &gpa), GVA_UNSUPPORTED);
}

static void test_pae_and_legacy(void **state)
{
    (void)state;
    uint64_t gpa = 0;
    struct paging off = { 0 };
    assert_int_equal(tr(&off, 0x123456789ull, true, &gpa), GVA_OK);
    assert_int_equal(gpa, 0x23456789);                        /* paging off */

    /* PAE: PDPT at 0x7000 -> PD 0x8000 -> PT 0x9000. */
    put64(0x7000 + 3 * 8, 0x8000 | P);
    put64(0x8000 + 0 * 8, 0x9000 | P | RW);
    put64(0x9000 + 5 * 8, 0xa000 | P | RW);
    put64(0x8000 + 1 * 8, 0x200000 | P | RW | PS);
    struct paging pae = { .cr0 = 1ull << 31, .cr3 = 0x7000, .cr4 = 1ull << 5 };
    assert_int_equal(tr(&pae, 0xc0005010, true, &gpa), GVA_OK);
    assert_int_equal(gpa, 0xa010);
    assert_int_equal(tr(&pae, 0xc0212345, false, &gpa), GVA_OK);
    assert_int_equal(gpa, 0x212345);
    assert_int_equal(tr(&pae, 0x00005010, false, &gpa), GVA_FAULT); /* PDPTE 0 absent */

    /* 2-level: PD at 0xb000 -> PT 0xc000; a 4 MiB PSE page. */
    put32(0xb000 + 1 * 4, 0xc000 | P | RW);
    put32(0xc000 + 2 * 4, 0xd000 | P | RW);
    put32(0xb000 + 2 * 4, 0x400000 | P | RW | PS);
    struct paging two = { .cr0 = 1ull << 31, .cr3 = 0xb000, .cr4 = 1ull << 4 };
    assert_int_equal(tr(&two, 0x00402abc, false, &gpa), GVA_OK);
    assert_int_equal(gpa, 0xdabc);
    assert_int_equal(tr(&two, 0x00812345, false, &gpa), GVA_OK);
    assert_int_equal(gpa, 0x412345);
    assert_int_equal(tr(&two, 0x01000000, false, &gpa), GVA_FAULT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_long_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pae_and_legacy, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
