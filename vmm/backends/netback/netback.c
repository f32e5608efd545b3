/* The xenbus side of netback: features, connect and disconnect, and the
 * I/O loop watches that drive the queue (netback_queue.c). */
#include "netback.h"
#include "netback_ctrl.h"
#include "netback_filter.h"
#include "netback_mq.h"
#include "netback_offload.h"
#include "netback_queue.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>

#include "backend.h"
#include "domain.h"
#include "ioloop.h"
#include "log.h"
#include "xenbus_be.h"

struct netback_vif;

/* One queue of a vif: its channels and rings, and (multi-queue) the
 * socketpair it reads its packets from (netback_mq.h). */
struct nb_queue {
    struct netback_vif *v;
    unsigned idx;
    struct backend tx_chan, rx_chan;    /* rx_chan unused unless split */
    bool tx_bound, rx_bound, split;
    struct netback_queue *q;
    int pair[2];                        /* [0] the pump's end, [1] the queue's */
    struct io_watch pair_watch;
    bool pair_watched;
};

struct netback_vif {
    struct xenbus_dev *dev;
    int tap_fd;
    struct io_watch tap_watch;
    bool tap_watched;
    bool connected;
    unsigned nr_queues;                 /* connected: 1..NETBK_MAX_QUEUES */
    struct nb_queue queues[NETBK_MAX_QUEUES];
    uint8_t *pump_buf;                  /* multi-queue: the tap's packet */
    /* feature-ctrl-ring: the frontend's steering, when it connected one */
    struct netback_ctrl ctrl;
    struct backend ctrl_chan;
    bool ctrl_bound, ctrl_on;
    struct netback_mq_stats mq;
    /* rate= (the backend's rate node): the credit, and its timer */
    uint64_t rate_bytes, rate_usec;
    struct io_watch rate_timer;
    bool rate_timer_watched;
    uint64_t timer_at;                  /* armed for (0: not armed) */
    /* The hotplug script's word: the guest sends nothing until the
     * toolstack wrote hotplug-status = connected (the script plugged the
     * tap and said whether it wants anti-spoofing: `antispoof` = 1). */
    bool plugged, plug_reading, filter_on;
    char mac[18];
    struct netback_filter filter;
};

static void plug(struct netback_vif *v);

static void tx_all(struct netback_vif *v)
{
    if (!v->connected || !v->plugged)
        return;
    for (unsigned i = 0; i < v->nr_queues; i++)
        netback_tx_service(v->queues[i].q);
}

static void on_rate_timer(struct io_watch *w, uint32_t events)
{
    struct netback_vif *v = w->opaque;
    uint64_t n;
    if (read(w->fd, &n, sizeof(n)) < 0) {
        /* spurious: nothing expired */
    }
    v->timer_at = 0;
    tx_all(v);
}

