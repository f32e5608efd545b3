/*
 * xenstore: a guest speaking xs_wire on its xenstore ring, relayed by the
 * VMM to xenon-xenstored. It writes, reads, lists, watches, uses a
 * transaction, hits permission and existence errors, and waits for a key
 * the host writes with Debian's xenstore-write while it watches.
 */
#include "guest.h"

#include <xen/event_channel.h>
#include <xen/hvm/params.h>
#include <xen/io/xs_wire.h>
#include <xen/sched.h>

static struct xenstore_domain_interface *ring;
static uint32_t port;
static uint32_t next_req = 1;

/* Watch events that arrived while we waited for a reply. */
static char events[8][128];
static unsigned nr_events;

static void kick(void)
{
    struct evtchn_send s = { .port = port };
    evtchn_op(EVTCHNOP_send, &s);
}

static void wait_ring(void)
{
    HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_yield, 0);
}

static void ring_write(const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        XENSTORE_RING_IDX prod = ring->req_prod;
        __asm__ volatile("" ::: "memory");
        uint32_t space = XENSTORE_RING_SIZE - (prod - ring->req_cons);
        if (!space) {
            kick();
            wait_ring();
            continue;
        }
        uint32_t n = len < space ? (uint32_t)len : space;
        for (uint32_t i = 0; i < n; i++)
            ring->req[MASK_XENSTORE_IDX(prod + i)] = p[i];
        __asm__ volatile("" ::: "memory");
        ring->req_prod = prod + n;
        p += n;
        len -= n;
        kick();
    }
}

static void ring_read(void *data, size_t len)
{
    char *p = data;
    while (len) {
        XENSTORE_RING_IDX cons = ring->rsp_cons;
        __asm__ volatile("" ::: "memory");
        uint32_t avail = ring->rsp_prod - cons;
        if (!avail) {
            wait_ring();
            continue;
        }
        uint32_t n = len < avail ? (uint32_t)len : avail;
        for (uint32_t i = 0; i < n; i++)
            p[i] = ring->rsp[MASK_XENSTORE_IDX(cons + i)];
        __asm__ volatile("" ::: "memory");
        ring->rsp_cons = cons + n;
        p += n;
        len -= n;
        kick();
    }
}

/* Read one message; watch events are queued. Returns its type. */
static uint32_t read_msg(char *body, size_t size, uint32_t *len)
{
    struct xsd_sockmsg hdr;
    ring_read(&hdr, sizeof(hdr));
    static char big[XENSTORE_PAYLOAD_MAX];
    char *dst = hdr.len < size ? body : big;
    ring_read(dst, hdr.len);
    if (dst == body)
        body[hdr.len] = '\0';
    *len = hdr.len;
    if (hdr.type == XS_WATCH_EVENT && nr_events < 8) {
        size_t n = hdr.len < sizeof(events[0]) - 1 ? hdr.len : sizeof(events[0]) - 1;
        memcpy(events[nr_events], dst, n);
        events[nr_events][n] = '\0';
        nr_events++;
    }
    return hdr.type;
}

/* One request with up to two NUL-terminated arguments (the last one's NUL
 * is left off when raw_last is set, as XS_WRITE's value has none). */
static uint32_t request(uint32_t type, uint32_t tx, const char *a, const char *b,
                        int raw_last, char *reply, size_t size)
{
    size_t la = a ? strlen(a) + 1 : 0;
    size_t lb = b ? strlen(b) + (raw_last ? 0 : 1) : 0;
    if (raw_last && !b)
        la--;
    struct xsd_sockmsg hdr = { .type = type, .req_id = next_req++, .tx_id = tx,
                               .len = (uint32_t)(la + lb) };
    ring_write(&hdr, sizeof(hdr));
    if (a)
        ring_write(a, la);
    if (b)
        ring_write(b, lb);
    for (;;) {
        uint32_t len, t = read_msg(reply, size, &len);
        if (t != XS_WATCH_EVENT)
            return t;
    }
}

