#include "netback_tx_parse.h"

#include <string.h>

static void verdict(struct tx_packet *p, enum tx_verdict v, const char *why)
{
    p->verdict = v;
    p->why = why;
}

/* Read the extras after the first slot; returns the next slot, or 0 after a
 * FATAL verdict. */
static unsigned read_extras(const netif_tx_request_t *slot, unsigned n,
                            struct tx_packet *p,
                            struct netif_extra_info *extras, bool *seen)
{
    unsigned i = 1;
    struct netif_extra_info ex;
    do {
        if (i >= n) {
            verdict(p, TX_FATAL, "missing extra info");
            return 0;
        }
        if (i > NETBK_MAX_EXTRAS) {
            verdict(p, TX_FATAL, "more extras than extra types");
            return 0;
        }
        memcpy(&ex, &slot[i], sizeof(ex));
        p->id[i] = 0;
        p->is_extra[i] = true;
        i++;
        if (ex.type == XEN_NETIF_EXTRA_TYPE_NONE ||
            ex.type >= XEN_NETIF_EXTRA_TYPE_MAX) {
            verdict(p, TX_FATAL, "invalid extra type");
            return 0;
        }
        extras[ex.type - 1] = ex;
        seen[ex.type - 1] = true;
    } while (ex.flags & XEN_NETIF_EXTRA_FLAG_MORE);
    return i;
}

void netback_tx_parse(const netif_tx_request_t *slot, unsigned n,
                      struct tx_packet *p)
{
    struct netif_extra_info extras[NETBK_MAX_EXTRAS];
    bool seen[NETBK_MAX_EXTRAS] = { false };
    const netif_tx_request_t first = slot[0];

    memset(p, 0, sizeof(*p));
    if (n > NETBK_TX_WINDOW)
        n = NETBK_TX_WINDOW;
    p->id[0] = first.id;
    p->flags = first.flags;
    p->nr_slots = 1;

    unsigned i = 1;
    if (first.flags & NETTXF_extra_info) {
        i = read_extras(slot, n, p, extras, seen);
        if (!i)
            return;
        p->nr_slots = i;
    }
    if (seen[XEN_NETIF_EXTRA_TYPE_MCAST_ADD - 1] ||
        seen[XEN_NETIF_EXTRA_TYPE_MCAST_DEL - 1]) {
        verdict(p, TX_CONTROL, NULL);
        return;
    }

    /* Follow-on slots: first.size is the whole packet's size, each slot
     * takes its share from it (xenvif_count_requests). */
    uint16_t remaining = first.size;
    const char *drop = NULL;
    p->data[0] = first;
    p->nr_data = 1;
    if (first.flags & NETTXF_more_data) {
        unsigned follow = 0;
        bool more;
        do {
            if (i >= n) {
                verdict(p, TX_FATAL, "packet runs past the queued requests");
                return;
            }
            if (follow >= NETBK_FATAL_SLOTS) {
                verdict(p, TX_FATAL, "malicious slot count");
                return;
            }
            if (!drop && follow >= NETBK_MAX_SLOTS - 1)
                drop = "too many slots";
            const netif_tx_request_t t = slot[i];
            p->id[i] = t.id;
            i++;
            p->nr_slots = i;
            if (!drop && t.size > remaining)
                drop = "slot larger than the packet's remaining size";
            remaining = (uint16_t)(remaining - t.size);
            follow++;
            if ((unsigned)t.offset + t.size > NETIF_PAGE_SIZE) {
                verdict(p, TX_FATAL, "slot crosses a page boundary");
                return;
            }
            more = t.flags & NETTXF_more_data;
            if (!drop)
                p->data[p->nr_data++] = t;
        } while (more);
    }
    if (drop) {
        verdict(p, TX_DROP, drop);
        return;
    }
    p->data[0].size = remaining;
    if (remaining < NETBK_ETH_HLEN) {
        verdict(p, TX_DROP, "first slot shorter than an Ethernet header");
        return;
    }
    if ((unsigned)first.offset + remaining > NETIF_PAGE_SIZE) {
        verdict(p, TX_FATAL, "first slot crosses a page boundary");
        return;
    }
    if (seen[XEN_NETIF_EXTRA_TYPE_GSO - 1]) {
        const struct netif_extra_info *g = &extras[XEN_NETIF_EXTRA_TYPE_GSO - 1];
        if (g->u.gso.size == 0) {
            verdict(p, TX_FATAL, "GSO size zero");
            return;
        }
        if (g->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4 &&
            g->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV6) {
            verdict(p, TX_FATAL, "bad GSO type");
            return;
        }
        p->has_gso = true;
        p->gso = *g;
    }
    p->len = 0;
    for (unsigned k = 0; k < p->nr_data; k++)
        p->len += p->data[k].size;
    verdict(p, TX_SEND, NULL);
}
