/* hello: the smallest Xen guest. Says hello on the PV console, the UART
 * and the debug port, checks that it runs on a Xen it recognises, and
 * powers off. */
#include "guest.h"

#include <xen/version.h>

void guest_main(void)
{
    static const char uart_msg[] = "Hello from Xenon on the UART\n";
    static const char dbg_msg[] = "Hello from Xenon on the debug port\n";
    /* The PV console first: one hypercall for the line, where the UART
     * and the debug port cost an exit per byte. */
    printk("Hello from Xenon on the PV console (%d-bit PVH guest)\n", GUEST_BITS);
    uart_write(uart_msg, sizeof(uart_msg) - 1);
    debug_write(dbg_msg, sizeof(dbg_msg) - 1);

    long ver = HYPERCALL2(__HYPERVISOR_xen_version, XENVER_version, 0);
    check("xen_version", ver == ((4 << 16) | 17), "version %ld.%ld",
          ver >> 16, ver & 0xffff);
    CHECK("start_info memmap", start_info->version >= 1 &&
                               start_info->memmap_entries > 0);
    finish("hello");
}
