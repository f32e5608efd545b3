#include "vcpu.h"
#include "exits.h"
#include "kvm.h"
#include "platform.h"
#include "shinfo.h"
#include "vm.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
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
    if (ioctl(v->pv->fd, KVM_GET_SREGS, &s) < 0)
        return -errno;
    s.cs = flat_seg(0x10, 0xb, false);
    s.ds = s.es = s.fs = s.gs = s.ss = flat_seg(0x18, 0x3, false);
    s.tr = (struct kvm_segment){ .base = 0, .limit = 0x67, .selector = 0x20,
                                 .type = 0xb, .present = 1 };
    s.cr0 = 0x11;       /* PE | ET */
    s.cr3 = 0;
    s.cr4 = 0;
    s.efer = 0;
    if (ioctl(v->pv->fd, KVM_SET_SREGS, &s) < 0)
        return -errno;
    struct kvm_regs r = { .rip = entry, .rbx = ebx, .rflags = 0x2 };
    return ioctl(v->pv->fd, KVM_SET_REGS, &r) < 0 ? -errno : 0;
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
    if (ioctl(v->pv->fd, KVM_GET_SREGS, &s) < 0)
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
    if (ioctl(v->pv->fd, KVM_SET_SREGS, &s) < 0 || ioctl(v->pv->fd, KVM_SET_REGS, &r) < 0)
        return -errno;
    struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
    return ioctl(v->pv->fd, KVM_SET_MP_STATE, &mp) < 0 ? -errno : 0;
}

/* --- kicks and bring-up ------------------------------------------------- */

static void kick_handler(int sig) { (void)sig; }

