/* smp: bring up vCPU 1 the Xen way (VCPUOP_initialise with a
 * vcpu_hvm_context, then VCPUOP_up) and check the vcpu_op semantics around
 * it: is_up before/after, -EINVAL for up before initialise, -EEXIST for a
 * second initialise, -ENOENT past the last vCPU, an IPI event channel seen
 * by the AP in shared info, the AP taking itself down, and VCPUOP_up
 * resuming it where it stopped. Run with --vcpus 2 or more.
 *
 * The AP prints nothing (the console ring is not shared safely); it leaves
 * what it saw in variables for the BSP to check. */
#include "guest.h"
#include "idt.h"

#include <xen/arch-x86/cpuid.h>
#include <xen/errno.h>
#include <xen/event_channel.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/hvm_vcpu.h>
#include <xen/sched.h>
#include <xen/vcpu.h>

#define AP_MAGIC 0x5eed1234u
#define AP_VECTOR 0xf3
#define WORD_BITS (sizeof(xen_ulong_t) * 8)

/* Written by the AP, read by the BSP. */
static volatile uint32_t ap_alive, ap_magic, ap_id, ap_cpuid_eax, ap_cpuid_ebx;
static volatile long ap_is_up_rc = -1;
static volatile uint32_t ap_saw_pending, ap_saw_sel, ap_saw_upcall;
static volatile uint32_t ap_done, ap_resumed;
static volatile uint32_t ap_apic_id, ap_irq_ready, ap_irq_done, ap_irq_hits;
static volatile uint32_t ap_irq_port_seen, ap_irq_vector;
static volatile long ap_set_vector_rc = -1;
/* Written by the BSP. */
static volatile uint32_t ipi_port;

static uint8_t ap_stack[8192] __attribute__((aligned(16)));

void ap_entry(void);
void ap_main(unsigned long magic, unsigned long id);

#if GUEST_BITS == 64
/* RDI = magic, RSI = id from the start context: ap_main's arguments. */
__asm__(".text\n.globl ap_entry\nap_entry:\n"
        "  call ap_main\n"
        "1: cli; hlt\n  jmp 1b\n");
#else
__asm__(".text\n.globl ap_entry\nap_entry:\n"
        "  push %ebx\n  push %eax\n"
        "  call ap_main\n"
        "1: cli; hlt\n  jmp 1b\n");
#endif

static long vcpu_op(unsigned cmd, unsigned id, void *arg)
{
    return HYPERCALL3(__HYPERVISOR_vcpu_op, cmd, id, arg);
}

static int test_bit(volatile const xen_ulong_t *map, unsigned bit)
{
    unsigned w = sizeof(xen_ulong_t) * 8;
    return (map[bit / w] >> (bit % w)) & 1;
}

/* TSC ticks per millisecond, from Xen's CPUID time leaf. */
static uint64_t tsc_per_ms(void)
{
    uint32_t a, b, c, d;
    cpuid(0x40000003, 0, &a, &b, &c, &d);
    return c ? c : 1000000;         /* ECX = TSC kHz */
}

