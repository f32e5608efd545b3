/* domain: the introduced domains and their ring connections.
 *
 * A domain entry exists while the domain is introduced or has an attached
 * ring connection (either may come first). Introduce and release are
 * journaled; attachments are not (the VMM re-attaches after a restart).
 * Release (as Xen's xenstored, without --keep-orphans) removes the nodes
 * owned by the domain, drops its connection and fires @releaseDomain.
 */
#ifndef XENSTORED_DOMAIN_H
#define XENSTORED_DOMAIN_H

#include "core.h"

struct domain *domain_get(uint32_t domid);
/* 0, EINVAL. Fires @introduceDomain the first time. */
int domain_introduce(uint32_t domid, uint64_t mfn, uint32_t port);
/* 0, EINVAL, ENOENT. */
int domain_release(uint32_t domid);
/* 0, EINVAL, EEXIST: make c the ring connection of domid. */
int domain_attach(struct conn *c, uint32_t domid);
/* Called when an attached connection goes away. */
void domain_detach(struct conn *c);
int domain_set_target(uint32_t domid, uint32_t target);
/* Journal replay callback. */
void domain_load(void *arg, enum jrec_type type, const struct jdomain_rec *d);
void domain_free_all(void);

#endif
