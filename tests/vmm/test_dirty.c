/*
 * Dirty tracking (platform_dirty_log_*, memory/dirty.h) on the in-memory
 * platform: the guest's writes (mem_guest_write, as KVM logs a vCPU's) and
 * the VMM's own (grant copies and writable mappings, event channel bits
 * in shared info) come out of one fetch, exactly, once.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dirty.h"
#include "grant_map.h"
#include "mem_platform.h"
#include "platform.h"
#include "shinfo.h"
#include "xen_test_env.h"

#define ALL_FRAMES ((1u << TEST_GNTTAB_FRAMES) - 1)

struct fixture {
    struct domain *d;
    uint64_t nr_pfns;
    uint64_t *bm;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->d = test_domain_new(ALL_FRAMES);
    f->nr_pfns = gmem_nr_pfns(&f->d->mem);
    f->bm = calloc(DIRTY_WORDS(f->nr_pfns), 8);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    platform_dirty_log_stop(f->d);      /* frees the platform's logs */
    grant_mapper_fini(&f->d->grants);
    test_domain_free(f->d);
    free(f->bm);
    free(f);
    return 0;
}

/* Fetch into a cleared bitmap; the count the platform reported. */
static uint64_t fetch(struct fixture *f)
{
    memset(f->bm, 0, DIRTY_WORDS(f->nr_pfns) * 8);
    uint64_t n = ~0ull;
    assert_int_equal(platform_dirty_log_fetch(f->d, f->bm, f->nr_pfns, &n), 0);
    assert_int_equal(n, dirty_count(f->bm, f->nr_pfns));
    return n;
}

static void guest_writes_fetched_once(void **state)
{
    struct fixture *f = *state;
    uint64_t x = 0x1234;
    /* Not logging: the fetch is refused, nothing is recorded. */
    assert_int_equal(platform_dirty_log_fetch(f->d, f->bm, f->nr_pfns, NULL),
                     -EINVAL);
    assert_int_equal(mem_guest_write(f->d, 0x5000, &x, 8), 0);
    assert_int_equal(platform_dirty_log_start(f->d), 0);
    assert_int_equal(fetch(f), 0);

    static const uint64_t pfns[] = { 0, 5, 63, 64, 65, (TEST_RAM >> 12) - 1, 0x7ff };
    for (size_t i = 0; i < sizeof(pfns) / sizeof(pfns[0]); i++)
        assert_int_equal(mem_guest_write(f->d, pfns[i] << 12 | 0x10, &x, 8), 0);
    /* A write across a page boundary dirties both pages. */
    uint8_t two[16] = { 1 };
    assert_int_equal(mem_guest_write(f->d, 0x200ff8, two, sizeof(two)), 0);
    assert_int_equal(fetch(f), 9);
    for (size_t i = 0; i < sizeof(pfns) / sizeof(pfns[0]); i++)
        assert_true(dirty_test(f->bm, pfns[i]));
    assert_true(dirty_test(f->bm, 0x200) && dirty_test(f->bm, 0x201));
    assert_false(dirty_test(f->bm, 1));

    /* Fetched means cleared; the same page dirtied again comes back. */
    assert_int_equal(fetch(f), 0);
    assert_int_equal(mem_guest_write(f->d, 5 << 12, &x, 8), 0);
    assert_int_equal(fetch(f), 1);
    assert_true(dirty_test(f->bm, 5));

    /* Fetching ORs in: bits already set stay set. */
    dirty_set(f->bm, 7);
    assert_int_equal(platform_dirty_log_fetch(f->d, f->bm, f->nr_pfns, NULL), 0);
    assert_true(dirty_test(f->bm, 7));

    platform_dirty_log_stop(f->d);
    assert_int_equal(mem_guest_write(f->d, 9 << 12, &x, 8), 0);
    gmem_mark_dirty(&f->d->mem, 9 << 12, 8);
    assert_int_equal(platform_dirty_log_start(f->d), 0);
    assert_int_equal(fetch(f), 0);
}

