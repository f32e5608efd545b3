/* Unit tests for the backend-facing grant API (vmm/xen/grant_map.c). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "grant_map.h"
#include "xen_test_env.h"

#define ALL_FRAMES ((1u << TEST_GNTTAB_FRAMES) - 1)
#define REF 8
#define FRAME 0x200         /* a RAM page granted */
#define FRAME2 0x300
#define IN_USE (GTF_reading | GTF_writing)

struct fixture {
    struct domain *d;
    struct grant_mapper *m;     /* the domain's own */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->d = test_domain_new(ALL_FRAMES);
    f->m = &f->d->grants;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    grant_mapper_fini(f->m);
    test_domain_free(f->d);
    free(f);
    return 0;
}

static uint16_t flags_of(struct fixture *f, grant_ref_t ref)
{
    return __atomic_load_n(&test_entry(f->d, ref)->flags, __ATOMIC_ACQUIRE);
}

static void *ram(struct fixture *f, uint32_t frame)
{
    return gmem_ptr(&f->d->mem, (uint64_t)frame << GMEM_PAGE_SHIFT, GMEM_PAGE_SIZE);
}

static void assert_pins(struct fixture *f, grant_ref_t ref, unsigned ro, unsigned rw)
{
    unsigned r, w;
    grant_pins(f->m, ref, &r, &w);
    assert_int_equal(r, ro);
    assert_int_equal(w, rw);
}

static void map_unmap_pins_and_flags(void **state)
{
    struct fixture *f = *state;
    test_grant(f->d, REF, GTF_permit_access, 0, FRAME);
    grant_handle_t h1, h2, h3;
    void *p1, *p2, *p3;

    assert_int_equal(grant_map(f->m, 0, REF, true, &h1, &p1), GNTST_okay);
    assert_ptr_equal(p1, ram(f, FRAME));
    assert_int_equal(flags_of(f, REF) & IN_USE, GTF_reading);
    assert_pins(f, REF, 1, 0);

    assert_int_equal(grant_map(f->m, 0, REF, false, &h2, &p2), GNTST_okay);
    assert_ptr_equal(p2, p1);
    assert_int_equal(flags_of(f, REF) & IN_USE, GTF_reading | GTF_writing);
    assert_pins(f, REF, 1, 1);

    assert_int_equal(grant_map(f->m, 0, REF, true, &h3, &p3), GNTST_okay);
    assert_true(h1 != h2 && h2 != h3 && h1 != h3);
    assert_pins(f, REF, 2, 1);

    /* The last writable mapping goes: GTF_writing goes, reading stays. */
    assert_int_equal(grant_unmap(f->m, h2), GNTST_okay);
    assert_int_equal(flags_of(f, REF) & IN_USE, GTF_reading);
    assert_pins(f, REF, 2, 0);
    assert_int_equal(grant_unmap(f->m, h1), GNTST_okay);
    assert_int_equal(flags_of(f, REF) & IN_USE, GTF_reading);
    /* The last mapping goes: GTF_reading goes too; the rest is untouched. */
    assert_int_equal(grant_unmap(f->m, h3), GNTST_okay);
    assert_int_equal(flags_of(f, REF), GTF_permit_access);
    assert_pins(f, REF, 0, 0);

    /* A handle is good for one unmap; unknown handles are refused. */
    assert_int_equal(grant_unmap(f->m, h3), GNTST_bad_handle);
    assert_int_equal(grant_unmap(f->m, 12345), GNTST_bad_handle);
    assert_int_equal(grant_unmap(f->m, UINT32_MAX), GNTST_bad_handle);
}

/* A batch under one lock: each op judged alone, the bad one holding
 * nothing, and the unmap of the batch releasing exactly what mapped. */
