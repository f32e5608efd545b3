/* memory_op: the memory map and placing Xen-owned frames in the guest. */
#include "hypercall.h"
#include "domain.h"
#include "compat32.h"
#include "memmap.h"
#include "shinfo.h"
#include "platform.h"

#include <stdlib.h>
#include <string.h>
#include <xen/errno.h>
#include <xen/memory.h>

#include "log.h"

/* memory_op commands carry a continuation index above the low 6 bits
 * (Xen's MEMOP_EXTENT_SHIFT, defined only for the hypervisor build). */
#define MEMOP_CMD_BITS 6

/* Highest guest-physical address we let a guest place a frame at. */
#define MAX_PLACE_GPA (1ull << 40)

bool xen_page_placeable(const struct domain *d, uint64_t gpa)
{
    if (gpa & (GMEM_PAGE_SIZE - 1))
        return false;
    const struct gmem_region *r = gmem_find(&d->mem, gpa);
    if (r)
        return r->kind != GMEM_SPECIAL;
    return gpa < MAX_PLACE_GPA;
}

/* Make sure a page exists at gpa: guest RAM is used in place (the guest
 * gave that page up, as with Xen); a hole gets a fresh page. */
int xen_page_place(struct domain *d, uint64_t gpa)
{
    if (!xen_page_placeable(d, gpa))
        return -XEN_EINVAL;
    if (gmem_find(&d->mem, gpa))
        return 0;
    unsigned idx = gmem_nr_regions(&d->mem);
    int rc = gmem_add_region(&d->mem, gpa, GMEM_PAGE_SIZE, GMEM_XEN_PAGE, NULL);
    if (rc < 0)
        return -XEN_ENOMEM;
    if (platform_map_region(d, idx) < 0) {
        log_limited(LOG_ERR, "dom%u: cannot map a page at %#llx", d->domid,
                    (unsigned long long)gpa);
        return -XEN_ENOMEM;
    }
    return 0;
}

static long place_shared_info(struct domain *d, uint64_t gpa)
{
    uint8_t *dst = gmem_ptr(&d->mem, gpa, GMEM_PAGE_SIZE);
    if (!dst)
        return -XEN_EINVAL;
    if (d->shinfo_gpa == gpa)
        return 0;
    uint8_t *src = d->shinfo_gpa == NO_GPA ? NULL
                   : gmem_ptr(&d->mem, d->shinfo_gpa, GMEM_PAGE_SIZE);
    if (src) {
        memmove(dst, src, GMEM_PAGE_SIZE);
        d->shinfo_gpa = gpa;
        return 0;
    }
    memset(dst, 0, GMEM_PAGE_SIZE);
    d->shinfo_gpa = gpa;
    shinfo_update_time(d);
    evtchn_flush_early(d);
    return 0;
}

/* One guest frame shows one Xen page. As Xen's add_to_physmap unhooks the
 * Xen page a frame held before, the page there (shared info or another
 * grant frame) loses its place; placed again, it starts zeroed. */
static void unhook_xen_page(struct domain *d, uint64_t gpa, unsigned space,
                            uint64_t idx)
{
    if (space != XENMAPSPACE_shared_info && d->shinfo_gpa == gpa)
        d->shinfo_gpa = NO_GPA;
    for (unsigned i = 0; i < GNTTAB_DEFAULT_MAX_FRAMES; i++)
        if (d->gnttab.frame_gpa[i] == gpa &&
            (space != XENMAPSPACE_grant_table || i != idx))
            d->gnttab.frame_gpa[i] = NO_GPA;
}

static long add_to_physmap(struct hcall *h)
{
    uint32_t domid, space;
    uint64_t idx, gpfn;
    if (h->compat) {
        struct compat_add_to_physmap x;
        if (guest_read(h, h->arg[1], &x, sizeof(x)))
            return -XEN_EFAULT;
        domid = x.domid; space = x.space; idx = x.idx; gpfn = x.gpfn;
    } else {
        struct xen_add_to_physmap x;
        if (guest_read(h, h->arg[1], &x, sizeof(x)))
            return -XEN_EFAULT;
        domid = x.domid; space = x.space; idx = x.idx; gpfn = x.gpfn;
    }
    if (space == XENMAPSPACE_gmfn_foreign)
        return -XEN_ENOSYS;
    if (!domain_is_self(h->d, domid))
        return -XEN_EPERM;
    if (gpfn >= MAX_PLACE_GPA >> GMEM_PAGE_SHIFT)
        return -XEN_EINVAL;
    uint64_t gpa = gpfn << GMEM_PAGE_SHIFT;
    struct domain *d = h->d;

    switch (space) {
    case XENMAPSPACE_shared_info:
        if (idx != 0)
            return -XEN_EINVAL;
        break;
    case XENMAPSPACE_grant_table:
        if (idx & XENMAPIDX_grant_table_status)
            return -XEN_EINVAL;     /* status frames exist only in v2 */
        if (idx >= d->gnttab.max_frames)
            return -XEN_EINVAL;
        break;
    case XENMAPSPACE_gmfn:
    case XENMAPSPACE_gmfn_range:
        hcall_log_enosys(h, "add_to_physmap space", space);
        return -XEN_ENOSYS;
    default:
        return -XEN_EINVAL;
    }
    int rc = xen_page_place(d, gpa);
    if (rc < 0)
        return rc;
    unhook_xen_page(d, gpa, space, idx);
    if (space == XENMAPSPACE_shared_info)
        return place_shared_info(d, gpa);
    return gnttab_map_frame(d, idx, gpa);
}

