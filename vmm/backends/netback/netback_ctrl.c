/* The control ring: see netback_ctrl.h. */
#include "netback_ctrl.h"
#include "net_bytes.h"

#include <errno.h>
#include <string.h>

#include "domain.h"
#include "evtchn_backend.h"

uint32_t netback_toeplitz(const uint8_t *key, unsigned keylen, const uint8_t *buf,
                          unsigned len)
{
    /* A 64-bit window on the key: its top 32 bits are the key bits that
     * line up with the input bit in hand. */
    uint64_t window = 0, hash = 0;
    unsigned next = 0;
    for (; next < 8; next++)
        window = window << 8 | (next < keylen ? key[next] : 0);
    for (unsigned i = 0; i < len; i++) {
        for (int bit = 7; bit >= 0; bit--) {
            if (buf[i] >> bit & 1)
                hash ^= window;
            window <<= 1;
        }
        window |= next < keylen ? key[next] : 0;
        next++;
    }
    return (uint32_t)(hash >> 32);
}

int netback_hash_queue(const struct netback_hash *h, unsigned nr_queues, const uint8_t *f,
                       uint32_t len)
{
    if (h->alg != XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ || !h->flags || !nr_queues ||
        len < 14)
        return -1;
    uint8_t in[36];
    unsigned n = 0;
    const uint8_t *l3 = f + 14;
    uint32_t l3len = len - 14;
    uint16_t type = net_be16(f + 12);
    if (type == 0x0800 && l3len >= 20 && (l3[0] >> 4) == 4) {
        unsigned ihl = (l3[0] & 0xfu) * 4u;
        bool tcp = l3[9] == 6 && ihl >= 20 && l3len >= ihl + 4 && !(net_be16(l3 + 6) & 0x3fff);
        if (tcp && (h->flags & XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP)) {
            memcpy(in, l3 + 12, 8);
            memcpy(in + 8, l3 + ihl, 4);
            n = 12;
        } else if (h->flags & XEN_NETIF_CTRL_HASH_TYPE_IPV4) {
            memcpy(in, l3 + 12, 8);
            n = 8;
        }
    } else if (type == 0x86dd && l3len >= 40 && (l3[0] >> 4) == 6) {
        bool tcp = l3[6] == 6 && l3len >= 44;
        if (tcp && (h->flags & XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP)) {
            memcpy(in, l3 + 8, 32);
            memcpy(in + 32, l3 + 40, 4);
            n = 36;
        } else if (h->flags & XEN_NETIF_CTRL_HASH_TYPE_IPV6) {
            memcpy(in, l3 + 8, 32);
            n = 32;
        }
    }
    if (!n)
        return -1;
    uint32_t v = netback_toeplitz(h->key, NETBK_HASH_KEY_MAX, in, n);
    uint32_t q = h->size ? h->mapping[v % h->size] : v % nr_queues;
    return q < nr_queues ? (int)q : -1;
}

