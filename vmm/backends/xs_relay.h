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

#include <stddef.h>
#include <stdint.h>

struct domain;

/* Set up the ring page and its event channel. socket_path may be NULL:
 * the ring then exists but nothing answers (a domain without xenstore). */
int xs_relay_init(struct domain *d, const char *socket_path);
void xs_relay_fini(struct domain *d);

/* Saved state (xs_relay_state.c): the guest's watches, for a domain
 * saved without its help (a guest that suspended itself registers its
 * own again). Save: the payload of xs_track_save_watches, malloc'd in
 * *out; 0 or a negative errno. Restore: each watch not held already is
 * registered with xenstored (xenstored fires it once, as after a
 * xenstored restart) and held from its reply on; -EINVAL for a payload
 * xs_track_load_watches refuses. Both on the I/O thread. */
int xs_relay_save_watches(struct domain *d, uint8_t **out, size_t *len);
int xs_relay_restore_watches(struct domain *d, const uint8_t *p, size_t len);

#endif
