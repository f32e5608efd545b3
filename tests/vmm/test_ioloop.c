/* The VMM's I/O loop: a callback may remove, and free, a watch whose event
 * is still waiting in the batch being dispatched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ioloop.h"

static atomic_bool stop;
static int calls[2];
static struct io_watch *victim;

static void on_victim(struct io_watch *w, uint32_t events)
{
    (void)events;
    calls[1]++;
    uint64_t v;
    (void)!read(w->fd, &v, sizeof(v));
}

/* Removes and frees the victim: if the victim's event comes after it in
 * the same batch, it must not be dispatched (ASan sees it if it is). */
static void on_killer(struct io_watch *w, uint32_t events)
{
    (void)events;
    calls[0]++;
    uint64_t v;
    (void)!read(w->fd, &v, sizeof(v));
    if (victim) {
        ioloop_del(victim);
        close(victim->fd);
        free(victim);
        victim = NULL;
    }
}

/* Added last, so ready last: ends the loop's pass. */
static void on_stopper(struct io_watch *w, uint32_t events)
{
    (void)events;
    uint64_t v;
    (void)!read(w->fd, &v, sizeof(v));
    atomic_store(&stop, true);
}

static void test_removed_watch_not_dispatched(void **state)
{
    (void)state;
    assert_int_equal(ioloop_init(), 0);
    for (int round = 0; round < 50; round++) {
        struct io_watch killer = { .fd = eventfd(1, EFD_CLOEXEC), .ready = on_killer };
        victim = malloc(sizeof(*victim));
        assert_non_null(victim);
        *victim = (struct io_watch){ .fd = eventfd(1, EFD_CLOEXEC), .ready = on_victim };
        assert_true(killer.fd >= 0 && victim->fd >= 0);
        /* alternate the order they are added, so either may come first */
        if (round % 2) {
            assert_int_equal(ioloop_add(victim, EPOLLIN), 0);
            assert_int_equal(ioloop_add(&killer, EPOLLIN), 0);
        } else {
            assert_int_equal(ioloop_add(&killer, EPOLLIN), 0);
            assert_int_equal(ioloop_add(victim, EPOLLIN), 0);
        }
        struct io_watch stopper = { .fd = eventfd(1, EFD_CLOEXEC), .ready = on_stopper };
        assert_true(stopper.fd >= 0);
        assert_int_equal(ioloop_add(&stopper, EPOLLIN), 0);
        calls[0] = calls[1] = 0;
        atomic_store(&stop, false);
        ioloop_run(&stop);
        assert_int_equal(calls[0], 1);
        assert_null(victim);
        /* it ran only when it came before the killer */
        assert_int_equal(calls[1], round % 2 ? 1 : 0);
        ioloop_del(&stopper);
        close(stopper.fd);
        ioloop_del(&killer);
        close(killer.fd);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_removed_watch_not_dispatched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
