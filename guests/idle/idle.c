/* idle: a guest that stays up. Says one line on the PV console, then
 * blocks (SCHEDOP_block) until an event arrives; whatever was typed on the
 * PV console is echoed back as "idle: got <text>", so the toolstack tests
 * can see output from a console attached after boot. It never shuts down
 * by itself: the toolstack has to destroy it (or ask it to shut down by
 * writing control/shutdown, which this guest does not watch: it has no
 * xenstore client, so it behaves like a guest without PV drivers). */
#include "guest.h"

#include <xen/hvm/params.h>
#include <xen/io/console.h>
#include <xen/sched.h>

void guest_main(void)
{
    printk("idle: up (%d-bit guest), blocking\n", GUEST_BITS);
    uint64_t pfn;
    if (map_shared_info() < 0 || hvm_get_param(HVM_PARAM_CONSOLE_PFN, &pfn) < 0) {
        printk("idle: no shared info or console, spinning in block\n");
        for (;;)
            HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_block, 0);
    }
    struct xencons_interface *ring = (struct xencons_interface *)(uintptr_t)(pfn << 12);
    char line[128];
    size_t len = 0;
    for (;;) {
        /* Clear the pending state before looking at the ring, so input that
         * arrives after the look raises a new upcall and ends the block. */
        shared_info->vcpu_info[0].evtchn_upcall_pending = 0;
        shared_info->vcpu_info[0].evtchn_pending_sel = 0;
        for (unsigned i = 0; i < sizeof(shared_info->evtchn_pending) /
                                 sizeof(shared_info->evtchn_pending[0]); i++)
            shared_info->evtchn_pending[i] = 0;
        __asm__ volatile("mfence" ::: "memory");
        XENCONS_RING_IDX cons = ring->in_cons, prod = ring->in_prod;
        __asm__ volatile("" ::: "memory");
        while (cons != prod) {
            char c = ring->in[MASK_XENCONS_IDX(cons, ring->in)];
            cons++;
            if (c == '\r' || c == '\n' || len == sizeof(line) - 1) {
                line[len] = 0;
                if (len)
                    printk("idle: got %s\n", line);
                len = 0;
            } else {
                line[len++] = c;
            }
        }
        __asm__ volatile("" ::: "memory");
        ring->in_cons = cons;
        HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_block, 0);
    }
}
