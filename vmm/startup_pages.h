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
 * vmm/text-order.ld places first; and returns the heap's free pages.
 *
 * Call it once the vCPUs are started, from any thread; it only costs a few
 * page faults if called again or early.
 */
#ifndef XENON_STARTUP_PAGES_H
#define XENON_STARTUP_PAGES_H

void startup_pages_release(void);

#endif
