#include "vcpu.h"
#include "hypercall.h"
#include "shinfo.h"
#include "uart.h"
#include "vm.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <xen/hvm/hvm_vcpu.h>
#include <xen/sched.h>

#include "log.h"

#define KICK_SIGNAL SIGUSR1
#define MSR_EFER_LME (1u << 8)
#define MSR_EFER_LMA (1u << 10)

/* --- register set-up ---------------------------------------------------- */

static struct kvm_segment flat_seg(uint16_t sel, uint8_t type, bool code64)
{
    return (struct kvm_segment){
        .base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
        .present = 1, .dpl = 0, .db = code64 ? 0 : 1, .s = 1,
        .l = code64, .g = 1,
    };
}

int vcpu_set_pvh_entry(struct vcpu *v, uint32_t entry, uint32_t ebx)
{
    struct kvm_sregs s;
    if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
        return -errno;
    s.cs = flat_seg(0x10, 0xb, false);
    s.ds = s.es = s.fs = s.gs = s.ss = flat_seg(0x18, 0x3, false);
    s.tr = (struct kvm_segment){ .base = 0, .limit = 0x67, .selector = 0x20,
                                 .type = 0xb, .present = 1 };
    s.cr0 = 0x11;       /* PE | ET */
    s.cr3 = 0;
    s.cr4 = 0;
    s.efer = 0;
    if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0)
        return -errno;
    struct kvm_regs r = { .rip = entry, .rbx = ebx, .rflags = 0x2 };
    return ioctl(v->fd, KVM_SET_REGS, &r) < 0 ? -errno : 0;
}

int vcpu_set_linux64_entry(struct vcpu *v, uint64_t entry, uint64_t rsi,
                           uint64_t pml4_gpa, uint64_t gdt_gpa)
{
    struct kvm_sregs s;
    if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
        return -errno;
    s.cs = flat_seg(0x10, 0xb, true);
    s.ds = s.es = s.fs = s.gs = s.ss = flat_seg(0x18, 0x3, false);
    s.tr = (struct kvm_segment){ .limit = 0x67, .selector = 0x20, .type = 0xb,
                                 .present = 1 };
    s.gdt.base = gdt_gpa;
    s.gdt.limit = 4 * 8 - 1;
    s.cr0 = 0x80050033;     /* PG WP NE ET MP PE */
    s.cr3 = pml4_gpa;
    s.cr4 = 0x20;           /* PAE */
    s.efer = MSR_EFER_LME | MSR_EFER_LMA;
    if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0)
        return -errno;
    struct kvm_regs r = { .rip = entry, .rsi = rsi, .rflags = 0x2 };
    return ioctl(v->fd, KVM_SET_REGS, &r) < 0 ? -errno : 0;
}

/* Xen packs segment attributes as type:4 s:1 dpl:2 p:1 avl:1 l:1 db:1 g:1. */
static struct kvm_segment hvm_seg(uint32_t base, uint32_t limit, uint16_t ar,
                                  uint16_t sel)
{
    if (ar & 0x80)
        ar |= (ar & 0x10) ? 1 : 0;  /* present code/data: accessed, as Xen */
    return (struct kvm_segment){
        .base = base, .limit = limit, .selector = sel,
        .type = ar & 0xf, .s = (ar >> 4) & 1, .dpl = (ar >> 5) & 3,
        .present = (ar >> 7) & 1, .avl = (ar >> 8) & 1, .l = (ar >> 9) & 1,
        .db = (ar >> 10) & 1, .g = (ar >> 11) & 1,
        .unusable = !((ar >> 7) & 1),
    };
}

