#include "xen_test_env.h"
#include "grant_map.h"
#include "mem_platform.h"

#include <stdlib.h>
#include <string.h>

/* Any vector: with one set, each kick of a vCPU reaches the in-memory
 * platform's platform_raise_callback(), which counts it. */
#define TEST_CALLBACK_VECTOR 0xf3

unsigned test_kicks(struct domain *d, unsigned vcpu)
{
    return __atomic_load_n(&d->pvm->vcpu[vcpu].callbacks, __ATOMIC_SEQ_CST);
}

struct domain *test_domain_new(unsigned frames_placed)
{
    struct domain *d = calloc(1, sizeof(*d));
    if (!d)
        abort();
    domain_init(d, 1, 1);
    d->pvm = calloc(1, sizeof(*d->pvm));
    if (!d->pvm)
        abort();
    d->vcpu[0].pv = &d->pvm->vcpu[0];
    d->callback_vector = TEST_CALLBACK_VECTOR;
    if (gmem_init(&d->mem, TEST_RAM, 0) < 0 ||
        gmem_add_region(&d->mem, TEST_SHINFO_GPA,
                        (1 + TEST_GNTTAB_FRAMES) * GMEM_PAGE_SIZE,
                        GMEM_XEN_PAGE, NULL) < 0)
        abort();
    d->shinfo_gpa = TEST_SHINFO_GPA;
    gnttab_init(d, TEST_GNTTAB_FRAMES);
    for (unsigned i = 0; i < TEST_GNTTAB_FRAMES; i++) {
        if ((frames_placed & (1u << i)) &&
            gnttab_map_frame(d, i, TEST_GNTTAB_GPA + i * GMEM_PAGE_SIZE) < 0)
            abort();
    }
    return d;
}

void test_domain_free(struct domain *d)
{
    grant_mapper_fini(&d->grants);
    gmem_destroy(&d->mem);
    free(d->pvm);
    free(d);
}

grant_entry_v1_t *test_entry(struct domain *d, grant_ref_t ref)
{
    grant_entry_v1_t *e = gnttab_entry(d, ref);
    if (!e)
        abort();
    return e;
}

void test_grant(struct domain *d, grant_ref_t ref, uint16_t flags,
                domid_t domid, uint32_t frame)
{
    grant_entry_v1_t *e = test_entry(d, ref);
    e->frame = frame;
    e->domid = domid;
    __atomic_store_n(&e->flags, flags, __ATOMIC_RELEASE);
}