static void map_batch_judges_each_op_alone(void **state)
{
    struct fixture *f = *state;
    test_grant(f->d, REF, GTF_permit_access, 0, FRAME);
    test_grant(f->d, REF + 1, GTF_permit_access, 7, FRAME2);   /* for dom 7 */
    test_grant(f->d, REF + 2, GTF_permit_access | GTF_readonly, 0, FRAME2);
    struct grant_map_op ops[4] = {
        { .ref = REF, .readonly = true },
        { .ref = REF + 1, .readonly = true },
        { .ref = REF + 2, .readonly = true },
        { .ref = REF, .readonly = true },                       /* twice */
    };
    assert_int_equal(grant_map_batch(f->m, 0, ops, 4), 1);
    assert_int_equal(ops[0].status, GNTST_okay);
    assert_ptr_equal(ops[0].page, ram(f, FRAME));
    assert_int_equal(ops[1].status, GNTST_general_error);
    assert_null(ops[1].page);
    assert_int_equal(ops[2].status, GNTST_okay);
    assert_ptr_equal(ops[2].page, ram(f, FRAME2));
    assert_int_equal(ops[3].status, GNTST_okay);
    assert_true(ops[0].handle != ops[3].handle);
    assert_pins(f, REF, 2, 0);
    assert_pins(f, REF + 1, 0, 0);
    assert_int_equal(flags_of(f, REF + 1) & IN_USE, 0);
    assert_int_equal(flags_of(f, REF + 2) & IN_USE, GTF_reading);
    grant_unmap_batch(f->m, ops, 4);
    assert_pins(f, REF, 0, 0);
    assert_pins(f, REF + 2, 0, 0);
    assert_int_equal(flags_of(f, REF), GTF_permit_access);
    assert_int_equal(flags_of(f, REF + 2), GTF_permit_access | GTF_readonly);
    assert_int_equal(f->m->nr_mapped, 0);
}

static void readonly_grant_refused_for_writable_map(void **state)
{
    struct fixture *f = *state;
    test_grant(f->d, REF, GTF_permit_access | GTF_readonly, 0, FRAME);
    grant_handle_t h, h2;
    void *p;
    assert_int_equal(grant_map(f->m, 0, REF, false, &h, &p), GNTST_general_error);
    assert_int_equal(flags_of(f, REF), GTF_permit_access | GTF_readonly);
    assert_pins(f, REF, 0, 0);

    assert_int_equal(grant_map(f->m, 0, REF, true, &h, &p), GNTST_okay);
    /* Pinned read-only, a writable map still checks GTF_readonly. */
    assert_int_equal(grant_map(f->m, 0, REF, false, &h2, &p), GNTST_general_error);
    assert_int_equal(flags_of(f, REF) & IN_USE, GTF_reading);
    assert_pins(f, REF, 1, 0);
    assert_int_equal(grant_unmap(f->m, h), GNTST_okay);
    assert_int_equal(flags_of(f, REF), GTF_permit_access | GTF_readonly);
}

static void wrong_domid_refused(void **state)
{
    struct fixture *f = *state;
    test_grant(f->d, REF, GTF_permit_access, 5, FRAME);
    grant_handle_t h, h2;
    void *p;
    assert_int_equal(grant_map(f->m, 0, REF, true, &h, &p), GNTST_general_error);
    assert_int_equal(flags_of(f, REF), GTF_permit_access);
    /* The domain named may map it; while it holds it, no other may. */
    assert_int_equal(grant_map(f->m, 5, REF, true, &h, &p), GNTST_okay);
    assert_int_equal(grant_map(f->m, 0, REF, true, &h2, &p), GNTST_general_error);
    assert_pins(f, REF, 1, 0);
    assert_int_equal(grant_unmap(f->m, h), GNTST_okay);
}