static int load_hvm_context(struct vcpu *v, const vcpu_hvm_context_t *c)
{
    struct kvm_sregs s;
    struct kvm_regs r;
    memset(&r, 0, sizeof(r));
    if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
        return -errno;
    if (c->mode == VCPU_HVM_MODE_32B) {
        const struct vcpu_hvm_x86_32 *x = &c->cpu_regs.x86_32;
        r = (struct kvm_regs){ .rax = x->eax, .rcx = x->ecx, .rdx = x->edx,
            .rbx = x->ebx, .rsp = x->esp, .rbp = x->ebp, .rsi = x->esi,
            .rdi = x->edi, .rip = x->eip, .rflags = x->eflags | 2 };
        s.cr0 = x->cr0; s.cr3 = x->cr3; s.cr4 = x->cr4; s.efer = x->efer;
        s.cs = hvm_seg(x->cs_base, x->cs_limit, x->cs_ar, 0x10);
        s.ds = hvm_seg(x->ds_base, x->ds_limit, x->ds_ar, 0x18);
        s.es = hvm_seg(x->es_base, x->es_limit, x->es_ar, 0x18);
        s.ss = hvm_seg(x->ss_base, x->ss_limit, x->ss_ar, 0x18);
        s.fs = s.gs = s.ds;
        /* Xen marks TR busy (VMX refuses an available TSS). */
        s.tr = hvm_seg(x->tr_base, x->tr_limit, x->tr_ar | 2, 0x20);
        if (!s.tr.present)
            s.tr = (struct kvm_segment){ .limit = 0x67, .selector = 0x20,
                                         .type = 0xb, .present = 1 };
    } else {
        const struct vcpu_hvm_x86_64 *x = &c->cpu_regs.x86_64;
        r = (struct kvm_regs){ .rax = x->rax, .rcx = x->rcx, .rdx = x->rdx,
            .rbx = x->rbx, .rsp = x->rsp, .rbp = x->rbp, .rsi = x->rsi,
            .rdi = x->rdi, .rip = x->rip, .rflags = x->rflags | 2 };
        s.cr0 = x->cr0; s.cr3 = x->cr3; s.cr4 = x->cr4;
        s.efer = x->efer | MSR_EFER_LMA;
        s.cs = flat_seg(0x10, 0xb, true);
        s.ds = s.es = s.fs = s.gs = s.ss = flat_seg(0x18, 0x3, false);
        s.tr = (struct kvm_segment){ .limit = 0x67, .selector = 0x20,
                                     .type = 0xb, .present = 1 };
    }
    if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0 || ioctl(v->fd, KVM_SET_REGS, &r) < 0)
        return -errno;
    struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
    return ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0 ? -errno : 0;
}

/* --- kicks and bring-up ------------------------------------------------- */

static void kick_handler(int sig) { (void)sig; }

void vcpu_interrupt(struct vcpu *v)
{
    if (!v->run)
        return;
    __atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
    if (v->thread_started)
        pthread_kill(v->thread, KICK_SIGNAL);
}

long vcpu_bring_up(struct vcpu *v)
{
    if (v->has_init_ctx)
        v->start_pending = true;
    v->up = true;
    v->down = false;
    pthread_cond_broadcast(&v->wake);
    vcpu_interrupt(v);
    return 0;
}

long vcpu_take_down(struct vcpu *v, struct vcpu *caller)
{
    v->down = true;
    if (v != caller)
        vcpu_interrupt(v);
    return 0;
}

void vcpu_kick(struct vcpu *v)
{
    struct domain *d = v->d;
    pthread_cond_broadcast(&d->event_cond);
    if (v->upcall_vector) {
        /* A LAPIC interrupt, as Xen's vlapic_set_irq(); the guest EOIs. */
        vm_inject_vector(d, v->id, v->upcall_vector);
    } else if (d->callback_vector) {
        /* The vCPU's own thread asserts it before its next entry
         * (assert_callback()): KVM_INTERRUPT is a vCPU ioctl. */
        atomic_store(&v->callback_due, true);
        if (!v->thread_started || !pthread_equal(pthread_self(), v->thread))
            vcpu_interrupt(v);
    }
}

/*
 * The global callback vector (HVM_PARAM_CALLBACK_IRQ type 2), as Xen
 * delivers it: injected by the hypervisor itself while the vCPU's
 * evtchn_upcall_pending is set (hvm_vcpu_has_pending_irq(), source
 * hvm_intsrc_vector), never through the local APIC, so it needs no EOI and
 * reaches a guest whose LAPIC is software-disabled (Mini-OS never enables
 * its LAPIC; a LAPIC MSI would be dropped there). KVM's way in past the
 * LAPIC is an external interrupt, which it lets through while LVT0 is in
 * ExtINT mode (vCPU 0's reset state) or the LAPIC is off. A guest that
 * masked LVT0 has programmed its LAPIC; it gets a LAPIC MSI instead.
 */