static int has_event(const char *path)
{
    for (unsigned i = 0; i < nr_events; i++)
        if (strcmp(events[i], path) == 0)
            return 1;
    return 0;
}

static void wait_event(const char *path, unsigned long long spins)
{
    char body[256];
    uint32_t len;
    while (!has_event(path) && spins--) {
        if (ring->rsp_prod != ring->rsp_cons)
            read_msg(body, sizeof(body), &len);
        else
            wait_ring();
    }
}

void guest_main(void)
{
    uint64_t pfn, p;
    CHECK_EQ("store pfn", hvm_get_param(HVM_PARAM_STORE_PFN, &pfn), 0);
    CHECK_EQ("store port", hvm_get_param(HVM_PARAM_STORE_EVTCHN, &p), 0);
    ring = (struct xenstore_domain_interface *)(uintptr_t)(pfn << 12);
    port = (uint32_t)p;
    char r[512];

    CHECK_EQ("write", request(XS_WRITE, 0, "data/greeting", "hello from the ring", 1, r, sizeof(r)), XS_WRITE);
    CHECK_EQ("read", request(XS_READ, 0, "data/greeting", NULL, 0, r, sizeof(r)), XS_READ);
    CHECK("read value", strcmp(r, "hello from the ring") == 0);
    CHECK_EQ("read missing", request(XS_READ, 0, "data/missing", NULL, 0, r, sizeof(r)), XS_ERROR);
    CHECK("ENOENT", strcmp(r, "ENOENT") == 0);
    CHECK_EQ("absolute path", request(XS_READ, 0, "/local/domain/1/data/greeting", NULL, 0, r, sizeof(r)), XS_READ);
    CHECK_EQ("directory", request(XS_DIRECTORY, 0, "data", NULL, 0, r, sizeof(r)), XS_DIRECTORY);
    CHECK("directory lists greeting", strcmp(r, "greeting") == 0);
    CHECK_EQ("write outside our home", request(XS_WRITE, 0, "/local/domain/0/intruder", "x", 1, r, sizeof(r)), XS_ERROR);
    CHECK("EACCES", strcmp(r, "EACCES") == 0);

    /* A transaction commits atomically. */
    CHECK_EQ("transaction start", request(XS_TRANSACTION_START, 0, "", NULL, 0, r, sizeof(r)), XS_TRANSACTION_START);
    uint32_t tx = 0;
    for (const char *c = r; *c >= '0' && *c <= '9'; c++)
        tx = tx * 10 + (uint32_t)(*c - '0');
    CHECK("transaction id", tx != 0);
    request(XS_WRITE, tx, "data/in-tx", "committed", 1, r, sizeof(r));
    CHECK_EQ("invisible before commit", request(XS_READ, 0, "data/in-tx", NULL, 0, r, sizeof(r)), XS_ERROR);
    CHECK_EQ("transaction end", request(XS_TRANSACTION_END, tx, "T", NULL, 0, r, sizeof(r)), XS_TRANSACTION_END);
    CHECK("visible after commit", request(XS_READ, 0, "data/in-tx", NULL, 0, r, sizeof(r)) == XS_READ &&
                                  strcmp(r, "committed") == 0);

    /* Watches: the first event fires at once; then the host writes. */
    CHECK_EQ("watch", request(XS_WATCH, 0, "data/from-host", "tok", 0, r, sizeof(r)), XS_WATCH);
    wait_event("data/from-host", 100000);
    CHECK("watch fires at once", has_event("data/from-host"));
    nr_events = 0;
    printk("xenstore: waiting for the host to write data/from-host\n");
    /* Events carry the path as the watch was set: relative here. */
    wait_event("data/from-host", 2000000);
    CHECK("watch event for the host's write", has_event("data/from-host"));
    CHECK("host's value", request(XS_READ, 0, "data/from-host", NULL, 0, r, sizeof(r)) == XS_READ &&
                          strcmp(r, "written by the host") == 0);
    finish("xenstore");
}
