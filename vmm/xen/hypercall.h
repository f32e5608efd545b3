/*
 * Hypercall dispatch. A guest reaches us through the hypercall page, whose
 * stubs do `mov $nr,%eax; out %eax,$XEN_HYPERCALL_PORT; ret`; the vCPU loop
 * hands the exit here with the guest's registers.
 *
 * Handlers get their arguments already widened, read and write guest memory
 * only through guest_read()/guest_write() (guest-virtual addresses, checked
 * page by page), and return a value for RAX: >= 0 or a negative Xen errno.
 */
#ifndef XENON_HYPERCALL_H
#define XENON_HYPERCALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/hvm/hvm_vcpu.h>

#include "gva.h"
#include "platform.h"

struct domain;
struct vcpu;

/* The MSR a guest writes the hypercall page address to (CPUID 0x40000002). */
#define XEN_HYPERCALL_MSR 0x40000000u
/* The I/O port the hypercall page stubs use to reach the VMM. Chosen from
 * ports no PC device decodes; an 8-bit port so that `out %eax, $imm8`
 * leaves every argument register untouched. */
#define XEN_HYPERCALL_PORT 0x5e

#define XEN_VERSION_MAJOR 4
#define XEN_VERSION_MINOR 17

struct hcall {
    struct domain *d;
    struct vcpu *v;
    bool compat;                /* the guest called from 32-bit mode */
    struct paging paging;       /* the guest's MMU state at the call */
    uint64_t nr;
    uint64_t arg[5];
    bool preempted;             /* set by hcall_continue() */
};

/* The hypercall instruction: `out %eax, $XEN_HYPERCALL_PORT` (2 bytes),
 * in the hypercall page's stubs and in rerouted vmcall stubs alike. */
#define XEN_HYPERCALL_INSN_LEN 2

/* Leave the rest of a long hypercall to the guest, as Xen's
 * hypercall_create_continuation() does: the handler has updated h->arg[]
 * to the work that remains; the vCPU is put back on the hypercall
 * instruction with those arguments (RAX untouched, still the number), so
 * it re-issues the call. The domain lock is dropped between the pieces,
 * and no single exit does unbounded work. Returns 0 for the handler to
 * return (the guest sees no result until the last piece). */
long hcall_continue(struct hcall *h);

/* Copy to/from guest-virtual memory; 0 or -XEN_EFAULT. */
int guest_read(struct hcall *h, uint64_t gva, void *dst, size_t len);
int guest_write(struct hcall *h, uint64_t gva, const void *src, size_t len);

/* Run one hypercall; regs/sregs are the guest's at the exit. Writes the
 * result into regs->rax, or puts the vCPU back on the instruction for a
 * continuation when that is the 2-byte form above (checked in guest
 * memory); a continuation of any other form runs on in this call, d->lock
 * dropped and retaken between the pieces. Call with d->lock held. */
void hypercall_dispatch(struct vcpu *v, struct platform_regs *regs,
                        const struct platform_sregs *sregs);

/* Claim the hypercall port and the hypercall-page MSR (exits.h). Their
 * handlers take d->lock and run hypercall_dispatch() / fill the page. */
int hypercall_register_exits(struct domain *d);

/* Fill a hypercall page with our stubs. */
void hypercall_page_fill(uint8_t *page);

/* Log an unimplemented hypercall or sub-op once per domain. */
void hcall_log_enosys(struct hcall *h, const char *what, unsigned sub);

/* A guest frame that can show a Xen page (shared info, a grant frame):
 * page-aligned, below the placement limit, not one of the special pages.
 * xen_page_place() makes sure a page exists there (RAM is used in place,
 * a hole gets a fresh page); 0, -XEN_EINVAL or -XEN_ENOMEM. For
 * add_to_physmap and for loading saved state. */
bool xen_page_placeable(const struct domain *d, uint64_t gpa);
int xen_page_place(struct domain *d, uint64_t gpa);

/* Whether a guest may set this HVM param about itself (Xen's allow-list;
 * index < HVM_NR_PARAMS). The callback via's vector, derived from
 * HVM_PARAM_CALLBACK_IRQ as HVMOP_set_param does. */
bool hvm_param_guest_settable(uint32_t index);
uint8_t hvm_callback_vector_of(uint64_t callback_irq);

/* A VCPUOP_initialise context as Xen checks it: 0 or a negative Xen errno. */
long hvm_vcpu_context_check(const vcpu_hvm_context_t *c);

/* Handlers (hc_*.c). */
long hc_xen_version(struct hcall *h);
long hc_console_io(struct hcall *h);
long hc_memory_op(struct hcall *h);
long hc_hvm_op(struct hcall *h);
long hc_vcpu_op(struct hcall *h);
long hc_set_timer_op(struct hcall *h);
long hc_event_channel_op(struct hcall *h);
long hc_grant_table_op(struct hcall *h);
long hc_sched_op(struct hcall *h);

#endif
