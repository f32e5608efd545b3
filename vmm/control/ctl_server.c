/* See ctl_server.h. One connection at a time is served per event, and each
 * request is answered before the next is read: requests from several
 * clients are serialised by the I/O thread. A client that does not read
 * its replies cannot grow our memory: while a reply is unsent no request
 * is read from it, and a reply that does not fit its buffer drops it. */
#include "ctl_server.h"
#include "ctl_proto.h"
#include "domain.h"
#include "domain_save.h"
#include "ioloop.h"
#include "pause.h"
#include "platform.h"
#include "state.h"
#include "xenbus_be.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define MAX_CONNS 8             /* at once, handed-over ones included */
#define TX_CAP (2 * CTL_MAX_MESSAGE)
#define PAUSE_TIMEOUT_MS 5000

struct ctl_conn {
    struct io_watch w;
    bool handover;              /* from --control-fd */
    bool busy;                  /* its live save's rounds run: not read
                                 * from (its watch is off the loop) */
    bool dead;                  /* close once the event is handled */
    int fd_pending;             /* SCM_RIGHTS descriptor for the next
                                 * DEVICE_ATTACH, -1: none */
    size_t rx_len, tx_len;
    uint8_t rx[CTL_MAX_MESSAGE];
    uint8_t tx[TX_CAP];
};

static struct {
    struct domain *d;
    struct io_watch listen;
    bool listening;             /* the listen watch is in the loop */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct ctl_conn *conn[MAX_CONNS];
    bool hold;
    unsigned handover_open;
    bool go_received;
    /* A live save (domain_save.h): its rounds on a thread of their own,
     * which ends by writing to live_done; then, until the final SAVE,
     * the save in progress, owned by the connection that asked. */
    struct {
        struct io_watch done;       /* eventfd */
        pthread_t thread;
        bool running;
        struct ctl_conn *conn;
        uint32_t req_id;
        int fd, rc;
        struct domain_live *live;   /* rounds sent, logging on */
        struct xenon_ctl_save_result r;
        bool log_on;                /* finished; logging still on until
                                     * SAVE DEVICES has been answered */
    } live;
} srv = { .listen = { .fd = -1 }, .live = { .done = { .fd = -1 } } };

/* --- replies ------------------------------------------------------------ */

static void conn_flush(struct ctl_conn *c);

static void queue(struct ctl_conn *c, const uint8_t *msg, size_t n)
{
    if (c->tx_len + n > sizeof(c->tx))
        conn_flush(c);          /* room for a client that pipelines */
    if (!n || c->tx_len + n > sizeof(c->tx)) {
        c->dead = true;         /* it does not read what we send */
        return;
    }
    memcpy(c->tx + c->tx_len, msg, n);
    c->tx_len += n;
}

static void reply(struct ctl_conn *c, uint16_t type, uint32_t id, int32_t status,
                  const void *body, size_t len)
{
    uint8_t msg[CTL_MAX_MESSAGE];
    queue(c, msg, ctl_encode_reply(msg, sizeof(msg), type, id, status, body, len));
}

/* --- requests ----------------------------------------------------------- */

/* Suspended, as the contract means it: the guest called
 * SCHEDOP_shutdown(suspend) and no vCPU runs any more (the others are
 * kicked out of KVM_RUN then; pause_note_stopped wakes the loop when the
 * last one stops). With d->lock held. */
static bool domain_suspended_stopped(struct domain *d)
{
    return d->suspended && pause_all_stopped(d);
}

