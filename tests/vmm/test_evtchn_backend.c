/* Unit tests for a backend's end of an event channel (vmm/xen/
 * evtchn_backend.c) and the backends built on it (vmm/backends/backend.c). */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xen/errno.h>

#include "backend.h"
#include "evtchn_backend.h"
#include "shinfo.h"
#include "xen_test_env.h"

static int setup(void **state)
{
    *state = test_domain_new(1);
    return 0;
}

static int teardown(void **state)
{
    test_domain_free(*state);
    return 0;
}

static struct evtchn_status status_of(struct domain *d, uint32_t port)
{
    struct evtchn_status st;
    memset(&st, 0, sizeof(st));
    assert_int_equal(evtchn_status(d, port, &st), 0);
    return st;
}

/* What a frontend does: a port for domain 0, for a backend to bind. */
static uint32_t frontend_port(struct domain *d, uint32_t remote)
{
    int port = evtchn_alloc_unbound(d, remote);
    assert_true(port > 0);
    return (uint32_t)port;
}

static void bind_to_the_frontends_port(void **state)
{
    struct domain *d = *state;
    uint32_t port = frontend_port(d, 0);
    struct evtchn_be be;
    assert_int_equal(evtchn_be_bind(&be, d, 0, port, NULL, NULL), 0);
    assert_int_equal(evtchn_be_guest_port(&be), port);
    struct evtchn_status st = status_of(d, port);
    assert_int_equal(st.status, EVTCHNSTAT_interdomain);
    assert_int_equal(st.u.interdomain.dom, 0);
    assert_int_equal(st.u.interdomain.port, be.hook.dom0_port);
    /* As in Xen, the binding end is notified once at once. */
    assert_true(evtchn_be_consume(&be));
    assert_false(evtchn_be_consume(&be));
    evtchn_be_unbind(&be);
}

static void bind_refused_as_xen_refuses(void **state)
{
    struct domain *d = *state;
    struct evtchn_be be;
    /* A port meant for another domain, or not unbound, or none at all. */
    uint32_t for_5 = frontend_port(d, 5);
    assert_int_equal(evtchn_be_bind(&be, d, 0, for_5, NULL, NULL), -XEN_EINVAL);
    int ipi = evtchn_bind_ipi(d, 0);
    assert_true(ipi > 0);
    assert_int_equal(evtchn_be_bind(&be, d, 0, (uint32_t)ipi, NULL, NULL), -XEN_EINVAL);
    const uint32_t none[] = { 0, 4000, evtchn_max_ports(d), UINT32_MAX };
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
        assert_int_equal(evtchn_be_bind(&be, d, 0, none[i], NULL, NULL), -XEN_EINVAL);
    /* Bound once, a port cannot be bound again. */
    uint32_t port = frontend_port(d, 0);
    struct evtchn_be first;
    assert_int_equal(evtchn_be_bind(&first, d, 0, port, NULL, NULL), 0);
    assert_int_equal(evtchn_be_bind(&be, d, 0, port, NULL, NULL), -XEN_EINVAL);
    /* The domain the port names may bind it. */
    assert_int_equal(evtchn_be_bind(&be, d, 5, for_5, NULL, NULL), 0);
    assert_int_equal(status_of(d, for_5).u.interdomain.dom, 5);
    evtchn_be_unbind(&be);
    evtchn_be_unbind(&first);
}

static void guest_sends_wake_the_backend_coalesced(void **state)
{
    struct domain *d = *state;
    uint32_t port = frontend_port(d, 0);
    struct evtchn_be be;
    assert_int_equal(evtchn_be_bind(&be, d, 0, port, NULL, NULL), 0);
    assert_true(evtchn_be_consume(&be));
    assert_false(evtchn_be_consume(&be));
    for (int i = 0; i < 5; i++)
        assert_int_equal(evtchn_send(d, port), 0);
    assert_true(evtchn_be_consume(&be));
    assert_false(evtchn_be_consume(&be));
    /* A guest send sets nothing pending on the guest's own port. */
    assert_false(evtchn_is_pending(d, port));
    evtchn_be_unbind(&be);
}

