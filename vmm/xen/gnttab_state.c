/*
 * Saving and loading the grant table (state/state.h). The entries live in
 * guest memory and travel with it; what is saved is what the VMM keeps:
 * the grant-table version, how many frames the table has, and where the
 * guest placed each of them (NO_GPA for a frame it never placed), and for
 * version 2 the status frames. Xenon serves version 1 only (gnttab.h), so
 * a record says 1 and has no status frames; a version-2 record is refused.
 *
 * The backends' mappings (grant_map.h: pins, GTF_reading/GTF_writing set
 * in entries, maptrack handles) point into this process and cannot
 * travel. A save happens with the backends quiesced; one that finds a
 * mapping still held is refused (-EBUSY) rather than writing a stream
 * whose entries carry flags no restored backend will ever clear. A load
 * into a domain whose backends hold mappings is refused the same way.
 *
 * Payload, version 1:
 *     uint32_t table_version     1
 *     uint32_t nr_frames         1 .. the restoring domain's max_frames
 *     uint32_t nr_status_frames  0 (version 1 has none)
 *     uint32_t pad               0
 *     uint64_t frame_gpa[nr_frames]         NO_GPA or a placeable page
 *     uint64_t status_gpa[nr_status_frames]
 */
#include "domain.h"
#include "gnttab.h"
#include "hypercall.h"
#include "state.h"

#include <errno.h>
#include <string.h>

struct gnttab_state_head {
    uint32_t table_version;
    uint32_t nr_frames;
    uint32_t nr_status_frames;
    uint32_t pad;
};
_Static_assert(sizeof(struct gnttab_state_head) == 16, "record layout");

static int gnttab_save(struct domain *d, struct state_buf *out)
{
    if (d->grants.nr_mapped)
        return -EBUSY;
    const struct gnttab *gt = &d->gnttab;
    struct gnttab_state_head h = { .table_version = 1, .nr_frames = gt->nr_frames };
    int rc = state_put(out, &h, sizeof(h));
    if (rc == 0)
        rc = state_put(out, gt->frame_gpa, gt->nr_frames * sizeof(uint64_t));
    return rc;
}

static int gnttab_load(struct domain *d, const uint8_t *p, size_t len)
{
    struct gnttab_state_head h;
    if (len < sizeof(h))
        return -EINVAL;
    memcpy(&h, p, sizeof(h));
    if (h.table_version != 1 || h.nr_status_frames != 0 || h.pad != 0 ||
        h.nr_frames == 0 || h.nr_frames > d->gnttab.max_frames ||
        len != sizeof(h) + (size_t)h.nr_frames * sizeof(uint64_t))
        return -EINVAL;
    if (d->grants.nr_mapped)
        return -EINVAL;
    uint64_t gpa[GNTTAB_DEFAULT_MAX_FRAMES];
    memcpy(gpa, p + sizeof(h), h.nr_frames * sizeof(uint64_t));
    for (unsigned i = 0; i < h.nr_frames; i++) {
        if (gpa[i] == NO_GPA)
            continue;
        /* One guest frame shows one Xen page. */
        if (!xen_page_placeable(d, gpa[i]) || gpa[i] == d->shinfo_gpa)
            return -EINVAL;
        for (unsigned j = 0; j < i; j++)
            if (gpa[j] == gpa[i])
                return -EINVAL;
    }
    /* Pages placed in holes come back as pages of their own; their
     * contents, like all of guest memory, travel separately. */
    for (unsigned i = 0; i < h.nr_frames; i++)
        if (gpa[i] != NO_GPA && xen_page_place(d, gpa[i]) < 0)
            return -ENOMEM;
    struct gnttab *gt = &d->gnttab;
    gt->nr_frames = h.nr_frames;
    for (unsigned i = 0; i < GNTTAB_DEFAULT_MAX_FRAMES; i++)
        gt->frame_gpa[i] = i < h.nr_frames ? gpa[i] : NO_GPA;
    return 0;
}

STATE_MODULE(gnttab_state) = {
    .name = "gnttab", .version = 1, .save = gnttab_save, .load = gnttab_load,
};