/* vCPU 1's upcall handler: scan its selector for the IPI port, EOI. */
static void ap_upcall(unsigned vector)
{
    volatile struct vcpu_info *vi = &shared_info->vcpu_info[1];
    uint32_t p = ipi_port;
    ap_irq_vector = vector;
    vi->evtchn_upcall_pending = 0;
    xen_ulong_t sel = __atomic_exchange_n(&vi->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
    xen_ulong_t bit = (xen_ulong_t)1 << (p % WORD_BITS);
    if (((sel >> (p / WORD_BITS)) & 1) &&
        (__atomic_fetch_and(&shared_info->evtchn_pending[p / WORD_BITS], ~bit,
                            __ATOMIC_SEQ_CST) & bit))
        ap_irq_port_seen = 1;
    ap_irq_hits++;
    lapic_eoi();
}

/* Take one IPI by interrupt: per-vCPU upcall vector on our own LAPIC. */
static void ap_interrupts(unsigned id)
{
    idt_load();
    lapic_enable();
    ap_apic_id = lapic_read(LAPIC_ID) >> 24;
    struct xen_hvm_evtchn_upcall_vector u = { .vcpu = id, .vector = AP_VECTOR };
    ap_set_vector_rc = HYPERCALL2(__HYPERVISOR_hvm_op, HVMOP_set_evtchn_upcall_vector, &u);
    irq_enable();
    ap_irq_ready = 1;
    uint64_t limit = 2000 * tsc_per_ms(), t0 = rdtsc();
    while (!ap_irq_hits && rdtsc() - t0 < limit)
        __asm__ volatile("pause");
    irq_disable();
    ap_irq_done = 1;
}

void ap_main(unsigned long magic, unsigned long id)
{
    uint32_t a, b, c, d;
    ap_magic = (uint32_t)magic;
    ap_id = (uint32_t)id;
    cpuid(0x40000004, 0, &a, &b, &c, &d);
    ap_cpuid_eax = a;
    ap_cpuid_ebx = b;
    ap_is_up_rc = vcpu_op(VCPUOP_is_up, (unsigned)id, NULL);
    __asm__ volatile("" ::: "memory");
    ap_alive = 1;

    /* Poll shared info for the IPI the BSP sends us. */
    uint64_t limit = 2000 * tsc_per_ms(), t0 = rdtsc();
    volatile struct vcpu_info *vi = &shared_info->vcpu_info[id];
    while (rdtsc() - t0 < limit) {
        uint32_t p = ipi_port;
        if (p && test_bit(shared_info->evtchn_pending, p)) {
            ap_saw_pending = 1;
            ap_saw_sel = (vi->evtchn_pending_sel >> (p / (sizeof(xen_ulong_t) * 8))) & 1;
            ap_saw_upcall = vi->evtchn_upcall_pending;
            vi->evtchn_upcall_pending = 0;
            __atomic_fetch_and(&vi->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
            __atomic_fetch_and(&shared_info->evtchn_pending[p / (sizeof(xen_ulong_t) * 8)],
                               ~((xen_ulong_t)1 << (p % (sizeof(xen_ulong_t) * 8))),
                               __ATOMIC_SEQ_CST);
            break;
        }
        __asm__ volatile("pause");
    }
    ap_done = 1;
    ap_interrupts((unsigned)id);
    vcpu_op(VCPUOP_down, (unsigned)id, NULL);
    /* Only reached when the BSP brings us up again. */
    ap_resumed = 1;
}

/* Wait up to ms for *flag, yielding to the other vCPUs. */
static int wait_flag(volatile uint32_t *flag, unsigned ms)
{
    uint64_t limit = ms * tsc_per_ms(), t0 = rdtsc();
    while (!*flag && rdtsc() - t0 < limit)
        HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_yield, 0);
    return *flag != 0;
}

static int wait_is_up(unsigned id, long want, unsigned ms)
{
    uint64_t limit = ms * tsc_per_ms(), t0 = rdtsc();
    long rc;
    while ((rc = vcpu_op(VCPUOP_is_up, id, NULL)) != want && rdtsc() - t0 < limit)
        HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_yield, 0);
    return rc == want;
}

static void make_context(vcpu_hvm_context_t *ctx, unsigned id)
{
    memset(ctx, 0, sizeof(*ctx));
    uintptr_t sp = (uintptr_t)(ap_stack + sizeof(ap_stack));
#if GUEST_BITS == 64
    unsigned long cr3;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    ctx->mode = VCPU_HVM_MODE_64B;
    struct vcpu_hvm_x86_64 *r = &ctx->cpu_regs.x86_64;
    r->rip = (uintptr_t)ap_entry;
    r->rsp = sp;
    r->rdi = AP_MAGIC;
    r->rsi = id;
    r->rflags = 0x2;
    r->cr0 = 0x80000011;            /* PG | ET | PE */
    r->cr3 = cr3;                   /* the boot page tables (entry64.S) */
    r->cr4 = 0x20;                  /* PAE */
    r->efer = 0x100;                /* LME (Xen adds LMA) */
#else
    ctx->mode = VCPU_HVM_MODE_32B;
    struct vcpu_hvm_x86_32 *r = &ctx->cpu_regs.x86_32;
    r->eip = (uintptr_t)ap_entry;
    r->esp = sp;
    r->eax = AP_MAGIC;
    r->ebx = id;
    r->eflags = 0x2;
    r->cr0 = 0x11;                  /* ET | PE, paging off */
    r->cs_limit = r->ds_limit = r->ss_limit = r->es_limit = 0xffffffff;
    r->cs_ar = 0xc9b;               /* code, present, 32-bit, 4 KiB gran. */
    r->ds_ar = r->ss_ar = r->es_ar = 0xc93;
    r->tr_limit = 0x67;
    r->tr_ar = 0x8b;                /* busy 32-bit TSS */
#endif
}

