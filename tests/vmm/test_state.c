/*
 * Saved state (state/state.h): the event-channel module's records survive
 * a round trip into a fresh domain, and a damaged stream is refused with
 * the restoring domain left as it was.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <xen/event_channel.h>
#include <xen/xen.h>

#include "domain.h"
#include "evtchn.h"
#include "mem_platform.h"
#include "state.h"

static void notify_nothing(void *opaque) { (void)opaque; }
static struct evtchn_backend console_a = { .notify = notify_nothing };
static struct evtchn_backend console_b = { .notify = notify_nothing };

/* A domain whose console backend has bound its contract port, as
 * xenon-vmm's has before a guest runs or a restore begins. */
static struct domain *domain_with_console(struct evtchn_backend *be)
{
    struct domain *d = mem_domain_create(4, 2, 4u << 20);
    assert_non_null(d);
    assert_int_equal(evtchn_alloc_backend_at(d, XENON_PORT_CONSOLE, be),
                     XENON_PORT_CONSOLE);
    return d;
}

/* Every port's status, as a guest would see it. */
static void statuses(struct domain *d, struct evtchn_status *st, unsigned n)
{
    for (unsigned p = 1; p < n; p++) {
        memset(&st[p], 0, sizeof(st[p]));
        st[p].port = p;
        if (evtchn_status(d, p, &st[p]) < 0)
            st[p].status = 0xff;
    }
}

static void populate(struct domain *a, int *unbound, int *loop_a, int *loop_b,
                     int *timer1, int *ipi)
{
    *unbound = evtchn_alloc_unbound(a, 0);
    *loop_a = evtchn_alloc_unbound(a, DOMID_SELF);
    *loop_b = evtchn_bind_interdomain(a, DOMID_SELF, (uint32_t)*loop_a);
    *timer1 = evtchn_bind_virq(a, VIRQ_TIMER, 1);
    *ipi = evtchn_bind_ipi(a, 1);
    assert_true(*unbound > 0 && *loop_a > 0 && *loop_b > 0 && *timer1 > 0 && *ipi > 0);
    /* Raised before shared info exists: kept in the table. */
    evtchn_set_pending(a, (uint32_t)*ipi);
}

static void test_evtchn_round_trip(void **state)
{
    struct domain *a = domain_with_console(&console_a);
    int unbound, la, lb, timer1, ipi;
    populate(a, &unbound, &la, &lb, &timer1, &ipi);

    struct state_buf buf = { 0 };
    assert_int_equal(state_save(a, &buf), 0);
    assert_true(buf.len > 0);

    struct domain *b = domain_with_console(&console_b);
    assert_int_equal(state_load(b, buf.data, buf.len), 0);

    struct evtchn_status sa[64], sb[64];
    statuses(a, sa, 64);
    statuses(b, sb, 64);
    assert_memory_equal(&sa[1], &sb[1], sizeof(sa[0]) * 63);
    assert_int_equal(sb[lb].status, EVTCHNSTAT_interdomain);
    assert_int_equal(sb[lb].u.interdomain.port, la);
    /* The per-vCPU VIRQ is found again, the backend kept its own end. */
    assert_int_equal(b->vcpu[1].virq_port[VIRQ_TIMER], timer1);
    assert_int_equal(b->vcpu[0].virq_port[VIRQ_TIMER], 0);
    assert_ptr_equal(b->evtchn.port[XENON_PORT_CONSOLE].be, &console_b);
    assert_true(b->evtchn.early_pending[ipi / 8] & (1u << (ipi % 8)));
    /* And it works: closing one end of the loopback unbinds the other. */
    assert_int_equal(evtchn_close(b, (uint32_t)lb), 0);
    struct evtchn_status s = { .port = (uint32_t)la };
    assert_int_equal(evtchn_status(b, (uint32_t)la, &s), 0);
    assert_int_equal(s.status, EVTCHNSTAT_unbound);

    state_buf_free(&buf);
    mem_domain_destroy(a);
    mem_domain_destroy(b);
}

/* The evtchn payload starts after the record header (16 + 4 + 4 bytes),
 * its count and the early-pending bitmap; records are 24 bytes. */
#define PAYLOAD 24
#define RECORDS (PAYLOAD + 4 + EVTCHN_2L_MAX_64 / 8)

