/*
 * pvcontrol: a guest with PV control, as a Linux guest with Xen drivers
 * has. It announces feature-poweroff/reboot/suspend, watches
 * control/shutdown, and on "poweroff", "halt", "reboot" or "suspend"
 * acknowledges the request (empties the node, as Linux does) and shuts down
 * with that reason. Until then it sleeps in SCHEDOP_poll on its xenstore
 * port: an idle domain costs no CPU.
 */
#include "guest.h"
#include "xs.h"

#include <xen/sched.h>

void guest_main(void)
{
    if (xs_init() < 0) {
        printk("pvcontrol: no xenstore\n");
        shutdown(SHUTDOWN_crash);
    }
    xs_write("control/feature-poweroff", "1");
    xs_write("control/feature-reboot", "1");
    xs_write("control/feature-suspend", "1");
    xs_watch("control/shutdown", "shutdown");
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
        printk("pvcontrol: %s requested, shutting down\n", req);
        shutdown(reason);
    }
}
