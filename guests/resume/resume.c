/* resume: a guest that checks itself, round after round, so that a test
 * can save and restore it (xl save / xl restore) at any moment and see
 * from its console that everything came back: its memory, its vCPUs, its
 * event channels, its grant table and its timers, and that time did not
 * run backwards.
 *
 * vCPU 0 sets up an IPI port and VIRQ_TIMER (periodic, 5 ms) on the
 * callback vector, maps grant frame 0, brings up every other vCPU (each
 * counts in a loop around SCHEDOP_poll on its own IPI port, with a
 * timeout), and fills a buffer with a pattern. Then every 20 ms of system
 * time it runs one round: an IPI to itself must arrive, a GNTTABOP_copy
 * through a grant must copy, part of a page of the pattern must be
 * intact, and system and wall-clock time must not have gone backwards;
 * every 10th round also the periodic timer must have ticked and every AP
 * must have counted on and taken the IPIs sent to it (each waited for up
 * to 2 s: no check depends on the host's timing). Every 10th round it prints
 *     round N ok: vcpus V timer T
 * and any failure as "round N FAIL: what". Restored into a new domain it
 * notices its new domid (CPUID leaf 0x40000004), says "domid changed",
 * and grants to itself under it.
 *
 * Built with PV_CONTROL (guest-resume-pv) it is a guest with PV control as
 * Linux is: it announces control/feature-suspend, watches
 * control/shutdown, and on "suspend" acknowledges it and calls
 * SCHEDOP_shutdown(SHUTDOWN_suspend). It prints "suspend returned N".
 * 1 (cancelled: resumed in place, xl save -c) leaves everything as it
 * was. 0 (restored into a new domain, whose Xen state is fresh) makes it
 * do what Linux's resume does: map shared info again, bind its event
 * channels again (the APs too: each re-binds when it sees the new epoch),
 * set the callback and the periodic timer, map its grant frame and write
 * its grant again, and watch control/shutdown again. Never ends. Run with --vcpus
 * 1..8 (64-bit only: the APs start in long mode). */
#include "guest.h"
#include <stdbool.h>
#include "idt.h"
#ifdef PV_CONTROL
#include "xs.h"
#endif

#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/hvm_vcpu.h>
#include <xen/hvm/params.h>
#include <xen/memory.h>
#include <xen/sched.h>
#include <xen/vcpu.h>

#define VEC_CALLBACK 0xf2
#define MAX_APS 8
#define NR_TRACKED 64
#define WORD_BITS (sizeof(xen_ulong_t) * 8)
#define ROUND_NS 20000000ull
#define TICK_NS 5000000ull
#define AP_POLL_NS 2000000ull
#define PATTERN_PAGES 16

static volatile uint32_t port_hits[NR_TRACKED];
static volatile uint64_t ap_count[MAX_APS], ap_ipis[MAX_APS];
static volatile uint32_t ap_port[MAX_APS], ap_epoch[MAX_APS];
static volatile uint32_t epoch = 1;     /* bumped by each restore after a suspend */
static uint8_t ap_stack[MAX_APS][4096] __attribute__((aligned(16)));
static grant_entry_v1_t gnttab[512] __attribute__((aligned(4096)));
static uint8_t src_page[4096] __attribute__((aligned(4096)));
static uint8_t dst_page[4096] __attribute__((aligned(4096)));
static uint8_t pattern[PATTERN_PAGES][4096] __attribute__((aligned(4096)));

void ap_entry(void);
void ap_main(unsigned long id);
__asm__(".text\n.globl ap_entry\nap_entry:\n  call ap_main\n1: cli; hlt\n  jmp 1b\n");

static long vcpu_op(unsigned cmd, unsigned id, void *arg)
{
    return HYPERCALL3(__HYPERVISOR_vcpu_op, cmd, id, arg);
}

