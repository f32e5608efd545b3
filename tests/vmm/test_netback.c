/* Unit tests for netback's data path (vmm/backends/netback/): a fake
 * frontend writes ring requests and grants into the test domain's memory,
 * a socketpair stands in for the tap, and every hostile case netback
 * judges is played against it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "evtchn_backend.h"
#include "netback_filter.h"
#include "netback_offload.h"
#include "netback_queue.h"
#include "xen_test_env.h"

#define TX_RING_REF 1
#define RX_RING_REF 2
#define TX_RING_FRAME 0x100
#define RX_RING_FRAME 0x101
#define DATA_REF 16             /* data grants from here */
#define DATA_FRAME 0x200        /* their frames */
#define NDATA 64
#define HDR sizeof(struct virtio_net_hdr)

struct fx {
    struct domain *d;
    netif_tx_front_ring_t tx;
    netif_rx_front_ring_t rx;
    struct evtchn_be chan;
    uint32_t port;
    int sv[2];                  /* sv[0] netback's "tap", sv[1] the host */
    struct netback_queue *q;
    int fatals, want_on, want_off;
};

static void on_fatal(void *o) { ((struct fx *)o)->fatals++; }
static void on_want(void *o, bool w)
{
    struct fx *f = o;
    if (w)
        f->want_on++;
    else
        f->want_off++;
}

static uint8_t *page(struct fx *f, uint32_t frame)
{
    return gmem_ptr(&f->d->mem, (uint64_t)frame << 12, 4096);
}

static int setup_fe(void **state, struct netback_rx_features fe)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->d = test_domain_new((1u << TEST_GNTTAB_FRAMES) - 1);
    netif_tx_sring_t *ts = (netif_tx_sring_t *)page(f, TX_RING_FRAME);
    netif_rx_sring_t *rs = (netif_rx_sring_t *)page(f, RX_RING_FRAME);
    SHARED_RING_INIT(ts);
    SHARED_RING_INIT(rs);
    FRONT_RING_INIT(&f->tx, ts, 4096);
    FRONT_RING_INIT(&f->rx, rs, 4096);
    test_grant(f->d, TX_RING_REF, GTF_permit_access, 0, TX_RING_FRAME);
    test_grant(f->d, RX_RING_REF, GTF_permit_access, 0, RX_RING_FRAME);
    for (unsigned i = 0; i < NDATA; i++)
        test_grant(f->d, DATA_REF + i, GTF_permit_access, 0, DATA_FRAME + i);
    int port = evtchn_alloc_unbound(f->d, 0);
    assert_true(port > 0);
    f->port = (uint32_t)port;
    assert_int_equal(evtchn_be_bind(&f->chan, f->d, 0, f->port, NULL, NULL), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, f->sv), 0);
    int big = 1 << 20;
    setsockopt(f->sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    setsockopt(f->sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    f->q = calloc(1, sizeof(*f->q));
    assert_int_equal(netback_queue_init(f->q, f->d, 0, TX_RING_REF, RX_RING_REF,
                                        f->sv[0], fe, &f->chan, &f->chan), 0);
    f->q->on_fatal = on_fatal;
    f->q->want_tap = on_want;
    f->q->opaque = f;
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_fe(state, (struct netback_rx_features){ .csum = true, .gso_tcpv4 = true, .gso_tcpv6 = true, .csum_v6 = true });
}

static int teardown(void **state)
{
    struct fx *f = *state;
    netback_queue_fini(f->q);
    /* Every grant is released: no pins left on the rings or data. */
    unsigned ro, rw;
    grant_pins(&f->d->grants, TX_RING_REF, &ro, &rw);
    assert_int_equal(ro + rw, 0);
    grant_pins(&f->d->grants, DATA_REF, &ro, &rw);
    assert_int_equal(ro + rw, 0);
    evtchn_be_unbind(&f->chan);
    close(f->sv[0]);
    close(f->sv[1]);
    free(f->q);
    test_domain_free(f->d);
    free(f);
    return 0;
}

/* ---- the fake frontend ---- */

static void tx_put(struct fx *f, grant_ref_t ref, uint16_t off, uint16_t flags,
                   uint16_t id, uint16_t size)
{
    netif_tx_request_t *r = RING_GET_REQUEST(&f->tx, f->tx.req_prod_pvt++);
    *r = (netif_tx_request_t){ .gref = ref, .offset = off, .flags = flags,
                               .id = id, .size = size };
}

static void tx_put_extra(struct fx *f, struct netif_extra_info ex)
{
    struct netif_extra_info *e =
        (struct netif_extra_info *)RING_GET_REQUEST(&f->tx, f->tx.req_prod_pvt++);
    *e = ex;
}

static void tx_push(struct fx *f)
{
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f->tx, notify);
    (void)notify;
    netback_tx_service(f->q);
}

/* The next tx response, which must exist. */
static netif_tx_response_t tx_rsp(struct fx *f)
{
    assert_true(RING_HAS_UNCONSUMED_RESPONSES(&f->tx));
    netif_tx_response_t r = *RING_GET_RESPONSE(&f->tx, f->tx.rsp_cons);
    f->tx.rsp_cons++;
    return r;
}

static void assert_no_tx_rsp(struct fx *f)
{
    assert_false(RING_HAS_UNCONSUMED_RESPONSES(&f->tx));
}

/* A packet from the host end: header and frame; -1 when none. */
static ssize_t host_recv(struct fx *f, struct virtio_net_hdr *h, uint8_t *buf,
                         size_t cap)
{
    uint8_t tmp[HDR + 70000];
    ssize_t n = recv(f->sv[1], tmp, sizeof(tmp), 0);
    if (n < 0)
        return -1;
    assert_true((size_t)n >= HDR);
    memcpy(h, tmp, HDR);
    assert_true((size_t)n - HDR <= cap);
    memcpy(buf, tmp + HDR, (size_t)n - HDR);
    return n - (ssize_t)HDR;
}

/* An Ethernet + IPv4 + UDP (or TCP) frame of len bytes in buf. */
static void make_ipv4(uint8_t *b, size_t len, uint8_t proto)
{
    memset(b, 0, len);
    memset(b, 0xff, 6);
    b[6] = 0x00; b[7] = 0x16; b[8] = 0x3e; b[11] = 1;
    b[12] = 0x08; b[13] = 0x00;
    uint8_t *ip = b + 14;
    ip[0] = 0x45;
    size_t tot = len - 14;
    ip[2] = (uint8_t)(tot >> 8); ip[3] = (uint8_t)tot;
    ip[8] = 64; ip[9] = proto;
    ip[12] = 10; ip[15] = 1; ip[16] = 10; ip[19] = 2;
    if (proto == 6)
        ip[20 + 12] = 5 << 4;       /* TCP data offset 20 */
    for (size_t i = 14 + 20 + 20; i < len; i++)
        b[i] = (uint8_t)(i * 7);
}

