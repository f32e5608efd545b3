/* The test guests' blkfront: see blkfront.h. */
#include "guest.h"
#include "blkfront.h"
#include "xs.h"

#include <xen/event_channel.h>
#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>
#include <xen/io/xs_wire.h>
#include <xen/memory.h>
#include <xen/sched.h>

#define FIRST_REF 16
#define MAX_REF 500

static grant_entry_v1_t gnttab[512] __attribute__((aligned(4096)));
static int gnt_ready;
static grant_ref_t next_ref = FIRST_REF;
static grant_ref_t free_refs[MAX_REF];      /* revoked, to hand out again */
static unsigned nr_free;
static uint64_t request_id = 1;

int gnt_init(void)
{
    if (gnt_ready)
        return 0;
    struct xen_add_to_physmap x = {
        .domid = DOMID_SELF, .space = XENMAPSPACE_grant_table, .idx = 0,
        .gpfn = (unsigned long)gnttab >> 12,
    };
    if (HYPERCALL2(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x))
        return -1;
    gnt_ready = 1;
    return 0;
}

void gnt_forget(void)
{
    gnt_ready = 0;
    nr_free = 0;
    next_ref = FIRST_REF;
}

grant_ref_t gnt_grant(const void *page, int readonly)
{
    grant_ref_t r;
    if (nr_free)
        r = free_refs[--nr_free];
    else if (next_ref < MAX_REF)
        r = next_ref++;
    else
        return 0;
    gnttab[r].domid = 0;
    gnttab[r].frame = (uint32_t)((unsigned long)page >> 12);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    gnttab[r].flags = GTF_permit_access | (readonly ? GTF_readonly : 0);
    return r;
}

void gnt_revoke(grant_ref_t ref)
{
    if (ref < FIRST_REF || ref >= MAX_REF)
        return;
    __atomic_store_n(&gnttab[ref].flags, 0, __ATOMIC_SEQ_CST);
    if (nr_free < MAX_REF)
        free_refs[nr_free++] = ref;
}

void gnt_set(grant_ref_t ref, const void *page, uint16_t flags)
{
    if (ref < FIRST_REF || ref >= MAX_REF)
        return;
    __atomic_store_n(&gnttab[ref].frame, (uint32_t)((unsigned long)page >> 12),
                     __ATOMIC_SEQ_CST);
    __atomic_store_n(&gnttab[ref].flags, flags, __ATOMIC_SEQ_CST);
}

uint16_t gnt_flags(grant_ref_t ref)
{
    return ref < 512 ? __atomic_load_n(&gnttab[ref].flags, __ATOMIC_SEQ_CST) : 0;
}

void guest_sleep_ms(unsigned ms)
{
    struct sched_poll sp = { .nr_ports = 0,
                             .timeout = xen_system_time() + ms * 1000000ull };
    HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_poll, &sp);
}

static unsigned long parse_ul(const char *s)
{
    unsigned long v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (unsigned long)(*s++ - '0');
    return v;
}

int blkfront_list(unsigned *ids, int max)
{
    char body[512];
    memset(body, 0, sizeof(body));
    if (xs_request(XS_DIRECTORY, 0, "device/vbd", NULL, 0, body, sizeof(body) - 1) !=
        XS_DIRECTORY)
        return -1;
    int n = 0;
    for (const char *p = body; *p && n < max && p < body + sizeof(body); p += strlen(p) + 1)
        ids[n++] = (unsigned)parse_ul(p);
    return n;
}

static int read_int(const char *dir, const char *key, unsigned long *v)
{
    char path[192], val[64];
    snprintf(path, sizeof(path), "%s/%s", dir, key);
    if (xs_read(path, val, sizeof(val)) < 0)
        return -1;
    *v = parse_ul(val);
    return 0;
}

int blkfront_backend_state(struct blkfront *f)
{
    unsigned long s;
    return read_int(f->be, "state", &s) < 0 ? -1 : (int)s;
}

/* Wait (up to 10 s) for the backend to reach `want`. */
static int wait_backend(struct blkfront *f, int want)
{
    for (int i = 0; i < 5000; i++) {
        int s = blkfront_backend_state(f);
        /* A backend whose nodes the toolstack removed has closed. */
        if (s == want || (s < 0 && want == XenbusStateClosed))
            return 0;
        guest_sleep_ms(2);
    }
    printk("blkfront: %s: backend state %d, wanted %d\n", f->be,
           blkfront_backend_state(f), want);
    return -1;
}

