/* The test guests' netfront: see netfront.h. */
#include "guest.h"
#include "netfront.h"
#include "xs.h"

#include <xen/event_channel.h>
#include <xen/io/xenbus.h>
#include <xen/io/xs_wire.h>
#include <xen/memory.h>
#include <xen/sched.h>

#define GNT_FRAME_IDX 1
#define GNT_BASE 512u

/* The pages of one netfront (NF_MAX_VIFS at once, by devid). */
struct nf_pages {
    uint8_t tx_ring[4096], rx_ring[4096];
    uint8_t rx[NF_RX_BUFS][4096];
    uint8_t tx[NF_TX_BUFS][4096];
    uint8_t gso[NF_GSO_FRAMES][NF_GSO_FRAME_PAGES * 4096];
};
/* Grant refs per netfront: its rings and buffers, and room for a few more
 * (the hostile guest grants its own pages after connecting). */
#define NF_REFS_PER_VIF (2 + NF_RX_BUFS + NF_TX_BUFS + NF_GSO_FRAMES * NF_GSO_FRAME_PAGES + 16)
/* Tx ids: 0..NF_TX_BUFS-1 the copy buffers, then a frame's pages. */
#define GSO_ID0 NF_TX_BUFS
#define GSO_IDS (NF_GSO_FRAMES * NF_GSO_FRAME_PAGES)

static grant_entry_v1_t gnttab1[512] __attribute__((aligned(4096)));
static struct nf_pages nf_pages[NF_MAX_VIFS] __attribute__((aligned(4096)));
static unsigned next_ref;
int netfront_split;
int netfront_ctrl;

/* The control ring (one at a time), and a page for its messages' data. */
#define CTRL_REF_IDX 500
static uint8_t ctrl_ring_page[4096] __attribute__((aligned(4096)));
static uint8_t ctrl_data_page[4096] __attribute__((aligned(4096)));
static xen_netif_ctrl_front_ring_t ctrl;
static uint32_t ctrl_port;
static int ctrl_up;

_Static_assert(8 + NF_MAX_VIFS * NF_REFS_PER_VIF <= CTRL_REF_IDX,
               "grant frame 1 holds every netfront, below the control ring's refs");
/* Every tx slot in flight fits the ring: one a copy buffer, and each
 * frame's pages and GSO extra. */
_Static_assert(NF_TX_BUFS + NF_GSO_FRAMES * (NF_GSO_FRAME_PAGES + 1) <=
               __CONST_RING_SIZE(netif_tx, 4096), "the tx ring holds every slot in flight");

#define PAGES(f) (&nf_pages[(f)->slot])

static grant_ref_t grant(const void *page, int readonly)
{
    if (next_ref >= 512)
        return 0;
    unsigned i = next_ref++;
    gnttab1[i].domid = 0;
    gnttab1[i].frame = (uint32_t)((unsigned long)page >> 12);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    gnttab1[i].flags = GTF_permit_access | (readonly ? GTF_readonly : 0);
    return GNT_BASE + i;
}

static grant_ref_t grant_at(unsigned i, const void *page, int readonly)
{
    gnttab1[i].domid = 0;
    gnttab1[i].frame = (uint32_t)((unsigned long)page >> 12);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    gnttab1[i].flags = GTF_permit_access | (readonly ? GTF_readonly : 0);
    return GNT_BASE + i;
}

static unsigned long parse_ul(const char *s)
{
    unsigned long v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (unsigned long)(*s++ - '0');
    return v;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int backend_state(struct netfront *f)
{
    char path[160], v[16];
    snprintf(path, sizeof(path), "%s/state", f->be);
    return xs_read(path, v, sizeof(v)) < 0 ? -1 : (int)parse_ul(v);
}

static void sleep_ms(unsigned ms)
{
    struct sched_poll sp = { .nr_ports = 0, .timeout = xen_system_time() + ms * 1000000ull };
    HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_poll, &sp);
}

