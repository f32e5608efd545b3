/* irq: event channel delivery by interrupt, both ways Xen offers.
 *
 * (b) the global callback vector, HVM_PARAM_CALLBACK_IRQ type 2: Xen
 *     injects it directly (not through the local APIC) whenever the vCPU's
 *     evtchn_upcall_pending is set, so the handler does not EOI (as Linux's
 *     handler does not, unless it uses per-vCPU vectors);
 * (a) the per-vCPU upcall vector, HVMOP_set_evtchn_upcall_vector: a LAPIC
 *     interrupt, so the handler EOIs.
 *
 * For each: an event already pending when delivery is set up arrives at
 * once (Xen asserts on set-up), an IPI channel sent to ourselves (twice:
 * delivery must not stall after the first), VIRQ_TIMER from
 * VCPUOP_set_singleshot_timer and from set_timer_op, and a masked port
 * that raises nothing until EVTCHNOP_unmask.
 *
 * The callback vector is tested with the local APIC software-disabled,
 * as Mini-OS runs (it never touches its APIC): under Xen that delivery
 * does not involve the LAPIC at all. The LAPIC is enabled only for (a).
 *
 * No check reads the LAPIC ISR: the nested KVM we test on does not show
 * in-service vectors there (always 0), so it cannot tell the two delivery
 * paths apart the way real hardware would. */
#include "guest.h"
#include "idt.h"

#include <xen/errno.h>
#include <xen/event_channel.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/vcpu.h>

#define VEC_CALLBACK 0xf2
#define VEC_UPCALL 0xf3
#define NR_TRACKED 64
#define WORD_BITS (sizeof(xen_ulong_t) * 8)

/* Written by the handler. */
static volatile uint32_t port_hits[NR_TRACKED];
static volatile uint32_t port_vector[NR_TRACKED];
static volatile uint32_t vector_hits[256];

