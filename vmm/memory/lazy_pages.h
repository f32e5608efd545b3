/*
 * Zeroed memory for large buffers a domain mostly leaves unused (the
 * console's replay, the serial queue, the xenstore relay's buffers), in
 * whole pages of a mapping of their own: only the pages that get written
 * become resident. From the heap, such a buffer lands on pages that start-up
 * already dirtied (the kernel image is read there and freed), and all of it
 * stays resident for the domain's life: with thousands of idle domains that
 * is the largest part of each VMM's own memory.
 */
#ifndef XENON_LAZY_PAGES_H
#define XENON_LAZY_PAGES_H

#include <stddef.h>

/* size bytes (rounded up to pages), zeroed; NULL when out of memory. */
void *lazy_pages_alloc(size_t size);
/* p from lazy_pages_alloc(size), or NULL. */
void lazy_pages_free(void *p, size_t size);

#endif