static void assert_callback(struct vcpu *v)
{
    struct domain *d = v->d;
    pthread_mutex_lock(&d->lock);
    uint8_t vector = v->upcall_vector ? 0 : d->callback_vector;
    bool pending = vector && d->shinfo_gpa != NO_GPA && vcpu_upcall_pending(d, v);
    pthread_mutex_unlock(&d->lock);
    if (!pending)
        return;
    if (vm_lapic_takes_extint(v, v->run->s.regs.sregs.apic_base)) {
        int rc = vm_queue_extint(v, vector);
        if (rc < 0 && rc != -EEXIST)     /* EEXIST: one is still queued */
            log_err("dom%u vcpu%u: KVM_INTERRUPT: %s", d->domid, v->id,
                    strerror(-rc));
    } else {
        vm_inject_vector(d, v->id, vector);
    }
}

/* --- exits -------------------------------------------------------------- */

void vcpu_dump_registers(struct vcpu *v, const char *why)
{
    struct kvm_regs r;
    struct kvm_sregs s;
    if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
        log_err("dom%u vcpu%u: %s (registers unavailable)", v->d->domid, v->id, why);
        return;
    }
    log_err("dom%u vcpu%u: %s: rip=%#llx rsp=%#llx rflags=%#llx "
            "rax=%#llx rbx=%#llx rcx=%#llx rdx=%#llx rsi=%#llx rdi=%#llx "
            "cr0=%#llx cr2=%#llx cr3=%#llx cr4=%#llx efer=%#llx cs=%#x(l=%u)",
            v->d->domid, v->id, why, r.rip, r.rsp, r.rflags, r.rax, r.rbx,
            r.rcx, r.rdx, r.rsi, r.rdi, s.cr0, s.cr2, s.cr3, s.cr4, s.efer,
            s.cs.selector, s.cs.l);
}

static void crash(struct vcpu *v, const char *why)
{
    vcpu_dump_registers(v, why);
    domain_shutdown(v->d, SHUTDOWN_crash);
}

static void handle_io(struct vcpu *v)
{
    struct kvm_run *run = v->run;
    struct domain *d = v->d;
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    bool out = run->io.direction == KVM_EXIT_IO_OUT;
    uint16_t port = run->io.port;

    if (port == XEN_HYPERCALL_PORT && out && run->io.size == 4 &&
        run->io.count == 1) {
        pthread_mutex_lock(&d->lock);
        hypercall_dispatch(v, &run->s.regs.regs, &run->s.regs.sregs);
        pthread_mutex_unlock(&d->lock);
        run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
        return;
    }
    for (uint32_t i = 0; i < run->io.count; i++) {
        uint8_t *p = data + (size_t)i * run->io.size;
        if (port >= UART_BASE && port < UART_BASE + 8) {
            uart_io(d, port - UART_BASE, out, p, run->io.size);
        } else if (port == 0xe9) {
            if (out)
                uart_sink_write(d, (char *)p, 1);
            else
                memset(p, 0xe9, run->io.size);
        } else if (!out) {
            memset(p, 0xff, run->io.size);  /* nothing decodes this port */
        }
    }
}

static void handle_msr(struct vcpu *v, bool write)
{
    struct kvm_run *run = v->run;
    struct domain *d = v->d;
    run->msr.error = 1;             /* #GP unless handled */
    if (run->msr.index != XEN_HYPERCALL_MSR || !write)
        return;
    uint64_t gpa = run->msr.data & ~0xfffull;
    if ((run->msr.data & 0xfff) != 0)
        return;                     /* we provide one page: index 0 */
    pthread_mutex_lock(&d->lock);
    uint8_t *page = gmem_is_ram(&d->mem, gpa, GMEM_PAGE_SIZE)
                        ? gmem_ptr(&d->mem, gpa, GMEM_PAGE_SIZE) : NULL;
    if (page) {
        hypercall_page_fill(page);
        d->hypercall_page_gpa = gpa;
        /* Xen latches the shared info layout from the guest's mode here. */
        struct kvm_sregs s;
        if (ioctl(v->fd, KVM_GET_SREGS, &s) == 0)
            d->shinfo_32bit = !((s.efer & MSR_EFER_LMA) && s.cs.l);
        run->msr.error = 0;
    }
    pthread_mutex_unlock(&d->lock);
}

static void handle_system_event(struct vcpu *v)
{
    switch (v->run->system_event.type) {
    case KVM_SYSTEM_EVENT_SHUTDOWN:
        domain_shutdown(v->d, SHUTDOWN_poweroff);
        break;
    case KVM_SYSTEM_EVENT_RESET:
        domain_shutdown(v->d, SHUTDOWN_reboot);
        break;
    default:
        crash(v, "system event crash");
        break;
    }
}