static void make_ipv6_tcp(uint8_t *b, size_t len)
{
    memset(b, 0, len);
    b[12] = 0x86; b[13] = 0xdd;
    uint8_t *ip = b + 14;
    ip[0] = 0x60;
    size_t pl = len - 14 - 40;
    ip[4] = (uint8_t)(pl >> 8); ip[5] = (uint8_t)pl;
    ip[6] = 6; ip[7] = 64;
    ip[8 + 15] = 1; ip[24 + 15] = 2;
    ip[40 + 12] = 8 << 4;           /* TCP header with 12 bytes of options */
}

/* Lay buf out over data pages from DATA_REF+first, `per` bytes a slot. */
static unsigned tx_put_packet(struct fx *f, const uint8_t *buf, size_t len,
                              size_t per, unsigned first, uint16_t flags0,
                              uint16_t id0)
{
    unsigned slots = 0;
    size_t off = 0;
    do {
        size_t n = len - off < per ? len - off : per;
        memcpy(page(f, DATA_FRAME + first + slots), buf + off, n);
        uint16_t flags = (uint16_t)((slots == 0 ? flags0 : 0) |
                                    (off + n < len ? NETTXF_more_data : 0));
        tx_put(f, DATA_REF + first + slots, 0, flags, (uint16_t)(id0 + slots),
               (uint16_t)(slots == 0 ? len : n));
        off += n;
        slots++;
    } while (off < len);
    return slots;
}

/* ---- tx ---- */

static void tx_one_slot_reaches_the_tap(void **state)
{
    struct fx *f = *state;
    uint8_t pkt[60], got[100];
    make_ipv4(pkt, sizeof(pkt), 17);
    memcpy(page(f, DATA_FRAME) + 100, pkt, sizeof(pkt));
    tx_put(f, DATA_REF, 100, 0, 0x1234, sizeof(pkt));
    tx_push(f);
    netif_tx_response_t r = tx_rsp(f);
    assert_int_equal(r.id, 0x1234);
    assert_int_equal(r.status, NETIF_RSP_OKAY);
    struct virtio_net_hdr h;
    assert_int_equal(host_recv(f, &h, got, sizeof(got)), sizeof(pkt));
    assert_memory_equal(got, pkt, sizeof(pkt));
    assert_int_equal(h.flags, 0);
    assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
    assert_true(evtchn_is_pending(f->d, f->port));
    assert_int_equal(f->q->st.tx_packets, 1);
    assert_int_equal(f->fatals, 0);
}

/* With the anti-spoofing filter on, a frame from another MAC is answered
 * OKAY (as a switch port drops it), never reaches the tap and is counted;
 * the guest's own still goes; a frame rewritten in guest memory after its
 * copy changes nothing (the verdict is on the copy). */
static void tx_filter_drops_forged_sources(void **state)
{
    struct fx *f = *state;
    struct netback_filter flt;
    assert_int_equal(netback_filter_init(&flt, "00:16:3e:00:00:01", "10.0.0.1"), 0);
    f->q->filter = &flt;
    uint8_t pkt[60], got[100];
    make_ipv4(pkt, sizeof(pkt), 17);            /* from 00:16:3e:00:00:01, 10.0.0.1 */
    pkt[11] = 2;                                /* another guest's MAC */
    memcpy(page(f, DATA_FRAME), pkt, sizeof(pkt));
    tx_put(f, DATA_REF, 0, 0, 1, sizeof(pkt));
    pkt[11] = 1;
    pkt[14 + 15] = 9;                           /* its MAC, another's address */
    memcpy(page(f, DATA_FRAME + 1), pkt, sizeof(pkt));
    tx_put(f, DATA_REF + 1, 0, 0, 2, sizeof(pkt));
    pkt[14 + 15] = 1;                           /* its own */
    memcpy(page(f, DATA_FRAME + 2), pkt, sizeof(pkt));
    tx_put(f, DATA_REF + 2, 0, 0, 3, sizeof(pkt));
    tx_push(f);
    for (uint16_t id = 1; id <= 3; id++) {
        netif_tx_response_t r = tx_rsp(f);
        assert_int_equal(r.id, id);
        assert_int_equal(r.status, NETIF_RSP_OKAY);
    }
    struct virtio_net_hdr h;
    assert_int_equal(host_recv(f, &h, got, sizeof(got)), sizeof(pkt));
    assert_memory_equal(got, pkt, sizeof(pkt));
    assert_int_equal(host_recv(f, &h, got, sizeof(got)), -1);
    assert_int_equal(f->q->st.tx_filtered, 2);
    assert_int_equal(f->q->st.tx_packets, 1);
    f->q->filter = NULL;                        /* not asked for: all go */
    pkt[11] = 2;
    memcpy(page(f, DATA_FRAME), pkt, sizeof(pkt));
    tx_put(f, DATA_REF, 0, 0, 4, sizeof(pkt));
    tx_push(f);
    assert_int_equal(tx_rsp(f).status, NETIF_RSP_OKAY);
    assert_int_equal(host_recv(f, &h, got, sizeof(got)), sizeof(pkt));
    assert_int_equal(f->q->st.tx_filtered, 2);
    assert_int_equal(f->fatals, 0);
}

static void tx_scatter_gather_with_checksum_offload(void **state)
{
    struct fx *f = *state;
    static uint8_t pkt[9000], got[9000];
    make_ipv4(pkt, sizeof(pkt), 17);
    unsigned n = tx_put_packet(f, pkt, sizeof(pkt), 1000, 0, NETTXF_csum_blank, 7);
    assert_int_equal(n, 9);
    tx_push(f);
    for (unsigned i = 0; i < n; i++) {
        netif_tx_response_t r = tx_rsp(f);
        assert_int_equal(r.id, 7 + i);
        assert_int_equal(r.status, NETIF_RSP_OKAY);
    }
    assert_no_tx_rsp(f);
    struct virtio_net_hdr h;
    assert_int_equal(host_recv(f, &h, got, sizeof(got)), sizeof(pkt));
    assert_memory_equal(got, pkt, sizeof(pkt));
    assert_int_equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
    assert_int_equal(h.csum_start, 34);
    assert_int_equal(h.csum_offset, 6);
}

static void tx_data_validated(void **state)
{
    struct fx *f = *state;
    uint8_t pkt[100], got[100];
    make_ipv4(pkt, sizeof(pkt), 17);
    tx_put_packet(f, pkt, sizeof(pkt), 4096, 0, NETTXF_data_validated, 1);
    tx_push(f);
    assert_int_equal(tx_rsp(f).status, NETIF_RSP_OKAY);
    struct virtio_net_hdr h;
    assert_int_equal(host_recv(f, &h, got, sizeof(got)), sizeof(pkt));
    assert_int_equal(h.flags, VIRTIO_NET_HDR_F_DATA_VALID);
}

static struct netif_extra_info gso_extra(uint8_t type, uint16_t size)
{
    struct netif_extra_info ex;
    memset(&ex, 0, sizeof(ex));
    ex.type = XEN_NETIF_EXTRA_TYPE_GSO;
    ex.u.gso.type = type;
    ex.u.gso.size = size;
    return ex;
}

