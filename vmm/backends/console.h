/*
 * The PV console backend (what xenconsoled does for a Xen domain): serves
 * the console ring in the domain's special page, logs output to a file,
 * mirrors it to stdout and to clients of a unix socket, and feeds their
 * input (and stdin's) back into the ring.
 */
#ifndef XENON_CONSOLE_H
#define XENON_CONSOLE_H

#include <stdbool.h>

struct domain;

struct console_opts {
    const char *log_path;       /* NULL: no log */
    const char *socket_path;    /* NULL: no socket */
    bool stdio;                 /* mirror to stdout, read stdin */
};

/* Set up the ring, its event channel and sinks. Call before vCPUs run. */
int console_init(struct domain *d, const struct console_opts *o);
void console_fini(struct domain *d);

#endif
