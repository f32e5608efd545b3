/* conn: socket server and event loop (see conn.h). */
#include "conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "domain.h"
#include "log.h"
#include "util.h"

#define IN_CAP_MAX (64u * 1024)
#define OUT_SOFT (256u * 1024)
#define MSGS_PER_TURN 64
/* Journal bytes one turn may buffer before requests wait for the next:
 * keeps a turn's append well inside the disk-full reserve. */
#define TURN_JOURNAL_MAX (1u << 20)

static int epfd = -1, lfd = -1;
static char *sock_path;
static struct conn *flush_list, *ready_list, *dead_list;

static void conn_kill_misbehaving(struct conn *c, const char *why);

static void mark_flush(struct conn *c)
{
    if (!c->flush_pending && !c->dead) {
        c->flush_pending = true;
        c->flush_next = flush_list;
        flush_list = c;
    }
}

/* Connections with queued output: the stall scan visits these alone, so
 * its cost follows the busy clients, not every domain's connection. */
static struct conn *out_list;

static void out_list_add(struct conn *c)
{
    if (c->out_listed || c->dead)
        return;
    c->out_listed = true;
    c->out_prev = NULL;
    c->out_next = out_list;
    if (out_list)
        out_list->out_prev = c;
    out_list = c;
    xs->out_pending++;
}

static void out_list_del(struct conn *c)
{
    if (!c->out_listed)
        return;
    c->out_listed = false;
    if (c->out_prev)
        c->out_prev->out_next = c->out_next;
    else
        out_list = c->out_next;
    if (c->out_next)
        c->out_next->out_prev = c->out_prev;
    c->out_next = c->out_prev = NULL;
    xs->out_pending--;
}

static void mark_ready(struct conn *c)
{
    if (!c->ready_pending && !c->dead) {
        c->ready_pending = true;
        c->ready_next = ready_list;
        ready_list = c;
    }
}

static bool backpressured(const struct conn *c)
{
    if (c->out_bytes > OUT_SOFT)
        return true;
    /* A guest at its memory quota with output queued is not read until
     * it has taken some (Xen: "interface stalled"). Not without output:
     * then only ending its transactions could free memory. */
    if (core_over_memory(c) && c->out_head)
        return true;
    return !c->privileged && xs->quota[Q_OUTSTANDING] &&
           c->out_replies >= (unsigned)xs->quota[Q_OUTSTANDING];
}

static void update_events(struct conn *c)
{
    if (c->dead)
        return;
    uint32_t want = 0;
    if (!backpressured(c) && c->in_len < IN_CAP_MAX)
        want |= EPOLLIN;
    if (c->out_blocked)
        want |= EPOLLOUT;
    if (want == c->ev_mask)
        return;
    struct epoll_event ev = { .events = want, .data.ptr = c };
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->ev_mask = want;
}

void conn_queue(struct conn *c, uint32_t type, uint32_t req_id,
                uint32_t tx_id, const void *a, size_t alen, const void *b,
                size_t blen)
{
    if (c->dead)
        return;
    size_t len = WIRE_HDR_LEN + alen + blen;
    if (c->out_bytes + len > xs->out_hard_limit) {
        conn_kill_misbehaving(c, "output queue limit exceeded (client not reading)");
        return;
    }
    bool event = type == XS_WATCH_EVENT;
    /* A guest's watch events count against its memory quota and are
     * dropped past it, as in Xen; replies are charged regardless (they
     * are bounded by the outstanding quota). */
    if (!core_charge(c, (long)len, !event)) {
        c->events_dropped++;
        return;
    }
    struct outmsg *m = malloc(sizeof(*m) + len);
    if (!m)
        abort();
    struct xsd_sockmsg h = { type, req_id, tx_id, (uint32_t)(alen + blen) };
    memcpy(m->data, &h, WIRE_HDR_LEN);
    if (alen)
        memcpy(m->data + WIRE_HDR_LEN, a, alen);
    if (blen)
        memcpy(m->data + WIRE_HDR_LEN + alen, b, blen);
    m->len = len;
    m->off = 0;
    m->reply = !event;
    m->expires_ns = event && !c->privileged && xs->event_timeout_ns
                        ? now_ns() + xs->event_timeout_ns
                        : 0;
    m->next = NULL;
    if (!c->out_head) {
        c->last_progress_ns = now_ns(); /* the stall clock starts now */
        out_list_add(c);
    }
    if (c->out_tail)
        c->out_tail->next = m;
    else
        c->out_head = m;
    c->out_tail = m;
    c->out_bytes += len;
    if (m->reply)
        c->out_replies++;
    mark_flush(c);
}

