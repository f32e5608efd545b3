/*
 * libFuzzer target: netback's tx path (vmm/backends/netback/) against a
 * frontend whose tx ring holds whatever the input says. Input:
 *   byte 0      how many slots the frontend claims (req_prod - req_cons,
 *               up to 255, or a lie past the ring when bit 7 of byte 1)
 *   byte 1      bit 0: drain packets between kicks; bits 1-6: the head
 *               length for the head-only offload check; bit 7: lying prod
 *   then        the slots, 12 bytes each (netif_tx_request / extra info),
 *               with grant refs folded onto 64 granted pages and a few
 *               refs that are not granted, then page contents.
 * First each packet's slots go through netback_tx_parse() alone, with its
 * invariants checked (a verdict, slots within what was given, pieces within
 * their page and the 16-bit size); then the whole ring through
 * netback_tx_service() into a socketpair, where each response must name a
 * slot's id, the packets written must be well formed, every grant must be
 * unpinned once the queue is done (packets over a page are sent from
 * mapped grants), and ASan must see nothing. Also: netback_tx_offload_head()
 * on a cut of the first data page agrees with netback_tx_offload() on all
 * of it whenever it does not ask for more (-2).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "evtchn_backend.h"
#include "log.h"
#include "netback_offload.h"
#include "netback_queue.h"
#include "xen_test_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TX_RING_REF 1
#define RX_RING_REF 2
#define TX_RING_FRAME 0x100
#define RX_RING_FRAME 0x101
#define DATA_REF 16
#define DATA_FRAME 0x200
#define NDATA 64

static struct domain *d;
static int sv[2];

static uint8_t *page(uint32_t frame)
{
    return gmem_ptr(&d->mem, (uint64_t)frame << 12, 4096);
}

static void init_once(void)
{
    if (d)
        return;
    log_init("fuzz-netback-tx", fopen("/dev/null", "w"), LOG_ERR);
    d = test_domain_new((1u << TEST_GNTTAB_FRAMES) - 1);
    test_grant(d, TX_RING_REF, GTF_permit_access, 0, TX_RING_FRAME);
    test_grant(d, RX_RING_REF, GTF_permit_access, 0, RX_RING_FRAME);
    for (unsigned i = 0; i < NDATA; i++)
        test_grant(d, DATA_REF + i, GTF_permit_access | (i % 9 == 8 ? GTF_readonly : 0),
                   0, DATA_FRAME + i);
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv) < 0)
        abort();
    int big = 4 << 20;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
}

static void drain(void)
{
    static uint8_t buf[70000];
    ssize_t n;
    while ((n = recv(sv[1], buf, sizeof(buf), 0)) >= 0) {
        if ((size_t)n < sizeof(struct virtio_net_hdr) + NETBK_ETH_HLEN ||
            (size_t)n > sizeof(struct virtio_net_hdr) + NETBK_MAX_PACKET)
            abort();
        struct virtio_net_hdr h;
        memcpy(&h, buf, sizeof(h));
        size_t len = (size_t)n - sizeof(h);
        if ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
            (size_t)h.csum_start + h.csum_offset + 2 > len)
            abort();
        if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE &&
            (h.gso_size == 0 || h.hdr_len > len))
            abort();
    }
}

static void check_parse(const netif_tx_request_t *slot, unsigned n)
{
    struct tx_packet p;
    netback_tx_parse(slot, n, &p);
    unsigned window = n < NETBK_TX_WINDOW ? n : NETBK_TX_WINDOW;
    if (p.verdict == TX_FATAL)
        return;
    if (p.nr_slots < 1 || p.nr_slots > window)
        abort();
    if (p.verdict != TX_SEND)
        return;
    if (p.nr_data < 1 || p.nr_data > NETBK_MAX_SLOTS || p.len > NETBK_MAX_PACKET ||
        p.len < NETBK_ETH_HLEN || p.data[0].size < NETBK_ETH_HLEN)
        abort();
    for (unsigned i = 0; i < p.nr_data; i++) {
        if ((unsigned)p.data[i].offset + p.data[i].size > NETIF_PAGE_SIZE)
            abort();
    }
}

/* The head-only judge against the whole-packet one, on the same bytes. */
static void check_offload_head(const uint8_t *pkt, size_t have, bool gso)
{
    static uint8_t a[4096], b[4096];
    memcpy(a, pkt, sizeof(a));
    memcpy(b, pkt, sizeof(b));
    struct netif_extra_info ex = { .type = XEN_NETIF_EXTRA_TYPE_GSO };
    ex.u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
    ex.u.gso.size = 1448;
    struct virtio_net_hdr hh, hw;
    int rh = netback_tx_offload_head(a, have, sizeof(a), NETTXF_csum_blank,
                                     gso ? &ex : NULL, &hh);
    int rw = netback_tx_offload(b, sizeof(b), NETTXF_csum_blank, gso ? &ex : NULL, &hw);
    if (rh == -2)
        return;
    if (rh != rw || (rh == 0 && memcmp(&hh, &hw, sizeof(hh)) != 0) ||
        memcmp(a + have, pkt + have, sizeof(a) - have) != 0)
        abort();
}