static long memory_map(struct hcall *h)
{
    uint32_t nr;
    uint64_t buf;
    struct domain *d = h->d;
    if (h->compat) {
        struct compat_memory_map m;
        if (guest_read(h, h->arg[1], &m, sizeof(m)))
            return -XEN_EFAULT;
        nr = m.nr_entries; buf = m.buffer;
    } else {
        struct xen_memory_map m;
        if (guest_read(h, h->arg[1], &m, sizeof(m)))
            return -XEN_EFAULT;
        nr = m.nr_entries; buf = (uintptr_t)m.buffer.p;
    }
    if (nr > d->nr_e820)
        nr = d->nr_e820;
    if (guest_write(h, buf, d->e820, (size_t)nr * sizeof(d->e820[0])))
        return -XEN_EFAULT;
    /* nr_entries is the first field in both layouts. */
    return guest_write(h, h->arg[1], &nr, sizeof(nr)) ? -XEN_EFAULT : 0;
}

static long set_memory_map(struct hcall *h)
{
    uint32_t domid, nr;
    uint64_t buf;
    struct domain *d = h->d;
    if (h->compat) {
        struct compat_foreign_memory_map m;
        if (guest_read(h, h->arg[1], &m, sizeof(m)))
            return -XEN_EFAULT;
        domid = m.domid; nr = m.map.nr_entries; buf = m.map.buffer;
    } else {
        struct xen_foreign_memory_map m;
        if (guest_read(h, h->arg[1], &m, sizeof(m)))
            return -XEN_EFAULT;
        domid = m.domid; nr = m.map.nr_entries; buf = (uintptr_t)m.map.buffer.p;
    }
    if (!domain_is_self(h->d, domid))
        return -XEN_EPERM;
    if (nr > E820_MAX)
        return -XEN_EINVAL;
    /* Not a __thread array: 20 KiB of static TLS would be cleared, and so
     * made resident, in every thread of every domain. */
    struct xen_e820entry *tmp = malloc((nr ? nr : 1) * sizeof(*tmp));
    if (!tmp)
        return -XEN_ENOMEM;
    if (guest_read(h, buf, tmp, (size_t)nr * sizeof(tmp[0]))) {
        free(tmp);
        return -XEN_EFAULT;
    }
    memcpy(d->e820, tmp, (size_t)nr * sizeof(tmp[0]));
    d->nr_e820 = nr;
    free(tmp);
    return 0;
}

long hc_memory_op(struct hcall *h)
{
    unsigned cmd = (unsigned)(h->arg[0] & ((1u << MEMOP_CMD_BITS) - 1));
    struct domain *d = h->d;
    switch (cmd) {
    case XENMEM_add_to_physmap:
        return add_to_physmap(h);
    case XENMEM_memory_map:
        return memory_map(h);
    case XENMEM_set_memory_map:
        return set_memory_map(h);
    case XENMEM_current_reservation:
    case XENMEM_maximum_reservation: {
        domid_t dom;
        if (guest_read(h, h->arg[1], &dom, sizeof(dom)))
            return -XEN_EFAULT;
        if (!domain_is_self(h->d, dom))
            return -XEN_EPERM;
        return (long)(d->mem.ram_bytes >> GMEM_PAGE_SHIFT);
    }
    case XENMEM_maximum_gpfn: {
        uint64_t max = 0;
        for (unsigned i = 0; i < gmem_nr_regions(&d->mem); i++) {
            const struct gmem_region *r = &d->mem.region[i];
            uint64_t last = (r->gpa + r->size) / GMEM_PAGE_SIZE - 1;
            if (last > max)
                max = last;
        }
        return (long)max;
    }
    default:
        hcall_log_enosys(h, "memory_op", cmd);
        return -XEN_ENOSYS;
    }
}