static void want_timer(void *opaque, uint64_t at_ns)
{
    struct nb_queue *nq = opaque;
    struct netback_vif *v = nq->v;
    if (!v->rate_timer_watched || (v->timer_at && v->timer_at <= at_ns))
        return;             /* the earliest queue's window wins; all are served */
    v->timer_at = at_ns ? at_ns : 1;
    struct itimerspec its = { .it_value = { .tv_sec = (time_t)(at_ns / 1000000000ull),
                                            .tv_nsec = (long)(at_ns % 1000000000ull) } };
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
        its.it_value.tv_nsec = 1;
    timerfd_settime(v->rate_timer.fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void on_rate(void *opaque, uint32_t type, const char *body, uint32_t len)
{
    struct netback_vif *v = opaque;
    if (type != XS_READ)
        return;             /* no rate node: no limit */
    uint64_t b, u;
    if (netback_parse_rate(body, &b, &u) < 0) {
        log_warn("dom%u: vif %u: rate %.40s is malformed; not limited",
                 v->dev->d->domid, v->dev->devid, body);
        return;
    }
    v->rate_bytes = b;
    v->rate_usec = u;
    if (v->connected)
        for (unsigned i = 0; i < v->nr_queues; i++)
            netback_set_rate(v->queues[i].q, b, u);
}

/* The frontend's hash settings steer the packet (netback_ctrl.h). */
static int pick_by_ctrl(void *opaque, const uint8_t *frame, uint32_t len)
{
    struct netback_vif *v = opaque;
    return netback_hash_queue(&v->ctrl.hash, v->nr_queues, frame, len);
}

/* Rounds of tx service and watch before the loop gets the thread back. */
#define TX_POLL_ROUNDS 16

/* A tx service, then short watches of the tx ring for more while the
 * guest keeps sending (netback_queue.h: no kick, no wake-up). */
static void tx_then_poll(struct nb_queue *nq)
{
    netback_tx_service(nq->q);
    for (unsigned i = 0; i < TX_POLL_ROUNDS &&
                         netback_tx_busy_poll(nq->q, NETBK_POLL_AFTER_TX); i++)
        netback_tx_service(nq->q);
}

/* An rx service, then (when it delivered) a short watch of the tx ring
 * for the guest's answer. */
static void rx_then_poll(struct nb_queue *nq)
{
    struct netback_queue *q = nq->q;
    uint64_t before = q->st.rx_packets;
    netback_rx_service(q);
    if (nq->v->plugged && q->st.rx_packets != before &&
        netback_tx_busy_poll(q, NETBK_POLL_AFTER_RX))
        tx_then_poll(nq);
}

static void on_tap(struct io_watch *w, uint32_t events)
{
    struct netback_vif *v = w->opaque;
    if (events & (EPOLLHUP | EPOLLERR)) {
        log_warn("dom%u: vif %u: the tap failed; no more rx", v->dev->d->domid,
                 v->dev->devid);
        ioloop_del(&v->tap_watch);
        v->tap_watched = false;
        return;
    }
    if (!v->connected)
        return;
    if (v->nr_queues == 1) {
        rx_then_poll(&v->queues[0]);
        return;
    }
    int fds[NETBK_MAX_QUEUES];
    for (unsigned i = 0; i < v->nr_queues; i++)
        fds[i] = v->queues[i].pair[0];
    netback_mq_pump(v->tap_fd, fds, v->nr_queues, v->pump_buf, sizeof(struct virtio_net_hdr),
                    v->ctrl_on ? pick_by_ctrl : NULL, v, &v->mq);
    /* level-triggered: a full batch comes back */
}

/* Multi-queue: the queue's socketpair end is readable. */
static void on_pair(struct io_watch *w, uint32_t events)
{
    (void)events;
    struct nb_queue *nq = w->opaque;
    if (nq->v->connected)
        rx_then_poll(nq);
}

static void want_tap(void *opaque, bool want)
{
    struct nb_queue *nq = opaque;
    struct netback_vif *v = nq->v;
    if (v->nr_queues > 1) {
        if (nq->pair_watched)
            ioloop_mod(&nq->pair_watch, want ? EPOLLIN : 0);
    } else if (v->tap_watched) {
        ioloop_mod(&v->tap_watch, want ? EPOLLIN : 0);
    }
}

/* A tx service stopped at its budget with requests left (kicks off for
 * them): the tx channel's wake-up brings the loop back to it. */
static void want_tx(void *opaque)
{
    struct nb_queue *nq = opaque;
    evtchn_be_wake(&nq->tx_chan.chan);
}

static void on_fatal(void *opaque)
{
    struct nb_queue *nq = opaque;
    struct netback_vif *v = nq->v;
    /* As xenvif_fatal_tx_err: the whole vif stops (every queue); the
     * reason is in the log and the backend directory. */
    xenbus_dev_printf(v->dev, "error", "netback: queue %u: %s", nq->idx, nq->q->broken_why);
    for (unsigned i = 0; i < v->nr_queues; i++) {
        struct netback_queue *q = v->queues[i].q;
        if (!q->broken) {
            q->broken = true;
            q->broken_why = "another queue of the vif failed";
        }
        want_tap(&v->queues[i], false);
    }
    if (v->tap_watched)
        ioloop_mod(&v->tap_watch, 0);
}

static void on_tx_kick(void *opaque)
{
    struct nb_queue *nq = opaque;
    struct netback_vif *v = nq->v;
    if (!v->connected)
        return;
    if (v->plugged)
        tx_then_poll(nq);
    if (!nq->split)
        netback_rx_service(nq->q);
}

static void on_rx_kick(void *opaque)
{
    struct nb_queue *nq = opaque;
    if (nq->v->connected)
        netback_rx_service(nq->q);
}

static void on_ctrl_kick(void *opaque)
{
    struct netback_vif *v = opaque;
    if (!v->connected || !v->ctrl_on || v->ctrl.broken)
        return;
    if (netback_ctrl_service(&v->ctrl) < 0) {
        /* A ring that lies: the vif stops, as for a fatal tx error. */
        log_limited(LOG_WARN, "dom%u: vif %u: impossible number of control requests; "
                    "vif disabled", v->dev->d->domid, v->dev->devid);
        xenbus_dev_printf(v->dev, "error", "netback: impossible number of control requests");
        for (unsigned i = 0; i < v->nr_queues; i++) {
            v->queues[i].q->broken = true;
            v->queues[i].q->broken_why = "the control ring failed";
            want_tap(&v->queues[i], false);
        }
        if (v->tap_watched)
            ioloop_mod(&v->tap_watch, 0);
    }
}

/* --- the hotplug script's word (docs/net.md, "MAC filtering") --- */

static void plug(struct netback_vif *v)
{
    v->plugged = true;
    v->plug_reading = false;
    if (v->filter_on)
        log_info("dom%u: vif %u plugged; anti-spoofing on (%s, %u networks)",
                 v->dev->d->domid, v->dev->devid, v->mac, v->filter.nr_nets);
    else
        log_debug("dom%u: vif %u plugged", v->dev->d->domid, v->dev->devid);
    if (v->connected)
        for (unsigned i = 0; i < v->nr_queues; i++)
            v->queues[i].q->filter = v->filter_on ? &v->filter : NULL;
    tx_all(v);
}

static void on_ip(void *opaque, uint32_t type, const char *body, uint32_t len)
{
    (void)len;
    struct netback_vif *v = opaque;
    if (netback_filter_init(&v->filter, v->mac, type == XS_READ ? body : NULL) < 0) {
        /* Asked for and impossible: the vif never sends, rather than
         * sending unfiltered. */
        log_warn("dom%u: vif %u: mac %s or ip %.60s malformed; the vif stays unplugged",
                 v->dev->d->domid, v->dev->devid, v->mac, type == XS_READ ? body : "");
        xenbus_dev_printf(v->dev, "error", "netback: anti-spoofing asked for, but mac or ip "
                          "is malformed");
        return;
    }
    v->filter_on = true;
    plug(v);
}

static void on_mac(void *opaque, uint32_t type, const char *body, uint32_t len)
{
    struct netback_vif *v = opaque;
    v->mac[0] = 0;
    if (type == XS_READ && len < sizeof(v->mac))
        snprintf(v->mac, sizeof(v->mac), "%s", body);
    xenbus_dev_read_be(v->dev, "ip", on_ip, v);
}

static void on_antispoof(void *opaque, uint32_t type, const char *body, uint32_t len)
{
    (void)len;
    struct netback_vif *v = opaque;
    if (type == XS_READ && strcmp(body, "1") == 0)
        xenbus_dev_read_be(v->dev, "mac", on_mac, v);
    else
        plug(v);
}

static void on_hotplug_status(void *opaque, uint32_t type, const char *body, uint32_t len)
{
    (void)len;
    struct netback_vif *v = opaque;
    if (type != XS_READ || strcmp(body, "connected") != 0 || v->plugged || v->plug_reading)
        return;
    /* The toolstack wrote antispoof before hotplug-status: read after it,
     * on the same connection, it is there. */
    v->plug_reading = true;
    xenbus_dev_read_be(v->dev, "antispoof", on_antispoof, v);
}

static void hotplug_status_watch(void *opaque, const char *path)
{
    (void)path;
    struct netback_vif *v = opaque;
    if (!v->plugged && !v->plug_reading)
        xenbus_dev_read_be(v->dev, "hotplug-status", on_hotplug_status, v);
}

static int probe(struct xenbus_dev *dev, int fd, uint32_t flags)
{
    if (fd < 0)
        return -EBADF;
    struct netback_vif *v = calloc(1, sizeof(*v));
    if (!v) {
        close(fd);
        return -ENOMEM;
    }
    /* The descriptor's flags are shared with the toolstack's open; make
     * sure of them here. */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        free(v);
        return -e;
    }
    v->dev = dev;
    v->tap_fd = fd;
    for (unsigned i = 0; i < NETBK_MAX_QUEUES; i++)
        v->queues[i] = (struct nb_queue){ .v = v, .idx = i, .pair = { -1, -1 } };
    v->tap_watch = (struct io_watch){ .fd = fd, .ready = on_tap, .opaque = v };
    v->rate_timer = (struct io_watch){ .fd = timerfd_create(CLOCK_MONOTONIC,
                                                            TFD_NONBLOCK | TFD_CLOEXEC),
                                       .ready = on_rate_timer, .opaque = v };
    if (v->rate_timer.fd >= 0 && ioloop_add(&v->rate_timer, EPOLLIN) == 0)
        v->rate_timer_watched = true;
    dev->priv = v;
    xenbus_dev_read_be(dev, "rate", on_rate, v);
    if (xenbus_dev_watch_be(dev, "hotplug-status", hotplug_status_watch, v) < 0)
        log_warn("dom%u: vif %u: cannot watch hotplug-status; the vif will not send",
                 dev->d->domid, dev->devid);
    xenbus_dev_printf(dev, "feature-sg", "1");
    xenbus_dev_printf(dev, "feature-gso-tcpv4", "1");
    xenbus_dev_printf(dev, "feature-gso-tcpv6", "1");
    xenbus_dev_printf(dev, "feature-ipv6-csum-offload", "1");
    xenbus_dev_printf(dev, "feature-rx-copy", "1");
    xenbus_dev_printf(dev, "feature-rx-flip", "0");
    xenbus_dev_printf(dev, "feature-split-event-channels", "1");
    xenbus_dev_printf(dev, "multi-queue-max-queues", "%u", NETBK_MAX_QUEUES);
    xenbus_dev_printf(dev, "feature-ctrl-ring", "1");
    return 0;
}

static void queue_fini(struct nb_queue *nq)
{
    struct xenbus_dev *dev = nq->v->dev;
    if (nq->pair_watched)
        ioloop_del(&nq->pair_watch);
    nq->pair_watched = false;
    for (int k = 0; k < 2; k++) {
        if (nq->pair[k] >= 0)
            close(nq->pair[k]);
        nq->pair[k] = -1;
    }
    if (nq->tx_bound)
        backend_fini(&nq->tx_chan);
    if (nq->rx_bound)
        backend_fini(&nq->rx_chan);
    nq->tx_bound = nq->rx_bound = false;
    if (nq->q) {
        const struct netback_stats *st = &nq->q->st;
        if (st->tx_filtered)
            log_info("dom%u: vif %u: %llu frames dropped by the anti-spoofing filter",
                     dev->d->domid, dev->devid, (unsigned long long)st->tx_filtered);
        if (nq->v->nr_queues > 1)
            log_info("dom%u: vif %u queue %u: tx %llu packets, rx %llu packets",
                     dev->d->domid, dev->devid, nq->idx, (unsigned long long)st->tx_packets,
                     (unsigned long long)st->rx_packets);
        netback_queue_fini(nq->q);
        free(nq->q);
        nq->q = NULL;
    }
}

static void nb_disconnect(struct xenbus_dev *dev)
{
    struct netback_vif *v = dev->priv;
    if (!v)
        return;
    v->connected = false;
    if (v->tap_watched) {
        ioloop_del(&v->tap_watch);
        v->tap_watched = false;
    }
    if (v->ctrl_bound)
        backend_fini(&v->ctrl_chan);
    v->ctrl_bound = false;
    if (v->ctrl_on)
        log_info("dom%u: vif %u: control ring: %llu requests", dev->d->domid, dev->devid,
                 (unsigned long long)v->ctrl.requests);
    netback_ctrl_fini(&v->ctrl);
    v->ctrl_on = false;
    for (unsigned i = 0; i < NETBK_MAX_QUEUES; i++)
        queue_fini(&v->queues[i]);
    if (v->nr_queues > 1 && v->mq.dropped)
        log_info("dom%u: vif %u: %llu packets for full queues dropped", dev->d->domid,
                 dev->devid, (unsigned long long)v->mq.dropped);
    free(v->pump_buf);
    v->pump_buf = NULL;
    v->mq = (struct netback_mq_stats){ 0 };
    v->nr_queues = 0;
}

/* A frontend boolean feature: absent is `dflt`, garbage is refused. */
static int fe_bool(struct xenbus_dev *dev, const char *key, bool dflt, bool *out)
{
    unsigned long x;
    int rc = xenbus_dev_fe_uint(dev, key, 1, &x);
    if (rc == -ENOENT) {
        *out = dflt;
        return 0;
    }
    if (rc < 0)
        return rc;
    *out = x != 0;
    return 0;
}

/* A frontend key of queue nq: at the root with one queue, else under
 * queue-N/ (io/netif.h). */
static int fe_queue_uint(struct xenbus_dev *dev, unsigned nr, unsigned idx, const char *key,
                         unsigned long *out)
{
    char k[64];
    if (nr == 1)
        snprintf(k, sizeof(k), "%s", key);
    else
        snprintf(k, sizeof(k), "queue-%u/%s", idx, key);
    return xenbus_dev_fe_uint(dev, k, UINT32_MAX, out);
}

/* Whether queue idx has its ring refs and event channel(s): checked for
 * every queue before any is set up, so that a frontend missing one binds
 * nothing. */
static bool queue_keys_ok(struct xenbus_dev *dev, unsigned nr, unsigned idx)
{
    unsigned long x;
    if (fe_queue_uint(dev, nr, idx, "tx-ring-ref", &x) < 0 ||
        fe_queue_uint(dev, nr, idx, "rx-ring-ref", &x) < 0)
        return false;
    return (fe_queue_uint(dev, nr, idx, "event-channel-tx", &x) == 0 &&
            fe_queue_uint(dev, nr, idx, "event-channel-rx", &x) == 0) ||
           fe_queue_uint(dev, nr, idx, "event-channel", &x) == 0;
}

/* Bind queue idx's channels and map its rings. */
static int queue_connect(struct netback_vif *v, struct nb_queue *nq, unsigned nr,
                         struct netback_rx_features fe)
{
    struct xenbus_dev *dev = v->dev;
    unsigned domid = dev->d->domid, devid = dev->devid;
    unsigned long tx_ref, rx_ref, tx_port, rx_port;
    if (fe_queue_uint(dev, nr, nq->idx, "tx-ring-ref", &tx_ref) < 0 ||
        fe_queue_uint(dev, nr, nq->idx, "rx-ring-ref", &rx_ref) < 0) {
        log_limited(LOG_WARN, "dom%u: vif %u: queue %u: no tx-ring-ref or rx-ring-ref",
                    domid, devid, nq->idx);
        return -EINVAL;
    }
    nq->split = false;
    if (fe_queue_uint(dev, nr, nq->idx, "event-channel-tx", &tx_port) == 0 &&
        fe_queue_uint(dev, nr, nq->idx, "event-channel-rx", &rx_port) == 0) {
        nq->split = true;
    } else if (fe_queue_uint(dev, nr, nq->idx, "event-channel", &tx_port) < 0) {
        log_limited(LOG_WARN, "dom%u: vif %u: queue %u: no event channel", domid, devid,
                    nq->idx);
        return -EINVAL;
    }
    int rx_fd = v->tap_fd;
    if (nr > 1) {
        /* Its packets come from the pump (netback_mq.h). */
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                       nq->pair) < 0)
            return -errno;
        int big = 1 << 20;
        setsockopt(nq->pair[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
        rx_fd = nq->pair[1];
    }
    nq->q = calloc(1, sizeof(*nq->q));
    if (!nq->q)
        return -ENOMEM;
    int rc = backend_bind(dev->d, &nq->tx_chan, (uint32_t)tx_port, NULL, on_tx_kick, nq);
    if (rc == 0) {
        nq->tx_bound = true;
        if (nq->split) {
            rc = backend_bind(dev->d, &nq->rx_chan, (uint32_t)rx_port, NULL, on_rx_kick, nq);
            nq->rx_bound = rc == 0;
        }
    }
    if (rc < 0) {
        log_limited(LOG_WARN, "dom%u: vif %u: queue %u: event channel: cannot bind", domid,
                    devid, nq->idx);
        return rc;
    }
    rc = netback_queue_init(nq->q, dev->d, 0, (grant_ref_t)tx_ref, (grant_ref_t)rx_ref,
                            rx_fd, fe, &nq->tx_chan.chan,
                            nq->split ? &nq->rx_chan.chan : &nq->tx_chan.chan);
    if (rc < 0) {
        log_limited(LOG_WARN, "dom%u: vif %u: queue %u: rings %lu/%lu do not map", domid,
                    devid, nq->idx, tx_ref, rx_ref);
        return rc;
    }
    nq->q->tx_fd = v->tap_fd;
    nq->q->on_fatal = on_fatal;
    nq->q->want_tap = want_tap;
    nq->q->want_timer = want_timer;
    nq->q->want_tx = want_tx;
    nq->q->opaque = nq;
    nq->q->filter = v->filter_on ? &v->filter : NULL;
    nq->q->busy_poll_ns = NETBK_TX_POLL_NS;
    if (v->rate_usec)
        netback_set_rate(nq->q, v->rate_bytes, v->rate_usec);
    if (nr > 1) {
        nq->pair_watch = (struct io_watch){ .fd = nq->pair[1], .ready = on_pair, .opaque = nq };
        rc = ioloop_add(&nq->pair_watch, 0);
        if (rc < 0)
            return rc;
        nq->pair_watched = true;
    }
    return 0;
}

/* feature-ctrl-ring: the frontend's ctrl-ring-ref and event-channel-ctrl,
 * optional (as Linux: with the ref, the channel is required). */
static int ctrl_connect(struct netback_vif *v)
{
    struct xenbus_dev *dev = v->dev;
    unsigned long ref, port;
    int rc = xenbus_dev_fe_uint(dev, "ctrl-ring-ref", UINT32_MAX, &ref);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0 || xenbus_dev_fe_uint(dev, "event-channel-ctrl", UINT32_MAX, &port) < 0) {
        log_limited(LOG_WARN, "dom%u: vif %u: ctrl-ring-ref without a good event-channel-ctrl",
                    dev->d->domid, dev->devid);
        xenbus_dev_printf(dev, "error", "netback: ctrl-ring-ref without event-channel-ctrl");
        return -EINVAL;
    }
    rc = backend_bind(dev->d, &v->ctrl_chan, (uint32_t)port, NULL, on_ctrl_kick, v);
    if (rc < 0)
        return rc;
    v->ctrl_bound = true;
    rc = netback_ctrl_init(&v->ctrl, dev->d, 0, (grant_ref_t)ref, &v->ctrl_chan.chan,
                           v->nr_queues);
    if (rc < 0) {
        xenbus_dev_printf(dev, "error", "netback: ctrl ring %lu does not map", ref);
        return rc;
    }
    v->ctrl_on = true;
    return 0;
}

