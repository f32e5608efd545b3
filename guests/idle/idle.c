/* idle: a domain that does nothing. Says "idle: up" on the PV console, then
 * blocks forever with SCHEDOP_block in a loop. It never maps shared info,
 * so no event can be pending for it and the block never returns: an idle
 * domain should cost its host no CPU at all. Used by the overhead and
 * density benchmarks and the density test. */
#include "guest.h"

#include <xen/sched.h>

void guest_main(void)
{
    printk("idle: up\n");
    for (;;)
        HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_block, 0);
}
