/* grant_table_op: the guest's view of its own grant table, and copies. */
#include "hypercall.h"
#include "domain.h"
#include "compat32.h"

#include <string.h>
#include <xen/errno.h>
#include <xen/grant_table.h>

#include "log.h"

static long setup_table(struct hcall *h)
{
    struct domain *d = h->d;
    uint32_t dom, nr;
    uint64_t list;
    int16_t status = GNTST_okay;
    if (h->compat) {
        struct compat_gnttab_setup_table s;
        if (guest_read(h, h->arg[1], &s, sizeof(s)))
            return -XEN_EFAULT;
        dom = s.dom; nr = s.nr_frames; list = s.frame_list;
    } else {
        struct gnttab_setup_table s;
        if (guest_read(h, h->arg[1], &s, sizeof(s)))
            return -XEN_EFAULT;
        dom = s.dom; nr = s.nr_frames; list = (uintptr_t)s.frame_list.p;
    }
    if (!domain_is_self(h->d, dom)) {
        status = GNTST_permission_denied;
    } else if (nr > d->gnttab.max_frames) {
        status = GNTST_general_error;
    } else {
        if (nr > d->gnttab.nr_frames)
            d->gnttab.nr_frames = nr;
        size_t esz = h->compat ? 4 : 8;
        for (uint32_t i = 0; i < nr; i++) {
            uint64_t gpa = d->gnttab.frame_gpa[i];
            uint64_t gfn = gpa == NO_GPA ? ~0ull : gpa >> GMEM_PAGE_SHIFT;
            if (guest_write(h, list + i * esz, &gfn, esz))
                return -XEN_EFAULT;
        }
    }
    size_t off = offsetof(struct gnttab_setup_table, status);
    return guest_write(h, h->arg[1] + off, &status, sizeof(status)) ? -XEN_EFAULT : 0;
}

/* One GNTTABOP_copy endpoint: a page of ours by frame or by grant. */
static uint8_t *copy_end(struct hcall *h, bool gref, uint64_t u, uint32_t dom,
                         uint16_t offset, uint16_t len, bool write,
                         int16_t *status)
{
    struct domain *d = h->d;
    if (offset > GMEM_PAGE_SIZE || len > GMEM_PAGE_SIZE - offset) {
        *status = GNTST_bad_copy_arg;
        return NULL;
    }
    if (gref) {
        if (dom != d->domid) {
            /* Other domains' grants live in other processes. */
            *status = dom == DOMID_SELF ? GNTST_permission_denied
                                        : GNTST_bad_domain;
            return NULL;
        }
        uint8_t *p = gnttab_copy_resolve(d, (grant_ref_t)u, write,
                                         (domid_t)d->domid, status);
        return p ? p + offset : NULL;
    }
    if (!domain_is_self(h->d, dom)) {
        *status = GNTST_permission_denied;
        return NULL;
    }
    uint64_t gpa = u << GMEM_PAGE_SHIFT;
    if (u >= (1ull << 40) || !gmem_is_ram(&d->mem, gpa, GMEM_PAGE_SIZE)) {
        *status = GNTST_bad_page;
        return NULL;
    }
    *status = GNTST_okay;
    return (uint8_t *)gmem_ptr(&d->mem, gpa, GMEM_PAGE_SIZE) + offset;
}

/* Operations done per exit; the rest goes to a continuation. */
#define GNTTAB_OPS_PER_EXIT 128

static uint32_t batch(uint32_t count)
{
    return count < GNTTAB_OPS_PER_EXIT ? count : GNTTAB_OPS_PER_EXIT;
}

/* After the first `done` of `count` ops of size esz: continue with the
 * rest, or 0 when there is none. */
static long rest(struct hcall *h, uint32_t count, uint32_t done, size_t esz)
{
    if (done == count)
        return 0;
    h->arg[1] += (uint64_t)done * esz;
    h->arg[2] = count - done;
    return hcall_continue(h);
}

static long do_copy(struct hcall *h, uint32_t count)
{
    size_t esz = h->compat ? sizeof(struct compat_gnttab_copy)
                           : sizeof(struct gnttab_copy);
    uint32_t n = batch(count);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t at = h->arg[1] + (uint64_t)i * esz;
        uint64_t su, du;
        uint32_t sdom, ddom;
        uint16_t soff, doff, len, flags;
        size_t status_off;
        if (h->compat) {
            struct compat_gnttab_copy c;
            if (guest_read(h, at, &c, sizeof(c)))
                return -XEN_EFAULT;
            su = c.source.u; sdom = c.source.domid; soff = c.source.offset;
            du = c.dest.u; ddom = c.dest.domid; doff = c.dest.offset;
            len = c.len; flags = c.flags;
            status_off = offsetof(struct compat_gnttab_copy, status);
        } else {
            struct gnttab_copy c;
            if (guest_read(h, at, &c, sizeof(c)))
                return -XEN_EFAULT;
            su = (c.flags & GNTCOPY_source_gref) ? c.source.u.ref : c.source.u.gmfn;
            du = (c.flags & GNTCOPY_dest_gref) ? c.dest.u.ref : c.dest.u.gmfn;
            sdom = c.source.domid; soff = c.source.offset;
            ddom = c.dest.domid; doff = c.dest.offset;
            len = c.len; flags = c.flags;
            status_off = offsetof(struct gnttab_copy, status);
        }
        int16_t status;
        uint8_t *src = copy_end(h, flags & GNTCOPY_source_gref, su, sdom, soff,
                                len, false, &status);
        uint8_t *dst = src ? copy_end(h, flags & GNTCOPY_dest_gref, du, ddom,
                                      doff, len, true, &status) : NULL;
        if (src && dst)
            memmove(dst, src, len);
        if (guest_write(h, at + status_off, &status, sizeof(status)))
            return -XEN_EFAULT;
    }
    return rest(h, count, n, esz);
}