static int write_key(struct blkfront *f, const char *key, const char *fmt, unsigned long v)
{
    char path[96], val[32];
    snprintf(path, sizeof(path), "%s/%s", f->fe, key);
    snprintf(val, sizeof(val), fmt, v);
    return xs_write(path, val);
}

int blkfront_connect(struct blkfront *f, unsigned devid, void *ring_page)
{
    return blkfront_connect_order(f, devid, ring_page, 0);
}

int blkfront_connect_order(struct blkfront *f, unsigned devid, void *ring_page,
                           unsigned order)
{
    return blkfront_connect_opts(f, devid, ring_page, order, 0);
}

static uint8_t bounce[4096] __attribute__((aligned(4096)));
static grant_ref_t bounce_ref;

int blkfront_connect_opts(struct blkfront *f, unsigned devid, void *ring_page,
                          unsigned order, int persistent)
{
    memset(f, 0, sizeof(*f));
    f->devid = devid;
    snprintf(f->fe, sizeof(f->fe), "device/vbd/%u", devid);
    char path[96];
    snprintf(path, sizeof(path), "%s/backend", f->fe);
    if (gnt_init() < 0 || xs_read(path, f->be, sizeof(f->be)) < 0) {
        printk("blkfront: %s: no backend\n", f->fe);
        return -1;
    }
    /* A frontend connecting again after a close starts at Initialising:
     * the backend goes back to InitWait. */
    if (blkfront_backend_state(f) == XenbusStateClosed &&
        write_key(f, "state", "%lu", XenbusStateInitialising) < 0)
        return -1;
    if (wait_backend(f, XenbusStateInitWait) < 0)
        return -1;
    unsigned long max = 0;
    read_int(f->be, "max-ring-page-order", &max);
    f->ring_order = order < max ? order : (unsigned)max;
    struct evtchn_alloc_unbound a = { .dom = DOMID_SELF, .remote_dom = 0 };
    if (evtchn_op(EVTCHNOP_alloc_unbound, &a))
        return -1;
    f->port = a.port;
    f->sring = ring_page;
    SHARED_RING_INIT(f->sring);
    FRONT_RING_INIT(&f->ring, f->sring, 4096u << f->ring_order);
    f->ring_ref = gnt_grant(ring_page, 0);
    if (f->ring_order) {
        char key[16];
        for (unsigned i = 0; i < (1u << f->ring_order); i++) {
            snprintf(key, sizeof(key), "ring-ref%u", i);
            grant_ref_t r = i ? gnt_grant((uint8_t *)ring_page + 4096 * i, 0) : f->ring_ref;
            if (write_key(f, key, "%lu", r) < 0)
                return -1;
        }
    }
    /* Keys a previous connection left are rewritten, not trusted. */
    unsigned long mq = 0;
    read_int(f->be, "multi-queue-max-queues", &mq);
    if ((max && write_key(f, "ring-page-order", "%lu", f->ring_order) < 0) ||
        (mq && write_key(f, "multi-queue-num-queues", "%lu", 1) < 0))
        return -1;
    char proto[16];
    snprintf(proto, sizeof(proto), "%s",
             GUEST_BITS == 64 ? XEN_IO_PROTO_ABI_X86_64 : XEN_IO_PROTO_ABI_X86_32);
    snprintf(path, sizeof(path), "%s/protocol", f->fe);
    if ((!f->ring_order && write_key(f, "ring-ref", "%lu", f->ring_ref) < 0) ||
        write_key(f, "event-channel", "%lu", f->port) < 0 || xs_write(path, proto) < 0)
        return -1;
    if (persistent) {
        unsigned long bp = 0;
        read_int(f->be, "feature-persistent", &bp);
        if (bp == 1 && write_key(f, "feature-persistent", "%lu", 1) < 0)
            return -1;
        f->persistent = bp == 1;
        if (f->persistent && !bounce_ref)
            bounce_ref = gnt_grant(bounce, 0);
    }
    if (write_key(f, "state", "%lu", XenbusStateInitialised) < 0)
        return -1;
    if (wait_backend(f, XenbusStateConnected) < 0)
        return -1;
    unsigned long v = 0;
    read_int(f->be, "sectors", &v);
    f->sectors = v;
    v = 0;
    read_int(f->be, "sector-size", &v);
    f->sector_size = (unsigned)v;
    v = 0;
    read_int(f->be, "info", &v);
    f->info = (unsigned)v;
    v = 0;
    read_int(f->be, "feature-flush-cache", &v);
    f->flush = v == 1;
    v = 0;
    read_int(f->be, "feature-discard", &v);
    f->discard = v == 1;
    v = 0;
    read_int(f->be, "feature-max-indirect-segments", &v);
    f->max_indirect = (unsigned)v;
    return write_key(f, "state", "%lu", XenbusStateConnected);
}

