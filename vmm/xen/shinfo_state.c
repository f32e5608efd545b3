/*
 * Saving and loading where the guest's Xen pages sit and how events reach
 * it (state/state.h): the shared info frame and its latched layout, the
 * hypercall page, each vCPU's registered vcpu_info and upcall vector, and
 * the HVM params the VMM keeps (HVM_PARAM_CALLBACK_IRQ among them: the
 * callback vector is derived from it again on load, as HVMOP_set_param
 * does). The pages' contents are guest memory and travel with it.
 *
 * The time fields in shared info and vcpu_info (wallclock, pvclock) are
 * republished from the time base, which the "timer" module (timer_state.c)
 * saves with the timers it is the base of.
 *
 * Params the restoring VMM sets itself (where the console and xenstore
 * rings are, the contract's) are not the stream's to change: a record
 * must carry the restoring domain's own value for every param a guest may
 * not set about itself.
 *
 * Payload, version 1:
 *     uint64_t shinfo_gpa            NO_GPA or a placeable page, no grant frame
 *     uint64_t hypercall_page_gpa    NO_GPA or a page of RAM
 *     uint8_t  shinfo_32bit          0 or 1
 *     uint8_t  pad[3]                0
 *     uint32_t nr_vcpus              the restoring domain's
 *     uint64_t hvm_param[HVM_NR_PARAMS]
 *     then per vCPU: uint64_t vcpu_info_gpa (NO_GPA: its slot in shared
 *     info), uint8_t upcall_vector (0 or >= 0x10), uint8_t pad[7]
 */
#include "domain.h"
#include "hypercall.h"
#include "shinfo.h"
#include "state.h"

#include <errno.h>
#include <string.h>

struct shinfo_state_head {
    uint64_t shinfo_gpa;
    uint64_t hypercall_page_gpa;
    uint8_t shinfo_32bit;
    uint8_t pad[3];
    uint32_t nr_vcpus;
    uint64_t hvm_param[HVM_NR_PARAMS];
};
_Static_assert(sizeof(struct shinfo_state_head) == 24 + 8 * HVM_NR_PARAMS,
               "record layout");

struct shinfo_state_vcpu {
    uint64_t vcpu_info_gpa;
    uint8_t upcall_vector;
    uint8_t pad[7];
};
_Static_assert(sizeof(struct shinfo_state_vcpu) == 16, "record layout");

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static int shinfo_save(struct domain *d, struct state_buf *out)
{
    struct shinfo_state_head h = {
        .shinfo_gpa = d->shinfo_gpa, .hypercall_page_gpa = d->hypercall_page_gpa,
        .shinfo_32bit = d->shinfo_32bit, .nr_vcpus = d->nr_vcpus,
    };
    memcpy(h.hvm_param, d->hvm_param, sizeof(h.hvm_param));
    int rc = state_put(out, &h, sizeof(h));
    for (unsigned i = 0; i < d->nr_vcpus && rc == 0; i++) {
        struct shinfo_state_vcpu v = {
            .vcpu_info_gpa = d->vcpu[i].vcpu_info_gpa,
            .upcall_vector = d->vcpu[i].upcall_vector,
        };
        rc = state_put(out, &v, sizeof(v));
    }
    return rc;
}

/* As VCPUOP_register_vcpu_info checks it. */
static bool vcpu_info_ok(const struct domain *d, uint64_t gpa, bool compat)
{
    if (gpa == NO_GPA)
        return true;
    if (gpa > UINT64_MAX - sizeof(struct vcpu_info) ||
        (gpa >> GMEM_PAGE_SHIFT) !=
            ((gpa + sizeof(struct vcpu_info) - 1) >> GMEM_PAGE_SHIFT))
        return false;
    return gpa % (compat ? 4 : 8) == 0 &&
           gmem_is_ram(&d->mem, gpa, sizeof(struct vcpu_info));
}

static bool is_grant_frame(const struct domain *d, uint64_t gpa)
{
    for (unsigned i = 0; i < GNTTAB_DEFAULT_MAX_FRAMES; i++)
        if (d->gnttab.frame_gpa[i] == gpa)
            return true;
    return false;
}

static int shinfo_load(struct domain *d, const uint8_t *p, size_t len)
{
    struct shinfo_state_head h;
    if (len < sizeof(h))
        return -EINVAL;
    memcpy(&h, p, sizeof(h));
    if (h.nr_vcpus != d->nr_vcpus ||
        len != sizeof(h) + (size_t)h.nr_vcpus * sizeof(struct shinfo_state_vcpu))
        return -EINVAL;
    if (h.shinfo_32bit > 1 || !all_zero(h.pad, sizeof(h.pad)))
        return -EINVAL;
    if (h.shinfo_gpa != NO_GPA &&
        (!xen_page_placeable(d, h.shinfo_gpa) || is_grant_frame(d, h.shinfo_gpa)))
        return -EINVAL;
    if (h.hypercall_page_gpa != NO_GPA &&
        ((h.hypercall_page_gpa & (GMEM_PAGE_SIZE - 1)) ||
         !gmem_is_ram(&d->mem, h.hypercall_page_gpa, GMEM_PAGE_SIZE)))
        return -EINVAL;
    for (uint32_t i = 0; i < HVM_NR_PARAMS; i++)
        if (h.hvm_param[i] != d->hvm_param[i] && !hvm_param_guest_settable(i))
            return -EINVAL;
    struct shinfo_state_vcpu v[MAX_VCPUS];
    memcpy(v, p + sizeof(h), h.nr_vcpus * sizeof(v[0]));
    for (uint32_t i = 0; i < h.nr_vcpus; i++) {
        if (!vcpu_info_ok(d, v[i].vcpu_info_gpa, h.shinfo_32bit) ||
            (v[i].upcall_vector != 0 && v[i].upcall_vector < 0x10) ||
            !all_zero(v[i].pad, sizeof(v[i].pad)))
            return -EINVAL;
        /* Two vCPUs never share one vcpu_info. */
        for (uint32_t j = 0; j < i; j++)
            if (v[i].vcpu_info_gpa != NO_GPA &&
                v[j].vcpu_info_gpa == v[i].vcpu_info_gpa)
                return -EINVAL;
    }
    if (h.shinfo_gpa != NO_GPA && xen_page_place(d, h.shinfo_gpa) < 0)
        return -ENOMEM;

    d->shinfo_gpa = h.shinfo_gpa;
    d->hypercall_page_gpa = h.hypercall_page_gpa;
    d->shinfo_32bit = h.shinfo_32bit;
    memcpy(d->hvm_param, h.hvm_param, sizeof(d->hvm_param));
    d->callback_vector = hvm_callback_vector_of(d->hvm_param[HVM_PARAM_CALLBACK_IRQ]);
    for (uint32_t i = 0; i < h.nr_vcpus; i++) {
        d->vcpu[i].vcpu_info_gpa = v[i].vcpu_info_gpa;
        d->vcpu[i].upcall_vector = v[i].upcall_vector;
    }
    return 0;
}

STATE_MODULE(shinfo_state) = {
    .name = "shinfo", .version = 1, .save = shinfo_save, .load = shinfo_load,
};