static void upcall(unsigned vector)
{
    (void)vector;
    volatile struct vcpu_info *vi = &shared_info->vcpu_info[0];
    vi->evtchn_upcall_pending = 0;
    xen_ulong_t sel = __atomic_exchange_n(&vi->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
    while (sel) {
        unsigned w = (unsigned)__builtin_ctzl(sel);
        sel &= sel - 1;
        xen_ulong_t bits = shared_info->evtchn_pending[w] & ~shared_info->evtchn_mask[w];
        while (bits) {
            unsigned b = (unsigned)__builtin_ctzl(bits);
            bits &= bits - 1;
            __atomic_fetch_and(&shared_info->evtchn_pending[w], ~((xen_ulong_t)1 << b),
                               __ATOMIC_SEQ_CST);
            unsigned port = w * WORD_BITS + b;
            if (port < NR_TRACKED)
                port_hits[port]++;
        }
    }
}

static int test_and_clear(unsigned port)
{
    xen_ulong_t bit = (xen_ulong_t)1 << (port % WORD_BITS);
    return (__atomic_fetch_and(&shared_info->evtchn_pending[port / WORD_BITS], ~bit,
                               __ATOMIC_SEQ_CST) & bit) != 0;
}

static void set_mask(unsigned port)
{
    __atomic_fetch_or(&shared_info->evtchn_mask[port / WORD_BITS],
                      (xen_ulong_t)1 << (port % WORD_BITS), __ATOMIC_SEQ_CST);
}

/* An AP: bind an IPI port to itself (masked: it is polled, not
 * delivered), then count, polling with a timeout between counts. */
static evtchn_port_t ap_bind(unsigned long id)
{
    struct evtchn_bind_ipi bi = { .vcpu = (uint32_t)id };
    if (evtchn_op(EVTCHNOP_bind_ipi, &bi) != 0)
        for (;;)
            HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_block, 0);
    set_mask(bi.port);
    ap_port[id] = bi.port;
    ap_epoch[id] = epoch;
    return bi.port;
}

void ap_main(unsigned long id)
{
    evtchn_port_t port = ap_bind(id);
    for (;;) {
        if (ap_epoch[id] != epoch)
            port = ap_bind(id);         /* a new domain: its ports are fresh */
        ap_count[id]++;
        struct sched_poll p = { .nr_ports = 1, .timeout = xen_system_time() + AP_POLL_NS };
        set_xen_guest_handle(p.ports, &port);
        HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_poll, &p);
        if (test_and_clear(port))
            ap_ipis[id]++;
    }
}

static void make_context(vcpu_hvm_context_t *ctx, unsigned id)
{
    memset(ctx, 0, sizeof(*ctx));
    unsigned long cr3;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    ctx->mode = VCPU_HVM_MODE_64B;
    struct vcpu_hvm_x86_64 *r = &ctx->cpu_regs.x86_64;
    r->rip = (uintptr_t)ap_entry;
    r->rsp = (uintptr_t)(ap_stack[id] + sizeof(ap_stack[id]));
    r->rdi = id;
    r->rflags = 0x2;
    r->cr0 = 0x80000011;
    r->cr3 = cr3;
    r->cr4 = 0x20;
    r->efer = 0x100;
}

static long send(unsigned port)
{
    struct evtchn_send s = { .port = port };
    return evtchn_op(EVTCHNOP_send, &s);
}

static int wait_until(volatile uint32_t *v, uint32_t before, uint64_t ns)
{
    uint64_t end = xen_system_time() + ns;
    while (*v == before && xen_system_time() < end)
        __asm__ volatile("pause");
    return *v != before;
}

static uint8_t pattern_byte(unsigned page, unsigned i)
{
    return (uint8_t)(page * 31 + i * 7 + (i >> 8));
}

static uint64_t wallclock_sec(void)
{
    uint32_t v;
    uint64_t s;
    do {
        v = shared_info->wc_version;
        __asm__ volatile("" ::: "memory");
        s = shared_info->wc_sec | ((uint64_t)shared_info->xen_wc_sec_hi << 32);
        __asm__ volatile("" ::: "memory");
    } while ((v & 1) || v != shared_info->wc_version);
    return s;
}

static unsigned ipi, timer;
static domid_t self;

/* What a fresh domain needs of the guest: shared info, its event
 * channels, the callback, the periodic timer, its grant. 0 or -1. */