static void revoked_or_wrong_type_refused(void **state)
{
    struct fixture *f = *state;
    grant_handle_t h;
    void *p;
    const uint16_t bad[] = { 0, GTF_readonly, GTF_accept_transfer,
                             GTF_transitive, GTF_permit_access | GTF_sub_page,
                             GTF_invalid };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        test_grant(f->d, REF, bad[i], 0, FRAME);
        assert_int_equal(grant_map(f->m, 0, REF, true, &h, &p), GNTST_general_error);
        assert_int_equal(flags_of(f, REF), bad[i]);
    }
    /* A sub-page entry is refused for a map but not for a copy (as Xen). */
    test_grant(f->d, REF, GTF_permit_access | GTF_sub_page, 0, FRAME);
    char buf[8];
    struct grant_copy_op op = { .ref = REF, .len = sizeof(buf), .buf = buf };
    assert_int_equal(grant_copy(f->m, 0, &op, 1), 0);
    assert_int_equal(op.status, GNTST_okay);
}

static void revoke_while_mapped_keeps_the_pinned_page(void **state)
{
    struct fixture *f = *state;
    memset(ram(f, FRAME), 'A', GMEM_PAGE_SIZE);
    memset(ram(f, FRAME2), 'B', GMEM_PAGE_SIZE);
    test_grant(f->d, REF, GTF_permit_access, 0, FRAME);
    grant_handle_t h1, h2, h3;
    void *p1, *p2, *p3;
    assert_int_equal(grant_map(f->m, 0, REF, true, &h1, &p1), GNTST_okay);

    /* The guest revokes and points the entry elsewhere while mapped. */
    test_grant(f->d, REF, 0, 0, FRAME2);
    assert_int_equal(grant_map(f->m, 0, REF, true, &h2, &p2), GNTST_okay);
    assert_ptr_equal(p2, p1);
    char c = 0;
    struct grant_copy_op op = { .ref = REF, .offset = 7, .len = 1, .buf = &c };
    assert_int_equal(grant_copy(f->m, 0, &op, 1), 0);
    assert_int_equal(c, 'A');

    assert_int_equal(grant_unmap(f->m, h1), GNTST_okay);
    assert_int_equal(grant_unmap(f->m, h2), GNTST_okay);
    /* Unpinned, the revocation counts. */
    assert_int_equal(grant_map(f->m, 0, REF, true, &h3, &p3), GNTST_general_error);
    test_grant(f->d, REF, GTF_permit_access, 0, FRAME2);
    assert_int_equal(grant_map(f->m, 0, REF, true, &h3, &p3), GNTST_okay);
    assert_ptr_equal(p3, ram(f, FRAME2));
    assert_int_equal(grant_unmap(f->m, h3), GNTST_okay);
}

static void unmap_after_the_guest_moved_its_grant_frame(void **state)
{
    struct fixture *f = *state;
    test_grant(f->d, REF, GTF_permit_access, 0, FRAME);
    grant_handle_t h;
    void *p;
    assert_int_equal(grant_map(f->m, 0, REF, false, &h, &p), GNTST_okay);
    /* add_to_physmap moves frame 0 (contents and all) onto a RAM page. */
    const uint64_t moved = 0x500000;
    assert_int_equal(gnttab_map_frame(f->d, 0, moved), 0);
    grant_entry_v1_t *e = gmem_ptr(&f->d->mem, moved + REF * sizeof(*e), sizeof(*e));
    assert_int_equal(e->flags, GTF_permit_access | GTF_reading | GTF_writing);
    assert_int_equal(grant_unmap(f->m, h), GNTST_okay);
    /* The flags are cleared where the entry is now. */
    assert_int_equal(e->flags, GTF_permit_access);
}

