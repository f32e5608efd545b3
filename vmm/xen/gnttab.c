#include "gnttab.h"
#include "dirty.h"
#include "domain.h"

#include <string.h>
#include <xen/errno.h>

void gnttab_init(struct domain *d, unsigned max_frames)
{
    struct gnttab *gt = &d->gnttab;
    gt->nr_frames = 1;
    gt->max_frames = max_frames > GNTTAB_DEFAULT_MAX_FRAMES
                         ? GNTTAB_DEFAULT_MAX_FRAMES : max_frames;
    for (unsigned i = 0; i < GNTTAB_DEFAULT_MAX_FRAMES; i++)
        gt->frame_gpa[i] = NO_GPA;
}

int gnttab_map_frame(struct domain *d, uint64_t idx, uint64_t gpa)
{
    struct gnttab *gt = &d->gnttab;
    if (idx >= gt->max_frames)
        return -XEN_EINVAL;
    uint8_t *dst = gmem_ptr(&d->mem, gpa, GMEM_PAGE_SIZE);
    if (!dst)
        return -XEN_EINVAL;
    uint64_t old = gt->frame_gpa[idx];
    if (old == gpa)
        return 0;
    /* The frame keeps its contents when it moves; a new frame is zero. */
    uint8_t *src = old == NO_GPA ? NULL : gmem_ptr(&d->mem, old, GMEM_PAGE_SIZE);
    if (src)
        memmove(dst, src, GMEM_PAGE_SIZE);
    else
        memset(dst, 0, GMEM_PAGE_SIZE);
    gmem_mark_dirty(&d->mem, gpa, GMEM_PAGE_SIZE);
    gt->frame_gpa[idx] = gpa;
    if (idx >= gt->nr_frames)
        gt->nr_frames = (unsigned)idx + 1;
    return 0;
}

unsigned gnttab_nr_entries(const struct domain *d)
{
    return d->gnttab.nr_frames * (unsigned)GNTTAB_ENTRIES_PER_FRAME;
}

uint64_t gnttab_entry_gpa(struct domain *d, grant_ref_t ref)
{
    struct gnttab *gt = &d->gnttab;
    uint64_t frame = ref / GNTTAB_ENTRIES_PER_FRAME;
    if (frame >= gt->nr_frames || gt->frame_gpa[frame] == NO_GPA)
        return NO_GPA;
    return gt->frame_gpa[frame] +
           (ref % GNTTAB_ENTRIES_PER_FRAME) * sizeof(grant_entry_v1_t);
}

grant_entry_v1_t *gnttab_entry(struct domain *d, grant_ref_t ref)
{
    uint64_t gpa = gnttab_entry_gpa(d, ref);
    if (gpa == NO_GPA)
        return NULL;
    return gmem_ptr(&d->mem, gpa, sizeof(grant_entry_v1_t));
}

/* Validate the entry for domain `by` and return the granted page. */
static void *resolve(struct domain *d, grant_ref_t ref, bool write,
                     domid_t by, int16_t *status, grant_entry_v1_t **out)
{
    grant_entry_v1_t *e = gnttab_entry(d, ref);
    if (!e) {
        *status = GNTST_bad_gntref;
        return NULL;
    }
    uint16_t flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
    domid_t dom = __atomic_load_n(&e->domid, __ATOMIC_ACQUIRE);
    uint32_t frame = __atomic_load_n(&e->frame, __ATOMIC_ACQUIRE);
    if ((flags & GTF_type_mask) != GTF_permit_access || dom != by ||
        (write && (flags & GTF_readonly))) {
        *status = GNTST_permission_denied;
        return NULL;
    }
    void *page = gmem_is_ram(&d->mem, (uint64_t)frame << GMEM_PAGE_SHIFT,
                             GMEM_PAGE_SIZE)
                     ? gmem_ptr(&d->mem, (uint64_t)frame << GMEM_PAGE_SHIFT,
                                GMEM_PAGE_SIZE)
                     : NULL;
    if (!page) {
        *status = GNTST_bad_page;
        return NULL;
    }
    *out = e;
    *status = GNTST_okay;
    return page;
}

void *gnttab_copy_resolve(struct domain *d, grant_ref_t ref, bool write,
                          domid_t by, int16_t *status)
{
    grant_entry_v1_t *e;
    return resolve(d, ref, write, by, status, &e);
}