/* One exit; false ends the loop. */
static bool handle_exit(struct vcpu *v)
{
    struct kvm_run *run = v->run;
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        handle_io(v);
        return true;
    case KVM_EXIT_MMIO:
        if (!run->mmio.is_write)
            memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
        return true;
    case KVM_EXIT_X86_WRMSR:
        handle_msr(v, true);
        return true;
    case KVM_EXIT_X86_RDMSR:
        handle_msr(v, false);
        return true;
    case KVM_EXIT_HLT:
    case KVM_EXIT_INTR:
    case KVM_EXIT_IRQ_WINDOW_OPEN:
        return true;
    case KVM_EXIT_SHUTDOWN:
        crash(v, "triple fault");
        return false;
    case KVM_EXIT_SYSTEM_EVENT:
        handle_system_event(v);
        return false;
    case KVM_EXIT_INTERNAL_ERROR: {
        char why[96];
        snprintf(why, sizeof(why), "KVM internal error, suberror %u",
                 run->internal.suberror);
        crash(v, why);
        return false;
    }
    case KVM_EXIT_FAIL_ENTRY:
        crash(v, "VM entry failed");
        return false;
    default: {
        char why[64];
        snprintf(why, sizeof(why), "unexpected KVM exit %u", run->exit_reason);
        crash(v, why);
        return false;
    }
    }
}

/* Wait while the vCPU is down; apply a pending VCPUOP_up context. */
static void park_if_needed(struct vcpu *v)
{
    struct domain *d = v->d;
    pthread_mutex_lock(&d->lock);
    while (v->down && !atomic_load(&d->stopping))
        pthread_cond_wait(&v->wake, &d->lock);
    if (v->start_pending) {
        v->start_pending = false;
        v->has_init_ctx = false;
        if (load_hvm_context(v, &v->init_ctx) < 0)
            log_err("dom%u vcpu%u: cannot load start context", d->domid, v->id);
    }
    pthread_mutex_unlock(&d->lock);
}

static void *vcpu_thread(void *arg)
{
    struct vcpu *v = arg;
    struct domain *d = v->d;
    sigset_t set;
    sigfillset(&set);
    sigdelset(&set, KICK_SIGNAL);
    pthread_sigmask(SIG_SETMASK, &set, NULL);

    while (!atomic_load(&d->stopping)) {
        park_if_needed(v);
        if (atomic_load(&d->stopping))
            break;
        v->run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
        if (atomic_exchange(&v->callback_due, false))
            assert_callback(v);
        if (v->id == 0 && !v->entered) {
            v->entered = true;
            domain_trace_launch(d, "first-guest-entry");
        }
        int rc = ioctl(v->fd, KVM_RUN, 0);
        v->run->kvm_dirty_regs = 0;
        if (rc < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                __atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
                continue;
            }
            char why[96];
            snprintf(why, sizeof(why), "KVM_RUN failed: %s", strerror(errno));
            crash(v, why);
            break;
        }
        if (!handle_exit(v))
            break;
    }
    return NULL;
}

int vcpus_start(struct domain *d)
{
    struct sigaction sa = { .sa_handler = kick_handler };
    sigemptyset(&sa.sa_mask);
    sigaction(KICK_SIGNAL, &sa, NULL);
    d->vcpu[0].up = true;
    for (unsigned i = 0; i < d->nr_vcpus; i++) {
        struct vcpu *v = &d->vcpu[i];
        int rc = pthread_create(&v->thread, NULL, vcpu_thread, v);
        if (rc != 0) {
            log_err("cannot start vCPU %u thread: %s", i, strerror(rc));
            return -rc;
        }
        v->thread_started = true;
    }
    return 0;
}

void vcpus_stop(struct domain *d)
{
    atomic_store(&d->stopping, true);
    pthread_mutex_lock(&d->lock);
    pthread_cond_broadcast(&d->event_cond);
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        pthread_cond_broadcast(&d->vcpu[i].wake);
    pthread_mutex_unlock(&d->lock);
    for (unsigned i = 0; i < d->nr_vcpus; i++) {
        struct vcpu *v = &d->vcpu[i];
        if (!v->thread_started)
            continue;
        vcpu_interrupt(v);
        pthread_join(v->thread, NULL);
        v->thread_started = false;
    }
}
