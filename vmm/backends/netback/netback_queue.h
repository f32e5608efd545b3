/*
 * One netback queue's data path (io/netif.h): the guest's tx and rx rings,
 * in rx-copy mode, against a tap opened with IFF_VNET_HDR (or anything that
 * keeps datagram boundaries and speaks the same header: a socketpair in the
 * tests).
 *
 * The contract:
 * - Everything runs on the backend's thread (the I/O thread); no call
 *   blocks: the tap fd must be O_NONBLOCK. A vCPU never waits for it.
 * - The rings are mapped once, writable, through the domain's grant
 *   mapper. Rx data moves by grant copy (grant_map.h), in one batch per
 *   kick, into the guest's pages. Tx packets that fit in
 *   NETBK_TX_COPY_MAX are grant-copied into the backend's own buffer in
 *   one batch per flush; a bigger one (GSO) has its first NETBK_TX_HEAD
 *   bytes copied the same way (every header judged or rewritten is read
 *   from that private copy, never from a page the guest can still write),
 *   and the rest mapped read-only (grant_map_batch, one lock per packet),
 *   written to the tap with one writev straight from the guest's pages,
 *   and unmapped before the service ends, as Linux's netback maps what
 *   lies past its copied head. Headers that reach past the head make the
 *   packet be copied whole instead.
 * - netback_tx_service() runs after a tx kick: it takes every queued
 *   packet (up to tx_budget of them; 0: four rings' worth), judges it as
 *   Linux's netback does (netback_tx_parse.h), copies the good ones,
 *   writes each to the tap with its virtio-net header and answers every
 *   slot; one notify per service. Small packets go out in batches; a
 *   mapped one as soon as it is parsed, its answers pushed at once, so
 *   that the frontend refills those slots while the service goes on. A
 *   service that stops at its budget turns the frontend's kicks back on,
 *   and with requests still queued calls want_tx(opaque): call
 *   netback_tx_service() again from the loop (no kick comes for those).
 *   A packet whose grant copy fails is answered NETIF_RSP_ERROR.
 * - netback_rx_service() runs after an rx kick or when the tap is
 *   readable: while the frontend has posted rx requests it reads packets
 *   from the tap and copies each into as many posted pages as it needs
 *   (plus one slot for a GSO extra). With none posted (or too few for the
 *   packet in hand), it arms req_event and tells its owner to stop
 *   watching the tap (want_tap(false)): nothing spins, and the tap's own
 *   queue holds the traffic until the frontend posts. A partial checksum
 *   the frontend cannot take blank (no csum offload, or IPv6 without
 *   feature-ipv6-csum-offload) is finished here first.
 * - A frontend the parser judges FATAL, or whose ring indices lie (more
 *   requests than the ring holds), is disabled: q->broken is set with a
 *   reason, on_fatal is called once, and the queue does nothing more.
 *   Other queues, vifs and domains are unaffected.
 * - Ids are the frontend's: echoed, never used as indices.
 * - netback_tx_busy_poll(), called by the owner right after an rx service
 *   that delivered something (NETBK_POLL_AFTER_RX), or after a tx service
 *   (NETBK_POLL_AFTER_TX: a guest streaming out keeps the ring fed while
 *   this thread writes), watches the tx ring for up to busy_poll_ns
 *   with the frontend's tx kicks turned off (req_event left behind, as
 *   vhost-net's busyloop turns off its virtqueue's notifications), so that
 *   an answer (an echo, an ack) costs the guest no exit and this thread no
 *   wake-up. A watch that sees nothing turns kicks back on the usual way
 *   (req_event = req_cons + 1, then a last look), and makes the next ones
 *   on that occasion rarer (skipped 1, 2, 4 ... 64 times in a row), so a
 *   one-way flood or a slow guest costs little spinning; a hit makes them
 *   every time again.
 * - rate= (netback_set_rate) is netback's credit scheduler: credit_bytes
 *   per credit_usec window, bursts up to max(128 KiB, credit_bytes); a
 *   packet over the credit left waits, unconsumed, until the next window
 *   (want_timer(opaque, ns): call netback_tx_service() at that
 *   CLOCK_MONOTONIC time).
 */
#ifndef XENON_NETBACK_QUEUE_H
#define XENON_NETBACK_QUEUE_H

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stdint.h>

#include "grant_map.h"
#include "netif_ring.h"
#include "netback_tx_parse.h"

struct domain;
struct evtchn_be;
struct netback_filter;

/* What the frontend accepts on rx (its xenstore features). */
struct netback_rx_features {
    bool csum;          /* !feature-no-csum-offload */
    bool gso_tcpv4, gso_tcpv6;
    bool csum_v6;       /* feature-ipv6-csum-offload */
};

/* When netback_tx_busy_poll() is called. */
enum netback_poll_after { NETBK_POLL_AFTER_RX, NETBK_POLL_AFTER_TX, NETBK_POLL_NR };

struct netback_stats {
    uint64_t tx_packets, tx_bytes, tx_dropped, tx_errors;
    uint64_t rx_packets, rx_bytes, rx_dropped, rx_errors;
    uint64_t tx_kicks, rx_kicks, tx_rate_waits;
    uint64_t tx_filtered;           /* dropped by the anti-spoofing filter */
    uint64_t tx_mapped;             /* sent from mapped grants (not copied) */
    uint64_t tx_polls, tx_poll_hits;/* netback_tx_busy_poll() watches, found */
};