static bool work;
static bool has_work(void *opaque)
{
    (void)opaque;
    return work;
}

static void has_work_filters_wake_ups(void **state)
{
    struct domain *d = *state;
    struct evtchn_be be;
    assert_int_equal(evtchn_be_alloc(&be, d, 0, 0, has_work, NULL), 0);
    uint32_t port = evtchn_be_guest_port(&be);
    work = false;
    assert_int_equal(evtchn_send(d, port), 0);
    assert_false(evtchn_be_consume(&be));
    work = true;
    assert_int_equal(evtchn_send(d, port), 0);
    assert_true(evtchn_be_consume(&be));
    evtchn_be_unbind(&be);
}

static void notify_sets_pending_and_raises_the_upcall(void **state)
{
    struct domain *d = *state;
    uint32_t port = frontend_port(d, 0);
    struct evtchn_be be;
    assert_int_equal(evtchn_be_bind(&be, d, 0, port, NULL, NULL), 0);
    assert_false(evtchn_is_pending(d, port));
    assert_int_equal(evtchn_be_notify(&be), 0);
    assert_true(evtchn_is_pending(d, port));
    assert_true(vcpu_upcall_pending(d, &d->vcpu[0]));
    assert_int_equal(test_kicks(d, 0), 1);
    evtchn_be_unbind(&be);
}

static void unbind_leaves_the_guests_port_unbound(void **state)
{
    struct domain *d = *state;
    uint32_t port = frontend_port(d, 0);
    struct evtchn_be be;
    assert_int_equal(evtchn_be_bind(&be, d, 0, port, NULL, NULL), 0);
    evtchn_be_unbind(&be);
    struct evtchn_status st = status_of(d, port);
    assert_int_equal(st.status, EVTCHNSTAT_unbound);
    assert_int_equal(st.u.unbound.dom, 0);
    /* The guest's sends go nowhere (Xen drops them), ours are refused. */
    assert_int_equal(evtchn_send(d, port), 0);
    assert_false(evtchn_be_consume(&be));
    assert_int_equal(evtchn_be_notify(&be), -XEN_EINVAL);
    assert_false(evtchn_is_pending(d, port));
    evtchn_be_unbind(&be);      /* twice is harmless */
    /* The port can be bound again, by a new backend. */
    struct evtchn_be again;
    assert_int_equal(evtchn_be_bind(&again, d, 0, port, NULL, NULL), 0);
    evtchn_be_unbind(&again);
}

static void guest_close_then_reuse_never_sees_the_backend(void **state)
{
    struct domain *d = *state;
    uint32_t port = frontend_port(d, 0);
    struct evtchn_be be;
    assert_int_equal(evtchn_be_bind(&be, d, 0, port, NULL, NULL), 0);
    assert_true(evtchn_be_consume(&be));
    assert_int_equal(evtchn_close(d, port), 0);
    assert_int_equal(evtchn_be_guest_port(&be), 0);
    /* The guest reuses the number for an IPI. */
    int ipi = evtchn_bind_ipi(d, 0);
    assert_int_equal(ipi, (int)port);
    assert_int_equal(evtchn_be_notify(&be), 0);
    assert_false(evtchn_is_pending(d, port));
    /* And its sends on the IPI are not the backend's. */
    assert_int_equal(evtchn_send(d, port), 0);
    assert_false(evtchn_be_consume(&be));
    evtchn_be_unbind(&be);
    assert_int_equal(status_of(d, port).status, EVTCHNSTAT_ipi);
}

/*
 * Coalescing loses no wake-up: a vCPU thread produces items into a ring of
 * RING slots, sending after each (under the domain lock, as a hypercall
 * does) and waiting while the ring is full; the backend sleeps in poll()
 * with no timeout and, after each consume, takes all produced so far. A
 * lost wake-up leaves both waiting for ever: the test then fails by
 * meson's timeout, not by a clock here.
 */
