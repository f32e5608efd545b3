/*
 * The PV console backend (what xenconsoled does for a Xen domain): serves
 * the console ring in the domain's special page, logs output to a file,
 * mirrors it to stdout and to clients of a unix socket, and feeds their
 * input (and stdin's) back into the ring.
 */
#ifndef XENON_CONSOLE_H
#define XENON_CONSOLE_H

#include <stdbool.h>

#include "logfile.h"

struct domain;

/* Output no client has seen is kept (the latest CONSOLE_REPLAY_SIZE bytes)
 * and replayed to the next client that connects, as xenconsoled buffers a
 * guest's output until someone reads it. */
#define CONSOLE_REPLAY_SIZE (64 * 1024)

struct console_opts {
    const char *log_path;       /* NULL: no log */
    struct log_limits log_limits;
    const char *socket_path;    /* NULL: no socket */
    bool stdio;                 /* mirror to stdout, read stdin */
};

/* Set up the ring, its event channel and sinks (the socket is created
 * 0600, the log 0640, whatever the umask). Call before vCPUs run. */
int console_init(struct domain *d, const struct console_opts *o);
void console_fini(struct domain *d);
/* Take what the guest left in its output ring now (I/O thread, or with
 * the I/O thread not serving the console): a save of the stopped domain
 * calls it before its last look at guest memory, so that the ring's
 * consumer index it writes is final, and no line is printed again by the
 * domain's next copy. */
void console_drain(struct domain *d);

#endif
