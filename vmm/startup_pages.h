/*
 * Once the domain runs, give back what only the VMM's start-up used.
 *
 * xenon-vmm is a static PIE: a lone domain counts every page of its image
 * that is mapped, and the kernel maps file pages around each one touched
 * (fault-around), so option parsing, the loaders and the C library's own
 * start-up leave most of the text and read-only data mapped for the
 * domain's lifetime. startup_pages_release() unmaps the image's read-only
 * segments (never written, so nothing is lost: a later touch maps the page
 * back from the page cache) except the code a running domain uses, which
 * vmm/text-order.ld places first; returns the heap's free pages; and, on
 * the main thread, the pages of its stack below the caller's frame that
 * start-up's deeper calls left resident.
 *
 * Call it once the launch is over (main.c: 100 ms after the vCPUs start,
 * from the I/O loop), from any thread; called again or early, it only
 * costs page faults. A debugger's breakpoints in released code are lost
 * with the private copies of the pages they live in.
 */
#ifndef XENON_STARTUP_PAGES_H
#define XENON_STARTUP_PAGES_H

void startup_pages_release(void);

#endif
