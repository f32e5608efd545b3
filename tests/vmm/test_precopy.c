/*
 * The pre-copy engine (vmm/state/precopy.c) on the in-memory platform,
 * against a simulated guest that dirties pages while each round is being
 * sent (as a running vCPU would), zeroes some it had filled, and stops
 * when told. Each run's stream is read back with the strict reader into a
 * destination that, as libxc's restorer, keeps a page's older copy on an
 * XALLOC: after the final round it must equal the source.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>
#include <xen/domctl.h>

#include "dirty.h"
#include "hvm_context.h"
#include "mem_platform.h"
#include "platform.h"
#include "precopy.h"

#define RAM (32u << 20)
#define FILLED_PAGES 2048           /* 8 MiB touched at the start */

struct guest {
    struct domain *d;
    uint64_t nr_pfns;
    unsigned rate;                  /* pages dirtied per sink write */
    unsigned zero_every;            /* every n-th dirtying zeroes a page */
    uint64_t seq;                   /* dirtyings so far */
    bool stopped;
    unsigned stops;
    int stop_rc;
    unsigned vmm_writes;            /* VMM-side writes made */
    unsigned writes;                /* sink writes seen */
    struct stream_sink inner;
    struct stream_membuf buf;
};

/* The guest runs while the stream is written: each write lets it dirty
 * `rate` pages of RAM, spread by a multiplicative hash. */
static void guest_runs(struct guest *g)
{
    if (g->stopped)
        return;
    for (unsigned i = 0; i < g->rate; i++, g->seq++) {
        uint64_t pfn = (g->seq * 2654435761u) % (RAM >> 12);
        if (pfn >= 0xa0 && pfn < 0x100)
            continue;                       /* not RAM here: skip */
        uint64_t v[2] = { g->seq + 1, pfn };
        if (g->zero_every && g->seq % g->zero_every == 0) {
            static const uint8_t zero[4096];
            assert_int_equal(mem_guest_write(g->d, pfn << 12, zero, 4096), 0);
        } else {
            assert_int_equal(mem_guest_write(g->d, (pfn << 12) + (g->seq % 500) * 8,
                                             v, sizeof(v)), 0);
        }
    }
    /* And the VMM writes on its own account now and then (an event
     * channel bit, as a backend's notification sets it). */
    if (g->rate && g->writes++ % 7 == 0) {
        uint8_t *s = gmem_ptr(&g->d->mem, 0x9f000, 4096);
        s[g->vmm_writes % 4096] ^= 0x5a;
        gmem_mark_dirty(&g->d->mem, 0x9f000, 1);
        g->vmm_writes++;
    }
}

static int guest_sink_writev(void *ctx, const struct iovec *iov, int n)
{
    struct guest *g = ctx;
    int rc = g->inner.writev(g->inner.ctx, iov, n);
    guest_runs(g);
    return rc;
}

static const void *page(void *ctx, uint64_t pfn)
{
    struct guest *g = ctx;
    return gmem_ptr(&g->d->mem, pfn << 12, 4096);
}

static int fetch(void *ctx, uint64_t *bitmap, uint64_t nr_pfns)
{
    struct guest *g = ctx;
    int rc = platform_dirty_log_fetch(g->d, bitmap, nr_pfns, NULL);
    guest_runs(g);                  /* it runs on while we decide */
    return rc;
}

static int stop(void *ctx)
{
    struct guest *g = ctx;
    g->stops++;
    if (g->stop_rc)
        return g->stop_rc;
    g->stopped = true;
    return 0;
}

static struct guest *guest_new(unsigned rate, unsigned zero_every)
{
    struct guest *g = calloc(1, sizeof(*g));
    g->d = mem_domain_create(1, 1, RAM);
    assert_non_null(g->d);
    g->nr_pfns = gmem_nr_pfns(&g->d->mem);
    g->rate = rate;
    g->zero_every = zero_every;
    for (uint64_t p = 0x100; p < 0x100 + FILLED_PAGES; p++) {
        uint64_t v = p * 0x9e3779b97f4a7c15ull;
        for (unsigned o = 0; o < 4096; o += 512)
            assert_int_equal(gmem_write(&g->d->mem, (p << 12) + o, &v, 8), 0);
    }
    stream_sink_mem(&g->inner, &g->buf);
    return g;
}

static void guest_free(struct guest *g)
{
    platform_dirty_log_stop(g->d);
    mem_domain_destroy(g->d);
    free(g->buf.data);
    free(g);
}

