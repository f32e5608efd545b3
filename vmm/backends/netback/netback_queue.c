#include "netback_queue.h"
#include "netback_offload.h"
#include "netback_filter.h"
#include "domain.h"
#include "evtchn_backend.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define VNET_HDR_LEN sizeof(struct virtio_net_hdr)

int netback_queue_init(struct netback_queue *q, struct domain *d, domid_t by,
                       grant_ref_t tx_ref, grant_ref_t rx_ref, int tap_fd,
                       struct netback_rx_features fe,
                       struct evtchn_be *tx_chan, struct evtchn_be *rx_chan)
{
    q->d = d;
    q->by = by;
    q->tap_fd = tap_fd;
    q->tx_fd = tap_fd;
    q->fe = fe;
    q->tx_chan = tx_chan;
    q->rx_chan = rx_chan;
    q->tx_arena = malloc(NETBK_TX_ARENA);
    q->rx_buf = malloc(NETBK_MAX_PACKET + 1);
    if (!q->tx_arena || !q->rx_buf) {
        netback_queue_fini(q);
        return -ENOMEM;
    }
    void *page;
    if (grant_map(&d->grants, by, tx_ref, false, &q->tx_handle, &page) != GNTST_okay) {
        netback_queue_fini(q);
        return -EINVAL;
    }
    q->tx_mapped = true;
    BACK_RING_INIT(&q->tx, (netif_tx_sring_t *)page, NETIF_PAGE_SIZE);
    if (grant_map(&d->grants, by, rx_ref, false, &q->rx_handle, &page) != GNTST_okay) {
        netback_queue_fini(q);
        return -EINVAL;
    }
    q->rx_mapped = true;
    BACK_RING_INIT(&q->rx, (netif_rx_sring_t *)page, NETIF_PAGE_SIZE);
    return 0;
}

/* The queue's clock: the test's, or CLOCK_MONOTONIC. */
static uint64_t queue_now(const struct netback_queue *q)
{
    return q->now_ns ? q->now_ns() : now_ns();
}

static void add_credit(struct netback_queue *q)
{
    /* tx_add_credit: a burst big enough for a 128 KiB packet at least. */
    uint64_t max_burst = q->credit_bytes > 131072 ? q->credit_bytes : 131072;
    uint64_t c = q->remaining_credit + q->credit_bytes;
    if (c < q->remaining_credit)
        c = UINT64_MAX;
    q->remaining_credit = c < max_burst ? c : max_burst;
}

void netback_set_rate(struct netback_queue *q, uint64_t bytes, uint64_t usec)
{
    q->credit_bytes = bytes;
    q->credit_usec = bytes ? usec : 0;
    q->remaining_credit = 0;
    q->window_start_ns = queue_now(q);
    if (q->credit_usec)
        add_credit(q);
}

int netback_parse_rate(const char *s, uint64_t *bytes, uint64_t *usec)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long b = strtoull(s, &end, 10);
    if (errno || *end != ',' || end[1] < '0' || end[1] > '9')
        return -1;
    unsigned long long u = strtoull(end + 1, &end, 10);
    if (errno || *end || u == 0 || u > 1000000000000ull)
        return -1;
    *bytes = b;
    *usec = u;
    return 0;
}

/* tx_credit_exceeded: whether a packet of size must wait for credit. */
static bool credit_exceeded(struct netback_queue *q, uint32_t size)
{
    if (q->rate_timer_pending)
        return true;
    uint64_t now = queue_now(q);
    uint64_t next = q->window_start_ns + q->credit_usec * 1000;
    if (now >= next) {
        q->window_start_ns = now;
        add_credit(q);
    }
    if (size > q->remaining_credit) {
        q->window_start_ns = next;
        q->rate_timer_pending = true;
        q->rate_timer_ns = next;
        q->st.tx_rate_waits++;
        if (q->want_timer)
            q->want_timer(q->opaque, next);
        return true;
    }
    return false;
}

void netback_queue_fini(struct netback_queue *q)
{
    if (q->tx_mapped)
        grant_unmap(&q->d->grants, q->tx_handle);
    if (q->rx_mapped)
        grant_unmap(&q->d->grants, q->rx_handle);
    q->tx_mapped = q->rx_mapped = false;
    free(q->tx_arena);
    free(q->rx_buf);
    free(q->tx_whole);
    q->tx_arena = NULL;
    q->rx_buf = NULL;
    q->tx_whole = NULL;
}