void conn_kill(struct conn *c, const char *why)
{
    if (c->dead)
        return;
    if (why)
        log_debug("dropping connection fd %d (dom%u): %s", c->fd, c->domid,
                  why);
    c->dead = true;
    out_list_del(c);
    xs->nconns--;
    /* Watches and transactions are freed with the connection at the end
     * of the turn: we may be inside a loop over the watches right now.
     * Dead connections get no events and their watches match nothing. */
    domain_detach(c);
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    if (c->prev)
        c->prev->next = c->next;
    else
        xs->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = dead_list;
    dead_list = c;
}

/* Drop a client for breaking the protocol (an oversized message, not
 * reading what it is sent). A guest's ring then stays dropped: its VMM's
 * next ring-attach is refused with EPROTO, and the VMM sets the ring's
 * error field (docs/xenstored.md, "Guest connections"). */
static void conn_kill_misbehaving(struct conn *c, const char *why)
{
    if (c->dom && !c->dead)
        c->dom->proto_dropped = true;
    conn_kill(c, why);
}

static void unlink_lists(struct conn *c)
{
    if (c->ready_pending)
        for (struct conn **pp = &ready_list; *pp; pp = &(*pp)->ready_next)
            if (*pp == c) {
                *pp = c->ready_next;
                break;
            }
    if (c->flush_pending)
        for (struct conn **pp = &flush_list; *pp; pp = &(*pp)->flush_next)
            if (*pp == c) {
                *pp = c->flush_next;
                break;
            }
}

static void conn_free(struct conn *c)
{
    unlink_lists(c);
    core_conn_gone(c);
    while (c->out_head) {
        struct outmsg *m = c->out_head;
        c->out_head = m->next;
        free(m);
    }
    free(c->in);
    free(c);
}

static void process_input(struct conn *c)
{
    size_t off = 0;
    int budget = MSGS_PER_TURN;
    while (!c->dead && !backpressured(c)) {
        struct xsd_sockmsg h;
        size_t ml;
        enum wire_frame_status st = wire_frame(c->in + off, c->in_len - off,
                                               &h, &ml);
        if (st == WIRE_NEED_MORE)
            break;
        if (st == WIRE_BAD) {
            log_warn("dom%u sent a message of %u bytes: dropped", c->domid,
                     h.len);
            conn_kill_misbehaving(c, "payload too long");
            return;
        }
        if (budget-- == 0 ||
            journal_pending_bytes(&xs->journal) > TURN_JOURNAL_MAX) {
            mark_ready(c);
            break;
        }
        core_handle(c, &h, (const char *)c->in + off + WIRE_HDR_LEN);
        off += ml;
    }
    if (c->dead)
        return;
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    /* Nothing buffered: give the buffer back. An idle connection (one per
     * domain) would otherwise keep 16 KiB of heap, partly resident, for
     * good; the next read takes a chunk freed by another. */
    if (c->in_len == 0 && c->in_cap) {
        free(c->in);
        c->in = NULL;
        c->in_cap = 0;
    }
    update_events(c);
}

static void conn_read(struct conn *c)
{
    for (int rounds = 0; rounds < 4 && !c->dead; rounds++) {
        if (c->in_cap - c->in_len < 4096 && c->in_cap < IN_CAP_MAX) {
            c->in_cap = c->in_cap ? c->in_cap * 2 : 16384;
            c->in = realloc(c->in, c->in_cap);
            if (!c->in)
                abort();
        }
        if (c->in_len == c->in_cap)
            break;
        ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
        if (n == 0) {
            conn_kill(c, "end of file");
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                conn_kill(c, "read error");
            break;
        }
        size_t space = c->in_cap - c->in_len;
        c->in_len += (size_t)n;
        process_input(c);
        /* A short read drained the socket; epoll tells us about more. */
        if (c->dead || backpressured(c) || c->ready_pending ||
            (size_t)n < space)
            break;
    }
    if (!c->dead)
        update_events(c);
}