/* Headers, the rounds, the vCPU state and END, as a migration sends. */
static int migrate(struct guest *g, const struct precopy_params *p,
                   struct precopy_report *rep)
{
    struct stream_sink s = { guest_sink_writev, g, 0 };
    assert_int_equal(xcs_write_headers(&g->inner, 4, 17), 0);
    assert_int_equal(xcs_write_record(&g->inner, XC_REC_STATIC_DATA_END, NULL, 0), 0);
    assert_int_equal(platform_dirty_log_start(g->d), 0);
    struct precopy_ops ops = { page, fetch, stop, g };
    int rc = precopy_run(&s, p, &ops, rep);
    platform_dirty_log_stop(g->d);
    if (rc < 0)
        return rc;
    g->inner.bytes += s.bytes;
    struct hvm_save_header h = { HVM_FILE_MAGIC, HVM_FILE_VERSION, 0, 0, 0 };
    struct hvm_ctx_vcpu v = { .present = true };
    struct stream_membuf blob = { 0 };
    assert_int_equal(hvm_ctx_build(&blob, &h, &v, 1), 0);
    assert_int_equal(xcs_write_record(&g->inner, XC_REC_HVM_CONTEXT, blob.data,
                                      blob.len), 0);
    assert_int_equal(xcs_write_record(&g->inner, XC_REC_END, NULL, 0), 0);
    free(blob.data);
    return 0;
}

/* The destination: pages as a restorer keeps them (an XALLOC on a page
 * already there keeps its older copy, as libxc's populate does). */
struct dest {
    uint8_t *mem;
    uint64_t nr_pfns;
    struct guest *src;
    uint64_t rewrites;              /* PFNs sent more than once */
    uint8_t *seen;
};

static int dest_page(void *ctx, uint64_t pfn, uint32_t type, const void *data)
{
    struct dest *d = ctx;
    assert_true(pfn < d->nr_pfns);
    assert_non_null(page(d->src, pfn));     /* only pages the source has */
    d->rewrites += d->seen[pfn];
    d->seen[pfn] = 1;
    if (type == XEN_DOMCTL_PFINFO_NOTAB)
        memcpy(d->mem + (pfn << 12), data, 4096);
    else
        assert_int_equal(type, XEN_DOMCTL_PFINFO_XALLOC);
    return 0;
}

