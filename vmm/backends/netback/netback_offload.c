#include "netback_offload.h"
#include "net_bytes.h"

#include <linux/if_tun.h>
#include <string.h>

#define ETHERTYPE_V4 0x0800
#define ETHERTYPE_V6 0x86dd
#define PROTO_TCP 6
#define PROTO_UDP 17

/* Where the L4 header is: 0 on success. */
struct l4 {
    bool v6;
    size_t l3_off, l4_off;
    uint8_t proto;
    uint32_t l4_len;            /* bytes from the L4 header to the IP end */
};

/* Whether bytes [0, end) can be read: 0, -1 past the packet, -2 past the
 * head the caller holds (have <= len) but within the packet. */
static int reach(size_t end, size_t have, size_t len)
{
    return end > len ? -1 : end > have ? -2 : 0;
}

/* Reads only pkt[0, have); len is the packet's whole length. */
static int find_l4(const uint8_t *pkt, size_t have, size_t len, struct l4 *r)
{
    int rc;
    if ((rc = reach(14, have, len)))
        return rc;
    uint16_t type = net_be16(pkt + 12);
    size_t off = 14;
    r->l3_off = off;
    if (type == ETHERTYPE_V4) {
        if ((rc = reach(off + 20, have, len)))
            return rc;
        const uint8_t *ip = pkt + off;
        if ((ip[0] >> 4) != 4)
            return -1;
        size_t ihl = (size_t)(ip[0] & 0xf) * 4;
        uint16_t tot = net_be16(ip + 2);
        if (ihl < 20 || tot < ihl || off + tot > len)
            return -1;
        if (net_be16(ip + 6) & 0x3fff)          /* MF or a fragment offset */
            return -1;
        r->v6 = false;
        r->proto = ip[9];
        r->l4_off = off + ihl;
        r->l4_len = tot - ihl;
    } else if (type == ETHERTYPE_V6) {
        if ((rc = reach(off + 40, have, len)))
            return rc;
        const uint8_t *ip = pkt + off;
        if ((ip[0] >> 4) != 6)
            return -1;
        size_t end = off + 40 + net_be16(ip + 4);
        if (end > len)
            return -1;
        uint8_t next = ip[6];
        size_t p = off + 40;
        for (;;) {
            if (next == 0 || next == 43 || next == 60) {     /* HBH, RH, DO */
                if (p + 8 > end)
                    return -1;
                if ((rc = reach(p + 8, have, len)))
                    return rc;
                size_t l = ((size_t)pkt[p + 1] + 1) * 8;
                next = pkt[p];
                p += l;
            } else if (next == 51) {                         /* AH */
                if (p + 8 > end)
                    return -1;
                if ((rc = reach(p + 8, have, len)))
                    return rc;
                size_t l = ((size_t)pkt[p + 1] + 2) * 4;
                next = pkt[p];
                p += l;
            } else {
                break;                  /* fragments (44) fall out below */
            }
            if (p > end)
                return -1;
        }
        r->v6 = true;
        r->proto = next;
        r->l4_off = p;
        r->l4_len = (uint32_t)(end - p);
    } else {
        return -1;
    }
    if (r->proto != PROTO_TCP && r->proto != PROTO_UDP)
        return -1;
    size_t need = r->proto == PROTO_TCP ? 20 : 8;
    if (r->l4_len < need)
        return -1;
    /* The L4 header's fixed part (data offset, checksum) is read below. */
    return reach(r->l4_off + need, have, len);
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += net_be16(p + i);
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    return s;
}