void netback_ctrl_handle(struct netback_hash *h, unsigned nr_queues,
                         const struct xen_netif_ctrl_request *req,
                         struct xen_netif_ctrl_response *rsp, netback_ctrl_copy_fn *copy,
                         void *opaque)
{
    *rsp = (struct xen_netif_ctrl_response){ .id = req->id, .type = req->type,
                                             .status = XEN_NETIF_CTRL_STATUS_SUCCESS };
    uint32_t d0 = req->data[0], d1 = req->data[1], d2 = req->data[2];
    switch (req->type) {
    case XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM:
        if (d0 != XEN_NETIF_CTRL_HASH_ALGORITHM_NONE &&
            d0 != XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ)
            rsp->status = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
        else
            h->alg = d0;
        return;
    case XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS:
        if (h->alg == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE)
            rsp->status = XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
        else
            rsp->data = NETBK_HASH_FLAGS;
        return;
    case XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS:
        if (h->alg == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE)
            rsp->status = XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
        else if (d0 & ~(uint32_t)NETBK_HASH_FLAGS)
            rsp->status = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
        else
            h->flags = d0;
        return;
    case XEN_NETIF_CTRL_TYPE_SET_HASH_KEY: {
        if (d1 > NETBK_HASH_KEY_MAX) {
            rsp->status = XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW;
            return;
        }
        uint8_t key[NETBK_HASH_KEY_MAX] = { 0 };
        if (d1 && copy(opaque, d0, key, (uint16_t)d1) < 0) {
            rsp->status = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
            return;
        }
        memcpy(h->key, key, sizeof(key));
        return;
    }
    case XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE:
        rsp->data = NETBK_HASH_MAPPING_MAX;
        return;
    case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE:
        if (d0 > NETBK_HASH_MAPPING_MAX) {
            rsp->status = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
            return;
        }
        h->size = d0;
        memset(h->mapping, 0, sizeof(h->mapping));
        return;
    case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING: {
        /* d1 entries at entry d2; no wrap, within the table and a page. */
        if (d1 > NETIF_PAGE_SIZE / sizeof(uint32_t) || d2 > h->size || d1 > h->size - d2) {
            rsp->status = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
            return;
        }
        uint32_t m[NETBK_HASH_MAPPING_MAX];
        if (d1 && copy(opaque, d0, m, (uint16_t)(d1 * sizeof(uint32_t))) < 0) {
            rsp->status = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
            return;
        }
        for (uint32_t i = 0; i < d1; i++) {
            if (m[i] >= nr_queues) {
                rsp->status = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
                return;
            }
        }
        memcpy(h->mapping + d2, m, d1 * sizeof(uint32_t));
        return;
    }
    default:
        rsp->status = XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
        return;
    }
}

int netback_ctrl_init(struct netback_ctrl *c, struct domain *d, domid_t by, grant_ref_t ref,
                      struct evtchn_be *chan, unsigned nr_queues)
{
    memset(c, 0, sizeof(*c));
    c->d = d;
    c->by = by;
    c->chan = chan;
    c->nr_queues = nr_queues;
    void *page;
    if (grant_map(&d->grants, by, ref, false, &c->handle, &page) != GNTST_okay)
        return -EINVAL;
    c->mapped = true;
    BACK_RING_INIT(&c->ring, (xen_netif_ctrl_sring_t *)page, NETIF_PAGE_SIZE);
    return 0;
}

void netback_ctrl_fini(struct netback_ctrl *c)
{
    if (c->mapped)
        grant_unmap(&c->d->grants, c->handle);
    c->mapped = false;
}

static int copy_in(void *opaque, grant_ref_t ref, void *buf, uint16_t len)
{
    struct netback_ctrl *c = opaque;
    struct grant_copy_op op = { .ref = ref, .offset = 0, .len = len, .to_guest = false,
                                .buf = buf };
    return grant_copy(&c->d->grants, c->by, &op, 1) == 0 && op.status == GNTST_okay ? 0 : -1;
}

int netback_ctrl_service(struct netback_ctrl *c)
{
    if (c->broken || !c->mapped)
        return c->broken ? -1 : 0;
    unsigned budget = 4 * RING_SIZE(&c->ring);
    for (;;) {
        RING_IDX prod = __atomic_load_n(&c->ring.sring->req_prod, __ATOMIC_ACQUIRE);
        if (prod - c->ring.req_cons > RING_SIZE(&c->ring)) {
            c->broken = true;
            return -1;
        }
        if (prod == c->ring.req_cons) {
            int more;
            RING_FINAL_CHECK_FOR_REQUESTS(&c->ring, more);
            if (!more || !budget)
                break;
            continue;
        }
        while (c->ring.req_cons != prod && budget) {
            struct xen_netif_ctrl_request req;
            RING_COPY_REQUEST(&c->ring, c->ring.req_cons, &req);
            c->ring.req_cons++;
            budget--;
            c->requests++;
            struct xen_netif_ctrl_response *rsp =
                RING_GET_RESPONSE(&c->ring, c->ring.rsp_prod_pvt);
            netback_ctrl_handle(&c->hash, c->nr_queues, &req, rsp, copy_in, c);
            c->ring.rsp_prod_pvt++;
        }
        if (!budget)
            break;
    }
    int notify;
    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&c->ring, notify);
    if (notify && c->chan)
        evtchn_be_notify(c->chan);
    return 0;
}