static size_t fill_info(struct domain *d, uint8_t *body, size_t cap)
{
    struct xenon_ctl_info info = {
        .nr_vcpus = d->nr_vcpus < XENON_CTL_MAX_VCPUS ? d->nr_vcpus : XENON_CTL_MAX_VCPUS,
        .memory_bytes = d->mem.ram_bytes,
    };
    size_t len = sizeof(info) + info.nr_vcpus * sizeof(struct xenon_ctl_vcpu);
    if (len > cap)
        return 0;
    pthread_mutex_lock(&d->lock);
    info.shutdown_reason = atomic_load(&d->shutdown_reason);
    info.state = info.shutdown_reason >= 0 || atomic_load(&d->stopping)
                     ? XENON_CTL_STATE_SHUTDOWN
               : d->pause.held ? XENON_CTL_STATE_HELD
               : d->pause.paused ? XENON_CTL_STATE_PAUSED
                                 : XENON_CTL_STATE_RUNNING;
    info.uptime_ns = d->boot_ns ? domain_system_time(d) : 0;
    info.flags = (d->hvm_param[HVM_PARAM_CALLBACK_IRQ] ? XENON_CTL_INFO_PV_CALLBACK : 0) |
                 (domain_suspended_stopped(d) ? XENON_CTL_INFO_SUSPENDED : 0);
    for (unsigned i = 0; i < info.nr_vcpus; i++) {
        const struct vcpu *v = &d->vcpu[i];
        struct xenon_ctl_vcpu cv = {
            .cpu_time_ns = platform_vcpu_cpu_ns(v),
            .host_cpu = -1,
            .state = v->exited || v->down ? XENON_CTL_VCPU_DOWN
                   : v->parked || !platform_vcpu_started(v) ? XENON_CTL_VCPU_PAUSED
                   : v->blocked ? XENON_CTL_VCPU_BLOCKED
                                : XENON_CTL_VCPU_RUNNING,
        };
        memcpy(body + sizeof(info) + i * sizeof(cv), &cv, sizeof(cv));
    }
    pthread_mutex_unlock(&d->lock);
    memcpy(body, &info, sizeof(info));
    return len;
}

/* The I/O thread's CPU time: what a save costs whatever the host's load. */
static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- live save ---------------------------------------------------------- */

static void *live_thread(void *arg)
{
    struct domain *d = arg;
    srv.live.rc = domain_save_live_start(d, srv.live.fd, &srv.live.live, &srv.live.r);
    uint64_t one = 1;
    (void)!write(srv.live.done.fd, &one, sizeof(one));
    return NULL;
}

static void conn_ready(struct io_watch *w, uint32_t events);

/* The rounds ended (I/O thread): answer the connection and read it
 * again. */
static void live_done(struct io_watch *w, uint32_t events)
{
    (void)events;
    uint64_t n;
    (void)!read(w->fd, &n, sizeof(n));
    if (!srv.live.running)
        return;
    pthread_join(srv.live.thread, NULL);
    srv.live.running = false;
    close(srv.live.fd);
    struct ctl_conn *c = srv.live.conn;
    struct domain *d = srv.d;
    const struct xenon_ctl_save_result *r = &srv.live.r;
    if (srv.live.rc < 0)
        log_err("dom%u: live save: %s", d->domid, strerror(-srv.live.rc));
    else
        log_info("dom%u: live save: %u rounds, %llu bytes, the last %llu pages",
                 d->domid, r->rounds, (unsigned long long)r->bytes,
                 (unsigned long long)(r->rounds && r->rounds <= XENON_SAVE_ROUNDS_REPORTED
                                          ? r->round_pages[r->rounds - 1] : 0));
    c->busy = false;
    reply(c, XENON_CTL_SAVE, srv.live.req_id, srv.live.rc, r, sizeof(*r));
    if (ioloop_add(&c->w, EPOLLIN) < 0)
        c->dead = true;
    conn_ready(&c->w, 0);       /* send the reply, or close a dead one */
}

/* Dirty logging left on by a finished live save, off (its memory slots
 * rewritten: milliseconds under nested KVM) once nothing of the stream
 * waits for it. */
static void live_log_off(struct domain *d)
{
    if (!srv.live.log_on)
        return;
    srv.live.log_on = false;
    platform_dirty_log_stop(d);
}

