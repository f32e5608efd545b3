/* The xenbus side of netback: features, connect and disconnect, and the
 * I/O loop watches that drive the queue (netback_queue.c). */
#include "netback.h"
#include "netback_filter.h"
#include "netback_offload.h"
#include "netback_queue.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>

#include "backend.h"
#include "domain.h"
#include "ioloop.h"
#include "log.h"
#include "xenbus_be.h"

struct netback_vif {
    struct xenbus_dev *dev;
    int tap_fd;
    struct io_watch tap_watch;
    bool tap_watched;
    struct backend tx_chan, rx_chan;    /* rx_chan unused unless split */
    bool tx_bound, rx_bound, split;
    bool connected;
    struct netback_queue *q;
    /* rate= (the backend's rate node): the credit, and its timer */
    uint64_t rate_bytes, rate_usec;
    struct io_watch rate_timer;
    bool rate_timer_watched;
    /* The hotplug script's word: the guest sends nothing until the
     * toolstack wrote hotplug-status = connected (the script plugged the
     * tap and said whether it wants anti-spoofing: `antispoof` = 1). */
    bool plugged, plug_reading, filter_on;
    char mac[18];
    struct netback_filter filter;
};

static void plug(struct netback_vif *v);

static void on_rate_timer(struct io_watch *w, uint32_t events)
{
    struct netback_vif *v = w->opaque;
    uint64_t n;
    if (read(w->fd, &n, sizeof(n)) < 0) {
        /* spurious: nothing expired */
    }
    if (v->connected && v->plugged)
        netback_tx_service(v->q);
}

static void want_timer(void *opaque, uint64_t at_ns)
{
    struct netback_vif *v = opaque;
    if (!v->rate_timer_watched)
        return;
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
        netback_set_rate(v->q, b, u);
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
    if (v->connected)
        netback_rx_service(v->q);
}

static void want_tap(void *opaque, bool want)
{
    struct netback_vif *v = opaque;
    if (v->tap_watched)
        ioloop_mod(&v->tap_watch, want ? EPOLLIN : 0);
}

static void on_fatal(void *opaque)
{
    struct netback_vif *v = opaque;
    /* As xenvif_fatal_tx_err: the vif stops; the reason is in the log and
     * the backend directory. */
    xenbus_dev_printf(v->dev, "error", "netback: %s", v->q->broken_why);
    want_tap(v, false);
}

static void on_tx_kick(void *opaque)
{
    struct netback_vif *v = opaque;
    if (!v->connected)
        return;
    if (v->plugged)
        netback_tx_service(v->q);
    if (!v->split)
        netback_rx_service(v->q);
}

static void on_rx_kick(void *opaque)
{
    struct netback_vif *v = opaque;
    if (v->connected)
        netback_rx_service(v->q);
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
    if (v->connected) {
        v->q->filter = v->filter_on ? &v->filter : NULL;
        netback_tx_service(v->q);
    }
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
    xenbus_dev_printf(dev, "multi-queue-max-queues", "1");
    return 0;
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
    if (v->tx_bound)
        backend_fini(&v->tx_chan);
    if (v->rx_bound)
        backend_fini(&v->rx_chan);
    v->tx_bound = v->rx_bound = false;
    if (v->q) {
        if (v->q->st.tx_filtered)
            log_info("dom%u: vif %u: %llu frames dropped by the anti-spoofing filter",
                     dev->d->domid, dev->devid, (unsigned long long)v->q->st.tx_filtered);
        netback_queue_fini(v->q);
        free(v->q);
        v->q = NULL;
    }
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

static int nb_connect(struct xenbus_dev *dev)
{
    struct netback_vif *v = dev->priv;
    unsigned domid = dev->d->domid, devid = dev->devid;
    unsigned long tx_ref, rx_ref, tx_port, rx_port, n;
    int rc = xenbus_dev_fe_uint(dev, "multi-queue-num-queues", 1024, &n);
    if ((rc == 0 && n != 1) || rc == -EINVAL) {
        log_limited(LOG_WARN, "dom%u: vif %u: asks for queues beyond the one offered", domid,
                    devid);
        return -EINVAL;
    }
    if (xenbus_dev_fe_uint(dev, "tx-ring-ref", UINT32_MAX, &tx_ref) < 0 ||
        xenbus_dev_fe_uint(dev, "rx-ring-ref", UINT32_MAX, &rx_ref) < 0) {
        log_limited(LOG_WARN, "dom%u: vif %u: no tx-ring-ref or rx-ring-ref", domid, devid);
        return -EINVAL;
    }
    v->split = false;
    if (xenbus_dev_fe_uint(dev, "event-channel-tx", UINT32_MAX, &tx_port) == 0 &&
        xenbus_dev_fe_uint(dev, "event-channel-rx", UINT32_MAX, &rx_port) == 0) {
        v->split = true;
    } else if (xenbus_dev_fe_uint(dev, "event-channel", UINT32_MAX, &tx_port) < 0) {
        log_limited(LOG_WARN, "dom%u: vif %u: no event channel", domid, devid);
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

    v->q = calloc(1, sizeof(*v->q));
    if (!v->q)
        return -ENOMEM;
    rc = backend_bind(dev->d, &v->tx_chan, (uint32_t)tx_port, NULL, on_tx_kick, v);
    if (rc == 0) {
        v->tx_bound = true;
        if (v->split) {
            rc = backend_bind(dev->d, &v->rx_chan, (uint32_t)rx_port, NULL, on_rx_kick, v);
            v->rx_bound = rc == 0;
        }
    }
    if (rc < 0) {
        log_limited(LOG_WARN, "dom%u: vif %u: event channel: cannot bind", domid, devid);
        nb_disconnect(dev);
        return rc;
    }
    rc = netback_queue_init(v->q, dev->d, 0, (grant_ref_t)tx_ref, (grant_ref_t)rx_ref,
                            v->tap_fd, fe, &v->tx_chan.chan,
                            v->split ? &v->rx_chan.chan : &v->tx_chan.chan);
    if (rc < 0) {
        log_limited(LOG_WARN, "dom%u: vif %u: rings %lu/%lu do not map", domid, devid, tx_ref,
                    rx_ref);
        nb_disconnect(dev);
        return rc;
    }
    v->q->on_fatal = on_fatal;
    v->q->want_tap = want_tap;
    v->q->want_timer = want_timer;
    v->q->opaque = v;
    if (v->rate_usec)
        netback_set_rate(v->q, v->rate_bytes, v->rate_usec);
    rc = ioloop_add(&v->tap_watch, 0);
    if (rc < 0) {
        nb_disconnect(dev);
        return rc;
    }
    v->tap_watched = true;
    v->connected = true;
    log_limited(LOG_INFO, "dom%u: vif %u connected: %s event channels, rx csum %s, gso %s%s%s",
                domid, devid, v->split ? "split" : "one", fe.csum ? "offloaded" : "done here",
                fe.gso_tcpv4 ? "tcpv4 " : "", fe.gso_tcpv6 ? "tcpv6" : "",
                v->rate_usec ? ", rate-limited" : "");
    /* Whatever was queued before: both rings once (tx once plugged). */
    v->q->filter = v->filter_on ? &v->filter : NULL;
    if (v->plugged)
        netback_tx_service(v->q);
    netback_rx_service(v->q);
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