/* Mapping a grant into this guest's physical address space needs another
 * domain's memory (separate processes today): refuse per op, as Xen does
 * for a domain it cannot find. */
static long do_map(struct hcall *h, uint32_t count)
{
    uint32_t n = batch(count);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t at = h->arg[1] + (uint64_t)i * sizeof(struct gnttab_map_grant_ref);
        struct gnttab_map_grant_ref m;
        if (guest_read(h, at, &m, sizeof(m)))
            return -XEN_EFAULT;
        m.status = m.dom == h->d->domid ? GNTST_general_error : GNTST_bad_domain;
        if (m.status == GNTST_general_error)
            hcall_log_enosys(h, "grant map of own grants", 0);
        m.handle = ~0u;
        if (guest_write(h, at, &m, sizeof(m)))
            return -XEN_EFAULT;
    }
    return rest(h, count, n, sizeof(struct gnttab_map_grant_ref));
}

static long do_unmap(struct hcall *h, uint32_t count)
{
    uint32_t n = batch(count);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t at = h->arg[1] + (uint64_t)i * sizeof(struct gnttab_unmap_grant_ref);
        struct gnttab_unmap_grant_ref u;
        if (guest_read(h, at, &u, sizeof(u)))
            return -XEN_EFAULT;
        u.status = GNTST_bad_handle;    /* we never hand out a handle */
        if (guest_write(h, at, &u, sizeof(u)))
            return -XEN_EFAULT;
    }
    return rest(h, count, n, sizeof(struct gnttab_unmap_grant_ref));
}

long hc_grant_table_op(struct hcall *h)
{
    struct domain *d = h->d;
    uint32_t count = (uint32_t)h->arg[2];
    if ((int32_t)count < 0)
        return -XEN_EINVAL;
    switch (h->arg[0]) {
    case GNTTABOP_setup_table:
        if (count != 1)
            return -XEN_EINVAL;
        return setup_table(h);
    case GNTTABOP_dump_table: {
        struct gnttab_dump_table t;
        if (count != 1)
            return -XEN_EINVAL;
        if (guest_read(h, h->arg[1], &t, sizeof(t)))
            return -XEN_EFAULT;
        t.status = domain_is_self(h->d, t.dom) ? GNTST_okay : GNTST_permission_denied;
        if (t.status == GNTST_okay)
            log_limited(LOG_INFO, "dom%u: grant table: %u of %u frames", d->domid,
                        d->gnttab.nr_frames, d->gnttab.max_frames);
        return guest_write(h, h->arg[1], &t, sizeof(t)) ? -XEN_EFAULT : 0;
    }
    case GNTTABOP_query_size: {
        struct gnttab_query_size q;
        if (count != 1)
            return -XEN_EINVAL;
        if (guest_read(h, h->arg[1], &q, sizeof(q)))
            return -XEN_EFAULT;
        if (domain_is_self(h->d, q.dom)) {
            q.nr_frames = d->gnttab.nr_frames;
            q.max_nr_frames = d->gnttab.max_frames;
            q.status = GNTST_okay;
        } else {
            q.status = GNTST_permission_denied;
        }
        return guest_write(h, h->arg[1], &q, sizeof(q)) ? -XEN_EFAULT : 0;
    }
    case GNTTABOP_set_version: {
        struct gnttab_set_version v;
        if (count != 1)
            return -XEN_EINVAL;
        if (guest_read(h, h->arg[1], &v, sizeof(v)))
            return -XEN_EFAULT;
        long rc = 0;
        if (v.version != 1 && v.version != 2)
            rc = -XEN_EINVAL;
        else if (v.version == 2)
            rc = -XEN_ENOSYS;   /* as Xen with max_grant_version=1 */
        v.version = 1;
        if (guest_write(h, h->arg[1], &v, sizeof(v)))
            return -XEN_EFAULT;
        return rc;
    }
    case GNTTABOP_get_version: {
        struct gnttab_get_version v;
        if (count != 1)
            return -XEN_EINVAL;
        if (guest_read(h, h->arg[1], &v, sizeof(v)))
            return -XEN_EFAULT;
        if (!domain_is_self(h->d, v.dom))
            return -XEN_EPERM;
        v.version = 1;
        return guest_write(h, h->arg[1], &v, sizeof(v)) ? -XEN_EFAULT : 0;
    }
    case GNTTABOP_copy:
        return do_copy(h, count);
    case GNTTABOP_map_grant_ref:
        return do_map(h, count);
    case GNTTABOP_unmap_grant_ref:
        return do_unmap(h, count);
    default:
        hcall_log_enosys(h, "grant_table_op", (unsigned)h->arg[0]);
        return -XEN_ENOSYS;
    }
}