/* Abandon a live save that is not running: logging off, nothing sent. */
static void live_cancel(struct domain *d, const char *why)
{
    live_log_off(d);
    if (!srv.live.live)
        return;
    log_info("dom%u: live save abandoned (%s)", d->domid, why);
    domain_save_live_cancel(d, srv.live.live);
    srv.live.live = NULL;
    srv.live.conn = NULL;
}

/* SAVE IMAGE with XENON_SAVE_F_LIVE: start the rounds; the reply comes
 * from live_done. */
static void live_start(struct ctl_conn *c, struct domain *d, uint32_t id, int fd)
{
    int rc = 0;
    pthread_mutex_lock(&d->lock);
    bool held = d->pause.held;
    pthread_mutex_unlock(&d->lock);
    if (fd < 0)
        rc = -EBADF;
    else if (held || srv.live.running || srv.live.live)
        rc = -EBUSY;
    else if (srv.live.done.fd < 0) {
        int e = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        srv.live.done = (struct io_watch){ e, live_done, NULL };
        if (e < 0 || ioloop_add(&srv.live.done, EPOLLIN) < 0) {
            rc = e < 0 ? -errno : -EIO;
            if (e >= 0)
                close(e);
            srv.live.done.fd = -1;
        }
    }
    if (rc == 0) {
        live_log_off(d);        /* a new live save starts its log afresh */
        srv.live.conn = c;
        srv.live.req_id = id;
        srv.live.fd = fd;
        srv.live.rc = 0;
        memset(&srv.live.r, 0, sizeof(srv.live.r));
        rc = -pthread_create(&srv.live.thread, NULL, live_thread, d);
    }
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        srv.live.conn = NULL;
        reply(c, XENON_CTL_SAVE, id, rc, NULL, 0);
        return;
    }
    srv.live.running = true;
    c->busy = true;
    ioloop_del(&c->w);
}

/* SAVE and RESTORE of one part on the descriptor that came with the
 * request (domain_save.h). They block the I/O thread for as long as the
 * descriptor takes: the guest does not run meanwhile. */
static void on_save_restore(struct ctl_conn *c, struct domain *d,
                            const struct ctl_request *req)
{
    int fd = c->fd_pending;
    c->fd_pending = -1;
    bool save = req->type == XENON_CTL_SAVE;
    const struct xenon_ctl_save *sv = &req->u.save;
    if (save && (sv->flags & XENON_SAVE_F_LIVE)) {
        live_start(c, d, req->id, fd);
        return;
    }
    struct xenon_ctl_save_result r = { 0 };
    char err[256] = "";
    int rc = 0;
    pthread_mutex_lock(&d->lock);
    bool ready = save ? d->pause.paused && pause_all_stopped(d)
                      : d->pause.held && !srv.go_received;
    pthread_mutex_unlock(&d->lock);
    if (fd < 0)
        rc = -EBADF;
    else if (!ready || srv.live.running || (!save && srv.live.live))
        rc = -EBUSY;
    else if (save) {
        uint64_t t0 = d->pause.paused_at_ns, cpu0 = thread_cpu_ns(), wall0 = now_ns();
        bool live = sv->part == XENON_SAVE_PART_IMAGE && srv.live.live;
        if (live) {
            rc = domain_save_live_finish(d, srv.live.live, fd, &r);
            srv.live.live = NULL;
            srv.live.conn = NULL;
            srv.live.log_on = true;
        } else {
            rc = sv->part == XENON_SAVE_PART_IMAGE ? domain_save_image(d, fd, &r)
                                                   : domain_save_devices(d, fd, &r);
        }
        uint64_t now = now_ns();
        r.stopped_ns = t0 && now > t0 ? now - t0 : 0;
        if (rc < 0)
            log_err("dom%u: save (%s): %s", d->domid,
                    sv->part == XENON_SAVE_PART_IMAGE ? "image" : "devices", strerror(-rc));
        else
            log_info("dom%u: saved %s: %llu bytes (%llu pages with data, %llu zero) "
                     "in %.3f ms, %.3f ms of CPU",
                     d->domid, sv->part == XENON_SAVE_PART_IMAGE ? "image" : "devices",
                     (unsigned long long)r.bytes, (unsigned long long)r.pages_data,
                     (unsigned long long)r.pages_zero, (now_ns() - wall0) / 1e6,
                     (thread_cpu_ns() - cpu0) / 1e6);
    } else {
        uint64_t cpu0 = thread_cpu_ns(), wall0 = now_ns();
        rc = sv->part == XENON_SAVE_PART_IMAGE
                 ? domain_restore_image(d, fd, &r, err, sizeof(err))
                 : domain_restore_devices(d, fd, sv->length, &r, err, sizeof(err));
        if (rc < 0)
            log_err("dom%u: restore refused: %s", d->domid,
                    err[0] ? err : strerror(-rc));
        else
            log_info("dom%u: restored %s: %llu bytes in %.3f ms, %.3f ms of CPU", d->domid,
                     sv->part == XENON_SAVE_PART_IMAGE ? "image" : "devices",
                     (unsigned long long)r.bytes, (now_ns() - wall0) / 1e6,
                     (thread_cpu_ns() - cpu0) / 1e6);
    }
    if (fd >= 0)
        close(fd);
    reply(c, req->type, req->id, rc, &r, sizeof(r));
    /* The stream's last part is out (or the save failed): the reply goes
     * first, so the toolstack's handshake runs while the slots change. */
    if (save && (sv->part == XENON_SAVE_PART_DEVICES || rc < 0)) {
        conn_flush(c);
        live_log_off(d);
    }
}

