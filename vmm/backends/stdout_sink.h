/*
 * The VMM's stdout as a sink for guest output that never blocks: a guest
 * printing faster than whoever reads our stdout loses output (as a slow
 * console client does) instead of stalling the thread that writes.
 */
#ifndef XENON_STDOUT_SINK_H
#define XENON_STDOUT_SINK_H

#include <stddef.h>

/* A descriptor for stdout on which writes do not block (opened once). */
int stdout_sink_fd(void);
/* Write what stdout takes now; the rest is dropped. */
void stdout_sink_write(const void *buf, size_t n);

#endif