static int xen_setup(void)
{
    uint32_t a, b, c, d;
    if (map_shared_info() != 0)
        return -1;
    cpuid(0x40000004, 0, &a, &b, &c, &d);
    self = (domid_t)c;

    struct evtchn_bind_ipi bi = { .vcpu = 0 };
    struct evtchn_bind_virq bv = { .virq = VIRQ_TIMER, .vcpu = 0 };
    struct xen_hvm_param cb = { .domid = DOMID_SELF, .index = HVM_PARAM_CALLBACK_IRQ,
                                .value = ((uint64_t)HVM_PARAM_CALLBACK_TYPE_VECTOR << 56) |
                                         VEC_CALLBACK };
    struct vcpu_set_periodic_timer pt = { .period_ns = TICK_NS };
    struct xen_add_to_physmap x = { .domid = DOMID_SELF, .space = XENMAPSPACE_grant_table,
                                    .idx = 0, .gpfn = (unsigned long)gnttab >> 12 };
    if (evtchn_op(EVTCHNOP_bind_ipi, &bi) || evtchn_op(EVTCHNOP_bind_virq, &bv) ||
        bi.port >= NR_TRACKED || bv.port >= NR_TRACKED ||
        HYPERCALL2(__HYPERVISOR_hvm_op, HVMOP_set_param, &cb) ||
        vcpu_op(VCPUOP_set_periodic_timer, 0, &pt) ||
        HYPERCALL2(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x))
        return -1;
    ipi = bi.port;
    timer = bv.port;
    gnttab[8] = (grant_entry_v1_t){ .flags = GTF_permit_access, .domid = self,
                                    .frame = (uint32_t)((unsigned long)dst_page >> 12) };
#ifdef PV_CONTROL
    if (xs_init() < 0 || xs_write("control/feature-suspend", "1") < 0 ||
        xs_watch("control/shutdown", "shutdown") < 0)
        return -1;
#endif
    return 0;
}

#ifdef PV_CONTROL
/* control/shutdown = "suspend": acknowledge, suspend, and carry on as
 * the hypercall's result says. */
static void maybe_suspend(unsigned long round)
{
    long rc = xs_suspend_if_asked();
    if (rc < 0)
        return;
    if (rc == 0) {
        /* A new domain: everything Xen held for us is gone. */
        epoch++;
        if (xen_setup() < 0) {
            printk("round %lu FAIL: set-up after resume\n", round);
            shutdown(SHUTDOWN_crash);
        }
    }
    printk("round %lu: suspend returned %ld\n", round, rc);
}
#endif

/* Reads this domain's id from CPUID leaf 0x40000004 (as Xen's HVM
 * leaves report it); on a change, re-points grant 8 at the new id and
 * says so. True if it changed. */
static bool refresh_domid(unsigned long round)
{
    uint32_t a, b, c, d;
    cpuid(0x40000004, 0, &a, &b, &c, &d);
    if ((domid_t)c == self)
        return false;
    printk("round %lu: domid changed %u -> %u\n", round, self, (unsigned)(domid_t)c);
    self = (domid_t)c;
    gnttab[8].domid = self;
    return true;
}

/* One GNTTABOP_copy of two bytes from src_page into our own grant 8
 * (dst_page), checked at the far end. */
static bool grant_copy_ok(unsigned off, unsigned long round)
{
    src_page[off] = (uint8_t)round;
    src_page[off + 1] = (uint8_t)(round >> 8);
    struct gnttab_copy op = {
        .source = { .u.gmfn = (unsigned long)src_page >> 12, .domid = DOMID_SELF,
                    .offset = (uint16_t)off },
        .dest = { .u.ref = 8, .domid = self, .offset = (uint16_t)(off + 100) },
        .len = 2, .flags = GNTCOPY_dest_gref,
    };
    return HYPERCALL3(__HYPERVISOR_grant_table_op, GNTTABOP_copy, &op, 1) == 0 &&
           op.status == GNTST_okay && dst_page[off + 100] == (uint8_t)round &&
           dst_page[off + 101] == (uint8_t)(round >> 8);
}