static void fatal(struct netback_queue *q, const char *why)
{
    if (q->broken)
        return;
    q->broken = true;
    q->broken_why = why;
    log_limited(LOG_WARN, "netback: domain %u: fatal frontend error (%s); "
                "vif disabled", q->d->domid, why);
    if (q->on_fatal)
        q->on_fatal(q->opaque);
}

static void want_tap(struct netback_queue *q, bool want)
{
    if (q->watching_tap == want)
        return;
    q->watching_tap = want;
    if (q->want_tap)
        q->want_tap(q->opaque, want);
}

/* ---- tx: guest to tap ---- */

static void tx_respond(struct netback_queue *q, const struct tx_packet *p,
                       int8_t status)
{
    for (unsigned i = 0; i < p->nr_slots; i++) {
        netif_tx_response_t *r = RING_GET_RESPONSE(&q->tx, q->tx.rsp_prod_pvt);
        r->id = p->id[i];
        r->status = p->is_extra[i] ? NETIF_RSP_NULL : status;
        q->tx.rsp_prod_pvt++;
    }
}

/* Judge, fix up and write one packet: `data` holds its first `have` bytes
 * (the backend's own copy), iov[2..nr_iov) the rest. -2, with nothing
 * done, when its headers reach past `have`; else 0 (sent, or dropped and
 * counted). */
static int tx_write(struct netback_queue *q, const struct tx_packet *p,
                    uint8_t *data, uint32_t have, struct iovec *iov, unsigned nr_iov)
{
    struct virtio_net_hdr h;
    int rc = netback_tx_offload_head(data, have, p->len, p->flags,
                                     p->has_gso ? &p->gso : NULL, &h);
    if (rc == -2)
        return -2;
    if (q->filter) {
        /* The filter reads the first 96 bytes at most, so a head is
         * judged as the whole frame would be. */
        enum netback_filter_verdict fv = netback_filter_judge(q->filter, data, have);
        if (fv != NETBK_FILTER_PASS) {
            q->st.tx_filtered++;
            log_limited(LOG_WARN, "netback: domain %u: tx frame dropped: %s "
                        "(%llu dropped so far)", q->d->domid, netback_filter_why(fv),
                        (unsigned long long)q->st.tx_filtered);
            return 0;
        }
    }
    if (rc < 0) {
        q->st.tx_dropped++;
        return 0;
    }
    iov[0] = (struct iovec){ .iov_base = &h, .iov_len = VNET_HDR_LEN };
    iov[1] = (struct iovec){ .iov_base = data, .iov_len = have };
    ssize_t n = writev(q->tx_fd, iov, (int)nr_iov);
    if (n != (ssize_t)(VNET_HDR_LEN + p->len)) {
        q->st.tx_dropped++;     /* a full queue on the host: as a wire would */
        return 0;
    }
    q->st.tx_packets++;
    q->st.tx_bytes += p->len;
    return 0;
}

/* Copy a packet whole into tx_whole (made at its first use: only a
 * frontend whose headers run past the head needs it): true when every
 * piece copied. */
static bool tx_copy_whole(struct netback_queue *q, const struct tx_packet *p)
{
    if (!q->tx_whole && !(q->tx_whole = malloc(NETBK_MAX_PACKET)))
        return false;
    struct grant_copy_op ops[NETBK_MAX_SLOTS];
    uint32_t off = 0;
    for (unsigned j = 0; j < p->nr_data; j++) {
        ops[j] = (struct grant_copy_op){
            .ref = p->data[j].gref, .offset = p->data[j].offset,
            .len = p->data[j].size, .to_guest = false, .buf = q->tx_whole + off,
        };
        off += p->data[j].size;
    }
    return grant_copy(&q->d->grants, q->by, ops, p->nr_data) == 0;
}

/* A packet whose head was copied: map the rest, write it from the guest's
 * pages, unmap, answer. ERROR when a piece does not map (as for a copy). */