/* A GSO packet: first slot, its extra, then the rest. */
static void tx_put_gso(struct fx *f, const uint8_t *pkt, size_t len,
                       struct netif_extra_info ex, uint16_t flags)
{
    size_t first = 4096;
    memcpy(page(f, DATA_FRAME), pkt, first);
    tx_put(f, DATA_REF, 0, flags | NETTXF_extra_info | NETTXF_more_data, 1,
           (uint16_t)len);
    tx_put_extra(f, ex);
    size_t off = first;
    unsigned s = 1;
    while (off < len) {
        size_t n = len - off < 4096 ? len - off : 4096;
        memcpy(page(f, DATA_FRAME + s), pkt + off, n);
        tx_put(f, DATA_REF + s, 0, off + n < len ? NETTXF_more_data : 0,
               (uint16_t)(1 + s), (uint16_t)n);
        off += n;
        s++;
    }
}

static void tx_gso_tcpv4_reaches_the_tap_as_gso(void **state)
{
    struct fx *f = *state;
    static uint8_t pkt[60000], got[60000];
    make_ipv4(pkt, sizeof(pkt), 6);
    tx_put_gso(f, pkt, sizeof(pkt), gso_extra(XEN_NETIF_GSO_TYPE_TCPV4, 1448),
               NETTXF_csum_blank);
    tx_push(f);
    netif_tx_response_t r = tx_rsp(f);
    assert_int_equal(r.status, NETIF_RSP_OKAY);
    assert_int_equal(tx_rsp(f).status, NETIF_RSP_NULL);     /* the extra */
    while (RING_HAS_UNCONSUMED_RESPONSES(&f->tx))
        assert_int_equal(tx_rsp(f).status, NETIF_RSP_OKAY);
    struct virtio_net_hdr h;
    assert_int_equal(host_recv(f, &h, got, sizeof(got)), sizeof(pkt));
    assert_memory_equal(got, pkt, sizeof(pkt));
    assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
    assert_int_equal(h.gso_size, 1448);
    assert_int_equal(h.hdr_len, 14 + 20 + 20);
    assert_int_equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
    assert_int_equal(h.csum_offset, 16);
    /* Sent from its mapped pages, every one unmapped and released. */
    assert_int_equal(f->q->st.tx_mapped, 1);
    for (unsigned i = 0; i < 15; i++) {
        unsigned ro, rw;
        grant_pins(&f->d->grants, DATA_REF + i, &ro, &rw);
        assert_int_equal(ro + rw, 0);
        assert_int_equal(gnttab_entry(f->d, DATA_REF + i)->flags & (GTF_reading | GTF_writing), 0);
    }
}

static void tx_gso_tcpv6_without_csum_blank_gets_the_pseudo_sum(void **state)
{
    struct fx *f = *state;
    static uint8_t pkt[20000], got[20000];
    make_ipv6_tcp(pkt, sizeof(pkt));
    tx_put_gso(f, pkt, sizeof(pkt), gso_extra(XEN_NETIF_GSO_TYPE_TCPV6, 1400), 0);
    tx_push(f);
    struct virtio_net_hdr h;
    assert_int_equal(host_recv(f, &h, got, sizeof(got)), sizeof(pkt));
    assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV6);
    assert_int_equal(h.hdr_len, 14 + 40 + 32);
    assert_int_equal(h.csum_start, 54);
    /* src ::1 + dst ::2 + proto 6 + TCP length */
    uint32_t s = 1 + 2 + 6 + (uint32_t)(sizeof(pkt) - 54);
    assert_int_equal(got[54 + 16] << 8 | got[54 + 17], s & 0xffff);
}

static void assert_all_errors_nothing_sent(struct fx *f, unsigned slots);

/* Mapped pieces are the guest's pages: a head split over three slots,
 * the rest straight from them, byte for byte. */
static void tx_mapped_packet_with_a_head_over_three_slots(void **state)
{
    struct fx *f = *state;
    static uint8_t pkt[6000], got[6000];
    make_ipv4(pkt, sizeof(pkt), 17);
    const uint16_t sizes[] = { 100, 100, 4000, 1800 };
    size_t off = 0;
    for (unsigned i = 0; i < 4; i++) {
        memcpy(page(f, DATA_FRAME + i) + 16, pkt + off, sizes[i]);
        tx_put(f, DATA_REF + i, 16, (uint16_t)(i < 3 ? NETTXF_more_data : 0) |
               (i == 0 ? NETTXF_csum_blank : 0), (uint16_t)i,
               i == 0 ? (uint16_t)sizeof(pkt) : sizes[i]);
        off += sizes[i];
    }
    tx_push(f);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(tx_rsp(f).status, NETIF_RSP_OKAY);
    struct virtio_net_hdr h;
    assert_int_equal(host_recv(f, &h, got, sizeof(got)), sizeof(pkt));
    assert_memory_equal(got, pkt, sizeof(pkt));
    assert_int_equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
    assert_int_equal(h.csum_start, 34);
    assert_int_equal(f->q->st.tx_mapped, 1);
}

/* A piece past the head that does not map fails the packet as a failed
 * copy does: every slot ERROR, nothing sent, no pin left behind. */
static void tx_mapped_packet_with_a_revoked_piece_gets_errors(void **state)
{
    struct fx *f = *state;
    static uint8_t pkt[12000];
    make_ipv4(pkt, sizeof(pkt), 17);
    unsigned slots = tx_put_packet(f, pkt, sizeof(pkt), 4096, 0, 0, 1);
    assert_int_equal(slots, 3);
    test_grant(f->d, DATA_REF + 2, 0, 0, DATA_FRAME + 2);       /* revoked */
    tx_push(f);
    assert_all_errors_nothing_sent(f, 3);
    assert_int_equal(f->q->st.tx_errors, 1);
    assert_int_equal(f->q->st.tx_mapped, 0);
    for (unsigned i = 0; i < 3; i++) {
        unsigned ro, rw;
        grant_pins(&f->d->grants, DATA_REF + i, &ro, &rw);
        assert_int_equal(ro + rw, 0);
    }
    assert_int_equal(gnttab_entry(f->d, DATA_REF + 1)->flags & GTF_reading, 0);
}

/* Headers that reach past the copied head (IPv6 with a 512-byte
 * hop-by-hop header) are judged from a private copy of the whole packet,
 * never from the guest's pages. */
static void tx_headers_past_the_head_are_copied_whole(void **state)
{
    struct fx *f = *state;
    static uint8_t pkt[9000], got[9000];
    memset(pkt, 0, sizeof(pkt));
    pkt[12] = 0x86; pkt[13] = 0xdd;
    uint8_t *ip = pkt + 14;
    ip[0] = 0x60;
    size_t pl = sizeof(pkt) - 54;
    ip[4] = (uint8_t)(pl >> 8); ip[5] = (uint8_t)pl;
    ip[6] = 0;                          /* hop-by-hop first */
    ip[40] = 17;                        /* then UDP */
    ip[41] = 63;                        /* (63 + 1) * 8 = 512 bytes */
    for (size_t i = 14 + 40 + 512 + 8; i < sizeof(pkt); i++)
        pkt[i] = (uint8_t)i;
    tx_put_packet(f, pkt, sizeof(pkt), 4096, 0, NETTXF_csum_blank, 1);
    tx_push(f);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(tx_rsp(f).status, NETIF_RSP_OKAY);
    struct virtio_net_hdr h;
    assert_int_equal(host_recv(f, &h, got, sizeof(got)), sizeof(pkt));
    assert_memory_equal(got, pkt, sizeof(pkt));
    assert_int_equal(h.csum_start, 14 + 40 + 512);
    assert_int_equal(h.csum_offset, 6);
    assert_int_equal(f->q->st.tx_mapped, 0);
    assert_int_equal(f->q->st.tx_packets, 1);
}

