/* The test guests' xenstore client: see xs.h. */
#include "guest.h"
#include "xs.h"

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

/* Sleep until the daemon's side signals our port (or a second passes),
 * then clear the port: an event after the clear makes the next poll
 * return at once, so no wake-up is lost. */
static void wait_ring(void)
{
    evtchn_port_t p = port;
    struct sched_poll sp = { .nr_ports = 1, .timeout = xen_system_time() + 1000000000ull };
    set_xen_guest_handle(sp.ports, &p);
    HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_poll, &sp);
    __atomic_fetch_and(&shared_info->evtchn_pending[port / (sizeof(long) * 8)],
                       ~(1ul << (port % (sizeof(long) * 8))), __ATOMIC_SEQ_CST);
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
uint32_t xs_request(uint32_t type, uint32_t tx, const char *a, const char *b,
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

int xs_has_event(const char *path)
{
    for (unsigned i = 0; i < nr_events; i++)
        if (strcmp(events[i], path) == 0)
            return 1;
    return 0;
}

int xs_poll_event(const char *path)
{
    char body[256];
    uint32_t len;
    while (!xs_has_event(path) && ring->rsp_prod != ring->rsp_cons)
        read_msg(body, sizeof(body), &len);
    return xs_has_event(path);
}

void xs_wait_event(const char *path, unsigned long long spins)
{
    char body[256];
    uint32_t len;
    while (!xs_has_event(path) && spins--) {
        if (ring->rsp_prod != ring->rsp_cons)
            read_msg(body, sizeof(body), &len);
        else
            wait_ring();
    }
}

int xs_init(void)
{
    uint64_t pfn, p;
    if (hvm_get_param(HVM_PARAM_STORE_PFN, &pfn) || hvm_get_param(HVM_PARAM_STORE_EVTCHN, &p))
        return -1;
    ring = (struct xenstore_domain_interface *)(uintptr_t)(pfn << 12);
    port = (uint32_t)p;
    /* Waiting polls the port: that needs shared info. */
    return shared_info || map_shared_info() == 0 ? 0 : -1;
}

int xs_write(const char *path, const char *value)
{
    char r[64];
    return xs_request(XS_WRITE, 0, path, value, 1, r, sizeof(r)) == XS_WRITE ? 0 : -1;
}

int xs_read(const char *path, char *value, size_t size)
{
    return xs_request(XS_READ, 0, path, NULL, 0, value, size) == XS_READ ? 0 : -1;
}

int xs_watch(const char *path, const char *token)
{
    char r[64];
    return xs_request(XS_WATCH, 0, path, token, 0, r, sizeof(r)) == XS_WATCH ? 0 : -1;
}

void xs_forget_events(void)
{
    nr_events = 0;
}

void xs_send_raw(const void *data, size_t len)
{
    ring_write(data, len);
}

uint32_t xs_ring_error(void)
{
    return __atomic_load_n(&ring->error, __ATOMIC_ACQUIRE);
}

void xs_wait_ring(void)
{
    wait_ring();
}

long xs_suspend_if_asked(void)
{
    if (!xs_poll_event("control/shutdown"))
        return -1;
    xs_forget_events();
    char req[64];
    if (xs_read("control/shutdown", req, sizeof(req)) < 0 || strcmp(req, "suspend") != 0)
        return -1;
    xs_write("control/shutdown", "");
    struct sched_shutdown s = { .reason = SHUTDOWN_suspend };
    return HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_shutdown, &s);
}