static void tx_send_mapped(struct netback_queue *q, struct netback_tx_pending *t)
{
    struct grant_map_op ops[NETBK_MAX_SLOTS];
    struct iovec iov[2 + NETBK_MAX_SLOTS];
    const struct netback_tx_map *m = &q->tx_maps[t->first_map];
    for (unsigned j = 0; j < t->nr_map; j++)
        ops[j] = (struct grant_map_op){ .ref = m[j].op.ref, .readonly = true };
    bool ok = grant_map_batch(&q->d->grants, q->by, ops, t->nr_map) == 0;
    int rc = 0;
    if (ok) {
        /* In bounds: the parser refused any slot that crosses its page. */
        for (unsigned j = 0; j < t->nr_map; j++)
            iov[2 + j] = (struct iovec){
                .iov_base = (uint8_t *)ops[j].page + m[j].offset, .iov_len = m[j].len };
        rc = tx_write(q, &t->pkt, q->tx_arena + t->arena_off, NETBK_TX_HEAD, iov,
                      2 + t->nr_map);
        if (rc == 0)
            q->st.tx_mapped++;
    }
    grant_unmap_batch(&q->d->grants, ops, t->nr_map);
    if (rc == -2) {
        /* Headers past the head: a private copy of it all, judged again. */
        ok = tx_copy_whole(q, &t->pkt);
        if (ok)
            tx_write(q, &t->pkt, q->tx_whole, t->pkt.len, iov, 2);
    }
    if (!ok)
        q->st.tx_errors++;
    tx_respond(q, &t->pkt, ok ? NETIF_RSP_OKAY : NETIF_RSP_ERROR);
}

static void tx_flush(struct netback_queue *q)
{
    if (!q->tx_nr)
        return;
    grant_copy(&q->d->grants, q->by, q->tx_ops, q->tx_nr_ops);
    for (unsigned k = 0; k < q->tx_nr; k++) {
        struct netback_tx_pending *t = &q->tx_batch[k];
        bool ok = true;
        for (unsigned j = 0; j < t->nr_ops; j++)
            ok &= q->tx_ops[t->first_op + j].status == GNTST_okay;
        if (!ok) {
            q->st.tx_errors++;
            tx_respond(q, &t->pkt, NETIF_RSP_ERROR);
            continue;
        }
        if (t->mapped) {
            tx_send_mapped(q, t);
            continue;
        }
        tx_respond(q, &t->pkt, NETIF_RSP_OKAY);
        struct iovec iov[2];
        tx_write(q, &t->pkt, q->tx_arena + t->arena_off, t->pkt.len, iov, 2);
    }
    q->tx_nr = q->tx_nr_ops = q->tx_nr_maps = 0;
    q->tx_arena_used = 0;
}

static void tx_add(struct netback_queue *q, const struct tx_packet *p)
{
    bool map = p->len > NETBK_TX_COPY_MAX;
    uint32_t copy_len = map ? NETBK_TX_HEAD : p->len;
    if (q->tx_nr == NETBK_TX_BATCH ||
        q->tx_arena_used + copy_len > NETBK_TX_ARENA)
        tx_flush(q);
    struct netback_tx_pending *t = &q->tx_batch[q->tx_nr++];
    t->pkt = *p;
    t->first_op = q->tx_nr_ops;
    t->nr_ops = 0;
    t->arena_off = q->tx_arena_used;
    t->mapped = map;
    t->first_map = q->tx_nr_maps;
    t->nr_map = 0;
    /* The first copy_len bytes are copied, the rest (if any) mapped; a
     * slot may be split between the two. */
    uint32_t pos = 0;
    for (unsigned j = 0; j < p->nr_data; j++) {
        uint16_t size = p->data[j].size, offset = p->data[j].offset;
        uint16_t in_head = pos >= copy_len ? 0 :
            (uint16_t)(copy_len - pos < size ? copy_len - pos : size);
        if (in_head) {
            q->tx_ops[q->tx_nr_ops++] = (struct grant_copy_op){
                .ref = p->data[j].gref, .offset = offset, .len = in_head,
                .to_guest = false, .buf = q->tx_arena + t->arena_off + pos,
            };
            t->nr_ops++;
        }
        if (in_head < size) {
            q->tx_maps[q->tx_nr_maps++] = (struct netback_tx_map){
                .op = { .ref = p->data[j].gref, .readonly = true },
                .offset = (uint16_t)(offset + in_head), .len = (uint16_t)(size - in_head),
            };
            t->nr_map++;
        }
        pos += size;
    }
    q->tx_arena_used += copy_len;
}