static void conn_flush(struct conn *c)
{
    while (c->out_head && !c->dead) {
        struct iovec iov[64];
        int n = 0;
        for (struct outmsg *m = c->out_head; m && n < 64; m = m->next, n++) {
            iov[n].iov_base = m->data + m->off;
            iov[n].iov_len = m->len - m->off;
        }
        ssize_t w = writev(c->fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                c->out_blocked = true; /* wait for EPOLLOUT */
            else
                conn_kill(c, "write error");
            break;
        }
        c->last_progress_ns = now_ns();
        size_t left = (size_t)w;
        while (left && c->out_head) {
            struct outmsg *m = c->out_head;
            size_t part = m->len - m->off;
            if (left < part) {
                m->off += left;
                c->out_bytes -= left;
                left = 0;
                break;
            }
            left -= part;
            c->out_bytes -= part;
            core_charge(c, -(long)m->len, true);
            if (m->reply)
                c->out_replies--;
            c->out_head = m->next;
            if (!c->out_head)
                c->out_tail = NULL;
            free(m);
        }
    }
    if (c->dead)
        return;
    if (!c->out_head) {
        c->out_blocked = false;
        out_list_del(c);
    }
    /* Input held back by backpressure may proceed now. */
    if (!backpressured(c) && c->in_len >= WIRE_HDR_LEN)
        mark_ready(c);
    update_events(c);
}

int conn_listen(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path)) {
        log_err("socket path too long: %s", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    char *dir = strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash && slash != dir) {
        *slash = '\0';
        mkdir_p(dir);
    }
    free(dir);
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) {
        log_err("socket: %m");
        return -1;
    }
    unlink(path);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(lfd, 512) < 0) {
        log_err("cannot listen on %s: %m", path);
        return -1;
    }
    chmod(path, 0600);
    sock_path = strdup(path);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return -1;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
}

/* Out of descriptors, the listening socket stays readable: rather than
 * spin on a failing accept, stop watching it and look again every
 * ACCEPT_RETRY_NS. Clients wait in the backlog meanwhile. */
#define ACCEPT_RETRY_NS 100000000ull
static uint64_t accept_paused_at;   /* 0: accepting */
static bool accept_warned;          /* once per shortage, not per retry */

static void listen_watch(bool on)
{
    struct epoll_event ev = { .events = on ? EPOLLIN : 0, .data.ptr = NULL };
    epoll_ctl(epfd, EPOLL_CTL_MOD, lfd, &ev);
    accept_paused_at = on ? 0 : now_ns();
}

static void accept_all(void)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                if (!accept_warned)
                    log_warn("accept: %m: new connections wait until one closes");
                accept_warned = true;
                listen_watch(false);
            } else if (errno != EAGAIN) {
                log_warn("accept: %m");
            }
            return;
        }
        accept_warned = false;
        struct conn *c = calloc(1, sizeof(*c));
        if (!c)
            abort();
        c->fd = fd;
        core_conn_init(c);
        c->ev_mask = EPOLLIN;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = xs->conns;
        if (xs->conns)
            xs->conns->prev = c;
        xs->conns = c;
        xs->nconns++;
    }
}

/* Drop the guest's watch events that waited past their time (and have
 * not started to go out), as Xen does: a guest that reads a little now
 * and then cannot keep a queue for ever. */
static void expire_events(struct conn *c, uint64_t now)
{
    struct outmsg **pp = &c->out_head, *prev = NULL;
    bool dropped = false;
    while (*pp) {
        struct outmsg *m = *pp;
        if (m->expires_ns && m->expires_ns <= now && m->off == 0) {
            *pp = m->next;
            c->out_bytes -= m->len;
            core_charge(c, -(long)m->len, true);
            c->events_dropped++;
            free(m);
            dropped = true;
            continue;
        }
        prev = m;
        pp = &m->next;
    }
    c->out_tail = prev;
    if (dropped) {
        log_debug("dom%u: dropped watch events it did not read in time",
                  c->domid);
        if (!c->out_head) {
            c->out_blocked = false;
            out_list_del(c);
        }
        update_events(c);
        if (!backpressured(c) && c->in_len >= WIRE_HDR_LEN)
            mark_ready(c);
    }
}