static void refs_beyond_the_table_and_unplaced_frames(void **state)
{
    (void)state;
    /* Frames 0 and 2 placed: the table has 3 frames, frame 1 reads as 0. */
    struct domain *d = test_domain_new(0x5);
    struct grant_mapper *m = &d->grants;
    const unsigned per = GNTTAB_ENTRIES_PER_FRAME;
    assert_int_equal(gnttab_nr_entries(d), 3 * per);
    test_grant(d, 2 * per + 1, GTF_permit_access, 0, FRAME);
    grant_handle_t h;
    void *p;
    assert_int_equal(grant_map(m, 0, 2 * per + 1, true, &h, &p), GNTST_okay);
    assert_int_equal(grant_unmap(m, h), GNTST_okay);
    assert_int_equal(grant_map(m, 0, per + 1, true, &h, &p), GNTST_general_error);
    const grant_ref_t beyond[] = { 3 * per, 3 * per + 1, 64 * per, UINT32_MAX };
    for (size_t i = 0; i < sizeof(beyond) / sizeof(beyond[0]); i++) {
        assert_int_equal(grant_map(m, 0, beyond[i], true, &h, &p), GNTST_bad_gntref);
        char buf[1];
        struct grant_copy_op op = { .ref = beyond[i], .len = 1, .buf = buf };
        assert_int_equal(grant_copy(m, 0, &op, 1), 1);
        assert_int_equal(op.status, GNTST_bad_gntref);
    }
    test_domain_free(d);
}

static void frames_outside_guest_ram_refused(void **state)
{
    struct fixture *f = *state;
    grant_handle_t h;
    void *p;
    const uint32_t bad[] = {
        TEST_RAM >> GMEM_PAGE_SHIFT,                /* just past RAM */
        (uint32_t)(TEST_GNTTAB_GPA >> GMEM_PAGE_SHIFT), /* a Xen page */
        UINT32_MAX,
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        test_grant(f->d, REF, GTF_permit_access, 0, bad[i]);
        assert_int_equal(grant_map(f->m, 0, REF, false, &h, &p), GNTST_bad_page);
        /* The flags set for the attempt are taken back. */
        assert_int_equal(flags_of(f, REF), GTF_permit_access);
        assert_pins(f, REF, 0, 0);
    }
}

static void copy_bounds_and_direction(void **state)
{
    struct fixture *f = *state;
    uint8_t *page = ram(f, FRAME);
    for (unsigned i = 0; i < GMEM_PAGE_SIZE; i++)
        page[i] = (uint8_t)i;
    test_grant(f->d, REF, GTF_permit_access | GTF_readonly, 0, FRAME);
    test_grant(f->d, REF + 1, GTF_permit_access, 0, FRAME2);

    uint8_t in[16], out[16];
    memset(out, 0xee, sizeof(out));
    struct grant_copy_op ops[] = {
        { .ref = REF, .offset = 100, .len = 16, .buf = in },
        { .ref = REF, .offset = 4080, .len = 16, .buf = in },   /* to the end */
        { .ref = REF, .offset = 4081, .len = 16, .buf = in },   /* one over */
        { .ref = REF, .offset = 4096, .len = 0, .buf = in },
        { .ref = REF, .offset = 65535, .len = 65535, .buf = in },
        { .ref = REF, .offset = 0, .len = 16, .to_guest = true, .buf = out },
        { .ref = REF + 1, .offset = 8, .len = 16, .to_guest = true, .buf = out },
    };
    assert_int_equal(grant_copy(f->m, 0, ops, 7), 3);
    assert_int_equal(ops[0].status, GNTST_okay);
    assert_int_equal(ops[1].status, GNTST_okay);
    assert_int_equal(in[15], (uint8_t)(4080 + 15));
    assert_int_equal(ops[2].status, GNTST_bad_copy_arg);
    assert_int_equal(ops[3].status, GNTST_okay);
    assert_int_equal(ops[4].status, GNTST_bad_copy_arg);
    /* Writing a read-only grant is refused. */
    assert_int_equal(ops[5].status, GNTST_general_error);
    assert_int_equal(page[0], 0);
    assert_int_equal(ops[6].status, GNTST_okay);
    assert_memory_equal((uint8_t *)ram(f, FRAME2) + 8, out, 16);
    /* The pins were transient: nothing is left pinned or flagged. */
    assert_pins(f, REF, 0, 0);
    assert_pins(f, REF + 1, 0, 0);
    assert_int_equal(flags_of(f, REF), GTF_permit_access | GTF_readonly);
    assert_int_equal(flags_of(f, REF + 1), GTF_permit_access);

    /* A copy beside a mapping leaves the mapping's flags alone. */
    grant_handle_t h;
    void *p;
    assert_int_equal(grant_map(f->m, 0, REF + 1, true, &h, &p), GNTST_okay);
    struct grant_copy_op w = { .ref = REF + 1, .len = 1, .to_guest = true, .buf = out };
    assert_int_equal(grant_copy(f->m, 0, &w, 1), 0);
    assert_int_equal(flags_of(f, REF + 1) & IN_USE, GTF_reading);
    assert_int_equal(grant_unmap(f->m, h), GNTST_okay);
    assert_int_equal(flags_of(f, REF + 1), GTF_permit_access);
}