/* Show the frontend the answers so far; whether it asked to be told
 * (accumulated: one notify at the end of the service). */
static void tx_push(struct netback_queue *q, bool *notify)
{
    int n;
    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&q->tx, n);
    *notify |= n != 0;
}

/* Copy the slots from req_cons on, each read once from the shared ring. */
static unsigned tx_snapshot(struct netback_queue *q, unsigned avail,
                            netif_tx_request_t *slot)
{
    unsigned n = avail < NETBK_TX_WINDOW ? avail : NETBK_TX_WINDOW;
    for (unsigned i = 0; i < n; i++)
        RING_COPY_REQUEST(&q->tx, q->tx.req_cons + i, &slot[i]);
    return n;
}

void netback_tx_service(struct netback_queue *q)
{
    q->st.tx_kicks++;
    if (q->broken)
        return;
    if (q->rate_timer_pending &&
        queue_now(q) >= q->rate_timer_ns) {
        q->rate_timer_pending = false;      /* the window came: its credit */
        add_credit(q);
    }
    netif_tx_request_t slot[NETBK_TX_WINDOW];
    struct tx_packet p;
    bool notify = false;
    /* Then let others run. */
    unsigned budget = q->tx_budget ? q->tx_budget : 4 * NETIF_TX_RING_SIZE;
    for (;;) {
        if (!budget--) {
            /* Kicks on for what comes next (as when the ring runs dry),
             * and another service for what is already there. */
            int more;
            RING_FINAL_CHECK_FOR_REQUESTS(&q->tx, more);
            if (more && q->want_tx)
                q->want_tx(q->opaque);
            break;
        }
        RING_IDX prod = __atomic_load_n(&q->tx.sring->req_prod, __ATOMIC_ACQUIRE);
        RING_IDX avail = prod - q->tx.req_cons;
        if (avail > NETIF_TX_RING_SIZE) {
            fatal(q, "impossible number of tx requests");
            break;
        }
        if (!avail) {
            int more;
            RING_FINAL_CHECK_FOR_REQUESTS(&q->tx, more);
            if (!more)
                break;
            continue;
        }
        unsigned n = tx_snapshot(q, avail, slot);
        /* Credit first, on the first slot's size (the packet's), as
         * netback: a packet that must wait stays on the ring. */
        if (q->credit_usec && slot[0].size > q->remaining_credit &&
            credit_exceeded(q, slot[0].size))
            break;
        if (q->credit_usec)
            q->remaining_credit -= slot[0].size;
        netback_tx_parse(slot, n, &p);
        if (p.verdict == TX_FATAL) {
            fatal(q, p.why);
            break;
        }
        q->tx.req_cons += p.nr_slots;
        switch (p.verdict) {
        case TX_SEND:
            tx_add(q, &p);
            if (q->tx_batch[q->tx_nr - 1].mapped) {
                /* A big packet goes out now, and its slots are answered
                 * at once: the frontend refills them while the rest of
                 * the ring is written, instead of after the batch. */
                tx_flush(q);
                tx_push(q, &notify);
            }
            break;
        case TX_CONTROL:
            tx_respond(q, &p, NETIF_RSP_OKAY);
            break;
        default:
            q->st.tx_errors++;
            tx_respond(q, &p, NETIF_RSP_ERROR);
            break;
        }
    }
    tx_flush(q);
    tx_push(q, &notify);
    if (notify && q->tx_chan)
        evtchn_be_notify(q->tx_chan);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ volatile("pause");
#endif
}

static bool tx_requests_queued(struct netback_queue *q)
{
    RING_IDX prod = __atomic_load_n(&q->tx.sring->req_prod, __ATOMIC_ACQUIRE);
    return prod != q->tx.req_cons;      /* a lying count is tx_service's to judge */
}

