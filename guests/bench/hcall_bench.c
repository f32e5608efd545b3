/*
 * bench-hcall: the cost of a hypercall round trip against a bare exit.
 * Drops to ring 3 (native speed on these hosts; ring 0 is emulated) with
 * IOPL 3, then times with the TSC, in one run:
 *   - a bare port-I/O exit the VMM ignores (out to port 0x80),
 *   - EVTCHNOP_send on the console port, which the VMM's console backend
 *     owns (the hypercall dispatch, the event channel, the backend signal),
 *   - xen_version (dispatch alone).
 * The VMM must run with --bench-user-hypercalls: Xen refuses hypercalls
 * from ring 3, and so do we unless told this is a benchmark.
 */
#include "guest.h"

#include <xen/event_channel.h>
#include <xen/hvm/params.h>
#include <xen/version.h>

#define ROUNDS 3
#define ITERS 20000

static uint8_t user_stack[16384] __attribute__((aligned(16)));
static uint32_t console_port;

static uint64_t time_bare(void)
{
    uint64_t t0 = rdtsc();
    for (int i = 0; i < ITERS; i++)
        __asm__ volatile("outb %%al, $0x80" : : "a"(0));
    return (rdtsc() - t0) / ITERS;
}

static uint64_t time_send(void)
{
    struct evtchn_send s = { .port = console_port };
    uint64_t t0 = rdtsc();
    for (int i = 0; i < ITERS; i++)
        evtchn_op(EVTCHNOP_send, &s);
    return (rdtsc() - t0) / ITERS;
}

static uint64_t time_version(void)
{
    uint64_t t0 = rdtsc();
    for (int i = 0; i < ITERS; i++)
        HYPERCALL2(__HYPERVISOR_xen_version, XENVER_version, 0);
    return (rdtsc() - t0) / ITERS;
}

static uint64_t min3(uint64_t a, uint64_t b) { return a < b ? a : b; }

static void user_main(void)
{
    /* Interleave the measurements and keep each one's best round, so a
     * noisy moment on the host hurts neither side alone. */
    uint64_t bare = ~0ull, send = ~0ull, version = ~0ull;
    for (int r = 0; r < ROUNDS; r++) {
        bare = min3(bare, time_bare());
        send = min3(send, time_send());
        version = min3(version, time_version());
    }
    CHECK("hypercalls from ring 3 work", HYPERCALL2(__HYPERVISOR_xen_version,
                                                    XENVER_version, 0) > 0);
    printk("BENCH cycles bare_exit=%llu evtchn_send=%llu xen_version=%llu iters=%d\n",
           (unsigned long long)bare, (unsigned long long)send,
           (unsigned long long)version, ITERS);
    finish("bench-hcall");
}

void guest_main(void)
{
    uint64_t port;
    hvm_get_param(HVM_PARAM_CONSOLE_EVTCHN, &port);
    console_port = (uint32_t)port;
    /* iretq to ring 3: user code 0x23, user data 0x1b, IOPL 3, IF clear. */
    __asm__ volatile("pushq $0x1b\n\t"
                     "pushq %0\n\t"
                     "pushq $0x3002\n\t"
                     "pushq $0x23\n\t"
                     "pushq %1\n\t"
                     "iretq"
                     : : "r"(user_stack + sizeof(user_stack)), "r"(user_main)
                     : "memory");
}