/* Once a second: drop clients that stopped reading (output above the
 * soft limit, so their requests are no longer served, and no progress for
 * stall_ns) and guests' watch events past their time. Both need queued
 * output: only the connections with some are visited (out_list), so an
 * idle host of thousands of domains costs nothing here. */
static void drop_stalled(void)
{
    static uint64_t last_scan;
    uint64_t now = now_ns();
    if (now - last_scan < 1000000000ull)
        return;
    last_scan = now;
    unsigned long visited = 0;
    /* A visit may take c off the list (killed, or its events all expired)
     * but no other connection: next is read first. */
    for (struct conn *c = out_list, *next; c; c = next) {
        next = c->out_next;
        visited++;
        if (xs->stall_ns && c->out_bytes > OUT_SOFT &&
            now - c->last_progress_ns > xs->stall_ns)
            conn_kill_misbehaving(c, "not reading its replies");
        else if (!c->privileged && c->out_head && xs->event_timeout_ns)
            expire_events(c, now);
    }
    xs->stall_scans++;
    xs->stall_scan_visited = visited;
}

/* The turn's changes could not be made durable even with the reserve
 * given back (or the disk failed): nothing of the turn may be
 * acknowledged, so hold every reply and retry until the journal takes
 * the records. 0, or -1 if told to stop meanwhile. */
static int hold_until_durable(volatile sig_atomic_t *stop)
{
    log_err("journal: holding every reply until the journal can be "
            "written (retrying every second)");
    while (!*stop) {
        struct timespec ts = { 1, 0 };
        nanosleep(&ts, NULL);
        if (journal_sync(&xs->journal) == 0) {
            log_info("journal: written; serving again");
            return 0;
        }
    }
    return -1;
}

int conn_run(volatile sig_atomic_t *stop)
{
    struct epoll_event evs[256];
    uint64_t last_tick = 0;
    while (!*stop) {
        drop_stalled();
        if (now_ns() - last_tick >= 1000000000ull) {
            last_tick = now_ns();
            journal_tick(&xs->journal);
        }
        if (accept_paused_at && now_ns() - accept_paused_at >= ACCEPT_RETRY_NS)
            listen_watch(true);
        int n = epoll_wait(epfd, evs, 256, ready_list ? 0 : accept_paused_at ? 100 : 1000);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_err("epoll_wait: %m");
            return -1;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) {
                accept_all();
                continue;
            }
            if (c->dead)
                continue;
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                conn_read(c);
            if (!c->dead && (evs[i].events & EPOLLOUT))
                mark_flush(c);
        }
        /* Connections with complete messages left over. */
        struct conn *r = ready_list;
        ready_list = NULL;
        while (r) {
            struct conn *next = r->ready_next;
            r->ready_pending = false;
            if (!r->dead)
                process_input(r);
            r = next;
        }
        /* Group commit: everything of this turn becomes durable before
         * any reply or event leaves. */
        if (journal_sync(&xs->journal) < 0 && hold_until_durable(stop) < 0)
            return -1;
        /* A failed compaction is logged and retried later; the journal
         * stays valid either way. */
        journal_maybe_compact(&xs->journal, &xs->tree, core_dump_domains,
                              NULL, false);
        struct conn *f = flush_list;
        flush_list = NULL;
        while (f) {
            struct conn *next = f->flush_next;
            f->flush_pending = false;
            if (!f->dead)
                conn_flush(f);
            f = next;
        }
        while (dead_list) {
            struct conn *d = dead_list;
            dead_list = d->next;
            conn_free(d);
        }
    }
    return 0;
}

void conn_shutdown(void)
{
    while (xs && xs->conns)
        conn_kill(xs->conns, NULL);
    while (dead_list) {
        struct conn *d = dead_list;
        dead_list = d->next;
        conn_free(d);
    }
    if (lfd >= 0)
        close(lfd);
    if (epfd >= 0)
        close(epfd);
    if (sock_path)
        unlink(sock_path);
    free(sock_path);
    lfd = epfd = -1;
    sock_path = NULL;
}