static void pin_counts_and_handles_are_bounded(void **state)
{
    struct fixture *f = *state;
    test_grant(f->d, REF, GTF_permit_access, 0, FRAME);
    static grant_handle_t h[129];
    void *p;
    /* Xen's 8-bit counters: a pin is refused once one reaches 0x80. */
    for (unsigned i = 0; i < 128; i++)
        assert_int_equal(grant_map(f->m, 0, REF, true, &h[i], &p), GNTST_okay);
    assert_int_equal(grant_map(f->m, 0, REF, true, &h[128], &p), GNTST_general_error);
    assert_int_equal(grant_map(f->m, 0, REF, false, &h[128], &p), GNTST_general_error);
    for (unsigned i = 0; i < 128; i++)
        assert_int_equal(grant_unmap(f->m, h[i]), GNTST_okay);
    assert_int_equal(flags_of(f, REF), GTF_permit_access);

    /* The maptrack is bounded: 512 refs mapped 128 times fill it. */
    unsigned refs = GRANT_MAP_MAX_HANDLES / 128;
    assert_true(refs <= gnttab_nr_entries(f->d));
    for (grant_ref_t r = 0; r < refs; r++) {
        test_grant(f->d, r, GTF_permit_access, 0, FRAME);
        for (unsigned i = 0; i < 128; i++)
            assert_int_equal(grant_map(f->m, 0, r, true, &h[0], &p), GNTST_okay);
    }
    test_grant(f->d, refs, GTF_permit_access, 0, FRAME);
    assert_int_equal(grant_map(f->m, 0, refs, true, &h[0], &p), GNTST_no_device_space);
    assert_int_equal(flags_of(f, refs), GTF_permit_access);
    /* Unmapping one handle makes room for one mapping. */
    assert_int_equal(grant_unmap(f->m, 77), GNTST_okay);
    assert_int_equal(grant_map(f->m, 0, refs, true, &h[0], &p), GNTST_okay);
    assert_int_equal(h[0], 77);
    /* fini (in teardown) unmaps everything; check it clears the flags. */
    grant_mapper_fini(f->m);
    for (grant_ref_t r = 0; r <= refs; r++)
        assert_int_equal(flags_of(f, r), GTF_permit_access);
    grant_mapper_init(f->m, f->d);
}

/*
 * A guest thread that revokes and re-grants the entry as fast as it can,
 * as Linux's gnttab_end_foreign_access does: with a compare-and-swap, and
 * only while neither GTF_reading nor GTF_writing is set. It flips between
 * a writable grant to domain 0 and a read-only grant to domain 7. If the
 * backend checked the entry and set its flags as two steps, a map could
 * succeed on an entry the guest had turned into the other grant meanwhile.
 */
struct flipper {
    grant_entry_v1_t *e;
    volatile bool stop;
    unsigned long flips;
};

static const uint32_t STATE_A = GTF_permit_access | 0u << 16;
static const uint32_t STATE_B = GTF_permit_access | GTF_readonly | 7u << 16;

