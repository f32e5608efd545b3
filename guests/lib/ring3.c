/* See ring3.h. */
#include "guest.h"
#include "ring3.h"

#if GUEST_BITS != 64
#error "ring 3 is for the 64-bit guests"
#endif

static uint8_t ring3_stack[65536] __attribute__((aligned(16)));

void ring3_run(void (*fn)(void))
{
    /* iretq: user data 0x1b (ss), the stack (8 below a 16-byte boundary,
     * as after a call), IOPL 3 with IF clear, user code 0x23 (cs), fn. */
    __asm__ volatile("pushq $0x1b\n\t"
                     "pushq %0\n\t"
                     "pushq $0x3002\n\t"
                     "pushq $0x23\n\t"
                     "pushq %1\n\t"
                     "iretq"
                     : : "r"(ring3_stack + sizeof(ring3_stack) - 8), "r"(fn) : "memory");
    __builtin_unreachable();
}

uint64_t ring3_bare_exit_ns(unsigned iters)
{
    uint64_t best = ~0ull;
    for (int r = 0; r < 3; r++) {
        uint64_t t0 = xen_system_time();
        for (unsigned i = 0; i < iters; i++)
            __asm__ volatile("outb %%al, $0x80" : : "a"(0));
        uint64_t t = (xen_system_time() - t0) / (iters ? iters : 1);
        best = t < best ? t : best;
    }
    return best;
}