#define ITEMS 20000u
#define RING 16u

struct producer {
    struct domain *d;
    uint32_t port;
    unsigned produced, seen;
};

static void *produce(void *arg)
{
    struct producer *pr = arg;
    for (unsigned i = 1; i <= ITEMS; i++) {
        while (i - __atomic_load_n(&pr->seen, __ATOMIC_ACQUIRE) > RING)
            sched_yield();
        __atomic_store_n(&pr->produced, i, __ATOMIC_RELEASE);
        pthread_mutex_lock(&pr->d->lock);
        evtchn_send(pr->d, pr->port);
        pthread_mutex_unlock(&pr->d->lock);
    }
    return NULL;
}

static void no_wake_up_lost_under_concurrent_sends(void **state)
{
    struct domain *d = *state;
    struct evtchn_be be;
    assert_int_equal(evtchn_be_alloc(&be, d, 0, 0, NULL, NULL), 0);
    struct producer pr = { .d = d, .port = evtchn_be_guest_port(&be) };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, produce, &pr), 0);
    unsigned wake_ups = 0;
    while (__atomic_load_n(&pr.seen, __ATOMIC_ACQUIRE) < ITEMS) {
        struct pollfd pfd = { .fd = be.fd, .events = POLLIN };
        assert_int_equal(poll(&pfd, 1, -1), 1);
        if (evtchn_be_consume(&be)) {
            wake_ups++;
            __atomic_store_n(&pr.seen, __atomic_load_n(&pr.produced, __ATOMIC_ACQUIRE),
                             __ATOMIC_RELEASE);
        }
    }
    pthread_join(t, NULL);
    /* The ring forced at least one wake-up per RING items. */
    assert_true(wake_ups >= ITEMS / RING && wake_ups <= ITEMS);
    evtchn_be_unbind(&be);
}

/* The console and xenstore relay notify through backend.c: after the
 * guest closed their port, a reused port number must not be raised. */
static void service(void *opaque)
{
    (void)opaque;
}

static void backend_notify_after_guest_close(void **state)
{
    struct domain *d = *state;
    static bool loop_ready;
    if (!loop_ready)
        assert_int_equal(ioloop_init(), 0);
    loop_ready = true;
    struct backend b;
    assert_int_equal(backend_init(d, &b, 0, NULL, service, NULL), 0);
    assert_int_equal(status_of(d, b.port).status, EVTCHNSTAT_interdomain);
    pthread_mutex_lock(&d->lock);
    backend_notify_locked(&b);
    pthread_mutex_unlock(&d->lock);
    assert_true(evtchn_is_pending(d, b.port));
    shinfo_clear_pending(d, b.port);

    assert_int_equal(evtchn_close(d, b.port), 0);
    int ipi = evtchn_bind_ipi(d, 0);
    assert_int_equal(ipi, (int)b.port);
    pthread_mutex_lock(&d->lock);
    backend_notify_locked(&b);
    pthread_mutex_unlock(&d->lock);
    assert_false(evtchn_is_pending(d, b.port));
    backend_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(bind_to_the_frontends_port, setup, teardown),
        cmocka_unit_test_setup_teardown(bind_refused_as_xen_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(guest_sends_wake_the_backend_coalesced, setup, teardown),
        cmocka_unit_test_setup_teardown(has_work_filters_wake_ups, setup, teardown),
        cmocka_unit_test_setup_teardown(notify_sets_pending_and_raises_the_upcall, setup, teardown),
        cmocka_unit_test_setup_teardown(unbind_leaves_the_guests_port_unbound, setup, teardown),
        cmocka_unit_test_setup_teardown(guest_close_then_reuse_never_sees_the_backend, setup, teardown),
        cmocka_unit_test_setup_teardown(no_wake_up_lost_under_concurrent_sends, setup, teardown),
        cmocka_unit_test_setup_teardown(backend_notify_after_guest_close, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