static uint64_t fake_ns;
static uint64_t fake_clock(void) { return fake_ns += 500; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    init_once();
    unsigned claimed = data[0];
    bool drain_between = data[1] & 1, lie = data[1] & 0x80;
    size_t head = 14 + (size_t)((data[1] >> 1) & 0x3f) * 8;
    data += 2;
    size -= 2;

    netif_tx_sring_t *ts = (netif_tx_sring_t *)page(TX_RING_FRAME);
    netif_rx_sring_t *rs = (netif_rx_sring_t *)page(RX_RING_FRAME);
    SHARED_RING_INIT(ts);
    SHARED_RING_INIT(rs);
    netif_tx_front_ring_t fr;
    FRONT_RING_INIT(&fr, ts, 4096);

    unsigned nslots = (unsigned)(size / sizeof(netif_tx_request_t));
    if (nslots > claimed)
        nslots = claimed;
    netif_tx_request_t slots[NETIF_TX_RING_SIZE];
    memset(slots, 0, sizeof(slots));
    for (unsigned i = 0; i < nslots && i < NETIF_TX_RING_SIZE; i++) {
        memcpy(&slots[i], data + i * sizeof(netif_tx_request_t), sizeof(slots[i]));
        /* Most refs land on granted pages; some stay wild. */
        if (slots[i].gref & 0x80000000u)
            slots[i].gref = DATA_REF + (slots[i].gref % (NDATA + 4));
    }
    size_t used = (size_t)nslots * sizeof(netif_tx_request_t);
    for (unsigned i = 0; i < NDATA && used < size; i++) {
        size_t n = size - used < 4096 ? size - used : 4096;
        memcpy(page(DATA_FRAME + i), data + used, n);
        used += n;
    }

    for (unsigned i = 0; i < claimed && i < NETIF_TX_RING_SIZE; i++)
        *RING_GET_REQUEST(&fr, i) = slots[i];
    check_offload_head(page(DATA_FRAME), head, claimed & 1);
    /* The parser alone, at each packet start it might see. */
    for (unsigned i = 0; i < claimed && i < NETIF_TX_RING_SIZE; i++)
        check_parse(&slots[i], claimed - i);

    struct evtchn_be chan;
    int port = evtchn_alloc_unbound(d, 0);
    if (port <= 0 || evtchn_be_bind(&chan, d, 0, (uint32_t)port, NULL, NULL) < 0)
        abort();
    static struct netback_queue q;
    memset(&q, 0, sizeof(q));
    if (netback_queue_init(&q, d, 0, TX_RING_REF, RX_RING_REF, sv[0],
                           (struct netback_rx_features){ .csum = true, .gso_tcpv4 = true, .gso_tcpv6 = true, .csum_v6 = true },
                           &chan, &chan) < 0)
        abort();
    /* Kick in two steps: half of the slots, then all of them. */
    q.now_ns = fake_clock;
    q.busy_poll_ns = 2000;
    ts->req_prod = lie ? 0x10000u + claimed : claimed / 2;
    netback_tx_service(&q);
    if (netback_tx_busy_poll(&q, NETBK_POLL_AFTER_TX))
        netback_tx_service(&q);
    if (drain_between)
        drain();
    if (!lie) {
        ts->req_prod = claimed;
        netback_tx_service(&q);
    }
    /* Responses: never past what was consumed, each a known id. */
    if ((int32_t)(ts->rsp_prod - q.tx.req_cons) > 0)
        abort();
    for (RING_IDX i = 0; i != ts->rsp_prod; i++) {
        netif_tx_response_t *r = RING_GET_RESPONSE(&fr, i);
        if (r->status != NETIF_RSP_OKAY && r->status != NETIF_RSP_ERROR &&
            r->status != NETIF_RSP_NULL)
            abort();
    }
    drain();
    netback_queue_fini(&q);
    /* Nothing stays pinned: mapped pieces are unmapped within a service. */
    for (unsigned i = 0; i < NDATA + 4; i++) {
        unsigned ro, rw;
        grant_pins(&d->grants, DATA_REF + i, &ro, &rw);
        if (ro || rw)
            abort();
    }
    evtchn_be_unbind(&chan);
    evtchn_close(d, (uint32_t)port);
    return 0;
}
