/* hvm_op: parameters and event delivery set-up. */
#include "hypercall.h"
#include "domain.h"
#include "shinfo.h"

#include <xen/errno.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>

#include "log.h"

/* Xen's allow-lists: what a guest may set about itself, and what it may
 * read (all of that, plus where its rings are and the altp2m mode). */
bool hvm_param_guest_settable(uint32_t index)
{
    switch (index) {
    case HVM_PARAM_CALLBACK_IRQ:
    case HVM_PARAM_VM86_TSS:
    case HVM_PARAM_VM86_TSS_SIZED:
    case HVM_PARAM_ACPI_IOPORTS_LOCATION:
    case HVM_PARAM_VM_GENERATION_ID_ADDR:
    case HVM_PARAM_STORE_EVTCHN:
    case HVM_PARAM_CONSOLE_EVTCHN:
    case HVM_PARAM_X87_FIP_WIDTH:
        return true;
    default:
        return false;
    }
}

static bool guest_may_get(uint32_t index)
{
    return hvm_param_guest_settable(index) || index == HVM_PARAM_STORE_PFN ||
           index == HVM_PARAM_CONSOLE_PFN || index == HVM_PARAM_ALTP2M;
}

static bool deprecated(uint32_t index)
{
    switch (index) {
    case HVM_PARAM_PAE_ENABLED:
    case HVM_PARAM_DM_DOMAIN:
    case HVM_PARAM_MEMORY_EVENT_CR0:
    case HVM_PARAM_MEMORY_EVENT_CR3:
    case HVM_PARAM_MEMORY_EVENT_CR4:
    case HVM_PARAM_MEMORY_EVENT_INT3:
    case HVM_PARAM_NESTEDHVM:
    case HVM_PARAM_MEMORY_EVENT_SINGLE_STEP:
    case HVM_PARAM_BUFIOREQ_EVTCHN:
    case HVM_PARAM_MEMORY_EVENT_MSR:
        return true;
    default:
        return false;
    }
}

uint8_t hvm_callback_vector_of(uint64_t value)
{
    unsigned type = (unsigned)((value & HVM_PARAM_CALLBACK_IRQ_TYPE_MASK) >> 56);
    return type == HVM_PARAM_CALLBACK_TYPE_VECTOR ? (uint8_t)value : 0;
}

static void set_callback(struct hcall *h, uint64_t value)
{
    struct domain *d = h->d;
    unsigned type = (unsigned)((value & HVM_PARAM_CALLBACK_IRQ_TYPE_MASK) >> 56);
    d->callback_vector = hvm_callback_vector_of(value);
    if (type != HVM_PARAM_CALLBACK_TYPE_VECTOR && value != 0) {
        log_limited(LOG_WARN, "dom%u: callback via type %u is not supported; "
                    "use a vector callback", d->domid, type);
    }
    /* Xen latches the shared info layout from the caller's mode here. */
    d->shinfo_32bit = h->compat;
    /* Events already pending are delivered through the new callback
     * (hvm_set_callback_via() asserts every online vCPU's upcall). */
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        if (d->vcpu[i].up && !d->vcpu[i].down &&
            vcpu_upcall_pending(d, &d->vcpu[i]))
            vcpu_kick(&d->vcpu[i]);
}

static long param_op(struct hcall *h, bool set)
{
    struct xen_hvm_param p;
    if (guest_read(h, h->arg[1], &p, sizeof(p)))
        return -XEN_EFAULT;
    if (p.index >= HVM_NR_PARAMS)
        return -XEN_EINVAL;
    if (p.domid != DOMID_SELF && p.domid != h->d->domid)
        return -XEN_EPERM;
    if (deprecated(p.index))
        return -XEN_EINVAL;
    struct domain *d = h->d;
    if (set) {
        if (p.index == HVM_PARAM_ALTP2M)
            return -XEN_EEXIST;
        if (!hvm_param_guest_settable(p.index))
            return -XEN_EPERM;
        if (p.index == HVM_PARAM_CALLBACK_IRQ)
            set_callback(h, p.value);
        d->hvm_param[p.index] = p.value;
        return 0;
    }
    if (!guest_may_get(p.index))
        return -XEN_EPERM;
    p.value = d->hvm_param[p.index];
    return guest_write(h, h->arg[1], &p, sizeof(p)) ? -XEN_EFAULT : 0;
}

long hc_hvm_op(struct hcall *h)
{
    switch (h->arg[0]) {
    case HVMOP_set_param:
        return param_op(h, true);
    case HVMOP_get_param:
        return param_op(h, false);
    case HVMOP_set_evtchn_upcall_vector: {
        struct xen_hvm_evtchn_upcall_vector u;
        if (guest_read(h, h->arg[1], &u, sizeof(u)))
            return -XEN_EFAULT;
        if (u.vector < 0x10)
            return -XEN_EINVAL;
        if (u.vcpu >= h->d->nr_vcpus)
            return -XEN_ENOENT;
        struct vcpu *v = &h->d->vcpu[u.vcpu];
        v->upcall_vector = u.vector;
        /* As Xen: an upcall already pending is delivered at once. */
        if (vcpu_upcall_pending(h->d, v))
            vcpu_kick(v);
        return 0;
    }
    case HVMOP_get_time: {
        struct xen_hvm_get_time t = { .now = domain_system_time(h->d) };
        return guest_write(h, h->arg[1], &t, sizeof(t)) ? -XEN_EFAULT : 0;
    }
    case HVMOP_pagetable_dying:
        /* Only meaningful with shadow paging; KVM uses EPT/NPT. */
        return -XEN_EOPNOTSUPP;
    default:
        hcall_log_enosys(h, "hvm_op", (unsigned)h->arg[0]);
        return -XEN_ENOSYS;
    }
}