static int wait_backend(struct netfront *f, int want)
{
    for (int i = 0; i < 5000; i++) {
        int st = backend_state(f);
        if (st == want || (st < 0 && want == XenbusStateClosed))
            return 0;       /* Closed, or removed already */
        sleep_ms(2);
    }
    printk("netfront: %s: backend state %d, wanted %d\n", f->be, backend_state(f), want);
    return -1;
}

static int write_ul(struct netfront *f, const char *key, unsigned long v)
{
    char path[96], val[24];
    snprintf(path, sizeof(path), "%s/%s", f->fe, key);
    snprintf(val, sizeof(val), "%lu", v);
    return xs_write(path, val);
}

static void kick(struct netfront *f)
{
    struct evtchn_send s = { .port = f->port };
    evtchn_op(EVTCHNOP_send, &s);
}

static void kick_rx(struct netfront *f)
{
    struct evtchn_send s = { .port = f->split ? f->rx_port : f->port };
    evtchn_op(EVTCHNOP_send, &s);
}

static void post_rx(struct netfront *f)
{
    /* Buffer k % NF_RX_BUFS for ring index k: at most NF_RX_BUFS are out,
     * so it has come back by the time its index is posted again. Refill
     * in batches, once half have come back, as Linux's netfront does: a
     * backend faster than us runs dry and asks for a kick at each post,
     * and a kick is an exit. */
    if (f->rx.req_prod_pvt - f->rx.rsp_cons > NF_RX_BUFS / 2)
        return;
    while (f->rx.req_prod_pvt - f->rx.rsp_cons < NF_RX_BUFS) {
        RING_IDX k = f->rx.req_prod_pvt;
        netif_rx_request_t *r = RING_GET_REQUEST(&f->rx, k);
        r->id = (uint16_t)(k % NF_RX_BUFS);
        r->gref = f->rx_gref[k % NF_RX_BUFS];
        f->rx.req_prod_pvt++;
    }
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f->rx, notify);
    if (notify)
        kick_rx(f);
}

/* Queue f's rings, channels and buffers (its pages: f->slot), posted. */
static int queue_setup(struct netfront *f)
{
    char path[96], val[64];
    next_ref = 8 + f->slot * NF_REFS_PER_VIF;
    struct evtchn_alloc_unbound a = { .dom = DOMID_SELF, .remote_dom = 0 };
    if (evtchn_op(EVTCHNOP_alloc_unbound, &a))
        return -1;
    f->port = a.port;
    snprintf(path, sizeof(path), "%s/feature-split-event-channels", f->be);
    if (netfront_split && xs_read(path, val, sizeof(val)) == 0 && parse_ul(val) == 1) {
        struct evtchn_alloc_unbound b = { .dom = DOMID_SELF, .remote_dom = 0 };
        if (evtchn_op(EVTCHNOP_alloc_unbound, &b))
            return -1;
        f->rx_port = b.port;
        f->split = 1;
    }
    struct nf_pages *pg = PAGES(f);
    netif_tx_sring_t *ts = (netif_tx_sring_t *)pg->tx_ring;
    netif_rx_sring_t *rs = (netif_rx_sring_t *)pg->rx_ring;
    SHARED_RING_INIT(ts);
    SHARED_RING_INIT(rs);
    FRONT_RING_INIT(&f->tx, ts, 4096);
    FRONT_RING_INIT(&f->rx, rs, 4096);
    f->tx_ring_ref = grant(pg->tx_ring, 0);
    f->rx_ring_ref = grant(pg->rx_ring, 0);
    for (unsigned i = 0; i < NF_RX_BUFS; i++)
        f->rx_gref[i] = grant(pg->rx[i], 0);
    for (unsigned i = 0; i < NF_TX_BUFS; i++) {
        f->tx_gref[i] = grant(pg->tx[i], 1);
        f->tx_free[i] = (uint16_t)i;
    }
    f->nr_tx_free = NF_TX_BUFS;
    for (unsigned i = 0; i < NF_GSO_FRAMES; i++) {
        for (unsigned j = 0; j < NF_GSO_FRAME_PAGES; j++)
            f->gso_gref[i][j] = grant(pg->gso[i] + j * 4096, 1);
        f->gso_out[i] = 0;
    }
    post_rx(f);
    return 0;
}

