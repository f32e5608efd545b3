/*
 * Parsing one packet's tx requests (io/netif.h), as Linux's xen-netback
 * judges them (drivers/net/xen-netback/netback.c: xenvif_tx_build_gops,
 * xenvif_count_requests, xenvif_get_extras, xenvif_set_skb_gso). Pure: it
 * reads a private copy of the ring slots, each copied once from the shared
 * ring, so a guest rewriting the ring meanwhile changes nothing.
 *
 * The verdicts and the limits are netback's:
 * - FATAL (the frontend is disabled, as xenvif_fatal_tx_err): a packet
 *   whose slots or extras run past what the frontend has queued, more than
 *   NETBK_FATAL_SLOTS follow-on slots, a slot crossing its page, an extra
 *   of type 0 or >= XEN_NETIF_EXTRA_TYPE_MAX, a GSO extra with size 0 or a
 *   type other than TCPv4/TCPv6. Also (our choice, where Linux would loop
 *   while the guest sets FLAG_MORE) more extras than there are types.
 * - DROP (every slot answered NETIF_RSP_ERROR, extras NETIF_RSP_NULL): more
 *   than NETBK_MAX_SLOTS slots in all, a follow-on slot larger than what is
 *   left of the packet's size (a >= 64 KiB packet wrapped first->size), a
 *   first slot shorter than an Ethernet header.
 * - CONTROL: a multicast add/del extra: answered NETIF_RSP_OKAY, no packet
 *   (the tap sees all traffic; there is no filter to program).
 * - SEND: data[0..nr_data) are the packet's pieces, data[0].size its own.
 */
#ifndef XENON_NETBACK_TX_PARSE_H
#define XENON_NETBACK_TX_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "netif_ring.h"

/* Slots one packet may use (XEN_NETBK_LEGACY_SLOTS_MAX: the historical
 * MAX_SKB_FRAGS, 18, follow-on slots after the first). */
#define NETBK_MAX_SLOTS (XEN_NETIF_NR_SLOTS_MIN + 1)
/* Follow-on slots past which the frontend is malicious (Linux's default
 * fatal_skb_slots). */
#define NETBK_FATAL_SLOTS 20
#define NETBK_MAX_EXTRAS (XEN_NETIF_EXTRA_TYPE_MAX - 1)
/* Slots the parser may need to see to reach a verdict. */
#define NETBK_TX_WINDOW (1 + NETBK_MAX_EXTRAS + NETBK_FATAL_SLOTS + 1)
#define NETBK_ETH_HLEN 14

enum tx_verdict { TX_SEND, TX_DROP, TX_CONTROL, TX_FATAL };

struct tx_packet {
    enum tx_verdict verdict;
    const char *why;                /* for DROP and FATAL */
    unsigned nr_slots;              /* ring slots it consumes */
    /* Per slot in ring order: its id, and whether it is an extra. */
    uint16_t id[NETBK_TX_WINDOW];
    bool is_extra[NETBK_TX_WINDOW];
    unsigned nr_data;
    netif_tx_request_t data[NETBK_MAX_SLOTS];
    uint32_t len;                   /* sum of the data sizes */
    uint16_t flags;                 /* the first request's NETTXF_* */
    bool has_gso;
    struct netif_extra_info gso;
};

/* Judge the packet starting at slot[0]; n slots (>= 1) are all the
 * frontend has queued, or NETBK_TX_WINDOW if it queued more. */
void netback_tx_parse(const netif_tx_request_t *slot, unsigned n,
                      struct tx_packet *p);

#endif