/* Largest packet either way: io/netif.h's 16-bit sizes. */
#define NETBK_MAX_PACKET 65535u
#define NETBK_TX_BATCH 64u              /* packets per tx flush */
#define NETBK_TX_ARENA (4u * 65536u)    /* bytes per tx flush */
#define NETBK_RX_BATCH 64u              /* packets per rx service */
#define NETBK_TX_COPY_MAX NETIF_PAGE_SIZE   /* larger tx packets are mapped */
#define NETBK_TX_HEAD 256u              /* bytes of a mapped packet copied */
#define NETBK_TX_POLL_NS 50000u         /* default busy_poll_ns */
#define NETBK_TX_POLL_SKIP_MAX 64u
#define NETBK_RX_MAX_SLOTS ((NETBK_MAX_PACKET + NETIF_PAGE_SIZE - 1) / NETIF_PAGE_SIZE + 1)

struct netback_tx_pending {
    struct tx_packet pkt;
    unsigned first_op, nr_ops;
    uint32_t arena_off;
    bool mapped;                        /* the rest past the head is mapped */
    unsigned first_map, nr_map;
};

/* One piece of a mapped packet: a grant and the bytes of its page. */
struct netback_tx_map {
    struct grant_map_op op;
    uint16_t offset, len;
};

struct netback_queue {
    struct domain *d;
    domid_t by;                         /* the domain we act as (0) */
    int tap_fd;                         /* not owned; rx reads it */
    int tx_fd;                          /* where tx writes: tap_fd unless the
                                         * owner says otherwise (multi-queue) */
    struct netback_rx_features fe;
    struct evtchn_be *tx_chan, *rx_chan;/* the same one unless split */

    netif_tx_back_ring_t tx;
    netif_rx_back_ring_t rx;
    grant_handle_t tx_handle, rx_handle;
    bool tx_mapped, rx_mapped;

    /* When set (the hotplug script asked for it: netback_filter.h), every
     * frame the guest sends is judged after its copy; one that fails is
     * answered OKAY, as a switch port drops it, and counted. Not owned. */
    const struct netback_filter *filter;

    bool broken;
    const char *broken_why;
    void (*on_fatal)(void *opaque);
    void (*want_tap)(void *opaque, bool want);
    void (*want_timer)(void *opaque, uint64_t at_ns);
    void (*want_tx)(void *opaque);
    unsigned tx_budget;                 /* packets a tx service (0: default) */
    uint64_t (*now_ns)(void);           /* CLOCK_MONOTONIC; tests replace it */
    void *opaque;
    bool watching_tap;

    /* tx: the batch being gathered */
    uint8_t *tx_arena;
    struct grant_copy_op tx_ops[NETBK_TX_BATCH * NETBK_MAX_SLOTS];
    struct netback_tx_pending tx_batch[NETBK_TX_BATCH];
    struct netback_tx_map tx_maps[NETBK_TX_BATCH * NETBK_MAX_SLOTS];
    unsigned tx_nr, tx_nr_ops, tx_nr_maps;
    uint8_t *tx_whole;                  /* a mapped packet copied whole
                                           (made at first use) */
    uint32_t tx_arena_used;

    /* tx credit (rate=): unlimited while credit_usec is 0 */
    uint64_t credit_bytes, credit_usec, remaining_credit, window_start_ns;
    bool rate_timer_pending;
    uint64_t rate_timer_ns;

    /* rx: a packet read from the tap, waiting for posted pages */
    uint8_t *rx_buf;
    struct virtio_net_hdr rx_hdr;
    uint32_t rx_len;
    bool rx_held;

    /* tx busy-poll (0: never); set by the owner. Each occasion backs off
     * on its own: a ping's lone answer must not stop the watch after rx. */
    uint64_t busy_poll_ns;
    struct netback_poll { unsigned skip, backoff; } poll[NETBK_POLL_NR];

    struct netback_stats st;
};

/* Map the frontend's rings (grants tx_ref and rx_ref, writable) and set up
 * the buffers. 0, -ENOMEM, or -EINVAL for a ring grant that does not map. */
int netback_queue_init(struct netback_queue *q, struct domain *d, domid_t by,
                       grant_ref_t tx_ref, grant_ref_t rx_ref, int tap_fd,
                       struct netback_rx_features fe,
                       struct evtchn_be *tx_chan, struct evtchn_be *rx_chan);
/* Unmap the rings and free the buffers (the channels and fd stay). */
void netback_queue_fini(struct netback_queue *q);

void netback_tx_service(struct netback_queue *q);
/* Limit tx to bytes per usec (0: no limit), as the backend's rate node. */
void netback_set_rate(struct netback_queue *q, uint64_t bytes, uint64_t usec);
/* "BYTES,USECS" (the rate node libxl writes): 0, or -1 when malformed. */
int netback_parse_rate(const char *s, uint64_t *bytes, uint64_t *usec);
void netback_rx_service(struct netback_queue *q);
/* Watch the tx ring for up to busy_poll_ns (see above): true when requests
 * are there (call netback_tx_service()), false otherwise. */
bool netback_tx_busy_poll(struct netback_queue *q, enum netback_poll_after after);

#endif