/* The head-only judge reads nothing past `have` and says -2 only when
 * the headers are in the packet but past the head. */
static void offload_head_says_when_the_head_is_too_short(void **state)
{
    (void)state;
    uint8_t pkt[2000];
    struct virtio_net_hdr h;
    make_ipv4(pkt, sizeof(pkt), 6);
    assert_int_equal(netback_tx_offload_head(pkt, 54, sizeof(pkt), NETTXF_csum_blank,
                                             NULL, &h), 0);
    assert_int_equal(h.csum_start, 34);
    assert_int_equal(netback_tx_offload_head(pkt, 53, sizeof(pkt), NETTXF_csum_blank,
                                             NULL, &h), -2);
    assert_int_equal(netback_tx_offload_head(pkt, 20, sizeof(pkt), NETTXF_csum_blank,
                                             NULL, &h), -2);
    pkt[14 + 2] = 0xff;             /* IP length past the packet: -1 still */
    assert_int_equal(netback_tx_offload_head(pkt, 54, sizeof(pkt), NETTXF_csum_blank,
                                             NULL, &h), -1);
}

static void tx_many_packets_one_kick_one_notify(void **state)
{
    struct fx *f = *state;
    uint8_t pkt[64], got[64];
    make_ipv4(pkt, sizeof(pkt), 17);
    for (unsigned i = 0; i < 200; i++) {
        memcpy(page(f, DATA_FRAME + (i % NDATA)), pkt, sizeof(pkt));
        tx_put(f, DATA_REF + (i % NDATA), 0, 0, (uint16_t)i, sizeof(pkt));
    }
    tx_push(f);
    for (unsigned i = 0; i < 200; i++) {
        netif_tx_response_t r = tx_rsp(f);
        assert_int_equal(r.id, i);
        assert_int_equal(r.status, NETIF_RSP_OKAY);
        struct virtio_net_hdr h;
        assert_int_equal(host_recv(f, &h, got, sizeof(got)), sizeof(pkt));
    }
    assert_int_equal(f->q->st.tx_packets, 200);
    assert_int_equal(f->q->st.tx_kicks, 1);
}

static unsigned want_tx_calls;
static void on_want_tx(void *o) { (void)o; want_tx_calls++; }

/* A service that stops at its budget with requests left asks to be run
 * again (the frontend's kicks are off for those: nothing else would), and
 * the next one takes the rest without asking again. */
static void tx_budget_spent_asks_for_another_service(void **state)
{
    struct fx *f = *state;
    uint8_t pkt[64], got[64];
    make_ipv4(pkt, sizeof(pkt), 17);
    want_tx_calls = 0;
    f->q->want_tx = on_want_tx;
    f->q->tx_budget = 2;
    for (unsigned i = 0; i < 3; i++) {
        memcpy(page(f, DATA_FRAME + i), pkt, sizeof(pkt));
        tx_put(f, DATA_REF + i, 0, 0, (uint16_t)i, sizeof(pkt));
    }
    tx_push(f);
    assert_int_equal(f->q->st.tx_packets, 2);
    assert_int_equal(want_tx_calls, 1);
    assert_int_equal(tx_rsp(f).id, 0);
    assert_int_equal(tx_rsp(f).id, 1);
    assert_no_tx_rsp(f);
    netback_tx_service(f->q);
    assert_int_equal(f->q->st.tx_packets, 3);
    assert_int_equal(want_tx_calls, 1);
    assert_int_equal(tx_rsp(f).id, 2);
    struct virtio_net_hdr h;
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(host_recv(f, &h, got, sizeof(got)), sizeof(pkt));
    /* A budget spent on exactly what was queued asks for nothing, and
     * leaves the frontend's kicks on. */
    f->q->tx.sring->req_event = f->q->tx.req_cons;      /* off, as a watch leaves them */
    tx_put(f, DATA_REF, 0, 0, 3, sizeof(pkt));
    tx_put(f, DATA_REF + 1, 0, 0, 4, sizeof(pkt));
    tx_push(f);
    assert_int_equal(f->q->st.tx_packets, 5);
    assert_int_equal(want_tx_calls, 1);
    assert_int_equal(f->q->tx.sring->req_event, f->q->tx.req_cons + 1);
}

/* What the frontend could see when the queue judged it fatal. */
static RING_IDX rsp_prod_at_fatal;
static void on_fatal_note_rsp_prod(void *o)
{
    struct fx *f = o;
    f->fatals++;
    rsp_prod_at_fatal = f->tx.sring->rsp_prod;
}

/* A mapped packet is written and its slots answered before the next
 * packet is even parsed (the frontend refills them meanwhile); the small
 * one queued before it goes out with it. Seen from a fatal third packet,
 * whose judgement stops the service. */
static void tx_mapped_packet_is_answered_before_the_next_is_read(void **state)
{
    struct fx *f = *state;
    static uint8_t small[64], big[6000], got[6000];
    make_ipv4(small, sizeof(small), 17);
    make_ipv4(big, sizeof(big), 17);
    f->q->on_fatal = on_fatal_note_rsp_prod;
    rsp_prod_at_fatal = 0;
    unsigned slots = tx_put_packet(f, small, sizeof(small), 4096, 0, 0, 0);
    slots += tx_put_packet(f, big, sizeof(big), 4096, 1, 0, 1);
    assert_int_equal(slots, 3);
    tx_put(f, DATA_REF + 3, 4000, 0, 9, 200);       /* crosses its page: fatal */
    tx_push(f);
    assert_true(f->q->broken);
    assert_int_equal(f->fatals, 1);
    assert_int_equal(rsp_prod_at_fatal, 3);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(tx_rsp(f).status, NETIF_RSP_OKAY);
    struct virtio_net_hdr h;
    assert_int_equal(host_recv(f, &h, got, sizeof(got)), sizeof(small));
    assert_int_equal(host_recv(f, &h, got, sizeof(got)), sizeof(big));
    assert_memory_equal(got, big, sizeof(big));
    assert_int_equal(f->q->st.tx_mapped, 1);
}

static void assert_all_errors_nothing_sent(struct fx *f, unsigned slots)
{
    for (unsigned i = 0; i < slots; i++) {
        int16_t st = tx_rsp(f).status;
        assert_true(st == NETIF_RSP_ERROR || st == NETIF_RSP_NULL);
    }
    assert_no_tx_rsp(f);
    struct virtio_net_hdr h;
    uint8_t got[70000];
    assert_int_equal(host_recv(f, &h, got, sizeof(got)), -1);
    assert_int_equal(f->fatals, 0);
}