/* The folded, not inverted, pseudo-header sum a partial checksum holds. */
static uint16_t pseudo_sum(const uint8_t *pkt, const struct l4 *r)
{
    const uint8_t *ip = pkt + r->l3_off;
    uint32_t s = r->v6 ? sum16(ip + 8, 32, 0) : sum16(ip + 12, 8, 0);
    s += r->proto;
    s += r->l4_len & 0xffff;
    s += r->l4_len >> 16;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

int netback_tx_offload(uint8_t *pkt, size_t len, uint16_t nettxf,
                       const struct netif_extra_info *gso,
                       struct virtio_net_hdr *h)
{
    return netback_tx_offload_head(pkt, len, len, nettxf, gso, h);
}

int netback_tx_offload_head(uint8_t *pkt, size_t have, size_t len, uint16_t nettxf,
                            const struct netif_extra_info *gso,
                            struct virtio_net_hdr *h)
{
    memset(h, 0, sizeof(*h));
    if (!(nettxf & NETTXF_csum_blank) && !gso) {
        if (nettxf & NETTXF_data_validated)
            h->flags = VIRTIO_NET_HDR_F_DATA_VALID;
        return 0;
    }
    struct l4 r;
    int rc = find_l4(pkt, have, len, &r);
    if (rc < 0)
        return rc;
    uint16_t csum_off = r.proto == PROTO_TCP ? 16 : 6;
    h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h->csum_start = (uint16_t)r.l4_off;
    h->csum_offset = csum_off;
    if (gso) {
        if (r.proto != PROTO_TCP ||
            r.v6 != (gso->u.gso.type == XEN_NETIF_GSO_TYPE_TCPV6))
            return -1;
        size_t doff = (size_t)(pkt[r.l4_off + 12] >> 4) * 4;
        if (doff < 20 || doff > r.l4_len)
            return -1;
        h->gso_type = r.v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
        h->gso_size = gso->u.gso.size;
        h->hdr_len = (uint16_t)(r.l4_off + doff);
        if (!(nettxf & NETTXF_csum_blank)) {
            uint16_t s = pseudo_sum(pkt, &r);
            pkt[r.l4_off + csum_off] = (uint8_t)(s >> 8);
            pkt[r.l4_off + csum_off + 1] = (uint8_t)s;
        }
    }
    return 0;
}

int netback_rx_offload(const struct virtio_net_hdr *h, uint16_t *netrxf,
                       bool *has_gso, struct netif_extra_info *gso)
{
    *netrxf = 0;
    *has_gso = false;
    if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
        *netrxf |= NETRXF_csum_blank | NETRXF_data_validated;
    else if (h->flags & VIRTIO_NET_HDR_F_DATA_VALID)
        *netrxf |= NETRXF_data_validated;
    switch (h->gso_type) {
    case VIRTIO_NET_HDR_GSO_NONE:
        return 0;
    case VIRTIO_NET_HDR_GSO_TCPV4:
    case VIRTIO_NET_HDR_GSO_TCPV6:
        if (h->gso_size == 0)
            return -1;
        memset(gso, 0, sizeof(*gso));
        gso->type = XEN_NETIF_EXTRA_TYPE_GSO;
        gso->u.gso.size = h->gso_size;
        gso->u.gso.type = h->gso_type == VIRTIO_NET_HDR_GSO_TCPV4 ?
            XEN_NETIF_GSO_TYPE_TCPV4 : XEN_NETIF_GSO_TYPE_TCPV6;
        *has_gso = true;
        return 0;
    default:
        return -1;
    }
}

unsigned netback_tap_offloads(bool rx_csum, bool gso_tcpv4, bool gso_tcpv6)
{
    if (!rx_csum)
        return 0;
    unsigned f = TUN_F_CSUM;
    if (gso_tcpv4)
        f |= TUN_F_TSO4;
    if (gso_tcpv6)
        f |= TUN_F_TSO6;
    return f;
}

int netback_csum_finish(uint8_t *pkt, size_t len, const struct virtio_net_hdr *h)
{
    size_t start = h->csum_start, at = start + h->csum_offset;
    if (start >= len || at + 2 > len)
        return -1;
    /* The field holds the pseudo-header sum; the sum over all of it,
     * inverted, is the checksum. */
    uint32_t s = sum16(pkt + start, len - start, 0);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    uint16_t c = (uint16_t)~s;
    if (c == 0 && h->csum_offset == 6)
        c = 0xffff;                     /* UDP: 0 means "no checksum" */
    pkt[at] = (uint8_t)(c >> 8);
    pkt[at + 1] = (uint8_t)c;
    return 0;
}