/* Its keys: at the root (prefix "") or under queue-N/. */
static int queue_publish(struct netfront *f, const char *prefix)
{
    char k[48];
#define KEY(name) (snprintf(k, sizeof(k), "%s%s", prefix, name), k)
    if (write_ul(f, KEY("tx-ring-ref"), f->tx_ring_ref) < 0 ||
        write_ul(f, KEY("rx-ring-ref"), f->rx_ring_ref) < 0)
        return -1;
    if (f->split)
        return write_ul(f, KEY("event-channel-tx"), f->port) < 0 ||
               write_ul(f, KEY("event-channel-rx"), f->rx_port) < 0 ? -1 : 0;
    return write_ul(f, KEY("event-channel"), f->port);
#undef KEY
}

int netfront_connect_queues(struct netfront *qs, unsigned nq, unsigned devid)
{
    struct netfront *f = &qs[0];
    memset(f, 0, sizeof(*f));
    f->slot = devid % NF_MAX_VIFS;
    snprintf(f->fe, sizeof(f->fe), "device/vif/%u", devid);
    char path[96], val[64];
    snprintf(path, sizeof(path), "%s/backend", f->fe);
    if (xs_read(path, f->be, sizeof(f->be)) < 0) {
        printk("netfront: %s: no backend\n", f->fe);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/mac", f->fe);
    if (xs_read(path, val, sizeof(val)) < 0 || strlen(val) != 17)
        return -1;
    for (int i = 0; i < 6; i++) {
        int h = hexval(val[i * 3]), l = hexval(val[i * 3 + 1]);
        if (h < 0 || l < 0)
            return -1;
        f->mac[i] = (uint8_t)(h << 4 | l);
    }
    snprintf(path, sizeof(path), "%s/mtu", f->fe);
    f->mtu = xs_read(path, val, sizeof(val)) == 0 ? (unsigned)parse_ul(val) : 1500;

    struct xen_add_to_physmap x = {
        .domid = DOMID_SELF, .space = XENMAPSPACE_grant_table, .idx = GNT_FRAME_IDX,
        .gpfn = (unsigned long)gnttab1 >> 12,
    };
    if (HYPERCALL2(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x))
        return -1;
    if (wait_backend(f, XenbusStateInitWait) < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/feature-rx-copy", f->be);
    if (xs_read(path, val, sizeof(val)) < 0 || parse_ul(val) != 1) {
        printk("netfront: backend without feature-rx-copy\n");
        return -1;
    }
    if (nq > 1) {
        snprintf(path, sizeof(path), "%s/multi-queue-max-queues", f->be);
        if (nq > NF_MAX_VIFS || xs_read(path, val, sizeof(val)) < 0 || parse_ul(val) < nq) {
            printk("netfront: backend offers fewer than %u queues\n", nq);
            return -1;
        }
    }
    for (unsigned i = 0; i < nq; i++) {
        if (i) {
            qs[i] = *f;                 /* the device's paths, MAC and MTU */
            qs[i].slot = (f->slot + i) % NF_MAX_VIFS;
        }
        if (queue_setup(&qs[i]) < 0)
            return -1;
    }
    if (nq > 1) {
        if (write_ul(f, "multi-queue-num-queues", nq) < 0)
            return -1;
        for (unsigned i = 0; i < nq; i++) {
            char prefix[16];
            snprintf(prefix, sizeof(prefix), "queue-%u/", i);
            if (queue_publish(&qs[i], prefix) < 0)
                return -1;
        }
    } else if (queue_publish(f, "") < 0) {
        return -1;
    }
    ctrl_up = 0;
    snprintf(path, sizeof(path), "%s/feature-ctrl-ring", f->be);
    if (netfront_ctrl && xs_read(path, val, sizeof(val)) == 0 && parse_ul(val) == 1) {
        struct evtchn_alloc_unbound c = { .dom = DOMID_SELF, .remote_dom = 0 };
        if (evtchn_op(EVTCHNOP_alloc_unbound, &c))
            return -1;
        ctrl_port = c.port;
        xen_netif_ctrl_sring_t *cs = (xen_netif_ctrl_sring_t *)ctrl_ring_page;
        SHARED_RING_INIT(cs);
        FRONT_RING_INIT(&ctrl, cs, 4096);
        if (write_ul(f, "ctrl-ring-ref", grant_at(CTRL_REF_IDX, ctrl_ring_page, 0)) < 0 ||
            write_ul(f, "event-channel-ctrl", ctrl_port) < 0)
            return -1;
        grant_at(CTRL_REF_IDX + 1, ctrl_data_page, 1);
        ctrl_up = 1;
    }
    if (write_ul(f, "request-rx-copy", 1) < 0 || write_ul(f, "feature-rx-notify", 1) < 0 ||
        write_ul(f, "feature-sg", 1) < 0 || write_ul(f, "feature-gso-tcpv4", 0) < 0 ||
        write_ul(f, "state", XenbusStateConnected) < 0)
        return -1;
    if (wait_backend(f, XenbusStateConnected) < 0)
        return -1;
    return 0;
}

int netfront_connect(struct netfront *f, unsigned devid)
{
    return netfront_connect_queues(f, 1, devid);
}

static void reap_tx(struct netfront *f)
{
    RING_IDX prod = f->tx.sring->rsp_prod;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    while (f->tx.rsp_cons != prod) {
        netif_tx_response_t *r = RING_GET_RESPONSE(&f->tx, f->tx.rsp_cons);
        f->tx.rsp_cons++;
        if (r->status == NETIF_RSP_NULL)
            continue;
        if (r->status != NETIF_RSP_OKAY)
            f->tx_errors++;
        if (r->id < NF_TX_BUFS && f->nr_tx_free < NF_TX_BUFS) {
            f->tx_free[f->nr_tx_free++] = r->id;
        } else if (r->id >= GSO_ID0 && r->id < GSO_ID0 + GSO_IDS) {
            unsigned fr = (r->id - GSO_ID0) / NF_GSO_FRAME_PAGES;
            if (f->gso_out[fr])
                f->gso_out[fr]--;
        }
    }
}

int netfront_send(struct netfront *f, const void *pkt, unsigned len, int csum_blank)
{
    if (len > 4096)
        return -1;
    reap_tx(f);
    if (!f->nr_tx_free)
        return -1;
    uint16_t id = f->tx_free[--f->nr_tx_free];
    memcpy(PAGES(f)->tx[id], pkt, len);
    netif_tx_request_t *r = RING_GET_REQUEST(&f->tx, f->tx.req_prod_pvt);
    r->gref = f->tx_gref[id];
    r->offset = 0;
    r->flags = csum_blank ? NETTXF_csum_blank | NETTXF_data_validated : 0;
    r->id = id;
    r->size = (uint16_t)len;
    f->tx.req_prod_pvt++;
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f->tx, notify);
    if (notify)
        kick(f);
    f->tx_packets++;
    return 0;
}

/* Slot j of a GSO packet of len bytes (the first carries the whole size,
 * the flags and, in the next slot, the GSO extra). */
static void put_gso_slot(struct netfront *f, unsigned j, unsigned len, unsigned gso_size,
                         grant_ref_t gref, uint16_t id)
{
    unsigned slots = (len + 4095) / 4096, off = j * 4096;
    netif_tx_request_t *r = RING_GET_REQUEST(&f->tx, f->tx.req_prod_pvt);
    f->tx.req_prod_pvt++;
    r->gref = gref;
    r->offset = 0;
    r->id = id;
    r->size = (uint16_t)(j == 0 ? len : (len - off < 4096 ? len - off : 4096));
    r->flags = (uint16_t)((j + 1 < slots ? NETTXF_more_data : 0) |
                          (j == 0 ? NETTXF_csum_blank | NETTXF_data_validated |
                                    NETTXF_extra_info : 0));
    if (j == 0) {
        struct netif_extra_info *ex =
            (struct netif_extra_info *)RING_GET_REQUEST(&f->tx, f->tx.req_prod_pvt);
        f->tx.req_prod_pvt++;
        memset(ex, 0, sizeof(*ex));
        ex->type = XEN_NETIF_EXTRA_TYPE_GSO;
        ex->u.gso.size = (uint16_t)gso_size;
        ex->u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
    }
}

static void push_tx(struct netfront *f)
{
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f->tx, notify);
    if (notify)
        kick(f);
    f->tx_packets++;
}