/* Read the stream back and compare every page with the (stopped) source. */
static uint64_t check_destination(struct guest *g)
{
    struct dest d = { .nr_pfns = g->nr_pfns, .src = g };
    d.mem = mmap(NULL, g->nr_pfns << 12, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    assert_true(d.mem != MAP_FAILED);
    d.seen = calloc(g->nr_pfns, 1);
    struct stream_memsrc ms = { g->buf.data, g->buf.len, 0 };
    struct stream_source src;
    stream_source_mem(&src, &ms);
    struct xcs_limits lim = { g->nr_pfns, 1 };
    struct xcs_result r;
    char err[256];
    int rc = xcs_read(&src, &lim, dest_page, &d, &r, err, sizeof(err));
    if (rc)
        fail_msg("stream refused: %s", err);
    assert_int_equal(ms.off, ms.len);
    uint64_t pages = 0;
    for (uint64_t pfn = 0; pfn < g->nr_pfns; pfn++) {
        const void *p = page(g, pfn);
        if (!p)
            continue;
        pages++;
        assert_true(d.seen[pfn]);
        if (memcmp(p, d.mem + (pfn << 12), 4096))
            fail_msg("PFN %#llx differs after the final round",
                     (unsigned long long)pfn);
    }
    xcs_result_free(&r);
    munmap(d.mem, g->nr_pfns << 12);
    free(d.seen);
    return d.rewrites;
}

static void print_report(const char *name, const struct precopy_report *rep)
{
    for (unsigned i = 0; i < rep->nr_rounds; i++)
        printf("# %s round %u: dirty %llu pages %llu bytes %llu\n", name, i,
               (unsigned long long)rep->round[i].dirty,
               (unsigned long long)rep->round[i].pages,
               (unsigned long long)rep->round[i].bytes);
}

/* A guest dirtying slowly: the dirty set shrinks below the threshold,
 * then stop and copy; the destination equals the source. */
static void converges(void **state)
{
    (void)state;
    struct guest *g = guest_new(2, 5);
    struct precopy_params p = { g->nr_pfns, 8, 30, 0 };
    struct precopy_report rep;
    assert_int_equal(migrate(g, &p, &rep), 0);
    print_report("converges", &rep);
    assert_int_equal(rep.stopped_by, PRECOPY_CONVERGED);
    assert_int_equal(g->stops, 1);
    assert_true(rep.nr_rounds >= 3);    /* round 0, a live round, final */
    /* Round 0 carried every page, the untouched ones as XALLOC. */
    uint64_t have = 0;
    for (uint64_t pfn = 0; pfn < g->nr_pfns; pfn++)
        have += page(g, pfn) != NULL;
    assert_int_equal(rep.round[0].pages, have);
    assert_true(rep.round[0].zero >= have - FILLED_PAGES - 16);
    /* Later rounds: zero pages as data, the last under the threshold. */
    for (unsigned i = 1; i < rep.nr_rounds; i++)
        assert_int_equal(rep.round[i].zero, 0);
    assert_true(rep.round[rep.nr_rounds - 1].dirty <= 8);
    uint64_t sum = 0;
    for (unsigned i = 0; i < rep.nr_rounds; i++)
        sum += rep.round[i].bytes;
    assert_int_equal(sum, rep.bytes);
    assert_true(check_destination(g) > 0);  /* re-sent pages, some zeroed */
    assert_true(g->vmm_writes > 0);
    guest_free(g);
}

/* A guest dirtying faster than the rounds drain: the round limit ends the
 * live phase; the copy is still exact. */
static void round_limit(void **state)
{
    (void)state;
    struct guest *g = guest_new(64, 3);
    struct precopy_params p = { g->nr_pfns, 0, 4, 0 };
    struct precopy_report rep;
    assert_int_equal(migrate(g, &p, &rep), 0);
    print_report("limit", &rep);
    assert_int_equal(rep.stopped_by, PRECOPY_ROUND_LIMIT);
    assert_int_equal(rep.nr_rounds, 1 + 4 + 1);
    assert_true(rep.round[rep.nr_rounds - 1].dirty > 0);
    check_destination(g);
    guest_free(g);
}

/* Extra rounds: past max_rounds the live phase goes on while the dirty
 * set shrinks, and stops at the first that does not. The guest dirties
 * `rate` pages per batch sent, so its sets go 8 batches' worth after
 * round 0, then one batch's worth, then the same again. */
static void extra_rounds(void **state)
{
    (void)state;
    struct guest *g = guest_new(64, 0);
    struct precopy_params p = { g->nr_pfns, 0, 1, 10 };
    struct precopy_report rep;
    assert_int_equal(migrate(g, &p, &rep), 0);
    print_report("extra", &rep);
    assert_int_equal(rep.stopped_by, PRECOPY_ROUND_LIMIT);
    /* round 0, the one live round, one extra (smaller), the final */
    assert_int_equal(rep.nr_rounds, 4);
    assert_true(rep.round[2].dirty < rep.round[1].dirty);
    assert_true(rep.round[3].dirty >= rep.round[2].dirty);
    check_destination(g);
    guest_free(g);

    /* The cap: no more than extra_rounds, shrinking or not. */
    g = guest_new(64, 0);
    p = (struct precopy_params){ g->nr_pfns, 0, 1, 0 };
    assert_int_equal(migrate(g, &p, &rep), 0);
    assert_int_equal(rep.nr_rounds, 3);
    check_destination(g);
    guest_free(g);
}

/* An idle guest: round 0, nothing dirty, a final round of nothing. */
static void idle_guest(void **state)
{
    (void)state;
    struct guest *g = guest_new(0, 0);
    struct precopy_params p = { g->nr_pfns, 0, 10, 0 };
    struct precopy_report rep;
    assert_int_equal(migrate(g, &p, &rep), 0);
    assert_int_equal(rep.stopped_by, PRECOPY_CONVERGED);
    assert_int_equal(rep.nr_rounds, 2);
    assert_int_equal(rep.round[1].dirty, 0);
    assert_int_equal(rep.round[1].pages, 0);
    assert_int_equal(rep.round[1].bytes, 0);
    assert_int_equal(check_destination(g), 0);
    guest_free(g);
}

/* A stop that fails fails the run, after one try. (What the guest dirties
 * between the last live fetch and its stop, which the final fetch must
 * catch, is exercised by every run above: the guest runs on after each
 * fetch.) */
static void stop_fails(void **state)
{
    (void)state;
    struct guest *g = guest_new(8, 0);
    g->stop_rc = -EIO;
    struct precopy_params p = { g->nr_pfns, 1u << 20, 3, 0 };
    struct precopy_report rep;
    assert_int_equal(migrate(g, &p, &rep), -EIO);
    assert_int_equal(g->stops, 1);
    guest_free(g);
}

static void bad_params(void **state)
{
    (void)state;
    struct guest *g = guest_new(0, 0);
    struct stream_sink s = { guest_sink_writev, g, 0 };
    struct precopy_ops ops = { page, fetch, stop, g };
    struct precopy_report rep;
    struct precopy_params p = { 0, 0, 1, 0 };
    assert_int_equal(precopy_run(&s, &p, &ops, &rep), -EINVAL);
    p = (struct precopy_params){ g->nr_pfns, 0, PRECOPY_MAX_ROUNDS - 1, 0 };
    assert_int_equal(precopy_run(&s, &p, &ops, &rep), -EINVAL);
    p = (struct precopy_params){ g->nr_pfns, 0, 4, PRECOPY_MAX_ROUNDS - 5 };
    assert_int_equal(precopy_run(&s, &p, &ops, &rep), -EINVAL);
    /* Logging not started: the platform refuses the fetch. */
    p.max_rounds = 2;
    assert_int_equal(precopy_run(&s, &p, &ops, &rep), -EINVAL);
    assert_int_equal(g->stops, 0);
    assert_int_equal(s.bytes, 0);
    guest_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(converges),
        cmocka_unit_test(round_limit),
        cmocka_unit_test(extra_rounds),
        cmocka_unit_test(idle_guest),
        cmocka_unit_test(stop_fails),
        cmocka_unit_test(bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
