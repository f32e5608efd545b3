/*
 * The serial sink, Xenon's stand-in for Xen's own console: where the UART,
 * the 0xe9 debug port and console_io writes go (hypervisor-NAME.log and/or
 * stdout). vCPUs only append to a bounded queue (SERIAL_QUEUE_SIZE bytes;
 * what does not fit is dropped and counted) and signal the I/O thread,
 * which writes the queue out: a vCPU never waits for host I/O.
 */
#ifndef XENON_SERIAL_H
#define XENON_SERIAL_H

#include <stdbool.h>
#include <stddef.h>

#include "logfile.h"

#define SERIAL_QUEUE_SIZE (64 * 1024)

struct domain;

/* log_path NULL: no log; stdio: mirror to stdout. 0 or a negative errno. */
int serial_init(struct domain *d, const char *log_path, bool stdio,
                const struct log_limits *lim);
/* Any thread, any lock held: queue guest output. */
void serial_write(struct domain *d, const void *buf, size_t n);
/* Write out what is queued and close (after the vCPUs stopped). */
void serial_fini(struct domain *d);

#endif
