/*
 * The monitor's pid -> domid hash (libxenon/pid_map.c): what is put is
 * found, what is deleted is gone and leaves every other entry findable
 * (deletion shifts entries back; a wrong shift hides one behind a hole),
 * growth keeps every entry, and bad keys are refused. A long random run
 * over a small key range, where collisions and wrap-around at the table's
 * end are the rule, is checked step by step against a plain array.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "pid_map.h"

static void put_get_del(void **state)
{
    (void)state;
    struct pid_map m = { 0 };
    unsigned v = 99;
    assert_false(pid_map_get(&m, 123, &v));
    assert_false(pid_map_del(&m, 123, &v));
    assert_int_equal(pid_map_put(&m, 123, 7), 0);
    assert_true(pid_map_get(&m, 123, &v));
    assert_int_equal(v, 7);
    assert_int_equal(pid_map_put(&m, 123, 8), 0);      /* replaces */
    assert_int_equal(m.count, 1);
    assert_true(pid_map_get(&m, 123, &v));
    assert_int_equal(v, 8);
    assert_false(pid_map_get(&m, 124, &v));
    assert_true(pid_map_del(&m, 123, &v));
    assert_int_equal(v, 8);
    assert_false(pid_map_get(&m, 123, &v));
    assert_int_equal(m.count, 0);
    pid_map_clear(&m);
}

static void bad_keys(void **state)
{
    (void)state;
    struct pid_map m = { 0 };
    unsigned v;
    errno = 0;
    assert_int_equal(pid_map_put(&m, 0, 1), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(pid_map_put(&m, -5, 1), -1);
    assert_false(pid_map_get(&m, 0, &v));
    assert_false(pid_map_del(&m, -5, NULL));
    assert_int_equal(m.count, 0);
    pid_map_clear(&m);
}

/* 10,000 pids in sequence (as fork hands them out): all found after the
 * table has doubled many times, then every other one removed. */
static void many_in_sequence(void **state)
{
    (void)state;
    struct pid_map m = { 0 };
    enum { N = 10000, BASE = 30000 };
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(pid_map_put(&m, BASE + (pid_t)i, i + 1), 0);
    assert_int_equal(m.count, N);
    assert_true(m.cap >= 2 * N);
    for (unsigned i = 0; i < N; i++) {
        unsigned v = 0;
        assert_true(pid_map_get(&m, BASE + (pid_t)i, &v));
        assert_int_equal(v, i + 1);
    }
    for (unsigned i = 0; i < N; i += 2)
        assert_true(pid_map_del(&m, BASE + (pid_t)i, NULL));
    for (unsigned i = 0; i < N; i++) {
        unsigned v = 0;
        assert_int_equal(pid_map_get(&m, BASE + (pid_t)i, &v), i % 2 == 1);
        if (i % 2)
            assert_int_equal(v, i + 1);
    }
    assert_int_equal(m.count, N / 2);
    pid_map_clear(&m);
    assert_int_equal(m.count, 0);
    assert_int_equal(pid_map_put(&m, 1, 1), 0);         /* usable again */
    pid_map_clear(&m);
}

/* Random puts and deletes of keys 1..KEYS against an array model. */
static void random_against_model(void **state)
{
    (void)state;
    enum { KEYS = 300, STEPS = 200000 };
    static unsigned model[KEYS + 1];        /* 0: absent */
    struct pid_map m = { 0 };
    size_t present = 0;
    srand(16);
    for (int step = 0; step < STEPS; step++) {
        pid_t k = 1 + rand() % KEYS;
        /* Lean to deletes when more than half the keys are in, so the
         * table fills and empties again. */
        bool del = rand() % 100 < (present > KEYS / 2 ? 60 : 40);
        unsigned v;
        if (del) {
            bool had = model[k] != 0;
            assert_int_equal(pid_map_del(&m, k, &v), had);
            if (had) {
                assert_int_equal(v, model[k]);
                model[k] = 0;
                present--;
            }
        } else {
            unsigned nv = 1 + (unsigned)(rand() % 1000000);
            assert_int_equal(pid_map_put(&m, k, nv), 0);
            if (!model[k])
                present++;
            model[k] = nv;
        }
        assert_int_equal(m.count, present);
        if (step % 997 == 0)
            for (pid_t j = 1; j <= KEYS; j++) {
                bool in = pid_map_get(&m, j, &v);
                assert_int_equal(in, model[j] != 0);
                if (in)
                    assert_int_equal(v, model[j]);
            }
    }
    pid_map_clear(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_get_del),
        cmocka_unit_test(bad_keys),
        cmocka_unit_test(many_in_sequence),
        cmocka_unit_test(random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
