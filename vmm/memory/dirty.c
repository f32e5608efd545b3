#include "dirty.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t region_pages(const struct gmem_region *r)
{
    return r->size >> GMEM_PAGE_SHIFT;
}

/* Allocate (or clear) region i's bitmap; all set when `all`. */
static int region_bitmap(struct gmem *gm, unsigned i, bool all)
{
    size_t bytes = DIRTY_WORDS(region_pages(&gm->region[i])) * 8;
    if (!gm->dirty[i]) {
        uint64_t *b = calloc(1, bytes);
        if (!b)
            return -ENOMEM;
        __atomic_store_n(&gm->dirty[i], b, __ATOMIC_RELEASE);
    }
    if (all) {
        uint64_t n = region_pages(&gm->region[i]);
        for (uint64_t w = 0; w < DIRTY_WORDS(n); w++)
            __atomic_store_n(&gm->dirty[i][w],
                             n - w * 64 >= 64 ? ~0ull : (1ull << (n % 64)) - 1,
                             __ATOMIC_RELAXED);
    } else {
        memset(gm->dirty[i], 0, bytes);
    }
    return 0;
}

int gmem_dirty_start(struct gmem *gm)
{
    unsigned n = gmem_nr_regions(gm);
    for (unsigned i = 0; i < n; i++) {
        int rc = region_bitmap(gm, i, false);
        if (rc < 0)
            return rc;
    }
    __atomic_store_n(&gm->dirty_on, true, __ATOMIC_SEQ_CST);
    return 0;
}

void gmem_dirty_stop(struct gmem *gm)
{
    __atomic_store_n(&gm->dirty_on, false, __ATOMIC_SEQ_CST);
}

bool gmem_dirty_logging(const struct gmem *gm)
{
    return __atomic_load_n(&gm->dirty_on, __ATOMIC_RELAXED);
}

/* Called by gmem_add_region for the region just published. */
int gmem_dirty_region_added(struct gmem *gm, unsigned i)
{
    if (!gmem_dirty_logging(gm))
        return 0;
    /* Failing, the region stays without a bitmap: gmem_dirty_fetch then
     * reports it whole every time. */
    (void)region_bitmap(gm, i, true);
    return 0;
}

void gmem_mark_dirty(const struct gmem *gm, uint64_t gpa, uint64_t len)
{
    if (!__atomic_load_n(&gm->dirty_on, __ATOMIC_RELAXED))
        return;
    if (len == 0)
        len = 1;
    unsigned n = gmem_nr_regions(gm);
    for (unsigned i = 0; i < n; i++) {
        const struct gmem_region *r = &gm->region[i];
        if (gpa < r->gpa || gpa - r->gpa >= r->size)
            continue;
        uint64_t *bits = __atomic_load_n(&gm->dirty[i], __ATOMIC_ACQUIRE);
        if (!bits)
            return;
        uint64_t first = (gpa - r->gpa) >> GMEM_PAGE_SHIFT;
        uint64_t end = len > r->size - (gpa - r->gpa) ? r->size
                                                      : gpa - r->gpa + len;
        uint64_t last = (end - 1) >> GMEM_PAGE_SHIFT;
        for (uint64_t p = first; p <= last; p++)
            __atomic_fetch_or(&bits[p / 64], 1ull << (p % 64),
                              __ATOMIC_RELAXED);
        return;
    }
}

uint64_t dirty_merge(uint64_t *bitmap, uint64_t nr_pfns, uint64_t first_pfn,
                     const uint64_t *src, uint64_t npages)
{
    uint64_t set = 0;
    for (uint64_t w = 0; w < DIRTY_WORDS(npages); w++) {
        uint64_t word = src[w];
        if (w * 64 + 64 > npages && npages % 64)
            word &= (1ull << (npages % 64)) - 1;
        while (word) {
            unsigned b = (unsigned)__builtin_ctzll(word);
            word &= word - 1;
            uint64_t pfn = first_pfn + w * 64 + b;
            if (pfn < nr_pfns && !dirty_test(bitmap, pfn)) {
                dirty_set(bitmap, pfn);
                set++;
            }
        }
    }
    return set;
}

uint64_t gmem_dirty_fetch(struct gmem *gm, uint64_t *bitmap, uint64_t nr_pfns)
{
    uint64_t set = 0;
    unsigned n = gmem_nr_regions(gm);
    for (unsigned i = 0; i < n; i++) {
        const struct gmem_region *r = &gm->region[i];
        uint64_t pages = region_pages(r);
        uint64_t *bits = gm->dirty[i];
        if (!bits) {
            /* Added while logging with no memory for its bitmap: always
             * dirty, so that it is never missed. */
            for (uint64_t p = 0; p < pages; p++)
                if ((r->gpa >> GMEM_PAGE_SHIFT) + p < nr_pfns &&
                    !dirty_test(bitmap, (r->gpa >> GMEM_PAGE_SHIFT) + p)) {
                    dirty_set(bitmap, (r->gpa >> GMEM_PAGE_SHIFT) + p);
                    set++;
                }
            continue;
        }
        for (uint64_t w = 0; w < DIRTY_WORDS(pages); w++) {
            if (!__atomic_load_n(&bits[w], __ATOMIC_RELAXED))
                continue;
            uint64_t word = __atomic_exchange_n(&bits[w], 0, __ATOMIC_ACQ_REL);
            uint64_t left = pages - w * 64;
            set += dirty_merge(bitmap, nr_pfns,
                               (r->gpa >> GMEM_PAGE_SHIFT) + w * 64, &word,
                               left < 64 ? left : 64);
        }
    }
    return set;
}

uint64_t gmem_nr_pfns(const struct gmem *gm)
{
    uint64_t end = 0;
    unsigned n = gmem_nr_regions(gm);
    for (unsigned i = 0; i < n; i++) {
        const struct gmem_region *r = &gm->region[i];
        uint64_t e = (r->gpa + r->size) >> GMEM_PAGE_SHIFT;
        if (e > end)
            end = e;
    }
    return end;
}

uint64_t dirty_count(const uint64_t *bitmap, uint64_t n)
{
    uint64_t c = 0;
    for (uint64_t w = 0; w < n / 64; w++)
        c += (uint64_t)__builtin_popcountll(bitmap[w]);
    if (n % 64)
        c += (uint64_t)__builtin_popcountll(bitmap[n / 64] &
                                            ((1ull << (n % 64)) - 1));
    return c;
}
