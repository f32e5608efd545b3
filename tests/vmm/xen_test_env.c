#include "xen_test_env.h"
#include "vcpu.h"
#include "grant_map.h"

#include <stdlib.h>
#include <string.h>

unsigned test_kicks[MAX_VCPUS];

/* The platform: a kick wakes waiters and is counted; nothing runs. */
void vcpu_kick(struct vcpu *v)
{
    pthread_cond_broadcast(&v->d->event_cond);
    __atomic_add_fetch(&test_kicks[v->id], 1, __ATOMIC_SEQ_CST);
}

void vcpu_interrupt(struct vcpu *v)
{
    (void)v;
}

struct domain *test_domain_new(unsigned frames_placed)
{
    struct domain *d = calloc(1, sizeof(*d));
    if (!d)
        abort();
    domain_init(d, 1, 1);
    memset(test_kicks, 0, sizeof(test_kicks));
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
