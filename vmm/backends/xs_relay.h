/*
 * The xenstore ring relay. Xen's xenstored maps each guest's ring page;
 * ours never touches guest memory. Instead this VMM copies the ring's bytes
 * to and from a unix-socket connection to xenstored that it has turned into
 * the domain's own connection (XS_CONTROL "ring-attach" <domid>, sent as
 * dom0 before any guest byte). xenstored parses and validates the stream
 * exactly as it would a ring it mapped.
 *
 * The relay frames the stream: it keeps each guest request until it is
 * answered and learns the guest's watches and transactions, so that when
 * xenstored restarts it reconnects (from the I/O loop, with backoff),
 * attaches again, re-registers the watches and answers what was in flight
 * as the protocol allows (docs/vmm.md). When xenstored refuses the
 * re-attach with EPROTO (it dropped the guest for breaking the protocol)
 * the ring's error field becomes XENSTORE_ERROR_PROTO.
 */
#ifndef XENON_XS_RELAY_H
#define XENON_XS_RELAY_H

struct domain;

/* Set up the ring page and its event channel. socket_path may be NULL:
 * the ring then exists but nothing answers (a domain without xenstore). */
int xs_relay_init(struct domain *d, const char *socket_path);
void xs_relay_fini(struct domain *d);

#endif
