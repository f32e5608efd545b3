/*
 * The control channel's server (layer 1 side of the contract's control
 * messages): a unix socket per domain plus connections handed over at
 * start, all served by the I/O thread. See docs/vmm.md, "Control channel".
 */
#ifndef XENON_CTL_SERVER_H
#define XENON_CTL_SERVER_H

#include <stdbool.h>

struct domain;

#define CTL_MAX_HANDOVER 4     /* --control-fd descriptors */

struct control_opts {
    const char *socket_path;   /* --control-socket, NULL: none */
    int handover[CTL_MAX_HANDOVER];   /* --control-fd, already connected */
    unsigned nr_handover;
    bool hold;                 /* --hold: the vCPUs wait for GO */
};

/* Listen on the socket (mode 0600 whatever the umask) and adopt the
 * handed-over connections. With o->hold, closing every handed-over
 * connection before a GO destroys the domain unrun. 0 or -1 (logged). */
int control_init(struct domain *d, const struct control_opts *o);

/* Tell the handed-over connections that the domain is built
 * (XENON_CTL_NOTICE_BUILT). */
void control_notify_built(struct domain *d);

/* Close every connection and remove the socket. */
void control_fini(struct domain *d);

/* From the I/O thread when it is woken: send NOTICE_SUSPENDED to every
 * connection once the guest has suspended itself (domain_suspend). */
void control_check_suspended(struct domain *d);

#endif