static void *flip(void *arg)
{
    struct flipper *fl = arg;
    uint32_t *word = (uint32_t *)fl->e;
    while (!fl->stop) {
        uint32_t w = __atomic_load_n(word, __ATOMIC_ACQUIRE);
        if (w & (GTF_reading | GTF_writing))
            continue;       /* in use: a well-behaved guest waits */
        uint32_t to = w == STATE_A ? STATE_B : STATE_A;
        if (__atomic_compare_exchange_n(word, &w, to, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            fl->flips++;
    }
    return NULL;
}

static void concurrent_guest_changes_during_map(void **state)
{
    struct fixture *f = *state;
    test_grant(f->d, REF, GTF_permit_access, 0, FRAME);
    struct flipper fl = { .e = test_entry(f->d, REF) };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, flip, &fl), 0);
    /* The race is only met while both threads run at once, which a loaded
     * host grants when it likes: go on until both outcomes were seen
     * often (or a bound on the rounds is reached). */
    unsigned long ok = 0, refused = 0;
    for (unsigned long i = 0; i < 20000000 && (ok < 500000 || refused < 500000); i++) {
        grant_handle_t h;
        void *p;
        int16_t st = grant_map(f->m, 0, REF, false, &h, &p);
        if (st != GNTST_okay) {
            assert_int_equal(st, GNTST_general_error);
            refused++;
            continue;
        }
        /* Mapped: the entry is the grant we may write, marked in use. */
        uint32_t w = __atomic_load_n((uint32_t *)fl.e, __ATOMIC_ACQUIRE);
        assert_int_equal(w, STATE_A | GTF_reading | GTF_writing);
        assert_ptr_equal(p, ram(f, FRAME));
        assert_int_equal(grant_unmap(f->m, h), GNTST_okay);
        ok++;
    }
    fl.stop = true;
    pthread_join(t, NULL);
    assert_pins(f, REF, 0, 0);
    assert_int_equal(flags_of(f, REF) & IN_USE, 0);
    printf("# concurrent map: %lu mapped, %lu refused, %lu guest flips\n",
           ok, refused, fl.flips);
}

/* A hostile guest writing the entry with plain stores, bits and all: maps
 * succeed or fail with Xen's error, and a mapped page is the one granted. */
static void *scribble(void *arg)
{
    struct flipper *fl = arg;
    uint32_t *word = (uint32_t *)fl->e;
    uint32_t x = 1;
    while (!fl->stop) {
        x = x * 1103515245u + 12345u;
        __atomic_store_n(word, (x >> 8) & 1 ? STATE_A : (x & 0xffff001f),
                         __ATOMIC_RELAXED);
        fl->flips++;
    }
    return NULL;
}

static void hostile_guest_scribbling_during_map(void **state)
{
    struct fixture *f = *state;
    test_grant(f->d, REF, GTF_permit_access, 0, FRAME);
    struct flipper fl = { .e = test_entry(f->d, REF) };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, scribble, &fl), 0);
    for (unsigned i = 0; i < 100000; i++) {
        grant_handle_t h;
        void *p;
        int16_t st = grant_map(f->m, 0, REF, i & 1, &h, &p);
        if (st == GNTST_okay) {
            assert_ptr_equal(p, ram(f, FRAME));
            assert_int_equal(grant_unmap(f->m, h), GNTST_okay);
        } else {
            assert_int_equal(st, GNTST_general_error);
        }
    }
    fl.stop = true;
    pthread_join(t, NULL);
    assert_pins(f, REF, 0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(map_unmap_pins_and_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(map_batch_judges_each_op_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(readonly_grant_refused_for_writable_map, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_domid_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(revoked_or_wrong_type_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(revoke_while_mapped_keeps_the_pinned_page, setup, teardown),
        cmocka_unit_test_setup_teardown(unmap_after_the_guest_moved_its_grant_frame, setup, teardown),
        cmocka_unit_test(refs_beyond_the_table_and_unplaced_frames),
        cmocka_unit_test_setup_teardown(frames_outside_guest_ram_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(copy_bounds_and_direction, setup, teardown),
        cmocka_unit_test_setup_teardown(pin_counts_and_handles_are_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_guest_changes_during_map, setup, teardown),
        cmocka_unit_test_setup_teardown(hostile_guest_scribbling_during_map, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