void guest_main(void)
{
    printk("smp guest (%d-bit)\n", GUEST_BITS);
    CHECK_EQ("map_shared_info", map_shared_info(), 0);
    idt_init();                     /* the AP loads it; we keep IF=0 */
    idt_set_handler(AP_VECTOR, ap_upcall);

    /* How many vCPUs: is_up answers -ENOENT past the last one. */
    unsigned nr = 0;
    while (nr < 256 && vcpu_op(VCPUOP_is_up, nr, NULL) != -XEN_ENOENT)
        nr++;
    printk("%u vCPUs\n", nr);
    if (nr < 2) {
        check("at least 2 vCPUs", 0, "got %u; run with --vcpus 2", nr);
        finish("smp");
    }
    CHECK_EQ("is_up(0)", vcpu_op(VCPUOP_is_up, 0, NULL), 1);
    CHECK_EQ("is_up(1) before initialise", vcpu_op(VCPUOP_is_up, 1, NULL), 0);
    CHECK_EQ("up(1) before initialise", vcpu_op(VCPUOP_up, 1, NULL), -XEN_EINVAL);
    CHECK_EQ("up(nr) is ENOENT", vcpu_op(VCPUOP_up, nr, NULL), -XEN_ENOENT);
    CHECK_EQ("up(1000) is ENOENT", vcpu_op(VCPUOP_up, 1000, NULL), -XEN_ENOENT);

    /* Contexts Xen refuses with -EINVAL (and leaves the vCPU alone). */
    vcpu_hvm_context_t ctx;
    make_context(&ctx, 1);
    ctx.mode = 7;
    CHECK_EQ("initialise: bad mode", vcpu_op(VCPUOP_initialise, 1, &ctx), -XEN_EINVAL);
    make_context(&ctx, 1);
    ctx.pad = 1;
    CHECK_EQ("initialise: pad not 0", vcpu_op(VCPUOP_initialise, 1, &ctx), -XEN_EINVAL);
    make_context(&ctx, 1);
#if GUEST_BITS == 64
    ctx.cpu_regs.x86_64.cr0 &= ~0x80000000ul;
    CHECK_EQ("initialise: 64-bit without paging",
             vcpu_op(VCPUOP_initialise, 1, &ctx), -XEN_EINVAL);
    make_context(&ctx, 1);
    ctx.cpu_regs.x86_64.rip = 0x0000800000000000ull;
    CHECK_EQ("initialise: non-canonical rip",
             vcpu_op(VCPUOP_initialise, 1, &ctx), -XEN_EINVAL);
#else
    ctx.cpu_regs.x86_32.cs_limit = 0xfff;
    ctx.cpu_regs.x86_32.cs_ar = 0x49b;     /* byte granular: 4 KiB */
    CHECK_EQ("initialise: eip beyond the cs limit",
             vcpu_op(VCPUOP_initialise, 1, &ctx), -XEN_EINVAL);
    make_context(&ctx, 1);
    ctx.cpu_regs.x86_32.ss_ar = 0xcf3;     /* dpl 3 with a dpl 0 cs */
    CHECK_EQ("initialise: ss.dpl != cs.dpl",
             vcpu_op(VCPUOP_initialise, 1, &ctx), -XEN_EINVAL);
#endif
    CHECK_EQ("is_up(1) after refused contexts", vcpu_op(VCPUOP_is_up, 1, NULL), 0);

    make_context(&ctx, 1);
    CHECK_EQ("initialise(1)", vcpu_op(VCPUOP_initialise, 1, &ctx), 0);
    CHECK_EQ("is_up(1) after initialise", vcpu_op(VCPUOP_is_up, 1, NULL), 0);
    CHECK_EQ("initialise(1) again", vcpu_op(VCPUOP_initialise, 1, &ctx), -XEN_EEXIST);
    CHECK_EQ("initialise(0) (running)", vcpu_op(VCPUOP_initialise, 0, &ctx), -XEN_EEXIST);

    struct evtchn_bind_ipi ipi = { .vcpu = 1 };
    CHECK_EQ("bind_ipi to vCPU 1", evtchn_op(EVTCHNOP_bind_ipi, &ipi), 0);

    CHECK_EQ("up(1)", vcpu_op(VCPUOP_up, 1, NULL), 0);
    CHECK("AP runs", wait_flag(&ap_alive, 5000));
    CHECK_EQ("AP start registers: magic", ap_magic, AP_MAGIC);
    CHECK_EQ("AP start registers: id", ap_id, 1);
    CHECK_EQ("AP CPUID 0x40000004 EBX = vcpu id", ap_cpuid_ebx, 1);
    CHECK("AP CPUID 0x40000004 says vcpu id present",
          ap_cpuid_eax & XEN_HVM_CPUID_VCPU_ID_PRESENT);
    CHECK_EQ("AP hypercall is_up(1)", ap_is_up_rc, 1);
    CHECK_EQ("is_up(1) after up", vcpu_op(VCPUOP_is_up, 1, NULL), 1);
    CHECK_EQ("up(1) again (running)", vcpu_op(VCPUOP_up, 1, NULL), 0);
    CHECK_EQ("initialise(1) while up", vcpu_op(VCPUOP_initialise, 1, &ctx), -XEN_EEXIST);

    ipi_port = ipi.port;
    struct evtchn_send send = { .port = ipi.port };
    CHECK_EQ("send IPI", evtchn_op(EVTCHNOP_send, &send), 0);
    CHECK("AP polled", wait_flag(&ap_done, 5000));
    CHECK("AP saw the IPI port pending", ap_saw_pending);
    CHECK("AP saw its evtchn_pending_sel bit", ap_saw_sel);
    CHECK("AP saw its evtchn_upcall_pending", ap_saw_upcall);

    /* The same port again, now by interrupt on vCPU 1's own LAPIC. */
    CHECK("AP ready for interrupts", wait_flag(&ap_irq_ready, 5000));
    CHECK_EQ("AP LAPIC id", ap_apic_id, 1);
    CHECK_EQ("AP set its upcall vector", ap_set_vector_rc, 0);
    CHECK_EQ("send IPI again", evtchn_op(EVTCHNOP_send, &send), 0);
    CHECK("AP interrupt wait over", wait_flag(&ap_irq_done, 5000));
    CHECK_EQ("AP took one interrupt", ap_irq_hits, 1);
    CHECK_EQ("AP interrupt vector", ap_irq_vector, AP_VECTOR);
    CHECK("AP interrupt saw the IPI port", ap_irq_port_seen);

    CHECK("AP took itself down (is_up(1) == 0)", wait_is_up(1, 0, 5000));
    CHECK_EQ("initialise(1) after down", vcpu_op(VCPUOP_initialise, 1, &ctx), -XEN_EEXIST);
    CHECK_EQ("AP not resumed yet", ap_resumed, 0);

    /* Xen keeps a downed vCPU's state: up resumes it after its VCPUOP_down. */
    CHECK_EQ("up(1) after down", vcpu_op(VCPUOP_up, 1, NULL), 0);
    CHECK("AP resumed after VCPUOP_down", wait_flag(&ap_resumed, 5000));
    CHECK_EQ("down(1) from vCPU 0", vcpu_op(VCPUOP_down, 1, NULL), 0);
    CHECK_EQ("is_up(1) after remote down", vcpu_op(VCPUOP_is_up, 1, NULL), 0);

    /* With "last-down" on the command line, end the way Xen allows: the
     * last vCPU going down shuts the domain down (poweroff). */
    const char *cmd = start_info->cmdline_paddr
                          ? (const char *)(uintptr_t)start_info->cmdline_paddr : "";
    if (strcmp(cmd, "last-down") == 0) {
        printk("smp: taking down the last vCPU\n");
        vcpu_op(VCPUOP_down, 0, NULL);
        check("last VCPUOP_down shuts the domain down", 0, "vCPU 0 still runs");
    }
    finish("smp");
}