static int nb_connect(struct xenbus_dev *dev)
{
    struct netback_vif *v = dev->priv;
    unsigned domid = dev->d->domid, devid = dev->devid;
    unsigned long n = 1;
    int rc = xenbus_dev_fe_uint(dev, "multi-queue-num-queues", UINT32_MAX, &n);
    if (rc == -ENOENT) {
        n = 1;
    } else if (rc < 0 || n == 0 || n > NETBK_MAX_QUEUES) {
        /* As Linux's netback: more queues than offered disconnect it. */
        log_limited(LOG_WARN, "dom%u: vif %u: asks for %s queues, %u at most", domid, devid,
                    xenbus_dev_fe_str(dev, "multi-queue-num-queues") ?: "?",
                    NETBK_MAX_QUEUES);
        xenbus_dev_printf(dev, "error", "netback: guest requested %.20s queues, 1 to %u "
                          "offered", xenbus_dev_fe_str(dev, "multi-queue-num-queues") ?: "?",
                          NETBK_MAX_QUEUES);
        return -EINVAL;
    }
    bool rx_copy, rx_notify, sg, gso4, gso6, no_csum, csum6;
    if (fe_bool(dev, "request-rx-copy", false, &rx_copy) < 0 || !rx_copy) {
        log_limited(LOG_WARN, "dom%u: vif %u: frontend does not use rx-copy (flip is not offered)",
                    domid, devid);
        return -EOPNOTSUPP;
    }
    /* Not required, as Linux's netback since 2015 ("support frontends
     * without feature-rx-notify again"): Mini-OS's netfront does not
     * write it. The rx path still asks for a kick through req_event, which
     * such a frontend honours when it pushes its requests with
     * RING_PUSH_REQUESTS_AND_CHECK_NOTIFY (Mini-OS does); one that never
     * kicks stalls only its own receive path (the tap is then not read). */
    if (fe_bool(dev, "feature-rx-notify", false, &rx_notify) < 0)
        return -EINVAL;
    if (!rx_notify)
        log_limited(LOG_INFO, "dom%u: vif %u: frontend without feature-rx-notify", domid, devid);
    if (fe_bool(dev, "feature-sg", false, &sg) < 0 ||
        fe_bool(dev, "feature-gso-tcpv4", false, &gso4) < 0 ||
        fe_bool(dev, "feature-gso-tcpv6", false, &gso6) < 0 ||
        fe_bool(dev, "feature-no-csum-offload", false, &no_csum) < 0 ||
        fe_bool(dev, "feature-ipv6-csum-offload", false, &csum6) < 0)
        return -EINVAL;
    /* GSO needs scatter-gather (a 64 KiB packet spans pages). */
    struct netback_rx_features fe = { .csum = !no_csum, .gso_tcpv4 = sg && gso4 && !no_csum,
                                      .gso_tcpv6 = sg && gso6 && !no_csum && csum6,
                                      .csum_v6 = csum6 };
    unsigned off = netback_tap_offloads(fe.csum, fe.gso_tcpv4, fe.gso_tcpv6);
    if (ioctl(v->tap_fd, TUNSETOFFLOAD, (unsigned long)off) < 0) {
        rc = -errno;
        log_warn("dom%u: vif %u: TUNSETOFFLOAD: %s", domid, devid, strerror(-rc));
        return rc;
    }
    for (unsigned i = 0; i < n; i++) {
        if (!queue_keys_ok(dev, (unsigned)n, i)) {
            log_limited(LOG_WARN, "dom%u: vif %u: queue %u: no ring refs or event channel",
                        domid, devid, i);
            xenbus_dev_printf(dev, "error", "netback: queue %u: no ring refs or event channel",
                              i);
            return -EINVAL;
        }
    }
    v->nr_queues = (unsigned)n;
    if (n > 1 && !(v->pump_buf = malloc(sizeof(struct virtio_net_hdr) + 65536))) {
        nb_disconnect(dev);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < v->nr_queues; i++) {
        rc = queue_connect(v, &v->queues[i], v->nr_queues, fe);
        if (rc < 0) {
            nb_disconnect(dev);
            return rc;
        }
    }
    rc = ctrl_connect(v);
    if (rc < 0) {
        nb_disconnect(dev);
        return rc;
    }
    rc = ioloop_add(&v->tap_watch, n > 1 ? EPOLLIN : 0);
    if (rc < 0) {
        nb_disconnect(dev);
        return rc;
    }
    v->tap_watched = true;
    v->connected = true;
    struct nb_queue *q0 = &v->queues[0];
    log_limited(LOG_INFO, "dom%u: vif %u connected: %u queue%s, %s event channels, rx csum %s, "
                "gso %s%s%s", domid, devid, v->nr_queues, v->nr_queues > 1 ? "s" : "",
                q0->split ? "split" : "one", fe.csum ? "offloaded" : "done here",
                fe.gso_tcpv4 ? "tcpv4 " : "", fe.gso_tcpv6 ? "tcpv6" : "",
                v->rate_usec ? ", rate-limited" : "");
    /* Whatever was queued before: every ring once (tx once plugged). */
    tx_all(v);
    for (unsigned i = 0; i < v->nr_queues; i++)
        netback_rx_service(v->queues[i].q);
    if (v->ctrl_on)
        on_ctrl_kick(v);
    return 0;
}

static void nb_remove(struct xenbus_dev *dev)
{
    struct netback_vif *v = dev->priv;
    if (!v)
        return;
    nb_disconnect(dev);
    if (v->rate_timer_watched)
        ioloop_del(&v->rate_timer);
    if (v->rate_timer.fd >= 0)
        close(v->rate_timer.fd);
    close(v->tap_fd);
    free(v);
    dev->priv = NULL;
}

static const struct xenbus_driver netback_driver = {
    .kind = XENON_DEV_VIF,
    .name = "vif",
    .probe = probe,
    .connect = nb_connect,
    .disconnect = nb_disconnect,
    .remove = nb_remove,
};

void netback_register(void)
{
    xenbus_be_register(&netback_driver);
}