uint8_t *netfront_gso_frame(struct netfront *f, unsigned i)
{
    return i < NF_GSO_FRAMES ? PAGES(f)->gso[i] : NULL;
}

int netfront_gso_frame_free(struct netfront *f)
{
    reap_tx(f);
    for (unsigned i = 0; i < NF_GSO_FRAMES; i++)
        if (!f->gso_out[i])
            return (int)i;
    return -1;
}

int netfront_send_gso_frame(struct netfront *f, unsigned i, unsigned len, unsigned gso_size)
{
    unsigned slots = (len + 4095) / 4096;
    if (i >= NF_GSO_FRAMES || len == 0 || len > 65535 || f->gso_out[i])
        return -1;
    for (unsigned j = 0; j < slots; j++)
        put_gso_slot(f, j, len, gso_size, f->gso_gref[i][j],
                     (uint16_t)(GSO_ID0 + i * NF_GSO_FRAME_PAGES + j));
    f->gso_out[i] = (uint8_t)slots;
    push_tx(f);
    return 0;
}

static void clear_port(uint32_t port)
{
    __atomic_fetch_and(&shared_info->evtchn_pending[port / (sizeof(long) * 8)],
                       ~(1ul << (port % (sizeof(long) * 8))), __ATOMIC_SEQ_CST);
}

