/* counter: prints "count N" on the PV console, N = 0, 1, 2, ... without
 * end, one line every 2 ms of Xen system time, spinning in between (so its
 * vCPU's CPU time grows while it runs). A test that pauses and unpauses
 * the domain sees from the numbers whether any output was lost, and from
 * the vCPU's time whether the pause stopped it. */
#include "guest.h"

#define LINE_NS 2000000ull

void guest_main(void)
{
    int timed = map_shared_info() == 0;
    printk("counter: up (%d-bit guest)\n", GUEST_BITS);
    uint64_t next = timed ? xen_system_time() : 0;
    for (unsigned long long n = 0;; n++) {
        printk("count %llu\n", n);
        next += LINE_NS;
        if (timed)
            while (xen_system_time() < next)
                __asm__ volatile("pause");
        else
            for (volatile unsigned i = 0; i < 1000000; i++)
                ;
    }
}
