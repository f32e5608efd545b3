/*
 * The control ring (io/netif.h "Control ring", feature-ctrl-ring): the
 * frontend sets how received packets are steered to its queues. Messages
 * as Linux's netback answers them (drivers/net/xen-netback/hash.c):
 *   SET_HASH_ALGORITHM  NONE or TOEPLITZ, else INVALID_PARAMETER
 *   GET_HASH_FLAGS      IPV4 | IPV4_TCP | IPV6 | IPV6_TCP (NOT_SUPPORTED
 *                       while the algorithm is NONE)
 *   SET_HASH_FLAGS      a subset of those (INVALID_PARAMETER otherwise;
 *                       NOT_SUPPORTED while NONE); 0 turns hashing off
 *   SET_HASH_KEY        from a grant (read-only will do), up to
 *                       NETBK_HASH_KEY_MAX octets (BUFFER_OVERFLOW over it;
 *                       a grant that does not copy: INVALID_PARAMETER); the
 *                       rest of the key is zero
 *   GET_HASH_MAPPING_SIZE  NETBK_HASH_MAPPING_MAX
 *   SET_HASH_MAPPING_SIZE  up to it (INVALID_PARAMETER over); the table is
 *                       zeroed; 0 means hash % queues
 *   SET_HASH_MAPPING    entries [off, off + len) of the table from a grant:
 *                       off + len within the size, len within a page, every
 *                       entry a queue that exists, else INVALID_PARAMETER
 *                       and the table is unchanged
 *   anything else (static grant mapping included): NOT_SUPPORTED
 * Ids are echoed. The hash (Toeplitz over source and destination address,
 * and ports for TCP when asked, as io/netif.h's hash types say) picks the
 * queue: mapping[hash % size], or hash % queues with no table.
 */
#ifndef XENON_NETBACK_CTRL_H
#define XENON_NETBACK_CTRL_H

#include <stdbool.h>
#include <stdint.h>

#include "grant_map.h"
#include "netif_ring.h"

struct domain;
struct evtchn_be;

#define NETBK_HASH_KEY_MAX 40
#define NETBK_HASH_MAPPING_MAX 128
#define NETBK_HASH_FLAGS (XEN_NETIF_CTRL_HASH_TYPE_IPV4 | XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP | \
                          XEN_NETIF_CTRL_HASH_TYPE_IPV6 | XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP)

struct netback_hash {
    uint32_t alg, flags;
    uint8_t key[NETBK_HASH_KEY_MAX];
    uint32_t size;
    uint32_t mapping[NETBK_HASH_MAPPING_MAX];
};

/* Copy len bytes from the start of grant ref into buf: 0, or -1 when the
 * grant does not copy. */
typedef int netback_ctrl_copy_fn(void *opaque, grant_ref_t ref, void *buf, uint16_t len);

/* Answer one request (pure but for copy). */
void netback_ctrl_handle(struct netback_hash *h, unsigned nr_queues,
                         const struct xen_netif_ctrl_request *req,
                         struct xen_netif_ctrl_response *rsp, netback_ctrl_copy_fn *copy,
                         void *opaque);

/* io/netif.h's Toeplitz hash of buf under key. */
uint32_t netback_toeplitz(const uint8_t *key, unsigned keylen, const uint8_t *buf,
                          unsigned len);

/* The queue the frontend's settings steer frame to, or -1 when they do not
 * (hashing off, or a frame of no hash type asked for). */
int netback_hash_queue(const struct netback_hash *h, unsigned nr_queues, const uint8_t *frame,
                       uint32_t len);

/* One vif's control ring, served on the I/O thread. */
struct netback_ctrl {
    struct domain *d;
    domid_t by;
    struct evtchn_be *chan;
    unsigned nr_queues;
    xen_netif_ctrl_back_ring_t ring;
    grant_handle_t handle;
    bool mapped, broken;
    struct netback_hash hash;
    uint64_t requests;
};

/* Map the ring (grant ref, writable). 0 or -EINVAL. */
int netback_ctrl_init(struct netback_ctrl *c, struct domain *d, domid_t by, grant_ref_t ref,
                      struct evtchn_be *chan, unsigned nr_queues);
void netback_ctrl_fini(struct netback_ctrl *c);
/* Answer every queued request, notify once. A ring whose indices lie
 * (more requests than it holds) breaks it: -1, and nothing more is done
 * (the caller disables the vif, as netback does). 0 otherwise. */
int netback_ctrl_service(struct netback_ctrl *c);

#endif