bool netback_tx_busy_poll(struct netback_queue *q, enum netback_poll_after after)
{
    /* A packet waiting for rate= credit stays queued: nothing to watch. */
    if (!q->busy_poll_ns || q->broken || q->rate_timer_pending ||
        (unsigned)after >= NETBK_POLL_NR)
        return false;
    struct netback_poll *pl = &q->poll[after];
    if (pl->skip) {
        pl->skip--;
        return false;
    }
    q->st.tx_polls++;
    if (tx_requests_queued(q))
        goto hit;
    /* Kicks off: the guest's push check ((new - event) < (new - old))
     * never fires for an event at what we have consumed. */
    q->tx.sring->req_event = q->tx.req_cons;
    uint64_t end = queue_now(q) + q->busy_poll_ns;
    do {
        for (unsigned i = 0; i < 64; i++) {
            if (tx_requests_queued(q))
                goto hit;
            cpu_relax();
        }
        /* The vCPU we wait for may be waiting for this CPU (one core
         * left to us, both threads SCHED_FIFO): let it run. */
        sched_yield();
    } while (queue_now(q) < end);
    /* Kicks on again, then a last look for what came meanwhile. */
    q->tx.sring->req_event = q->tx.req_cons + 1;
    xen_mb();
    if (tx_requests_queued(q))
        goto hit;
    pl->backoff = pl->backoff ? pl->backoff * 2 : 1;
    if (pl->backoff > NETBK_TX_POLL_SKIP_MAX)
        pl->backoff = NETBK_TX_POLL_SKIP_MAX;
    pl->skip = pl->backoff;
    return false;
hit:
    pl->backoff = 0;
    q->st.tx_poll_hits++;
    return true;
}

/* ---- rx: tap to guest ---- */

static unsigned rx_slots_needed(const struct netback_queue *q, bool has_gso)
{
    unsigned data = (q->rx_len + NETIF_PAGE_SIZE - 1) / NETIF_PAGE_SIZE;
    return (data ? data : 1) + (has_gso ? 1 : 0);
}

/* Requests posted and not consumed; -1 when the indices lie. */
static int rx_posted(struct netback_queue *q)
{
    RING_IDX prod = __atomic_load_n(&q->rx.sring->req_prod, __ATOMIC_ACQUIRE);
    RING_IDX avail = prod - q->rx.req_cons;
    if (avail > NETIF_RX_RING_SIZE)
        return -1;
    return (int)avail;
}

/* Read one packet from the tap into rx_buf: 1, 0 when none, -1 on a
 * packet that is dropped (too short). */
static int rx_read(struct netback_queue *q)
{
    struct iovec iov[2] = {
        { .iov_base = &q->rx_hdr, .iov_len = VNET_HDR_LEN },
        { .iov_base = q->rx_buf, .iov_len = NETBK_MAX_PACKET + 1 },
    };
    ssize_t n = readv(q->tap_fd, iov, 2);
    if (n < 0)
        return 0;           /* EAGAIN, or a tap gone: the owner sees EOF/HUP */
    if ((size_t)n < VNET_HDR_LEN + NETBK_ETH_HLEN ||
        (size_t)n > VNET_HDR_LEN + NETBK_MAX_PACKET)
        return -1;
    q->rx_len = (uint32_t)(n - VNET_HDR_LEN);
    return 1;
}