static void tx_too_many_slots_is_dropped(void **state)
{
    struct fx *f = *state;
    static uint8_t pkt[20 * 100];
    make_ipv4(pkt, sizeof(pkt), 17);
    unsigned n = tx_put_packet(f, pkt, sizeof(pkt), 100, 0, 0, 0);
    assert_int_equal(n, NETBK_MAX_SLOTS + 1);
    tx_push(f);
    assert_all_errors_nothing_sent(f, n);
    /* The queue goes on: a good packet after it passes. */
    uint8_t ok[60];
    make_ipv4(ok, sizeof(ok), 17);
    tx_put_packet(f, ok, sizeof(ok), 4096, 40, 0, 99);
    tx_push(f);
    assert_int_equal(tx_rsp(f).status, NETIF_RSP_OKAY);
}

static void tx_max_slots_pass(void **state)
{
    struct fx *f = *state;
    static uint8_t pkt[NETBK_MAX_SLOTS * 100], got[sizeof(pkt)];
    make_ipv4(pkt, sizeof(pkt), 17);
    unsigned n = tx_put_packet(f, pkt, sizeof(pkt), 100, 0, 0, 0);
    assert_int_equal(n, NETBK_MAX_SLOTS);
    tx_push(f);
    struct virtio_net_hdr h;
    assert_int_equal(host_recv(f, &h, got, sizeof(got)), sizeof(pkt));
}

static void tx_malicious_slot_count_disables(void **state)
{
    struct fx *f = *state;
    static uint8_t pkt[22 * 100];
    make_ipv4(pkt, sizeof(pkt), 17);
    tx_put_packet(f, pkt, sizeof(pkt), 100, 0, 0, 0);
    tx_push(f);
    assert_int_equal(f->fatals, 1);
    assert_true(f->q->broken);
    assert_no_tx_rsp(f);
    /* Disabled: later kicks do nothing. */
    tx_put_packet(f, pkt, 60, 4096, 40, 0, 0);
    tx_push(f);
    assert_no_tx_rsp(f);
    assert_int_equal(f->fatals, 1);
}

static void tx_cross_page_disables(void **state)
{
    struct fx *f = *state;
    tx_put(f, DATA_REF, 4000, 0, 1, 200);
    tx_push(f);
    assert_true(f->q->broken);
}

static void tx_follow_on_cross_page_disables(void **state)
{
    struct fx *f = *state;
    tx_put(f, DATA_REF, 0, NETTXF_more_data, 1, 300);
    tx_put(f, DATA_REF + 1, 4000, 0, 2, 200);
    tx_push(f);
    assert_true(f->q->broken);
}

static void tx_oversize_wrap_is_dropped(void **state)
{
    struct fx *f = *state;
    /* A 66000-byte packet whose 16-bit size wrapped to 464. */
    tx_put(f, DATA_REF, 0, NETTXF_more_data, 1, 464);
    tx_put(f, DATA_REF + 1, 0, 0, 2, 4000);
    tx_push(f);
    assert_all_errors_nothing_sent(f, 2);
}

static void tx_short_packet_is_dropped(void **state)
{
    struct fx *f = *state;
    tx_put(f, DATA_REF, 0, 0, 1, 10);
    tx_push(f);
    assert_all_errors_nothing_sent(f, 1);
}

static void tx_ungranted_and_revoked_grants_get_errors(void **state)
{
    struct fx *f = *state;
    uint8_t pkt[60];
    make_ipv4(pkt, sizeof(pkt), 17);
    tx_put(f, 1500, 0, 0, 1, sizeof(pkt));              /* never granted */
    tx_put(f, 100000, 0, 0, 2, sizeof(pkt));            /* beyond the table */
    test_grant(f->d, DATA_REF + 5, 0, 0, DATA_FRAME + 5);   /* revoked */
    tx_put(f, DATA_REF + 5, 0, 0, 3, sizeof(pkt));
    test_grant(f->d, DATA_REF + 6, GTF_permit_access, 7, DATA_FRAME + 6); /* for dom 7 */
    tx_put(f, DATA_REF + 6, 0, 0, 4, sizeof(pkt));
    /* scatter-gather with one bad piece */
    tx_put(f, DATA_REF, 0, NETTXF_more_data, 5, 100);
    tx_put(f, 1501, 0, 0, 6, 40);
    tx_push(f);
    assert_all_errors_nothing_sent(f, 6);
    assert_int_equal(f->q->st.tx_errors, 5);
}

static void tx_bad_extras_disable(void **state)
{
    struct fx *f = *state;
    struct netif_extra_info ex;
    memset(&ex, 0, sizeof(ex));
    ex.type = XEN_NETIF_EXTRA_TYPE_MAX;
    tx_put(f, DATA_REF, 0, NETTXF_extra_info, 1, 60);
    tx_put_extra(f, ex);
    tx_push(f);
    assert_true(f->q->broken);
}

static void tx_gso_size_zero_disables(void **state)
{
    struct fx *f = *state;
    tx_put(f, DATA_REF, 0, NETTXF_extra_info, 1, 60);
    tx_put_extra(f, gso_extra(XEN_NETIF_GSO_TYPE_TCPV4, 0));
    tx_push(f);
    assert_true(f->q->broken);
}

static void tx_gso_bad_type_disables(void **state)
{
    struct fx *f = *state;
    tx_put(f, DATA_REF, 0, NETTXF_extra_info, 1, 60);
    tx_put_extra(f, gso_extra(9, 1400));
    tx_push(f);
    assert_true(f->q->broken);
}

static void tx_missing_extra_disables(void **state)
{
    struct fx *f = *state;
    tx_put(f, DATA_REF, 0, NETTXF_extra_info, 1, 60);
    tx_push(f);
    assert_true(f->q->broken);
}

static void tx_endless_extras_disable(void **state)
{
    struct fx *f = *state;
    tx_put(f, DATA_REF, 0, NETTXF_extra_info, 1, 60);
    for (unsigned i = 0; i < 8; i++) {
        struct netif_extra_info ex = gso_extra(XEN_NETIF_GSO_TYPE_TCPV4, 1400);
        ex.flags = XEN_NETIF_EXTRA_FLAG_MORE;
        tx_put_extra(f, ex);
    }
    tx_push(f);
    assert_true(f->q->broken);
}

static void tx_unqueued_more_data_disables(void **state)
{
    struct fx *f = *state;
    tx_put(f, DATA_REF, 0, NETTXF_more_data, 1, 600);
    tx_push(f);
    assert_true(f->q->broken);
}

static void tx_lying_producer_disables(void **state)
{
    struct fx *f = *state;
    f->tx.sring->req_prod = 5000;
    netback_tx_service(f->q);
    assert_true(f->q->broken);
    assert_no_tx_rsp(f);
}