void guest_main(void)
{
    printk("resume guest (%d-bit)\n", GUEST_BITS);
    idt_init();
    idt_set_handler(VEC_CALLBACK, upcall);
    if (xen_setup() < 0) {
        printk("resume FAIL: set-up\n");
        shutdown(SHUTDOWN_crash);
    }
    for (unsigned p = 0; p < PATTERN_PAGES; p++)
        for (unsigned i = 0; i < 4096; i++)
            pattern[p][i] = pattern_byte(p, i);
    irq_enable();

    unsigned nr = 1;
    while (nr <= MAX_APS && vcpu_op(VCPUOP_is_up, nr, NULL) >= 0)
        nr++;
    for (unsigned id = 1; id < nr; id++) {
        vcpu_hvm_context_t ctx;
        make_context(&ctx, id);
        if (vcpu_op(VCPUOP_initialise, id, &ctx) || vcpu_op(VCPUOP_up, id, NULL)) {
            printk("resume FAIL: vCPU %u did not come up\n", id);
            shutdown(SHUTDOWN_crash);
        }
        uint64_t end = xen_system_time() + 5000000000ull;
        while (ap_epoch[id] != epoch && xen_system_time() < end)
            __asm__ volatile("pause");
    }
    printk("resume: %u vCPUs, IPI port %u, timer port %u\n", nr, ipi, timer);

    uint64_t last_count[MAX_APS] = { 0 }, last_ipis[MAX_APS] = { 0 };
    uint32_t last_ticks = port_hits[timer];
    uint64_t last_now = xen_system_time(), last_wc = wallclock_sec();
    uint64_t next = last_now + ROUND_NS;
    for (unsigned long round = 1;; round++) {
        while (xen_system_time() < next)
            __asm__ volatile("pause");
        next += ROUND_NS;
#ifdef PV_CONTROL
        uint32_t e0 = epoch;
        maybe_suspend(round);
        if (epoch != e0) {
            /* Wait for the APs to re-bind, then count afresh. */
            uint64_t end = xen_system_time() + 5000000000ull;
            for (unsigned id = 1; id < nr; id++)
                while (ap_epoch[id] != epoch && xen_system_time() < end)
                    __asm__ volatile("pause");
            last_ticks = port_hits[timer];
            next = xen_system_time() + ROUND_NS;
        }
#endif
        const char *bad = NULL;
        uint32_t h = port_hits[ipi];
        if (send(ipi) != 0 || !wait_until(&port_hits[ipi], h, 1000000000ull))
            bad = "IPI to vCPU 0 not delivered";
        /* Every 10th round (not every one: a loaded host may hold a vCPU
         * back for a while), wait up to 2 s for progress since the last. */
        uint32_t ticks = port_hits[timer];
        unsigned alive = 1;
        if (round % 10 == 0) {
            if (!bad && !wait_until(&port_hits[timer], last_ticks, 2000000000ull))
                bad = "periodic timer did not tick";
            ticks = last_ticks = port_hits[timer];
            for (unsigned id = 1; id < nr && !bad; id++) {
                uint64_t end = xen_system_time() + 2000000000ull;
                while ((ap_count[id] == last_count[id] || ap_ipis[id] == last_ipis[id]) &&
                       xen_system_time() < end) {
                    send(ap_port[id]);
                    __asm__ volatile("pause");
                }
                if (ap_count[id] == last_count[id])
                    bad = "an AP stopped counting";
                else if (ap_ipis[id] == last_ipis[id])
                    bad = "an AP did not take its IPI";
                else
                    alive++;
                last_count[id] = ap_count[id];
                last_ipis[id] = ap_ipis[id];
                send(ap_port[id]);
            }
        }
        /* Restored into a new domain, the guest has a new domid (as under
         * Xen): grants name the grantee by it. The domain may also move
         * between reading the domid and the copy; then the copy names the
         * old domid and fails, and one retry with the new one must pass. */
        refresh_domid(round);
        unsigned off = (unsigned)(round % 3000);
        if (!bad && !grant_copy_ok(off, round) && (!refresh_domid(round) || !grant_copy_ok(off, round)))
            bad = "grant copy failed";
        unsigned pg = (unsigned)(round % PATTERN_PAGES);
        for (unsigned i = (unsigned)(round % 64); i < 4096 && !bad; i += 64)
            if (pattern[pg][i] != pattern_byte(pg, i))
                bad = "memory pattern damaged";
        uint64_t now = xen_system_time(), wc = wallclock_sec();
        if (!bad && (now < last_now || wc < last_wc))
            bad = "time went backwards";
        last_now = now;
        last_wc = wc;
        if (bad)
            printk("round %lu FAIL: %s\n", round, bad);
        else if (round % 10 == 0)
            printk("round %lu ok: vcpus %u timer %u\n", round, alive, ticks);
    }
}
