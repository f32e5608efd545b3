/*
 * A small netfront for test guests (io/netif.h over xenbus, connected as
 * Linux's xen-netfront connects): rx-copy, one queue, one event channel,
 * rx buffers posted up front and reposted as they come back, packets sent
 * from one page each (up to 4096 bytes), responses polled (test guests
 * take no interrupts; the wait is SCHEDOP_poll on the port), and GSO
 * packets from frames granted in place (below). Up to
 * NF_MAX_VIFS netfronts at once, each with pages of its own chosen by its
 * devid (devid % NF_MAX_VIFS: two connected at once need devids that
 * differ there). Its grants live in grant frame 1 (refs 512..1023), so a
 * guest may use frame 0 for other frontends (blkfront) beside it.
 */
#ifndef GUEST_NETFRONT_H
#define GUEST_NETFRONT_H

#include <stdint.h>

#ifndef xen_mb
#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif
#include <xen/grant_table.h>
#include <xen/io/netif.h>

/* The ring-3 benchmark guest posts the whole rx ring (a flood would
 * otherwise wait for refills) and serves one vif; the test guests serve up
 * to two vifs (or two queues), all within one grant frame. */
#ifdef NET_RING3
#define NF_RX_BUFS 256
#define NF_TX_BUFS 64
#define NF_MAX_VIFS 1
#define NF_GSO_FRAMES 8
#else
#define NF_RX_BUFS 64
#define NF_TX_BUFS 32
#define NF_MAX_VIFS 2
#define NF_GSO_FRAMES 1
#endif
/* A GSO frame: 64 KiB, granted page by page (read-only) at connect. */
#define NF_GSO_FRAME_PAGES 16

struct netfront {
    char fe[48];                    /* device/vif/<devid> */
    char be[128];
    uint8_t mac[6];
    unsigned mtu;
    uint32_t port;                  /* tx's, and rx's unless split */
    uint32_t rx_port;               /* split event channels: rx's own */
    int split;
    unsigned slot;                  /* its pages: devid % NF_MAX_VIFS */
    netif_tx_front_ring_t tx;
    netif_rx_front_ring_t rx;
    grant_ref_t tx_ring_ref, rx_ring_ref;
    grant_ref_t rx_gref[NF_RX_BUFS], tx_gref[NF_TX_BUFS];
    uint16_t tx_free[NF_TX_BUFS];
    unsigned nr_tx_free;
    grant_ref_t gso_gref[NF_GSO_FRAMES][NF_GSO_FRAME_PAGES];
    uint8_t gso_out[NF_GSO_FRAMES];     /* its slots the backend still has */
    uint64_t rx_packets, tx_packets, rx_errors, tx_errors;
};

/* Connect vif `devid`: wait for the backend's InitWait, publish the rings
 * and features, Connected, wait for the backend's Connected. 0 or -1.
 * With netfront_split set (and the backend offering it), tx and rx get
 * event channels of their own (event-channel-tx / -rx). */
extern int netfront_split;
/* Microseconds netfront_recv spins on the rx ring before it blocks in
 * SCHEDOP_poll (default 0: it blocks at once). A ring-3 benchmark loop
 * spins: each block costs an exit and a wake-up. */
extern unsigned netfront_spin_us;
int netfront_connect(struct netfront *f, unsigned devid);

/* Connect vif `devid` with nq queues (io/netif.h multi-queue: the keys of
 * queue i under queue-i/, multi-queue-num-queues = nq; nq = 1 is
 * netfront_connect). qs[i] is queue i, with pages of its own (nq at most
 * NF_MAX_VIFS, and then no other vif at once); send and receive on each as
 * on a netfront, close on qs[0]. 0 or -1. */
int netfront_connect_queues(struct netfront *qs, unsigned nq, unsigned devid);

/* Queue one packet (csum_blank: its L4 checksum holds only the pseudo-
 * header sum, for the backend to finish) and kick. 0, or -1 when no tx
 * buffer is free (after reaping) or it is too long. */
int netfront_send(struct netfront *f, const void *pkt, unsigned len, int csum_blank);

/* In-place GSO frames (NF_GSO_FRAMES of them, 64 KiB each, their pages
 * granted once at connect): the caller writes a packet into a frame and
 * sends it from there, with no copy, as Linux's netfront grants an skb's
 * own pages. A frame is the backend's from netfront_send_gso_frame until
 * every slot of it is answered; meanwhile it must not be written.
 * netfront_gso_frame: frame i's memory (i < NF_GSO_FRAMES).
 * netfront_gso_frame_free: a frame the caller may write (after reaping),
 * or -1 when the backend has all of them.
 * netfront_send_gso_frame: send frame i's first len bytes (up to 64 KiB,
 * a TCP/IPv4 packet whose TCP checksum holds the pseudo-header sum) as a
 * GSO packet of gso_size-byte segments, one tx slot a page with the GSO
 * extra after the first, and kick; 0, or -1 when i is out of range,
 * still the backend's, or len does not fit. */
uint8_t *netfront_gso_frame(struct netfront *f, unsigned i);
int netfront_gso_frame_free(struct netfront *f);
int netfront_send_gso_frame(struct netfront *f, unsigned i, unsigned len, unsigned gso_size);

/* The next received packet (slots joined) into buf: its length, 0 when
 * none came within ms, -1 for an error response. *rx_flags gets the first
 * slot's NETRXF_* (may be NULL). */
int netfront_recv(struct netfront *f, void *buf, unsigned cap, unsigned ms,
                  uint16_t *rx_flags);

/* For the hostile guest: grant a page of ours (ref in frame 1, 0 when
 * none is left), revoke a grant, push raw tx requests as given (and kick),
 * and take the next tx response within ms (0, or -1 when none came). */
grant_ref_t netfront_grant(const void *page, int readonly);
void netfront_revoke(grant_ref_t ref);
void netfront_push_raw_tx(struct netfront *f, const netif_tx_request_t *reqs, unsigned n);
int netfront_next_tx_response(struct netfront *f, netif_tx_response_t *r, unsigned ms);

/* With netfront_ctrl set (and the backend offering feature-ctrl-ring),
 * netfront_connect_queues sets up the control ring too (one at a time).
 * netfront_ctrl_request sends one message and waits for its answer: the
 * XEN_NETIF_CTRL_STATUS_* (and *data), or -1 when none came or there is no
 * ring. netfront_ctrl_data: a page (granted read-only, ref in *ref) for a
 * message's key or table. */
extern int netfront_ctrl;
int netfront_ctrl_request(uint16_t type, uint32_t d0, uint32_t d1, uint32_t d2,
                          uint32_t *data);
void *netfront_ctrl_data(grant_ref_t *ref);

/* Closing, then Closed once the backend has closed. */
int netfront_close(struct netfront *f);

#endif