static void on_request(void *opaque, const struct ctl_request *req)
{
    struct ctl_conn *c = opaque;
    struct domain *d = srv.d;
    if (c->dead)
        return;                 /* dropped: act on nothing more from it */
    if (c->busy) {
        reply(c, req->type, req->id, -EBUSY, NULL, 0);
        return;                 /* one request at a time, as everywhere */
    }
    /* Running again abandons a live save (its failure path). */
    if ((req->type == XENON_CTL_UNPAUSE || req->type == XENON_CTL_RESUME) &&
        !srv.live.running)
        live_cancel(d, req->type == XENON_CTL_UNPAUSE ? "unpaused" : "resumed");
    switch (req->type) {
    case XENON_CTL_HELLO: {
        struct xenon_ctl_hello_reply r = { .version = XENON_CONTRACT_VERSION,
                                           .domid = d->domid,
                                           .nr_vcpus = d->nr_vcpus,
                                           .pid = (uint32_t)getpid() };
        reply(c, req->type, req->id, 0, &r, sizeof(r));
        return;
    }
    case XENON_CTL_PAUSE: {
        int rc = pause_domain(d, PAUSE_TIMEOUT_MS);
        if (rc < 0)
            log_warn("dom%u: control: vCPUs did not stop within %u ms", d->domid,
                     PAUSE_TIMEOUT_MS);
        reply(c, req->type, req->id, rc, NULL, 0);
        conn_flush(c);          /* now, not after a SAVE pipelined behind it */
        return;
    }
    case XENON_CTL_UNPAUSE: {
        /* A suspended domain runs again only through RESUME. */
        pthread_mutex_lock(&d->lock);
        bool suspended = d->suspended;
        pthread_mutex_unlock(&d->lock);
        if (!suspended)
            unpause_domain(d);
        reply(c, req->type, req->id, suspended ? -EBUSY : 0, NULL, 0);
        return;
    }
    case XENON_CTL_SHUTDOWN:
        log_info("dom%u: control: shutdown requested (reason %u)", d->domid,
                 req->u.shutdown.reason);
        reply(c, req->type, req->id, 0, NULL, 0);
        domain_shutdown(d, (int)req->u.shutdown.reason);
        return;
    case XENON_CTL_INFO: {
        uint8_t body[XENON_CTL_MAX_PAYLOAD];
        size_t n = fill_info(d, body, sizeof(body) - sizeof(struct xenon_ctl_status));
        reply(c, req->type, req->id, n ? 0 : -EOVERFLOW, body, n);
        return;
    }
    case XENON_CTL_DEVICE_ATTACH: {
        /* The descriptor is the backend's from here on, or closed. */
        int fd = c->fd_pending;
        c->fd_pending = -1;
        bool empty = req->u.attach.flags & XENON_DEV_F_EMPTY;
        int rc;
        if ((fd < 0) != empty) {
            if (fd >= 0)
                close(fd);
            rc = -EBADF;
        } else {
            rc = xenbus_be_attach(d, &req->u.attach, fd);
        }
        reply(c, req->type, req->id, rc, NULL, 0);
        return;
    }
    case XENON_CTL_DEVICE_DETACH:
        reply(c, req->type, req->id,
              xenbus_be_detach(d, req->u.detach.kind, req->u.detach.devid), NULL, 0);
        return;
    case XENON_CTL_STATE_CHECK: {
        struct xenon_ctl_state_check r = { 0 };
        size_t bytes = 0;
        pthread_mutex_lock(&d->lock);
        int rc = d->pause.paused && pause_all_stopped(d) ? state_reload_check(d, &bytes)
                                                         : -EBUSY;
        pthread_mutex_unlock(&d->lock);
        r.bytes = (uint32_t)bytes;
        reply(c, req->type, req->id, rc, &r, sizeof(r));
        return;
    }
    case XENON_CTL_SAVE:
    case XENON_CTL_RESTORE:
        on_save_restore(c, d, req);
        return;
    case XENON_CTL_RESUME: {
        /* Only a domain that suspended itself resumes in place (one the
         * toolstack paused is unpaused instead): its SCHEDOP_shutdown
         * returns 1, "cancelled", as after xc_domain_resume's fast path. */
        int rc = -EINVAL;
        pthread_mutex_lock(&d->lock);
        if (d->suspended) {
            struct vcpu *v = &d->vcpu[d->suspend_vcpu];
            struct platform_regs regs;
            rc = platform_get_regs(v, &regs);
            if (rc == 0) {
                regs.rax = 1;
                rc = platform_set_regs(v, &regs);
            }
            if (rc == 0)
                d->suspended = false;
        }
        pthread_mutex_unlock(&d->lock);
        if (rc == 0) {
            log_info("dom%u: resumed in place after a suspend", d->domid);
            unpause_domain(d);
        }
        reply(c, req->type, req->id, rc, NULL, 0);
        return;
    }
    case XENON_CTL_GO:
        if (!srv.go_received) {
            srv.go_received = true;
            pause_release_hold(d);
        }
        reply(c, req->type, req->id, 0, NULL, 0);
        return;
    }
    reply(c, req->type, req->id, -ENOSYS, NULL, 0);    /* not reached */
}

