/*
 * Ring 3 for the benchmark guests (64-bit only). On the build machines
 * guest kernel code is emulated (~0.5 us an instruction) while 64-bit
 * ring-3 code runs native, so a benchmark's measured loop runs here. The
 * page tables already map everything user-accessible (entry64.S); IOPL is
 * 3 (port I/O works), IF is clear (no interrupts: without a TSS one would
 * be fatal). Hypercalls from ring 3 need the VMM's --bench-user-hypercalls.
 */
#ifndef GUEST_RING3_H
#define GUEST_RING3_H

/* Call fn in ring 3 on a stack of its own; never returns (fn ends with
 * finish() or shutdown()). */
void ring3_run(void (*fn)(void)) __attribute__((noreturn));

/* The best of three rounds of iters bare port-I/O exits (out to port
 * 0x80, which the VMM ignores), in ns each: the "bare exit" a benchmark's
 * latency goal counts in, measured in the same run. Needs shared info. */
uint64_t ring3_bare_exit_ns(unsigned iters);

#endif