static void wait_port(struct netfront *f, uint64_t deadline)
{
    evtchn_port_t p[2] = { f->port, f->rx_port };
    struct sched_poll sp = { .nr_ports = f->split ? 2 : 1, .timeout = deadline };
    set_xen_guest_handle(sp.ports, p);
    HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_poll, &sp);
    clear_port(f->port);
    if (f->split)
        clear_port(f->rx_port);
}

unsigned netfront_spin_us;

int netfront_recv(struct netfront *f, void *buf, unsigned cap, unsigned ms,
                  uint16_t *rx_flags)
{
    uint64_t deadline = xen_system_time() + ms * 1000000ull;
    uint64_t spin_end = netfront_spin_us ? xen_system_time() + netfront_spin_us * 1000ull : 0;
    for (;;) {
        reap_tx(f);
        if (RING_HAS_UNCONSUMED_RESPONSES(&f->rx))
            break;
        if (spin_end && xen_system_time() < spin_end) {
            __asm__ volatile("pause");
            continue;
        }
        /* Ask for a kick on the next response, then look once more. */
        f->rx.sring->rsp_event = f->rx.rsp_cons + 1;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (RING_HAS_UNCONSUMED_RESPONSES(&f->rx))
            break;
        if (xen_system_time() >= deadline)
            return 0;
        wait_port(f, deadline);
    }
    unsigned len = 0;
    int err = 0;
    uint16_t first_flags = 0;
    int first = 1;
    for (;;) {
        /* A packet's slots are all pushed at once. */
        if (!RING_HAS_UNCONSUMED_RESPONSES(&f->rx)) {
            err = 1;
            break;
        }
        RING_IDX k = f->rx.rsp_cons++;
        netif_rx_response_t r = *RING_GET_RESPONSE(&f->rx, k);
        if (first)
            first_flags = r.flags;
        if (r.status < 0) {
            err = 1;
        } else if (len + (unsigned)r.status <= cap && r.offset + (unsigned)r.status <= 4096) {
            memcpy((uint8_t *)buf + len, PAGES(f)->rx[k % NF_RX_BUFS] + r.offset,
                   (unsigned)r.status);
            len += (unsigned)r.status;
        } else {
            err = 1;
        }
        if (first && (r.flags & NETRXF_extra_info)) {
            /* The extra rides in the next slot: skip it (and any more). */
            struct netif_extra_info ex;
            do {
                if (!RING_HAS_UNCONSUMED_RESPONSES(&f->rx))
                    break;
                memcpy(&ex, RING_GET_RESPONSE(&f->rx, f->rx.rsp_cons), sizeof(ex));
                f->rx.rsp_cons++;
            } while (ex.flags & XEN_NETIF_EXTRA_FLAG_MORE);
        }
        first = 0;
        if (!(r.flags & NETRXF_more_data))
            break;
    }
    post_rx(f);
    if (rx_flags)
        *rx_flags = first_flags;
    if (err) {
        f->rx_errors++;
        return -1;
    }
    f->rx_packets++;
    return (int)len;
}