static void tx_gso_on_udp_is_dropped_not_sent(void **state)
{
    struct fx *f = *state;
    static uint8_t pkt[8000];
    make_ipv4(pkt, sizeof(pkt), 17);
    tx_put_gso(f, pkt, sizeof(pkt), gso_extra(XEN_NETIF_GSO_TYPE_TCPV4, 1400),
               NETTXF_csum_blank);
    tx_push(f);
    assert_int_equal(tx_rsp(f).status, NETIF_RSP_OKAY);  /* as netback: copied, then dropped */
    struct virtio_net_hdr h;
    uint8_t got[9000];
    assert_int_equal(host_recv(f, &h, got, sizeof(got)), -1);
    assert_int_equal(f->q->st.tx_dropped, 1);
    assert_false(f->q->broken);
}

static void tx_multicast_control_is_answered(void **state)
{
    struct fx *f = *state;
    struct netif_extra_info ex;
    memset(&ex, 0, sizeof(ex));
    ex.type = XEN_NETIF_EXTRA_TYPE_MCAST_ADD;
    ex.u.mcast.addr[0] = 0x01;
    tx_put(f, DATA_REF, 0, NETTXF_extra_info, 3, 0);
    tx_put_extra(f, ex);
    tx_push(f);
    netif_tx_response_t r = tx_rsp(f);
    assert_int_equal(r.id, 3);
    assert_int_equal(r.status, NETIF_RSP_OKAY);
    assert_int_equal(tx_rsp(f).status, NETIF_RSP_NULL);
    assert_false(f->q->broken);
}

static uint64_t fake_now;
static uint64_t fake_clock(void) { return fake_now; }
static uint64_t timer_at;
static void on_timer(void *o, uint64_t at) { (void)o; timer_at = at; }

/* rate=: 1000 bytes per 10 ms after the first burst of 128 KiB. */
static void tx_rate_limits_as_the_credit_scheduler(void **state)
{
    struct fx *f = *state;
    f->q->now_ns = fake_clock;
    f->q->want_timer = on_timer;
    fake_now = 1000000000ull;
    timer_at = 0;
    netback_set_rate(f->q, 100000, 10000);
    assert_int_equal(f->q->remaining_credit, 100000);
    static uint8_t pkt[4000];
    make_ipv4(pkt, sizeof(pkt), 17);
    for (unsigned i = 0; i < 30; i++) {
        memcpy(page(f, DATA_FRAME + i), pkt, sizeof(pkt));
        tx_put(f, DATA_REF + i, 0, 0, (uint16_t)i, sizeof(pkt));
    }
    tx_push(f);
    /* 25 packets fit the 100000 bytes of credit; the 26th waits. */
    unsigned n = 0;
    while (RING_HAS_UNCONSUMED_RESPONSES(&f->tx)) {
        tx_rsp(f);
        n++;
    }
    assert_int_equal(n, 25);
    assert_int_equal(timer_at, 1000000000ull + 10000 * 1000);
    assert_int_equal(f->q->st.tx_rate_waits, 1);
    /* Before the window: a kick sends nothing. */
    fake_now += 5000 * 1000;
    netback_tx_service(f->q);
    assert_false(RING_HAS_UNCONSUMED_RESPONSES(&f->tx));
    /* The timer fires: the rest goes. */
    fake_now = timer_at;
    netback_tx_service(f->q);
    n = 0;
    while (RING_HAS_UNCONSUMED_RESPONSES(&f->tx)) {
        assert_int_equal(tx_rsp(f).status, NETIF_RSP_OKAY);
        n++;
    }
    assert_int_equal(n, 5);
    assert_int_equal(f->q->st.tx_packets, 30);
}

static void rate_node_parsing(void **state)
{
    (void)state;
    uint64_t b, u;
    assert_int_equal(netback_parse_rate("1250000,20000", &b, &u), 0);
    assert_int_equal(b, 1250000);
    assert_int_equal(u, 20000);
    assert_int_equal(netback_parse_rate("1250000", &b, &u), -1);
    assert_int_equal(netback_parse_rate("12,0", &b, &u), -1);
    assert_int_equal(netback_parse_rate("-1,5", &b, &u), -1);
    assert_int_equal(netback_parse_rate("1,5x", &b, &u), -1);
    assert_int_equal(netback_parse_rate("99999999999999999999999,5", &b, &u), -1);
    assert_int_equal(netback_parse_rate(NULL, &b, &u), -1);
}

/* ---- rx ---- */

/* ---- tx busy-poll after rx ---- */

static struct fx *poll_fx;
static unsigned poll_clock_calls;
static int poll_guest_notify = -1;
/* The fake clock is read inside the watch: on its third reading the
 * "guest" queues a packet and checks, as netfront does, whether to kick. */
static uint64_t poll_clock(void)
{
    if (++poll_clock_calls == 3) {
        uint8_t pkt[60];
        make_ipv4(pkt, sizeof(pkt), 17);
        tx_put_packet(poll_fx, pkt, sizeof(pkt), 4096, 0, 0, 9);
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&poll_fx->tx, poll_guest_notify);
    }
    return fake_now += 1000;
}

static void tx_busy_poll_takes_an_answer_without_a_kick(void **state)
{
    struct fx *f = *state;
    poll_fx = f;
    poll_clock_calls = 0;
    poll_guest_notify = -1;
    /* The ring as it is after a service: kicks asked for. */
    tx_push(f);
    assert_int_equal(f->q->tx.sring->req_event, f->q->tx.req_cons + 1);
    f->q->now_ns = poll_clock;
    f->q->busy_poll_ns = 50000;
    assert_true(netback_tx_busy_poll(f->q, NETBK_POLL_AFTER_RX));
    assert_int_equal(poll_guest_notify, 0);     /* the guest did not kick */
    netback_tx_service(f->q);
    assert_int_equal(tx_rsp(f).status, NETIF_RSP_OKAY);
    assert_int_equal(f->q->st.tx_packets, 1);
    /* Kicks are asked for again after the service. */
    assert_int_equal(f->q->tx.sring->req_event, f->q->tx.req_cons + 1);
    assert_int_equal(f->q->st.tx_poll_hits, 1);
}

static uint64_t ticking_clock(void) { return fake_now += 1000; }

static void tx_busy_poll_that_finds_nothing_turns_kicks_on_and_backs_off(void **state)
{
    struct fx *f = *state;
    f->q->now_ns = ticking_clock;
    f->q->busy_poll_ns = 50000;
    tx_push(f);
    for (unsigned round = 0; round < 3; round++) {
        uint64_t polls = f->q->st.tx_polls;
        assert_false(netback_tx_busy_poll(f->q, NETBK_POLL_AFTER_RX));
        assert_int_equal(f->q->st.tx_polls, polls + 1);
        /* A guest that sends now kicks. */
        assert_int_equal(f->q->tx.sring->req_event, f->q->tx.req_cons + 1);
        /* The next 1, 2, 4 are skipped without a look. */
        for (unsigned k = 0; k < (1u << round); k++)
            assert_false(netback_tx_busy_poll(f->q, NETBK_POLL_AFTER_RX));
        assert_int_equal(f->q->st.tx_polls, polls + 1);
    }
    f->q->busy_poll_ns = 0;
    assert_false(netback_tx_busy_poll(f->q, NETBK_POLL_AFTER_RX));
    /* Nor while a packet waits for rate= credit (it stays queued). */
    f->q->busy_poll_ns = 50000;
    f->q->poll[NETBK_POLL_AFTER_TX] = (struct netback_poll){ 0 };
    f->q->rate_timer_pending = true;
    uint64_t polls = f->q->st.tx_polls;
    assert_false(netback_tx_busy_poll(f->q, NETBK_POLL_AFTER_TX));
    assert_int_equal(f->q->st.tx_polls, polls);     /* not even a look */
    f->q->rate_timer_pending = false;
    assert_int_equal(f->q->st.tx_poll_hits, 0);
}