void platform_kick(struct vcpu *v)
{
    if (!v->pv || !v->pv->run)
        return;
    __atomic_store_n(&v->pv->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
    if (v->pv->thread_started)
        pthread_kill(v->pv->thread, KICK_SIGNAL);
}

bool platform_vcpu_started(const struct vcpu *v)
{
    return v->pv && v->pv->thread_started;
}

uint64_t platform_vcpu_cpu_ns(const struct vcpu *v)
{
    clockid_t cid;
    struct timespec ts;
    if (!platform_vcpu_started(v) || pthread_getcpuclockid(v->pv->thread, &cid) != 0 ||
        clock_gettime(cid, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- vCPU state for the Xen ABI (platform.h) --------------------------- */

/* KVM and platform.h order the general registers alike. */
_Static_assert(sizeof(struct platform_regs) == sizeof(struct kvm_regs) &&
               offsetof(struct platform_regs, rsp) == offsetof(struct kvm_regs, rsp) &&
               offsetof(struct platform_regs, r8) == offsetof(struct kvm_regs, r8) &&
               offsetof(struct platform_regs, rip) == offsetof(struct kvm_regs, rip) &&
               offsetof(struct platform_regs, rflags) == offsetof(struct kvm_regs, rflags),
               "platform_regs mirrors kvm_regs");

int platform_get_regs(struct vcpu *v, struct platform_regs *r)
{
    if (v->pv->in_exit) {
        memcpy(r, &v->pv->run->s.regs.regs, sizeof(*r));
        return 0;
    }
    struct kvm_regs k;
    if (ioctl(v->pv->fd, KVM_GET_REGS, &k) < 0)
        return -errno;
    memcpy(r, &k, sizeof(*r));
    return 0;
}

int platform_set_regs(struct vcpu *v, const struct platform_regs *r)
{
    if (v->pv->in_exit) {
        memcpy(&v->pv->run->s.regs.regs, r, sizeof(*r));
        v->pv->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
        return 0;
    }
    struct kvm_regs k;
    memcpy(&k, r, sizeof(k));
    return ioctl(v->pv->fd, KVM_SET_REGS, &k) < 0 ? -errno : 0;
}

int platform_get_sregs(struct vcpu *v, struct platform_sregs *out)
{
    struct kvm_sregs k;
    const struct kvm_sregs *s = &v->pv->run->s.regs.sregs;
    if (!v->pv->in_exit) {
        if (ioctl(v->pv->fd, KVM_GET_SREGS, &k) < 0)
            return -errno;
        s = &k;
    }
    *out = (struct platform_sregs){
        .cr0 = s->cr0, .cr2 = s->cr2, .cr3 = s->cr3, .cr4 = s->cr4,
        .efer = s->efer, .cs_selector = s->cs.selector, .cs_l = s->cs.l,
        .cs_base = s->cs.base, .cpl = s->ss.dpl & 3,
    };
    return 0;
}

int platform_get_msr(struct vcpu *v, uint32_t index, uint64_t *value)
{
    union {
        struct kvm_msrs hdr;
        uint8_t bytes[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
    } msrs;
    memset(&msrs, 0, sizeof(msrs));
    msrs.hdr.nmsrs = 1;
    msrs.hdr.entries[0].index = index;
    if (ioctl(v->pv->fd, KVM_GET_MSRS, &msrs) != 1)
        return errno ? -errno : -EINVAL;
    *value = msrs.hdr.entries[0].data;
    return 0;
}

int platform_tsc_khz(struct domain *d, uint64_t *khz)
{
    int r = ioctl(d->vcpu[0].pv->fd, KVM_GET_TSC_KHZ, 0);
    if (r <= 0)
        return r < 0 ? -errno : -EINVAL;
    *khz = (uint64_t)r;
    return 0;
}

int platform_translate(struct vcpu *v, uint64_t gva, bool write, uint64_t *gpa)
{
    struct kvm_translation tr = { .linear_address = gva };
    if (ioctl(v->pv->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
        return -EFAULT;
    if (write && !tr.writeable)
        return -EFAULT;
    *gpa = tr.physical_address;
    return 0;
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
    if (vm_lapic_takes_extint(v, v->pv->run->s.regs.sregs.apic_base)) {
        int rc = vm_queue_extint(v, vector);
        if (rc < 0 && rc != -EEXIST)     /* EEXIST: one is still queued */
            log_err("dom%u vcpu%u: KVM_INTERRUPT: %s", d->domid, v->id,
                    strerror(-rc));
    } else {
        platform_inject_vector(d, v->id, vector);
    }
}

void platform_raise_callback(struct vcpu *v)
{
    /* The vCPU's own thread asserts it before its next entry
     * (assert_callback()): KVM_INTERRUPT is a vCPU ioctl. */
    if (!v->pv)
        return;
    atomic_store(&v->pv->callback_due, true);
    if (!v->pv->thread_started || !pthread_equal(pthread_self(), v->pv->thread))
        platform_kick(v);
}

/* --- exits -------------------------------------------------------------- */

void vcpu_dump_registers(struct vcpu *v, const char *why)
{
    struct kvm_regs r;
    struct kvm_sregs s;
    if (ioctl(v->pv->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->pv->fd, KVM_GET_SREGS, &s) < 0) {
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
    struct kvm_run *run = v->pv->run;
    exits_port_io(&v->d->exits, v, run->io.port,
                  run->io.direction == KVM_EXIT_IO_OUT,
                  (uint8_t *)run + run->io.data_offset, run->io.size,
                  run->io.count);
}

static void handle_msr(struct vcpu *v, bool write)
{
    struct kvm_run *run = v->pv->run;
    uint64_t value = run->msr.data;
    bool ok = exits_msr(&v->d->exits, v, run->msr.index, write, &value);
    if (ok && !write)
        run->msr.data = value;
    run->msr.error = ok ? 0 : 1;    /* #GP unless handled */
}

static void handle_system_event(struct vcpu *v)
{
    switch (v->pv->run->system_event.type) {
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
    struct kvm_run *run = v->pv->run;
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

/* Wait while the vCPU is down, or the domain held or paused; apply a pending VCPUOP_up context. */
/* KVM finishes the instruction of an I/O exit (an OUT's %rip, an IN's
 * value into the register) only when KVM_RUN is entered again (api.rst,
 * the note on KVM_EXIT_IO and KVM_EXIT_MMIO). A vCPU that parks right
 * after one would leave that half-done state to a save: the next copy
 * would run the port write again, or read a stale register. Entered with
 * immediate_exit, KVM completes it and returns without running guest
 * code; a completion that needs userspace again (string I/O) is handled
 * as any exit. Without d->lock. */
static void complete_exit(struct vcpu *v)
{
    struct kvm_run *run = v->pv->run;
    for (unsigned i = 0; i < 64; i++) {
        run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
        __atomic_store_n(&run->immediate_exit, 1, __ATOMIC_SEQ_CST);
        v->pv->in_exit = false;
        int rc = ioctl(v->pv->fd, KVM_RUN, 0);
        __atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
        run->kvm_dirty_regs = 0;
        /* Done (EINTR): KVM applied the registers a handler left and
         * holds the state; it is read from KVM, not run->s.regs, from
         * here on. Another exit: handled as the loop handles one. */
        v->pv->in_exit = rc == 0;
        if (rc < 0)
            return;
        if (!handle_exit(v))
            return;
    }
}

static void park_if_needed(struct vcpu *v)
{
    struct domain *d = v->d;
    bool completed = false;
    pthread_mutex_lock(&d->lock);
    while ((v->down || pause_holds(&d->pause)) && !atomic_load(&d->stopping)) {
        if (v->pv->in_exit && !completed) {
            pthread_mutex_unlock(&d->lock);
            complete_exit(v);
            completed = true;
            pthread_mutex_lock(&d->lock);
            continue;
        }
        v->parked = true;
        pause_note_stopped(v);
        pthread_cond_wait(&v->wake, &d->lock);
    }
    v->parked = false;
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
        v->pv->run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
        if (atomic_exchange(&v->pv->callback_due, false))
            assert_callback(v);
        if (v->id == 0 && !v->pv->entered) {
            v->pv->entered = true;
            domain_trace_launch(d, "first-guest-entry");
        }
        v->pv->in_exit = false;
        int rc = ioctl(v->pv->fd, KVM_RUN, 0);
        v->pv->run->kvm_dirty_regs = 0;
        v->pv->in_exit = rc == 0;
        if (rc < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                __atomic_store_n(&v->pv->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
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
    pthread_mutex_lock(&d->lock);
    v->exited = true;
    pause_note_stopped(v);
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

int vcpus_start(struct domain *d)
{
    struct sigaction sa = { .sa_handler = kick_handler };
    sigemptyset(&sa.sa_mask);
    sigaction(KICK_SIGNAL, &sa, NULL);
    d->vcpu[0].up = true;
    pthread_attr_t attr;
    int rc = pthread_attr_init(&attr);
    if (rc != 0)
        return -rc;
    pthread_attr_setstacksize(&attr, VCPU_STACK_BYTES);
    for (unsigned i = 0; i < d->nr_vcpus; i++) {
        struct vcpu *v = &d->vcpu[i];
        rc = pthread_create(&v->pv->thread, &attr, vcpu_thread, v);
        if (rc != 0) {
            log_err("cannot start vCPU %u thread: %s", i, strerror(rc));
            pthread_attr_destroy(&attr);
            return -rc;
        }
        v->pv->thread_started = true;
    }
    pthread_attr_destroy(&attr);
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
        if (!v->pv->thread_started)
            continue;
        platform_kick(v);
        pthread_join(v->pv->thread, NULL);
        v->pv->thread_started = false;
    }
}