static void on_error(void *opaque, uint16_t type, uint32_t id, int err)
{
    struct ctl_conn *c = opaque;
    if (!c->dead)
        reply(c, type & ~XENON_CTL_REPLY, id, err, NULL, 0);
}

/* --- connections -------------------------------------------------------- */

/* A connection (12 KiB of buffers) is a mapping of its own, not heap: a
 * calloc'd one dirtied all its pages and, freed, left them resident in
 * the heap, so each `xl list` grew every VMM by ~16 KiB for good. Mapped,
 * only the buffer pages a message reaches are touched, and close gives
 * them all back. */
static struct ctl_conn *conn_alloc(void)
{
    void *p = mmap(NULL, sizeof(struct ctl_conn), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void conn_free(struct ctl_conn *c)
{
    munmap(c, sizeof(*c));
}

static void conn_close(struct ctl_conn *c)
{
    if (srv.live.conn == c && !srv.live.running)
        live_cancel(srv.d, "its connection closed");
    for (unsigned i = 0; i < MAX_CONNS; i++)
        if (srv.conn[i] == c)
            srv.conn[i] = NULL;
    ioloop_del(&c->w);
    close(c->w.fd);
    if (c->fd_pending >= 0)
        close(c->fd_pending);
    if (c->handover && srv.handover_open && --srv.handover_open == 0 && srv.hold &&
        !srv.go_received) {
        log_info("dom%u (%s): destroyed before it ran (no go from the toolstack)",
                 srv.d->domid, srv.d->name);
        atomic_store(&srv.d->stopping, true);
    }
    conn_free(c);
    /* A slot is free again: take connections again if we had stopped. */
    if (srv.listen.fd >= 0 && !srv.listening && ioloop_add(&srv.listen, EPOLLIN) == 0)
        srv.listening = true;
}

static void conn_flush(struct ctl_conn *c)
{
    while (c->tx_len) {
        ssize_t n = send(c->w.fd, c->tx, c->tx_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            /* The peer no longer reads (it may have sent GO and closed):
             * drop what it would not read, but still read what it sent;
             * its end of file ends the connection. */
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                c->tx_len = 0;
            break;
        }
        memmove(c->tx, c->tx + n, c->tx_len - (size_t)n);
        c->tx_len -= (size_t)n;
    }
}

/* recv() that also takes one SCM_RIGHTS descriptor (for DEVICE_ATTACH).
 * A second pending descriptor, more than one at once, or truncated
 * ancillary data mark the connection dead; every descriptor received is
 * either kept in c->fd_pending or closed. */
static ssize_t conn_recv(struct ctl_conn *c)
{
    struct iovec iov = { c->rx + c->rx_len, sizeof(c->rx) - c->rx_len };
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(4 * sizeof(int))];
    } cm;
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
    ssize_t n = recvmsg(c->w.fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0)
        return n;
    bool bad = (m.msg_flags & MSG_CTRUNC) != 0;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
            continue;
        size_t nfd = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < nfd; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(fd));
            if (nfd == 1 && c->fd_pending < 0 && !bad)
                c->fd_pending = fd;
            else {
                close(fd);
                bad = true;
            }
        }
    }
    if (bad) {
        log_warn("dom%u: control: descriptors sent out of turn; closing", srv.d->domid);
        c->dead = true;
    }
    return n;
}