static void rx_post(struct fx *f, grant_ref_t ref, uint16_t id)
{
    netif_rx_request_t *r = RING_GET_REQUEST(&f->rx, f->rx.req_prod_pvt++);
    r->gref = ref;
    r->id = id;
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f->rx, notify);
    (void)notify;
}

static netif_rx_response_t rx_rsp(struct fx *f)
{
    assert_true(RING_HAS_UNCONSUMED_RESPONSES(&f->rx));
    netif_rx_response_t r = *RING_GET_RESPONSE(&f->rx, f->rx.rsp_cons);
    f->rx.rsp_cons++;
    return r;
}

static void host_send(struct fx *f, const struct virtio_net_hdr *h,
                      const uint8_t *pkt, size_t len)
{
    static uint8_t tmp[HDR + 70000];
    memcpy(tmp, h, HDR);
    memcpy(tmp + HDR, pkt, len);
    assert_int_equal(send(f->sv[1], tmp, HDR + len, 0), (ssize_t)(HDR + len));
}

static void rx_one_packet(void **state)
{
    struct fx *f = *state;
    uint8_t pkt[1500];
    make_ipv4(pkt, sizeof(pkt), 17);
    struct virtio_net_hdr h = { .flags = VIRTIO_NET_HDR_F_DATA_VALID };
    host_send(f, &h, pkt, sizeof(pkt));
    rx_post(f, DATA_REF + 3, 0x55);
    netback_rx_service(f->q);
    netif_rx_response_t r = rx_rsp(f);
    assert_int_equal(r.id, 0x55);
    assert_int_equal(r.status, sizeof(pkt));
    assert_int_equal(r.offset, 0);
    assert_int_equal(r.flags, NETRXF_data_validated);
    assert_memory_equal(page(f, DATA_FRAME + 3), pkt, sizeof(pkt));
    assert_true(evtchn_is_pending(f->d, f->port));
    /* No page left posted: the tap is not watched until one is. */
    assert_false(f->q->watching_tap);
    assert_int_equal(f->rx.sring->req_event, f->q->rx.req_cons + 1);
    /* With pages posted and the tap empty, it is watched. */
    rx_post(f, DATA_REF + 4, 0x56);
    netback_rx_service(f->q);
    assert_true(f->q->watching_tap);
    assert_false(RING_HAS_UNCONSUMED_RESPONSES(&f->rx));
}

static void rx_gso_over_slots_with_extra(void **state)
{
    struct fx *f = *state;
    static uint8_t pkt[9000];
    make_ipv4(pkt, sizeof(pkt), 6);
    struct virtio_net_hdr h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
        .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1448,
        .csum_start = 34, .csum_offset = 16, .hdr_len = 54 };
    host_send(f, &h, pkt, sizeof(pkt));
    for (unsigned i = 0; i < 4; i++)
        rx_post(f, DATA_REF + i, (uint16_t)(10 + i));
    netback_rx_service(f->q);
    netif_rx_response_t r = rx_rsp(f);
    assert_int_equal(r.id, 10);
    assert_int_equal(r.status, 4096);
    assert_int_equal(r.flags, NETRXF_csum_blank | NETRXF_data_validated |
                     NETRXF_more_data | NETRXF_extra_info);
    struct netif_extra_info ex;
    memcpy(&ex, RING_GET_RESPONSE(&f->rx, f->rx.rsp_cons), sizeof(ex));
    f->rx.rsp_cons++;
    assert_int_equal(ex.type, XEN_NETIF_EXTRA_TYPE_GSO);
    assert_int_equal(ex.u.gso.type, XEN_NETIF_GSO_TYPE_TCPV4);
    assert_int_equal(ex.u.gso.size, 1448);
    r = rx_rsp(f);
    assert_int_equal(r.id, 12);
    assert_int_equal(r.status, 4096);
    assert_int_equal(r.flags, NETRXF_more_data);
    r = rx_rsp(f);
    assert_int_equal(r.id, 13);
    assert_int_equal(r.status, 9000 - 8192);
    assert_int_equal(r.flags, 0);
    assert_memory_equal(page(f, DATA_FRAME + 0), pkt, 4096);
    assert_memory_equal(page(f, DATA_FRAME + 2), pkt + 4096, 4096);
    assert_memory_equal(page(f, DATA_FRAME + 3), pkt + 8192, 808);
}

static void rx_without_posted_pages_leaves_the_tap_alone(void **state)
{
    struct fx *f = *state;
    uint8_t pkt[100];
    make_ipv4(pkt, sizeof(pkt), 17);
    struct virtio_net_hdr h = { 0 };
    host_send(f, &h, pkt, sizeof(pkt));
    netback_rx_service(f->q);
    assert_false(f->q->watching_tap);
    assert_false(f->q->rx_held);        /* not even read */
    assert_int_equal(f->rx.sring->req_event, f->q->rx.req_cons + 1);
    assert_false(RING_HAS_UNCONSUMED_RESPONSES(&f->rx));
    /* The frontend posts and kicks: delivered. */
    rx_post(f, DATA_REF, 1);
    netback_rx_service(f->q);
    assert_int_equal(rx_rsp(f).status, sizeof(pkt));
}

static void rx_waits_for_enough_pages(void **state)
{
    struct fx *f = *state;
    static uint8_t pkt[9000];
    make_ipv4(pkt, sizeof(pkt), 17);
    struct virtio_net_hdr h = { 0 };
    host_send(f, &h, pkt, sizeof(pkt));
    rx_post(f, DATA_REF, 1);
    netback_rx_service(f->q);
    assert_true(f->q->rx_held);
    assert_false(f->q->watching_tap);
    assert_int_equal(f->rx.sring->req_event, f->q->rx.req_cons + 3);
    assert_false(RING_HAS_UNCONSUMED_RESPONSES(&f->rx));
    rx_post(f, DATA_REF + 1, 2);
    rx_post(f, DATA_REF + 2, 3);
    netback_rx_service(f->q);
    assert_int_equal(rx_rsp(f).status, 4096);
    assert_int_equal(rx_rsp(f).status, 4096);
    assert_int_equal(rx_rsp(f).status, 808);
}