static void upcall(unsigned vector)
{
    volatile struct vcpu_info *vi = &shared_info->vcpu_info[0];
    vector_hits[vector]++;
    vi->evtchn_upcall_pending = 0;
    xen_ulong_t sel = __atomic_exchange_n(&vi->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
    while (sel) {
        unsigned w = (unsigned)__builtin_ctzl(sel);
        sel &= sel - 1;
        xen_ulong_t bits = shared_info->evtchn_pending[w] & ~shared_info->evtchn_mask[w];
        while (bits) {
            unsigned b = (unsigned)__builtin_ctzl(bits);
            bits &= bits - 1;
            __atomic_fetch_and(&shared_info->evtchn_pending[w],
                               ~((xen_ulong_t)1 << b), __ATOMIC_SEQ_CST);
            unsigned port = w * WORD_BITS + b;
            if (port < NR_TRACKED) {
                port_hits[port]++;
                port_vector[port] = vector;
            }
        }
    }
    /* The upcall vector is a LAPIC interrupt; the callback vector is not. */
    if (vector == VEC_UPCALL)
        lapic_eoi();
}

static uint64_t tsc_per_ms(void)
{
    uint32_t a, b, c, d;
    cpuid(0x40000003, 0, &a, &b, &c, &d);
    return c ? c : 1000000;
}

/* Spin (interrupts as they are) until port has more than `before` hits. */
static int wait_port(unsigned port, uint32_t before, unsigned ms)
{
    uint64_t limit = ms * tsc_per_ms(), t0 = rdtsc();
    while (port_hits[port] == before && rdtsc() - t0 < limit)
        __asm__ volatile("pause");
    return port_hits[port] != before;
}

static void spin_ms(unsigned ms)
{
    uint64_t limit = ms * tsc_per_ms(), t0 = rdtsc();
    while (rdtsc() - t0 < limit)
        __asm__ volatile("pause");
}

static int is_pending(unsigned port)
{
    return (shared_info->evtchn_pending[port / WORD_BITS] >> (port % WORD_BITS)) & 1;
}

static void set_mask(unsigned port, int on)
{
    xen_ulong_t bit = (xen_ulong_t)1 << (port % WORD_BITS);
    if (on)
        __atomic_fetch_or(&shared_info->evtchn_mask[port / WORD_BITS], bit, __ATOMIC_SEQ_CST);
    else
        __atomic_fetch_and(&shared_info->evtchn_mask[port / WORD_BITS], ~bit, __ATOMIC_SEQ_CST);
}

static long send(unsigned port)
{
    struct evtchn_send s = { .port = port };
    return evtchn_op(EVTCHNOP_send, &s);
}

static long set_callback(uint64_t value)
{
    struct xen_hvm_param p = { .domid = DOMID_SELF,
                               .index = HVM_PARAM_CALLBACK_IRQ, .value = value };
    return HYPERCALL2(__HYPERVISOR_hvm_op, HVMOP_set_param, &p);
}

static long set_upcall_vector(unsigned vcpu, unsigned vector)
{
    struct xen_hvm_evtchn_upcall_vector u = { .vcpu = vcpu, .vector = (uint8_t)vector };
    return HYPERCALL2(__HYPERVISOR_hvm_op, HVMOP_set_evtchn_upcall_vector, &u);
}

/* The same series for either delivery; name prefixes the checks. */
static void events(const char *mode, unsigned vector, unsigned ipi, unsigned timer)
{
    char n[96];
    uint32_t h;

#define NAME(what) (snprintf(n, sizeof(n), "%s: %s", mode, what), n)
    h = port_hits[ipi];
    check(NAME("EVTCHNOP_send"), send(ipi) == 0, "send failed");
    check(NAME("IPI interrupt"), wait_port(ipi, h, 1000), "no interrupt for port %u", ipi);
    CHECK_EQ(NAME("IPI vector"), port_vector[ipi], vector);
    CHECK_EQ(NAME("IPI delivered once"), port_hits[ipi], h + 1);

    /* A second one: delivery must not stall after the first. */
    h = port_hits[ipi];
    send(ipi);
    check(NAME("second IPI interrupt"), wait_port(ipi, h, 1000), "no interrupt");

    h = port_hits[timer];
    struct vcpu_set_singleshot_timer t = {
        .timeout_abs_ns = xen_system_time() + 2000000, .flags = 0 };
    CHECK_EQ(NAME("set_singleshot_timer"),
             HYPERCALL3(__HYPERVISOR_vcpu_op, VCPUOP_set_singleshot_timer, 0, &t), 0);
    check(NAME("VIRQ_TIMER interrupt"), wait_port(timer, h, 2000),
          "no interrupt for port %u", timer);
    CHECK_EQ(NAME("VIRQ_TIMER vector"), port_vector[timer], vector);

    /* The old interface: set_timer_op(absolute ns), 64 bits split across
     * two arguments for 32-bit guests. */
    h = port_hits[timer];
    uint64_t deadline = xen_system_time() + 2000000;
#if GUEST_BITS == 64
    long rc = HYPERCALL1(__HYPERVISOR_set_timer_op, deadline);
#else
    long rc = HYPERCALL2(__HYPERVISOR_set_timer_op, (uint32_t)deadline,
                         (uint32_t)(deadline >> 32));
#endif
    CHECK_EQ(NAME("set_timer_op"), rc, 0);
    check(NAME("set_timer_op VIRQ_TIMER interrupt"), wait_port(timer, h, 2000),
          "no interrupt for port %u", timer);

    /* A masked port: pending, but no interrupt until unmasked. */
    h = port_hits[ipi];
    uint32_t vh = vector_hits[vector];
    set_mask(ipi, 1);
    send(ipi);
    check(NAME("masked port raises nothing"), !wait_port(ipi, h, 20), "interrupt while masked");
    CHECK(NAME("masked port pending"), is_pending(ipi));
    struct evtchn_unmask u = { .port = ipi };
    CHECK_EQ(NAME("EVTCHNOP_unmask"), evtchn_op(EVTCHNOP_unmask, &u), 0);
    check(NAME("unmask delivers"), wait_port(ipi, h, 1000), "no interrupt after unmask");
    CHECK(NAME("vector was taken"), vector_hits[vector] > vh);
    CHECK(NAME("port no longer pending"), !is_pending(ipi));
#undef NAME
}

void guest_main(void)
{
    printk("irq guest (%d-bit)\n", GUEST_BITS);
    CHECK_EQ("map_shared_info", map_shared_info(), 0);
    idt_init();
    idt_set_handler(VEC_CALLBACK, upcall);
    idt_set_handler(VEC_UPCALL, upcall);

    uint32_t ver = lapic_read(LAPIC_VERSION);
    check("LAPIC reachable", (ver & 0xff) >= 0x10 && (ver & 0xff) < 0x20,
          "version register %#x", ver);
    CHECK_EQ("LAPIC id of vCPU 0", lapic_read(LAPIC_ID) >> 24, 0);
    /* Left software-disabled (its reset state) for the callback vector. */
    CHECK("LAPIC software-disabled at reset", !(lapic_read(LAPIC_SVR) & 0x100));

    struct evtchn_bind_ipi bi = { .vcpu = 0 };
    CHECK_EQ("bind_ipi", evtchn_op(EVTCHNOP_bind_ipi, &bi), 0);
    struct evtchn_bind_virq bv = { .virq = VIRQ_TIMER, .vcpu = 0 };
    CHECK_EQ("bind_virq VIRQ_TIMER", evtchn_op(EVTCHNOP_bind_virq, &bv), 0);
    unsigned ipi = bi.port, timer = bv.port;
    if (ipi >= NR_TRACKED || timer >= NR_TRACKED) {
        check("small port numbers", 0, "ports %u %u", ipi, timer);
        finish("irq");
    }
    printk("IPI port %u, timer port %u\n", ipi, timer);

    /* An event pending before any delivery is set up: nothing to inject. */
    uint32_t h = port_hits[ipi];
    send(ipi);
    CHECK("pending before set-up", is_pending(ipi) &&
          shared_info->vcpu_info[0].evtchn_upcall_pending);
    irq_enable();
    check("no interrupt without delivery set up", !wait_port(ipi, h, 20), "got one");

    /* (b) The global callback vector. Setting it delivers what is pending. */
    CHECK_EQ("set CALLBACK_IRQ vector",
             set_callback(((uint64_t)HVM_PARAM_CALLBACK_TYPE_VECTOR << 56) | VEC_CALLBACK), 0);
    check("callback: pending event delivered on set-up", wait_port(ipi, h, 1000),
          "no interrupt for port %u", ipi);
    CHECK_EQ("callback: vector", port_vector[ipi], VEC_CALLBACK);
    events("callback", VEC_CALLBACK, ipi, timer);

    /* (a) The per-vCPU upcall vector, with the callback off. */
    irq_disable();
    CHECK_EQ("clear CALLBACK_IRQ", set_callback(0), 0);
    /* Let through what the old callback may already have queued at the
     * LAPIC while IF was 0 (a console event, say): this VMM injects the
     * callback vector as an MSI and cannot take it back, unlike Xen. */
    irq_enable();
    spin_ms(5);
    irq_disable();
    /* The per-vCPU vector is a LAPIC interrupt: Xen delivers it only to an
     * enabled LAPIC. */
    lapic_enable();
    CHECK("LAPIC software-enabled", lapic_read(LAPIC_SVR) & 0x100);
    CHECK_EQ("upcall vector 0x0f refused", set_upcall_vector(0, 0x0f), -XEN_EINVAL);
    CHECK_EQ("upcall vector for vCPU 1000 refused", set_upcall_vector(1000, VEC_UPCALL),
             -XEN_ENOENT);
    h = port_hits[ipi];
    send(ipi);
    irq_enable();
    check("no interrupt with the callback cleared", !wait_port(ipi, h, 20), "got one");
    CHECK_EQ("set_evtchn_upcall_vector", set_upcall_vector(0, VEC_UPCALL), 0);
    check("upcall: pending event delivered on set-up", wait_port(ipi, h, 1000),
          "no interrupt for port %u", ipi);
    CHECK_EQ("upcall: vector", port_vector[ipi], VEC_UPCALL);
    events("upcall", VEC_UPCALL, ipi, timer);

    irq_disable();
    finish("irq");
}