static void conn_ready(struct io_watch *w, uint32_t events)
{
    struct ctl_conn *c = w->opaque;
    if (c->tx_len)
        conn_flush(c);
    if (!c->tx_len && !c->dead && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        ssize_t n = conn_recv(c);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            c->dead = true;
        } else if (n > 0 && !c->dead) {
            c->rx_len += (size_t)n;
            struct ctl_sink sink = { on_request, on_error, c };
            bool bad = false;
            size_t used = ctl_consume(c->rx, c->rx_len, &sink, &bad);
            memmove(c->rx, c->rx + used, c->rx_len - used);
            c->rx_len -= used;
            conn_flush(c);
            if (bad)
                c->dead = true;
        }
    }
    if (c->dead) {
        conn_flush(c);          /* the error reply, if the socket takes it */
        conn_close(c);
        return;
    }
    /* Unsent replies: wait until the socket drains, read nothing meanwhile. */
    ioloop_mod(&c->w, c->tx_len ? EPOLLOUT : EPOLLIN);
}

static struct ctl_conn *conn_add(int fd, bool handover)
{
    unsigned slot = MAX_CONNS;
    for (unsigned i = 0; i < MAX_CONNS && slot == MAX_CONNS; i++)
        if (!srv.conn[i])
            slot = i;
    struct ctl_conn *c = slot < MAX_CONNS ? conn_alloc() : NULL;
    if (!c) {
        close(fd);
        return NULL;
    }
    c->w = (struct io_watch){ fd, conn_ready, c };
    c->handover = handover;
    c->fd_pending = -1;
    if (ioloop_add(&c->w, EPOLLIN) < 0) {
        close(fd);
        conn_free(c);
        return NULL;
    }
    srv.conn[slot] = c;
    if (handover)
        srv.handover_open++;
    return c;
}