/* What the VMM writes on its own account reaches the fetch too. */
static void vmm_writes_fetched(void **state)
{
    struct fixture *f = *state;
    struct domain *d = f->d;
    const uint64_t frame = 0x300, gnttab_pfn = TEST_GNTTAB_GPA >> 12;
    test_grant(d, 8, GTF_permit_access, 0, frame);
    assert_int_equal(platform_dirty_log_start(d), 0);
    assert_int_equal(fetch(f), 0);

    /* A copy out of the guest writes only the entry's flags. */
    uint8_t buf[64] = { 0xaa };
    struct grant_copy_op op = { .ref = 8, .offset = 100, .len = 64,
                                .to_guest = false, .buf = buf };
    assert_int_equal(grant_copy(&d->grants, 0, &op, 1), 0);
    assert_int_equal(fetch(f), 1);
    assert_true(dirty_test(f->bm, gnttab_pfn));

    /* A copy into the guest: the granted page as well. */
    op.to_guest = true;
    assert_int_equal(grant_copy(&d->grants, 0, &op, 1), 0);
    assert_int_equal(fetch(f), 2);
    assert_true(dirty_test(f->bm, frame) && dirty_test(f->bm, gnttab_pfn));

    /* A writable mapping: the page while mapped (asked for before a
     * final round), and at unmap. */
    grant_handle_t h;
    void *page;
    assert_int_equal(grant_map(&d->grants, 0, 8, false, &h, &page), GNTST_okay);
    assert_int_equal(fetch(f), 1);              /* the entry's flags */
    memset(page, 0x55, 16);                     /* the backend writes */
    grant_mark_mapped_dirty(&d->grants);
    assert_int_equal(fetch(f), 1);
    assert_true(dirty_test(f->bm, frame));
    assert_int_equal(grant_unmap(&d->grants, h), GNTST_okay);
    assert_int_equal(fetch(f), 2);
    assert_true(dirty_test(f->bm, frame) && dirty_test(f->bm, gnttab_pfn));
    /* A read-only mapping dirties nothing but the entry. */
    assert_int_equal(grant_map(&d->grants, 0, 8, true, &h, &page), GNTST_okay);
    grant_mark_mapped_dirty(&d->grants);
    assert_int_equal(grant_unmap(&d->grants, h), GNTST_okay);
    assert_int_equal(fetch(f), 1);
    assert_false(dirty_test(f->bm, frame));

    /* An event sent: the pending bit in shared info, the selector and
     * upcall flag in vcpu_info (vCPU 0's is in shared info). */
    shinfo_mark_pending(d, 3, &d->vcpu[0]);
    assert_int_equal(fetch(f), 1);
    assert_true(dirty_test(f->bm, TEST_SHINFO_GPA >> 12));
    platform_dirty_log_stop(d);
}

/* A region mapped while logging is dirty whole: the destination has
 * never seen it. */
static void region_added_while_logging(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(platform_dirty_log_start(f->d), 0);
    assert_int_equal(fetch(f), 0);
    const uint64_t gpa = 0x40100000ull;
    assert_int_equal(gmem_add_region(&f->d->mem, gpa, 3 * GMEM_PAGE_SIZE,
                                     GMEM_XEN_PAGE, NULL), 0);
    free(f->bm);
    f->nr_pfns = gmem_nr_pfns(&f->d->mem);
    assert_int_equal(f->nr_pfns, (gpa >> 12) + 3);
    f->bm = calloc(DIRTY_WORDS(f->nr_pfns), 8);
    assert_int_equal(fetch(f), 3);
    assert_true(dirty_test(f->bm, gpa >> 12) && dirty_test(f->bm, (gpa >> 12) + 2));
    assert_int_equal(fetch(f), 0);
    /* Its pages are logged from then on, the guest's and the VMM's. */
    gmem_mark_dirty(&f->d->mem, gpa + GMEM_PAGE_SIZE, 1);
    uint8_t x = 1;
    assert_int_equal(mem_guest_write(f->d, gpa + 2 * GMEM_PAGE_SIZE, &x, 1), 0);
    assert_int_equal(fetch(f), 2);
    assert_true(dirty_test(f->bm, (gpa >> 12) + 1) && dirty_test(f->bm, (gpa >> 12) + 2));
    /* A bitmap too short for the domain drops what lies beyond it. */
    gmem_mark_dirty(&f->d->mem, gpa, 1);
    uint64_t n = ~0ull;
    assert_int_equal(platform_dirty_log_fetch(f->d, f->bm, gpa >> 12, &n), 0);
    assert_int_equal(n, 0);
    platform_dirty_log_stop(f->d);
}

/* The merge: any alignment of the first PFN, a partial last word, PFNs
 * at or above the bitmap's end dropped. */
static void merge_edges(void **state)
{
    (void)state;
    uint64_t bm[4] = { 0 };
    uint64_t src[2] = { 0x8000000000000001ull, 0x3ull | 1ull << 10 };
    /* 70 pages from PFN 100: src bits 0, 63, 64, 65 (bit 74 beyond). */
    assert_int_equal(dirty_merge(bm, 256, 100, src, 70), 4);
    assert_true(dirty_test(bm, 100) && dirty_test(bm, 163) &&
                dirty_test(bm, 164) && dirty_test(bm, 165));
    assert_false(dirty_test(bm, 174));
    assert_int_equal(dirty_count(bm, 256), 4);
    memset(bm, 0, sizeof(bm));
    assert_int_equal(dirty_merge(bm, 164, 100, src, 70), 2);
    assert_int_equal(dirty_count(bm, 256), 2);
    /* Marks outside guest memory are dropped. */
    struct gmem gm;
    assert_int_equal(gmem_init(&gm, 1 << 20, 0), 0);
    assert_int_equal(gmem_dirty_start(&gm), 0);
    gmem_mark_dirty(&gm, 1 << 20, 4096);
    gmem_mark_dirty(&gm, ~0ull, 4096);
    gmem_mark_dirty(&gm, (1 << 20) - 1, 4096);  /* clipped to the last page */
    memset(bm, 0, sizeof(bm));
    assert_int_equal(gmem_dirty_fetch(&gm, bm, 256), 1);
    assert_true(dirty_test(bm, 255));
    gmem_destroy(&gm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(guest_writes_fetched_once, setup, teardown),
        cmocka_unit_test_setup_teardown(vmm_writes_fetched, setup, teardown),
        cmocka_unit_test_setup_teardown(region_added_while_logging, setup, teardown),
        cmocka_unit_test(merge_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
