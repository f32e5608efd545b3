/*
 * pvcontrol: a guest with PV control, as a Linux guest with Xen drivers
 * has. It announces feature-poweroff/reboot/suspend, watches
 * control/shutdown, and on "poweroff", "halt", "reboot" or "suspend"
 * acknowledges the request (empties the node, as Linux does) and shuts down
 * with that reason; on "suspend" it suspends (SCHEDOP_shutdown) and, when
 * the call returns (restored or resumed), announces and watches again. Until then it sleeps in SCHEDOP_poll on its xenstore
 * port: an idle domain costs no CPU.
 */
#include "guest.h"
#include "xs.h"

#include <xen/sched.h>

/* The features, and the watch: again in each new domain (its xenstore
 * nodes and watches are fresh). */
static int announce(void)
{
    /* xs.c reads time and clears pending bits in shared info. */
    if (map_shared_info() != 0)
        return -1;
    if (xs_write("control/feature-poweroff", "1") < 0 ||
        xs_write("control/feature-reboot", "1") < 0 ||
        xs_write("control/feature-suspend", "1") < 0)
        return -1;
    return xs_watch("control/shutdown", "shutdown");
}

void guest_main(void)
{
    if (xs_init() < 0) {
        printk("pvcontrol: no xenstore\n");
        shutdown(SHUTDOWN_crash);
    }
    announce();
    printk("pvcontrol guest (%d-bit): up, watching control/shutdown\n", GUEST_BITS);
    for (;;) {
        xs_wait_event("control/shutdown", ~0ull);
        xs_forget_events();
        char req[64];
        if (xs_read("control/shutdown", req, sizeof(req)) < 0 || req[0] == '\0')
            continue;
        unsigned reason;
        if (strcmp(req, "poweroff") == 0 || strcmp(req, "halt") == 0)
            reason = SHUTDOWN_poweroff;
        else if (strcmp(req, "reboot") == 0)
            reason = SHUTDOWN_reboot;
        else if (strcmp(req, "suspend") == 0)
            reason = SHUTDOWN_suspend;
        else {
            printk("pvcontrol: ignoring shutdown request '%s'\n", req);
            continue;
        }
        xs_write("control/shutdown", "");
        if (reason == SHUTDOWN_suspend) {
            /* As Linux: suspend, and when the call returns (0: restored in
             * a new domain, 1: resumed in place) watch again. */
            printk("pvcontrol: suspend requested\n");
            struct sched_shutdown sd = { .reason = SHUTDOWN_suspend };
            long rc = HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_shutdown, &sd);
            if (rc == 0 && (xs_init() < 0 || announce() < 0)) {
                printk("pvcontrol: no xenstore after resume\n");
                shutdown(SHUTDOWN_crash);
            }
            printk("pvcontrol: suspend returned %ld, watching again\n", rc);
            continue;
        }
        printk("pvcontrol: %s requested, shutting down\n", req);
        shutdown(reason);
    }
}