static void on_accept(struct io_watch *w, uint32_t events)
{
    (void)events;
    int fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
        /* Out of descriptors: stop listening (the socket would stay
         * readable and spin the loop) until a connection closes. */
        if ((errno == EMFILE || errno == ENFILE) && srv.listening) {
            ioloop_del(w);
            srv.listening = false;
        }
        return;
    }
    if (!conn_add(fd, false))
        log_debug("dom%u: control: connection refused (%u at once)", srv.d->domid,
                  MAX_CONNS);
}

/* --- set-up ------------------------------------------------------------- */

static int listen_on(const char *path)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(a.sun_path)) {
        log_err("--control-socket: path too long: %s", path);
        return -1;
    }
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        log_err("control socket: %s", strerror(errno));
        return -1;
    }
    /* The mode comes from here, not from the caller's umask: only the
     * owner (the toolstack) may pause or shut down the domain. No other
     * thread runs yet, so changing the umask races with nothing. */
    mode_t old = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
    umask(old);
    if (rc < 0 || chmod(path, 0600) < 0 || listen(fd, 2 * MAX_CONNS) < 0) {
        log_err("%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int control_init(struct domain *d, const struct control_opts *o)
{
    srv.d = d;
    srv.hold = o->hold;
    for (unsigned i = 0; i < o->nr_handover; i++) {
        int fd = o->handover[i];
        if (!conn_add(fd, true)) {
            log_err("--control-fd %d: cannot serve it", fd);
            return -1;
        }
    }
    if (o->socket_path) {
        int fd = listen_on(o->socket_path);
        if (fd < 0)
            return -1;
        snprintf(srv.path, sizeof(srv.path), "%s", o->socket_path);
        srv.listen = (struct io_watch){ fd, on_accept, d };
        if (ioloop_add(&srv.listen, EPOLLIN) < 0)
            return -1;
        srv.listening = true;
    }
    return 0;
}

void control_notify_built(struct domain *d)
{
    (void)d;
    uint8_t msg[sizeof(struct xenon_ctl_hdr)];
    size_t n = ctl_encode_notice(msg, sizeof(msg), XENON_CTL_NOTICE_BUILT);
    for (unsigned i = 0; i < MAX_CONNS; i++) {
        struct ctl_conn *c = srv.conn[i];
        if (c && c->handover) {
            queue(c, msg, n);
            conn_flush(c);
        }
    }
}

void control_check_suspended(struct domain *d)
{
    pthread_mutex_lock(&d->lock);
    bool tell = domain_suspended_stopped(d) && !d->suspend_noticed;
    d->suspend_noticed |= tell;
    pthread_mutex_unlock(&d->lock);
    if (!tell)
        return;
    log_info("dom%u: the guest suspended itself", d->domid);
    uint8_t msg[sizeof(struct xenon_ctl_hdr)];
    size_t n = ctl_encode_notice(msg, sizeof(msg), XENON_CTL_NOTICE_SUSPENDED);
    for (unsigned i = 0; i < MAX_CONNS; i++) {
        struct ctl_conn *c = srv.conn[i];
        if (c && !c->dead) {
            queue(c, msg, n);
            conn_flush(c);
        }
    }
}

void control_fini(struct domain *d)
{
    (void)d;
    if (srv.listen.fd >= 0) {
        if (srv.listening)
            ioloop_del(&srv.listen);
        srv.listening = false;
        close(srv.listen.fd);
        srv.listen.fd = -1;
        if (srv.path[0])
            unlink(srv.path);
    }
    for (unsigned i = 0; i < MAX_CONNS; i++) {
        struct ctl_conn *c = srv.conn[i];
        if (c) {
            conn_flush(c);
            c->handover = false;    /* no "destroyed before it ran" now */
            conn_close(c);
        }
    }
}