int blkfront_connect_queues(struct blkfront *fs, unsigned nq, unsigned devid,
                            void *ring_pages)
{
    struct blkfront *f = &fs[0];
    memset(f, 0, sizeof(*f));
    f->devid = devid;
    snprintf(f->fe, sizeof(f->fe), "device/vbd/%u", devid);
    char path[96];
    snprintf(path, sizeof(path), "%s/backend", f->fe);
    if (gnt_init() < 0 || xs_read(path, f->be, sizeof(f->be)) < 0)
        return -1;
    if (blkfront_backend_state(f) == XenbusStateClosed &&
        write_key(f, "state", "%lu", XenbusStateInitialising) < 0)
        return -1;
    if (wait_backend(f, XenbusStateInitWait) < 0)
        return -1;
    for (unsigned i = 0; i < nq; i++) {
        struct blkfront *g = &fs[i];
        if (i)
            *g = *f;
        struct evtchn_alloc_unbound a = { .dom = DOMID_SELF, .remote_dom = 0 };
        if (evtchn_op(EVTCHNOP_alloc_unbound, &a))
            return -1;
        g->port = a.port;
        g->sring = (struct blkif_sring *)((uint8_t *)ring_pages + 4096 * i);
        SHARED_RING_INIT(g->sring);
        FRONT_RING_INIT(&g->ring, g->sring, 4096);
        g->ring_ref = gnt_grant(g->sring, 0);
        char key[32];
        snprintf(key, sizeof(key), "queue-%u/ring-ref", i);
        if (write_key(f, key, "%lu", g->ring_ref) < 0)
            return -1;
        snprintf(key, sizeof(key), "queue-%u/event-channel", i);
        if (write_key(f, key, "%lu", g->port) < 0)
            return -1;
    }
    snprintf(path, sizeof(path), "%s/protocol", f->fe);
    if (write_key(f, "ring-page-order", "%lu", 0) < 0 ||
        write_key(f, "multi-queue-num-queues", "%lu", nq) < 0 ||
        xs_write(path, GUEST_BITS == 64 ? XEN_IO_PROTO_ABI_X86_64 : XEN_IO_PROTO_ABI_X86_32) < 0 ||
        write_key(f, "state", "%lu", XenbusStateInitialised) < 0 ||
        wait_backend(f, XenbusStateConnected) < 0)
        return -1;
    unsigned long v = 0;
    read_int(f->be, "sectors", &v);
    for (unsigned i = 0; i < nq; i++)
        fs[i].sectors = v;
    return write_key(f, "state", "%lu", XenbusStateConnected);
}

void blkfront_push(struct blkfront *f, const blkif_request_t *req)
{
    blkif_request_t *r = RING_GET_REQUEST(&f->ring, f->ring.req_prod_pvt);
    memcpy(r, req, sizeof(*r));
    f->ring.req_prod_pvt++;
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f->ring, notify);
    (void)notify;       /* always kick: cheap, and a test must not stall */
    struct evtchn_send s = { .port = f->port };
    evtchn_op(EVTCHNOP_send, &s);
}

int blkfront_wait(struct blkfront *f, blkif_response_t *rsp, unsigned ms)
{
    uint64_t deadline = xen_system_time() + ms * 1000000ull;
    for (;;) {
        if (RING_HAS_UNCONSUMED_RESPONSES(&f->ring)) {
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            memcpy(rsp, RING_GET_RESPONSE(&f->ring, f->ring.rsp_cons), sizeof(*rsp));
            f->ring.rsp_cons++;
            f->sring->rsp_event = f->ring.rsp_cons + 1;
            return 0;
        }
        if (xen_system_time() >= deadline)
            return -1;
        evtchn_port_t p = f->port;
        struct sched_poll sp = { .nr_ports = 1, .timeout = xen_system_time() + 10000000ull };
        set_xen_guest_handle(sp.ports, &p);
        HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_poll, &sp);
        __atomic_fetch_and(&shared_info->evtchn_pending[f->port / (sizeof(long) * 8)],
                           ~(1ul << (f->port % (sizeof(long) * 8))), __ATOMIC_SEQ_CST);
    }
}