/* Copy rx_buf into the posted pages and answer them. */
static void rx_deliver(struct netback_queue *q, uint16_t netrxf, bool has_gso,
                       const struct netif_extra_info *gso)
{
    struct grant_copy_op ops[NETBK_RX_MAX_SLOTS];
    RING_IDX rsp_idx[NETBK_RX_MAX_SLOTS];
    uint16_t ids[NETBK_RX_MAX_SLOTS];
    unsigned nr = 0;
    uint32_t off = 0;

    do {
        netif_rx_request_t req;
        RING_COPY_REQUEST(&q->rx, q->rx.req_cons, &req);
        q->rx.req_cons++;
        uint32_t chunk = q->rx_len - off;
        if (chunk > NETIF_PAGE_SIZE)
            chunk = NETIF_PAGE_SIZE;
        ops[nr] = (struct grant_copy_op){
            .ref = req.gref, .offset = 0, .len = (uint16_t)chunk,
            .to_guest = true, .buf = q->rx_buf + off,
        };
        ids[nr] = req.id;
        rsp_idx[nr] = q->rx.rsp_prod_pvt++;
        off += chunk;
        nr++;
        if (nr == 1 && has_gso) {
            /* The extra rides in the next slot, as netback puts it. */
            q->rx.req_cons++;
            netif_extra_info_t *ex =
                (netif_extra_info_t *)RING_GET_RESPONSE(&q->rx, q->rx.rsp_prod_pvt);
            *ex = *gso;
            ex->flags = 0;
            q->rx.rsp_prod_pvt++;
        }
    } while (off < q->rx_len);

    bool ok = grant_copy(&q->d->grants, q->by, ops, nr) == 0;
    for (unsigned i = 0; i < nr; i++) {
        netif_rx_response_t *r = RING_GET_RESPONSE(&q->rx, rsp_idx[i]);
        r->id = ids[i];
        r->offset = 0;
        r->flags = (uint16_t)((i == 0 ? netrxf : 0) |
                              (i + 1 < nr ? NETRXF_more_data : 0) |
                              (i == 0 && has_gso ? NETRXF_extra_info : 0));
        r->status = ops[i].status == GNTST_okay ? (int16_t)ops[i].len
                                                : NETIF_RSP_ERROR;
    }
    if (ok) {
        q->st.rx_packets++;
        q->st.rx_bytes += q->rx_len;
    } else {
        q->st.rx_errors++;
    }
}

void netback_rx_service(struct netback_queue *q)
{
    q->st.rx_kicks++;
    if (q->broken)
        return;
    unsigned done = 0;
    while (done < NETBK_RX_BATCH) {
        int posted = rx_posted(q);
        if (posted < 0) {
            fatal(q, "impossible number of rx requests");
            break;
        }
        if (!q->rx_held) {
            if (posted == 0) {
                /* Ask for a kick when one is posted, then look again. */
                q->rx.sring->req_event = q->rx.req_cons + 1;
                xen_mb();
                if (rx_posted(q) == 0) {
                    want_tap(q, false);
                    break;
                }
                continue;
            }
            int r = rx_read(q);
            if (r == 0) {
                want_tap(q, true);
                break;
            }
            if (r < 0) {
                q->st.rx_dropped++;
                continue;
            }
            q->rx_held = true;
        }
        uint16_t netrxf;
        bool has_gso;
        struct netif_extra_info gso;
        if (netback_rx_offload(&q->rx_hdr, &netrxf, &has_gso, &gso) < 0 ||
            (has_gso && !(gso.u.gso.type == XEN_NETIF_GSO_TYPE_TCPV4 ?
                          q->fe.gso_tcpv4 : q->fe.gso_tcpv6))) {
            q->rx_held = false;
            q->st.rx_dropped++;
            continue;
        }
        if ((netrxf & NETRXF_csum_blank) &&
            (!q->fe.csum || (!q->fe.csum_v6 && q->rx_len >= NETBK_ETH_HLEN &&
                             q->rx_buf[12] == 0x86 && q->rx_buf[13] == 0xdd))) {
            if (has_gso || netback_csum_finish(q->rx_buf, q->rx_len, &q->rx_hdr) < 0) {
                q->rx_held = false;
                q->st.rx_dropped++;
                continue;
            }
            q->rx_hdr.flags = VIRTIO_NET_HDR_F_DATA_VALID;   /* done once */
            netrxf = NETRXF_data_validated;
        }
        unsigned need = rx_slots_needed(q, has_gso);
        if ((unsigned)posted < need) {
            q->rx.sring->req_event = q->rx.req_cons + need;
            xen_mb();
            posted = rx_posted(q);
            if (posted >= 0 && (unsigned)posted < need) {
                want_tap(q, false);
                break;
            }
            continue;
        }
        rx_deliver(q, netrxf, has_gso, &gso);
        q->rx_held = false;
        done++;
    }
    if (done == NETBK_RX_BATCH)
        want_tap(q, true);      /* more may wait: the loop comes back */
    int notify;
    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&q->rx, notify);
    if (notify && q->rx_chan)
        evtchn_be_notify(q->rx_chan);
}
