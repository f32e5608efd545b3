/* shutdown: ends the domain the way its command line asks, so the tests can
 * check that every Xen shutdown reason reaches the VMM's exit status
 * (100 + SHUTDOWN_*) and that a triple fault is reported as a crash.
 *
 *   poweroff | reboot | suspend | crash | watchdog   SCHEDOP_shutdown
 *   triplefault   load a zero-limit IDT and execute ud2: neither #UD nor
 *                 the #GP/#DF that follow can be delivered, so the CPU shuts
 *                 down (triple fault). ud2 first: this host's nested KVM
 *                 fails to emulate int3 here (internal error, not a fault).
 */
#include "guest.h"

#include <xen/sched.h>

static const struct {
    const char *name;
    unsigned reason;
} reasons[] = {
    { "poweroff", SHUTDOWN_poweroff },
    { "reboot", SHUTDOWN_reboot },
    { "suspend", SHUTDOWN_suspend },
    { "crash", SHUTDOWN_crash },
    { "watchdog", SHUTDOWN_watchdog },
};

static void triple_fault(void)
{
    struct __attribute__((packed)) {
        uint16_t limit;
        uintptr_t base;
    } idtr = { 0, 0 };
    __asm__ volatile("cli; lidt %0; ud2; int3" : : "m"(idtr) : "memory");
}

void guest_main(void)
{
    const char *cmd = start_info->cmdline_paddr
                          ? (const char *)(uintptr_t)start_info->cmdline_paddr
                          : "";
    printk("shutdown guest (%d-bit): command line '%s'\n", GUEST_BITS, cmd);
    check("cmdline present", cmd[0] != '\0', "empty command line");

    for (unsigned i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        if (strcmp(cmd, reasons[i].name) != 0)
            continue;
        printk("shutdown: requesting %s (reason %u)\n", reasons[i].name,
               reasons[i].reason);
        struct sched_shutdown s = { .reason = reasons[i].reason };
        long rc = HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_shutdown, &s);
        /* Xen does not return to a domain it shut down; we may run on a
         * little until the VMM stops this vCPU, so wait for that. */
        for (uint64_t t0 = rdtsc(); rdtsc() - t0 < (1ull << 33);)
            HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_yield, 0);
        check("shutdown took effect", 0, "still running (rc %ld)", rc);
        finish("shutdown");
    }
    if (strcmp(cmd, "triplefault") == 0) {
        printk("shutdown: triple fault now\n");
        triple_fault();
        check("triple fault", 0, "int3 with a zero-limit IDT returned");
        finish("shutdown");
    }
    check("known command", 0, "unknown command '%s'", cmd);
    finish("shutdown");
}