int blkfront_request(struct blkfront *f, const blkif_request_t *req)
{
    blkfront_push(f, req);
    blkif_response_t rsp;
    if (blkfront_wait(f, &rsp, 5000) < 0)
        return -100;
    if (rsp.id != req->id)
        return -101;
    return rsp.status;
}

int blkfront_rw(struct blkfront *f, int write, uint64_t sector, void *page,
                unsigned first, unsigned last)
{
    blkif_request_t r;
    memset(&r, 0, sizeof(r));
    r.operation = write ? BLKIF_OP_WRITE : BLKIF_OP_READ;
    r.nr_segments = 1;
    r.id = request_id++;
    r.sector_number = sector;
    size_t off = (size_t)first * 512, len = last >= first ? (size_t)(last - first + 1) * 512 : 0;
    if (f->persistent && write && off + len <= 4096)
        memcpy(bounce + off, (uint8_t *)page + off, len);
    r.seg[0].gref = f->persistent ? bounce_ref : gnt_grant(page, write);
    r.seg[0].first_sect = (uint8_t)first;
    r.seg[0].last_sect = (uint8_t)last;
    int st = blkfront_request(f, &r);
    if (!f->persistent)
        gnt_revoke(r.seg[0].gref);
    else if (!write && st == BLKIF_RSP_OKAY && off + len <= 4096)
        memcpy((uint8_t *)page + off, bounce + off, len);
    return st;
}

int blkfront_rw_indirect(struct blkfront *f, int write, uint64_t sector, void *pages,
                         unsigned n)
{
    static struct blkif_request_segment ind[512] __attribute__((aligned(4096)));
    if (n == 0 || n > 512)
        return -102;
    for (unsigned i = 0; i < n; i++)
        ind[i] = (struct blkif_request_segment){
            .gref = gnt_grant((uint8_t *)pages + 4096 * i, write),
            .first_sect = 0, .last_sect = 7 };
    grant_ref_t gi = gnt_grant(ind, 1);
    blkif_request_indirect_t r;
    memset(&r, 0, sizeof(r));
    r.operation = BLKIF_OP_INDIRECT;
    r.indirect_op = write ? BLKIF_OP_WRITE : BLKIF_OP_READ;
    r.nr_segments = (uint16_t)n;
    r.id = request_id++;
    r.sector_number = sector;
    r.indirect_grefs[0] = gi;
    blkfront_push(f, (blkif_request_t *)&r);
    blkif_response_t rsp;
    int st = blkfront_wait(f, &rsp, 5000) < 0 ? -100 : rsp.id != r.id ? -101 : rsp.status;
    gnt_revoke(gi);
    for (unsigned i = 0; i < n; i++)
        gnt_revoke(ind[i].gref);
    return st;
}

int blkfront_flush(struct blkfront *f)
{
    blkif_request_t r;
    memset(&r, 0, sizeof(r));
    r.operation = BLKIF_OP_FLUSH_DISKCACHE;
    r.id = request_id++;
    return blkfront_request(f, &r);
}

int blkfront_discard(struct blkfront *f, uint64_t sector, uint64_t n)
{
    blkif_request_t r;
    memset(&r, 0, sizeof(r));
    blkif_request_discard_t *d = (blkif_request_discard_t *)&r;
    d->operation = BLKIF_OP_DISCARD;
    d->id = request_id++;
    d->sector_number = sector;
    d->nr_sectors = n;
    return blkfront_request(f, &r);
}

int blkfront_close(struct blkfront *f)
{
    if (write_key(f, "state", "%lu", XenbusStateClosing) < 0 ||
        wait_backend(f, XenbusStateClosing) < 0 ||
        write_key(f, "state", "%lu", XenbusStateClosed) < 0)
        return -1;
    return wait_backend(f, XenbusStateClosed);
}