static int load_patched(const struct state_buf *good, size_t off,
                        const void *bytes, size_t n, size_t cut)
{
    static uint8_t copy[1 << 17];     /* the whole stream, vCPUs included */
    assert_true(good->len <= sizeof(copy));
    memcpy(copy, good->data, good->len);
    if (n)
        memcpy(copy + off, bytes, n);
    struct domain *b = domain_with_console(&console_b);
    int unrelated = evtchn_alloc_unbound(b, 0);
    int rc = state_load(b, copy, good->len - cut);
    if (rc < 0) {
        /* Refused: the domain is as it was. */
        struct evtchn_status s = { .port = (uint32_t)unrelated };
        assert_int_equal(evtchn_status(b, (uint32_t)unrelated, &s), 0);
        assert_int_equal(s.status, EVTCHNSTAT_unbound);
        assert_int_equal(b->vcpu[1].virq_port[VIRQ_TIMER], 0);
    }
    mem_domain_destroy(b);
    return rc;
}

static void test_damaged_streams(void **state)
{
    struct domain *a = domain_with_console(&console_a);
    int unbound, la, lb, timer1, ipi;
    populate(a, &unbound, &la, &lb, &timer1, &ipi);
    struct state_buf good = { 0 };
    assert_int_equal(state_save(a, &good), 0);
    mem_domain_destroy(a);
    /* Just the evtchn record (the first): a refused load leaves the
     * domain as it was only within one record (state_load()). */
    uint32_t first;
    memcpy(&first, good.data + 20, 4);
    good.len = 24 + first;

    assert_int_equal(load_patched(&good, 0, NULL, 0, 0), 0);
    /* Truncated anywhere. */
    assert_int_equal(load_patched(&good, 0, NULL, 0, 1), -EINVAL);
    assert_int_equal(load_patched(&good, 0, NULL, 0, good.len - 10), -EINVAL);
    /* Unknown module, other version, length past the end. */
    assert_int_equal(load_patched(&good, 0, "nosuchmodule", 13, 0), -EINVAL);
    uint32_t v = 2;
    assert_int_equal(load_patched(&good, 16, &v, 4, 0), -EINVAL);
    uint32_t huge = 0xfffffff0u;
    assert_int_equal(load_patched(&good, 20, &huge, 4, 0), -EINVAL);
    /* A count that disagrees with the length. */
    uint32_t count = 1000;
    assert_int_equal(load_patched(&good, PAYLOAD, &count, 4, 0), -EINVAL);

    /* Find the records by port and damage one field at a time. */
    size_t nrec = (good.len - RECORDS) / 24;
    for (size_t i = 0; i < nrec; i++) {
        size_t at = RECORDS + i * 24;
        uint32_t port;
        memcpy(&port, good.data + at, 4);
        uint32_t zero = 0, big = 5000, vcpu9 = 9, other = XENON_PORT_CONSOLE;
        uint8_t bad_state = 7, backend = 1;
        assert_int_equal(load_patched(&good, at, &zero, 4, 0), -EINVAL);
        assert_int_equal(load_patched(&good, at, &big, 4, 0), -EINVAL);
        assert_int_equal(load_patched(&good, at + 4, &bad_state, 1, 0), -EINVAL);
        assert_int_equal(load_patched(&good, at + 8, &vcpu9, 4, 0), -EINVAL);
        if (port != XENON_PORT_CONSOLE) {
            /* Two records for one port; a backend that is not there. */
            assert_int_equal(load_patched(&good, at, &other, 4, 0), -EINVAL);
            assert_int_equal(load_patched(&good, at + 5, &backend, 1, 0), -EINVAL);
        }
        if (port == XENON_PORT_CONSOLE) {
            /* A backend's port as anything but interdomain (fuzz-state
             * found a VIRQ carrying the console's backend). */
            uint8_t virq_state = EVTCHNSTAT_virq, unbound_state = EVTCHNSTAT_unbound;
            assert_int_equal(load_patched(&good, at + 4, &virq_state, 1, 0), -EINVAL);
            assert_int_equal(load_patched(&good, at + 4, &unbound_state, 1, 0), -EINVAL);
        }
        if (port == (uint32_t)lb) {
            /* A loopback whose peer does not point back. */
            uint32_t stray = (uint32_t)unbound;
            assert_int_equal(load_patched(&good, at + 16, &stray, 4, 0), -EINVAL);
        }
    }
    state_buf_free(&good);
}

static void test_registry(void **state)
{
    const struct state_module *m = state_find("evtchn");
    assert_non_null(m);
    assert_int_equal(m->version, 1);
    assert_null(state_find("nosuchmodule"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_evtchn_round_trip),
        cmocka_unit_test(test_damaged_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