static void rx_bad_grants_get_errors(void **state)
{
    struct fx *f = *state;
    uint8_t pkt[100];
    make_ipv4(pkt, sizeof(pkt), 17);
    struct virtio_net_hdr h = { 0 };
    test_grant(f->d, DATA_REF + 1, GTF_permit_access | GTF_readonly, 0, DATA_FRAME + 1);
    for (unsigned i = 0; i < 3; i++)
        host_send(f, &h, pkt, sizeof(pkt));
    rx_post(f, 1500, 1);                /* never granted */
    rx_post(f, DATA_REF + 1, 2);        /* read-only */
    rx_post(f, 200000, 3);              /* beyond the table */
    netback_rx_service(f->q);
    for (unsigned i = 0; i < 3; i++) {
        netif_rx_response_t r = rx_rsp(f);
        assert_int_equal(r.id, i + 1);
        assert_int_equal(r.status, NETIF_RSP_ERROR);
    }
    assert_int_equal(f->q->st.rx_errors, 3);
    assert_false(f->q->broken);
}

static void rx_gso_the_frontend_did_not_ask_for_is_dropped(void **state)
{
    struct fx *f = *state;
    f->q->fe.gso_tcpv6 = false;
    static uint8_t pkt[3000];
    make_ipv6_tcp(pkt, sizeof(pkt));
    struct virtio_net_hdr h = { .gso_type = VIRTIO_NET_HDR_GSO_TCPV6, .gso_size = 1400 };
    host_send(f, &h, pkt, sizeof(pkt));
    h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
    host_send(f, &h, pkt, sizeof(pkt));
    rx_post(f, DATA_REF, 1);
    rx_post(f, DATA_REF + 1, 2);
    netback_rx_service(f->q);
    assert_false(RING_HAS_UNCONSUMED_RESPONSES(&f->rx));
    assert_int_equal(f->q->st.rx_dropped, 2);
}

/* A UDP checksum the kernel left partial, for a frontend without checksum
 * offload: finished here, and the packet marked validated. */
static void rx_partial_checksum_finished_for_a_frontend_without_offload(void **state)
{
    struct fx *f = *state;
    f->q->fe.csum = false;
    uint8_t pkt[101];
    make_ipv4(pkt, sizeof(pkt), 17);
    /* The pseudo-header sum in the checksum field, as a partial one has. */
    uint32_t ps = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + (sizeof(pkt) - 34);
    pkt[34 + 4] = 0; pkt[34 + 5] = (uint8_t)(sizeof(pkt) - 34);
    pkt[40] = (uint8_t)(ps >> 8); pkt[41] = (uint8_t)ps;
    struct virtio_net_hdr h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                                .csum_start = 34, .csum_offset = 6 };
    host_send(f, &h, pkt, sizeof(pkt));
    rx_post(f, DATA_REF, 1);
    netback_rx_service(f->q);
    netif_rx_response_t r = rx_rsp(f);
    assert_int_equal(r.status, sizeof(pkt));
    assert_int_equal(r.flags, NETRXF_data_validated);
    /* The full sum over pseudo-header and datagram folds to 0xffff. */
    const uint8_t *g = page(f, DATA_FRAME);
    uint32_t s = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + (sizeof(pkt) - 34);
    for (size_t i = 34; i < sizeof(pkt); i += 2)
        s += (uint32_t)(g[i] << 8 | (i + 1 < sizeof(pkt) ? g[i + 1] : 0));
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    assert_int_equal(s, 0xffff);
}

static void rx_lying_producer_disables(void **state)
{
    struct fx *f = *state;
    f->rx.sring->req_prod = 1000;
    netback_rx_service(f->q);
    assert_true(f->q->broken);
}

/* ---- the offload mapping alone ---- */

static void offload_rejects_fragments_and_other_protocols(void **state)
{
    (void)state;
    uint8_t pkt[200];
    struct virtio_net_hdr h;
    make_ipv4(pkt, sizeof(pkt), 17);
    pkt[14 + 6] = 0x20;             /* MF */
    assert_int_equal(netback_tx_offload(pkt, sizeof(pkt), NETTXF_csum_blank, NULL, &h), -1);
    make_ipv4(pkt, sizeof(pkt), 1); /* ICMP */
    assert_int_equal(netback_tx_offload(pkt, sizeof(pkt), NETTXF_csum_blank, NULL, &h), -1);
    make_ipv4(pkt, sizeof(pkt), 17);
    pkt[14 + 2] = 0xff;             /* IP length past the frame */
    assert_int_equal(netback_tx_offload(pkt, sizeof(pkt), NETTXF_csum_blank, NULL, &h), -1);
    make_ipv4(pkt, sizeof(pkt), 17);
    assert_int_equal(netback_tx_offload(pkt, sizeof(pkt), 0, NULL, &h), 0);
    assert_int_equal(h.flags, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(tx_one_slot_reaches_the_tap),
        T(tx_filter_drops_forged_sources),
        T(tx_scatter_gather_with_checksum_offload),
        T(tx_data_validated),
        T(tx_gso_tcpv4_reaches_the_tap_as_gso),
        T(tx_gso_tcpv6_without_csum_blank_gets_the_pseudo_sum),
        T(tx_mapped_packet_with_a_head_over_three_slots),
        T(tx_mapped_packet_with_a_revoked_piece_gets_errors),
        T(tx_headers_past_the_head_are_copied_whole),
        cmocka_unit_test(offload_head_says_when_the_head_is_too_short),
        T(tx_busy_poll_takes_an_answer_without_a_kick),
        T(tx_busy_poll_that_finds_nothing_turns_kicks_on_and_backs_off),
        T(tx_many_packets_one_kick_one_notify),
        T(tx_budget_spent_asks_for_another_service),
        T(tx_mapped_packet_is_answered_before_the_next_is_read),
        T(tx_too_many_slots_is_dropped),
        T(tx_max_slots_pass),
        T(tx_malicious_slot_count_disables),
        T(tx_cross_page_disables),
        T(tx_follow_on_cross_page_disables),
        T(tx_oversize_wrap_is_dropped),
        T(tx_short_packet_is_dropped),
        T(tx_ungranted_and_revoked_grants_get_errors),
        T(tx_bad_extras_disable),
        T(tx_gso_size_zero_disables),
        T(tx_gso_bad_type_disables),
        T(tx_missing_extra_disables),
        T(tx_endless_extras_disable),
        T(tx_unqueued_more_data_disables),
        T(tx_lying_producer_disables),
        T(tx_gso_on_udp_is_dropped_not_sent),
        T(tx_multicast_control_is_answered),
        T(tx_rate_limits_as_the_credit_scheduler),
        cmocka_unit_test(rate_node_parsing),
        T(rx_one_packet),
        T(rx_gso_over_slots_with_extra),
        T(rx_without_posted_pages_leaves_the_tap_alone),
        T(rx_waits_for_enough_pages),
        T(rx_bad_grants_get_errors),
        T(rx_gso_the_frontend_did_not_ask_for_is_dropped),
        T(rx_partial_checksum_finished_for_a_frontend_without_offload),
        T(rx_lying_producer_disables),
        cmocka_unit_test(offload_rejects_fragments_and_other_protocols),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