int netfront_close(struct netfront *f)
{
    if (write_ul(f, "state", XenbusStateClosing) < 0)
        return -1;
    wait_backend(f, XenbusStateClosing);
    write_ul(f, "state", XenbusStateClosed);
    return wait_backend(f, XenbusStateClosed);
}

void *netfront_ctrl_data(grant_ref_t *ref)
{
    *ref = GNT_BASE + CTRL_REF_IDX + 1;
    return ctrl_data_page;
}

int netfront_ctrl_request(uint16_t type, uint32_t d0, uint32_t d1, uint32_t d2,
                          uint32_t *data)
{
    if (!ctrl_up)
        return -1;
    static uint16_t id;
    struct xen_netif_ctrl_request *r = RING_GET_REQUEST(&ctrl, ctrl.req_prod_pvt);
    *r = (struct xen_netif_ctrl_request){ .id = ++id, .type = type, .data = { d0, d1, d2 } };
    ctrl.req_prod_pvt++;
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&ctrl, notify);
    struct evtchn_send s = { .port = ctrl_port };
    evtchn_op(EVTCHNOP_send, &s);
    (void)notify;
    uint64_t deadline = xen_system_time() + 2000000000ull;
    while (!RING_HAS_UNCONSUMED_RESPONSES(&ctrl)) {
        if (xen_system_time() >= deadline)
            return -1;
        evtchn_port_t p = ctrl_port;
        struct sched_poll sp = { .nr_ports = 1, .timeout = xen_system_time() + 10000000ull };
        set_xen_guest_handle(sp.ports, &p);
        HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_poll, &sp);
        clear_port(ctrl_port);
    }
    struct xen_netif_ctrl_response rsp = *RING_GET_RESPONSE(&ctrl, ctrl.rsp_cons);
    ctrl.rsp_cons++;
    if (rsp.id != id || rsp.type != type)
        return -1;
    if (data)
        *data = rsp.data;
    return (int)rsp.status;
}

grant_ref_t netfront_grant(const void *page, int readonly)
{
    return grant(page, readonly);
}

void netfront_revoke(grant_ref_t ref)
{
    if (ref >= GNT_BASE && ref < GNT_BASE + 512)
        __atomic_store_n(&gnttab1[ref - GNT_BASE].flags, 0, __ATOMIC_SEQ_CST);
}

void netfront_push_raw_tx(struct netfront *f, const netif_tx_request_t *reqs, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        *RING_GET_REQUEST(&f->tx, f->tx.req_prod_pvt++) = reqs[i];
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    f->tx.sring->req_prod = f->tx.req_prod_pvt;
    kick(f);
}

int netfront_next_tx_response(struct netfront *f, netif_tx_response_t *r, unsigned ms)
{
    uint64_t deadline = xen_system_time() + ms * 1000000ull;
    for (;;) {
        if (RING_HAS_UNCONSUMED_RESPONSES(&f->tx)) {
            *r = *RING_GET_RESPONSE(&f->tx, f->tx.rsp_cons);
            f->tx.rsp_cons++;
            return 0;
        }
        f->tx.sring->rsp_event = f->tx.rsp_cons + 1;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (RING_HAS_UNCONSUMED_RESPONSES(&f->tx))
            continue;
        if (xen_system_time() >= deadline)
            return -1;
        wait_port(f, deadline);
    }
}
