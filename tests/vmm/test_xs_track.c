/* The xenstore relay's watches as saved state (xs_relay_track.h): a saved
 * record loads back to the same watches in order, and every payload that
 * breaks a rule is refused whole, with no watch handed on. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "xs_relay_track.h"

#include <xen/io/xs_wire.h>

struct got {
    struct xs_track t;
    unsigned calls;
};

static void add(void *ctx, const void *payload, size_t len)
{
    struct got *g = ctx;
    g->calls++;
    xs_track_add_watch(&g->t, payload, len);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct xs_track t = { .domid = 1 };
    xs_track_add_watch(&t, "control/shutdown\0shutdown", 26);
    xs_track_add_watch(&t, "device\0dev", 11);
    xs_track_add_watch(&t, "x\0", 3);                    /* an empty token */
    xs_track_add_watch(&t, "a\0b\0c", 6);                 /* no xenstored takes it */
    uint8_t *rec;
    size_t len;
    assert_int_equal(xs_track_save_watches(&t, &rec, &len), 0);
    assert_int_equal(len, 4 + (4 + 26) + (4 + 11) + (4 + 3));
    struct got g = { .t = { .domid = 2 } };
    assert_int_equal(xs_track_load_watches(rec, len, add, &g), 0);
    assert_int_equal(g.calls, 3);
    assert_int_equal(g.t.nwatches, 3);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(g.t.watches[i].len, t.watches[i].len);
        assert_memory_equal(g.t.watches[i].payload, t.watches[i].payload, t.watches[i].len);
    }
    assert_true(xs_track_has_watch(&g.t, "device\0dev", 11));
    assert_false(xs_track_has_watch(&g.t, "a\0b\0c", 6));   /* not saved */
    assert_false(xs_track_has_watch(&g.t, "device\0de", 10));
    free(rec);

    /* None at all: a count of 0. */
    struct xs_track none = { .domid = 3 };
    assert_int_equal(xs_track_save_watches(&none, &rec, &len), 0);
    assert_int_equal(len, 4);
    g.calls = 0;
    assert_int_equal(xs_track_load_watches(rec, len, add, &g), 0);
    assert_int_equal(g.calls, 0);
    free(rec);
    xs_track_fini(&t);
    xs_track_fini(&g.t);
}

/* A record of `count` watches, each given as (len, bytes). */
static size_t build(uint8_t *out, uint32_t count, const char *const *w, const uint32_t *lens,
                    unsigned n)
{
    memcpy(out, &count, 4);
    size_t at = 4;
    for (unsigned i = 0; i < n; i++) {
        memcpy(out + at, &lens[i], 4);
        memcpy(out + at + 4, w[i], lens[i]);
        at += 4 + lens[i];
    }
    return at;
}

static void test_refused(void **state)
{
    (void)state;
    static const struct {
        uint32_t count;
        const char *w;
        uint32_t len;
        int extra;          /* trailing bytes */
        int cut;            /* bytes cut from the end */
    } bad[] = {
        { 2, "a\0t", 4, 0, 0 },             /* says 2, holds 1 */
        { 1, "a\0t", 2, 0, 0 },             /* too short */
        { 1, "\0t\0", 3, 0, 0 },            /* no path */
        { 1, "a\0t", 3, 0, 0 },             /* no final NUL */
        { 1, "a\0b\0c", 6, 0, 0 },          /* three NULs */
        { 1, "a\0t", 4, 3, 0 },             /* bytes after the last */
        { 1, "a\0t", 4, 0, 2 },             /* cut short */
        { XS_TRACK_MAX_WATCHES + 1, "a\0t", 4, 0, 0 },
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        uint8_t rec[64] = { 0 };
        const char *w[1] = { bad[k].w };
        uint32_t lens[1] = { bad[k].len };
        size_t len = build(rec, bad[k].count, w, lens, 1) + (size_t)bad[k].extra -
                     (size_t)bad[k].cut;
        struct got g = { .t = { .domid = 4 } };
        assert_int_equal(xs_track_load_watches(rec, len, add, &g), -EINVAL);
        assert_int_equal(g.calls, 0);
    }
    /* A watch longer than a xenstore payload. */
    size_t big = XENSTORE_PAYLOAD_MAX + 1;
    uint8_t *rec = calloc(1, 8 + big);
    uint32_t one = 1, l = (uint32_t)big;
    memcpy(rec, &one, 4);
    memcpy(rec + 4, &l, 4);
    rec[8] = 'a';
    rec[8 + big - 1] = 0;
    struct got g = { .t = { .domid = 5 } };
    assert_int_equal(xs_track_load_watches(rec, 8 + big, add, &g), -EINVAL);
    assert_int_equal(xs_track_load_watches(rec, 3, add, &g), -EINVAL);
    assert_int_equal(g.calls, 0);
    free(rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
