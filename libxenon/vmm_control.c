/* See vmm_control.h. */
#include "vmm_control.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "domain.h"
#include "util.h"

#define MAX_MESSAGE (sizeof(struct xenon_ctl_hdr) + XENON_CTL_MAX_PAYLOAD)

int vmmctl_socket_path(const char *run_dir, unsigned domid, char *out, size_t n)
{
    int k = snprintf(out, n, "%s/control/%u.sock", run_dir, domid);
    return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

size_t vmmctl_encode_request(uint8_t *out, size_t cap, uint16_t type, uint32_t id,
                             const void *payload, size_t len)
{
    struct xenon_ctl_hdr h = { .magic = XENON_CTL_MAGIC,
                               .version = XENON_CONTRACT_VERSION,
                               .type = type, .id = id, .len = (uint32_t)len };
    if (len > XENON_CTL_MAX_PAYLOAD || sizeof(h) + len > cap)
        return 0;
    memcpy(out, &h, sizeof(h));
    if (len)
        memcpy(out + sizeof(h), payload, len);
    return sizeof(h) + len;
}

int vmmctl_decode_reply(const uint8_t *msg, size_t len, uint16_t type, uint32_t id,
                        int32_t *status, const uint8_t **body, size_t *body_len)
{
    struct xenon_ctl_hdr h;
    struct xenon_ctl_status st;
    if (len < sizeof(h) + sizeof(st))
        return -EPROTO;
    memcpy(&h, msg, sizeof(h));
    memcpy(&st, msg + sizeof(h), sizeof(st));
    if (h.magic != XENON_CTL_MAGIC || h.version != XENON_CONTRACT_VERSION ||
        h.type != (type | XENON_CTL_REPLY) || h.id != id ||
        h.len != len - sizeof(h) || st.reserved || st.status > 0 ||
        (st.status < 0 && h.len != sizeof(st)))
        return -EPROTO;
    *status = st.status;
    *body = msg + sizeof(h) + sizeof(st);
    *body_len = len - sizeof(h) - sizeof(st);
    return 0;
}

int vmmctl_decode_info(const uint8_t *body, size_t len, struct vmmctl_info *out)
{
    struct xenon_ctl_info in;
    if (len < sizeof(in))
        return -EPROTO;
    memcpy(&in, body, sizeof(in));
    if (in.nr_vcpus > XENON_CTL_MAX_VCPUS || in.state > XENON_CTL_STATE_SHUTDOWN ||
        len != sizeof(in) + in.nr_vcpus * sizeof(struct xenon_ctl_vcpu))
        return -EPROTO;
    *out = (struct vmmctl_info){ .state = in.state,
                                 .shutdown_reason = in.shutdown_reason,
                                 .flags = in.flags,
                                 .memory_bytes = in.memory_bytes,
                                 .uptime_ns = in.uptime_ns,
                                 .nr_vcpus = in.nr_vcpus };
    memcpy(out->vcpu, body + sizeof(in), in.nr_vcpus * sizeof(struct xenon_ctl_vcpu));
    for (unsigned i = 0; i < in.nr_vcpus; i++)
        if (out->vcpu[i].state > XENON_CTL_VCPU_DOWN)
            return -EPROTO;
    return 0;
}

/* --- the socket --------------------------------------------------------- */

/* Wait until fd is readable before the deadline (now_ns() clock). */
static int wait_readable(int fd, uint64_t deadline)
{
    for (;;) {
        uint64_t now = now_ns();
        if (now >= deadline)
            return -ETIMEDOUT;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int ms = (int)((deadline - now + 999999) / 1000000);
        int r = poll(&p, 1, ms);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

static int read_exact(int fd, void *buf, size_t len, uint64_t deadline)
{
    size_t got = 0;
    while (got < len) {
        int rc = wait_readable(fd, deadline);
        if (rc < 0)
            return rc;
        ssize_t n = recv(fd, (uint8_t *)buf + got, len - got, MSG_DONTWAIT);
        if (n == 0)
            return -EPIPE;
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -errno;
        }
        got += (size_t)n;
    }
    return 0;
}

/* The whole length of the message whose header is at hdr, or -EPROTO
 * for a header that is not the contract's. */
static int message_len(const uint8_t *hdr)
{
    struct xenon_ctl_hdr h;
    memcpy(&h, hdr, sizeof(h));
    if (h.magic != XENON_CTL_MAGIC || h.version != XENON_CONTRACT_VERSION ||
        h.len > XENON_CTL_MAX_PAYLOAD)
        return -EPROTO;
    return (int)(sizeof(h) + h.len);
}

/* One whole message into buf (MAX_MESSAGE bytes): its length, or -errno. */
static int read_message(int fd, uint8_t *buf, uint64_t deadline)
{
    int rc = read_exact(fd, buf, sizeof(struct xenon_ctl_hdr), deadline);
    if (rc < 0)
        return rc;
    int len = message_len(buf);
    if (len < 0)
        return len;
    rc = read_exact(fd, buf + sizeof(struct xenon_ctl_hdr),
                    (size_t)len - sizeof(struct xenon_ctl_hdr), deadline);
    return rc < 0 ? rc : len;
}

/* Read messages into msg (MAX_MESSAGE bytes) until one that is `want`:
 * XENON_CTL_REPLY for any reply (the reply bit set), else that exact type.
 * Its length, or -errno (-ETIMEDOUT after timeout_ms). */
static int read_until(int fd, uint8_t *msg, uint16_t want, unsigned timeout_ms)
{
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
    for (;;) {
        int m = read_message(fd, msg, deadline);
        if (m < 0)
            return m;
        struct xenon_ctl_hdr h;
        memcpy(&h, msg, sizeof(h));
        if (want == XENON_CTL_REPLY ? (h.type & XENON_CTL_REPLY) != 0 : h.type == want)
            return m;
    }
}

/* Send msg; pass_fd >= 0 goes with its first byte (SCM_RIGHTS). */
static int send_all(int fd, const uint8_t *msg, size_t len, int pass_fd)
{
    while (pass_fd >= 0 && len) {
        union {
            struct cmsghdr h;
            char buf[CMSG_SPACE(sizeof(int))];
        } cm;
        memset(&cm, 0, sizeof(cm));
        struct iovec iov = { (void *)msg, len };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
                            .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
        struct cmsghdr *h = CMSG_FIRSTHDR(&m);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(h), &pass_fd, sizeof(int));
        ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        msg += n;
        len -= (size_t)n;
        pass_fd = -1;
    }
    while (len) {
        ssize_t n = send(fd, msg, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        msg += n;
        len -= (size_t)n;
    }
    return 0;
}

static uint32_t next_id = 1;

int vmmctl_call(int fd, uint16_t type, const void *payload, size_t len,
                void *body, size_t cap, size_t *got, unsigned timeout_ms)
{
    return vmmctl_call_fd(fd, type, payload, len, -1, body, cap, got, timeout_ms);
}

int vmmctl_send(int fd, uint16_t type, const void *payload, size_t len, int pass_fd,
                uint32_t *id)
{
    uint8_t msg[MAX_MESSAGE];
    *id = next_id++;
    size_t n = vmmctl_encode_request(msg, sizeof(msg), type, *id, payload, len);
    if (!n)
        return -EMSGSIZE;
    return send_all(fd, msg, n, pass_fd);
}

int vmmctl_reply(int fd, uint16_t type, uint32_t id, void *body, size_t cap, size_t *got,
                 unsigned timeout_ms)
{
    uint8_t msg[MAX_MESSAGE];
    int m = read_until(fd, msg, XENON_CTL_REPLY, timeout_ms);  /* notices skipped */
    if (m < 0)
        return m;
    int32_t status;
    const uint8_t *b;
    size_t blen;
    if (vmmctl_decode_reply(msg, (size_t)m, type, id, &status, &b, &blen) < 0)
        return -EPROTO;
    if (status == 0) {
        if (blen > cap)
            return -EPROTO;
        if (blen)
            memcpy(body, b, blen);
        if (got)
            *got = blen;
    }
    return status;
}

int vmmctl_call_fd(int fd, uint16_t type, const void *payload, size_t len,
                   int pass_fd, void *body, size_t cap, size_t *got,
                   unsigned timeout_ms)
{
    uint32_t id;
    int rc = vmmctl_send(fd, type, payload, len, pass_fd, &id);
    return rc < 0 ? rc : vmmctl_reply(fd, type, id, body, cap, got, timeout_ms);
}

/* A connected socket, or -errno. */
static int connect_to(const char *path)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(a.sun_path))
        return -ENAMETOOLONG;
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

int vmmctl_open(const char *path, unsigned timeout_ms, int *pid)
{
    int fd = connect_to(path);
    if (fd < 0)
        return fd;
    struct xenon_ctl_hello hello = { .version = XENON_CONTRACT_VERSION };
    struct xenon_ctl_hello_reply r;
    size_t got = 0;
    int rc = vmmctl_call(fd, XENON_CTL_HELLO, &hello, sizeof(hello), &r, sizeof(r),
                         &got, timeout_ms);
    if (rc == 0 && (got != sizeof(r) || r.version != XENON_CONTRACT_VERSION))
        rc = -EPROTO;
    if (rc < 0) {
        close(fd);
        return rc;
    }
    if (pid)
        *pid = (int)r.pid;
    return fd;
}

int vmmctl_send_go(int fd)
{
    uint8_t msg[sizeof(struct xenon_ctl_hdr)];
    size_t n = vmmctl_encode_request(msg, sizeof(msg), XENON_CTL_GO, next_id++, NULL, 0);
    return send_all(fd, msg, n, -1);
}

int vmmctl_wait_built(int fd, unsigned timeout_ms)
{
    uint8_t msg[MAX_MESSAGE];
    int m = read_until(fd, msg, XENON_CTL_NOTICE_BUILT, timeout_ms);
    if (m < 0)
        return m;
    struct xenon_ctl_hdr h;
    memcpy(&h, msg, sizeof(h));
    return h.len == 0 && h.id == 0 ? 0 : -EPROTO;
}

int vmmctl_info(int fd, struct vmmctl_info *out, unsigned timeout_ms)
{
    uint8_t body[XENON_CTL_MAX_PAYLOAD];
    size_t got = 0;
    int rc = vmmctl_call(fd, XENON_CTL_INFO, NULL, 0, body, sizeof(body), &got, timeout_ms);
    return rc < 0 ? rc : vmmctl_decode_info(body, got, out);
}

int vmmctl_request(const char *run_dir, unsigned domid, uint16_t type,
                   const void *payload, size_t len, void *body, size_t cap,
                   size_t *got, unsigned timeout_ms)
{
    char path[4096];
    int rc = vmmctl_socket_path(run_dir, domid, path, sizeof(path));
    /* No HELLO: every header carries the contract version, which both ends
     * check, and xl list makes one of these per domain. */
    int fd = rc < 0 ? rc : connect_to(path);
    if (fd < 0)
        return fd;
    rc = vmmctl_call(fd, type, payload, len, body, cap, got, timeout_ms);
    close(fd);
    return rc;
}

int vmmctl_domain_info(const char *run_dir, unsigned domid, struct vmmctl_info *out,
                       unsigned timeout_ms)
{
    uint8_t body[XENON_CTL_MAX_PAYLOAD];
    size_t got = 0;
    int rc = vmmctl_request(run_dir, domid, XENON_CTL_INFO, NULL, 0, body, sizeof(body),
                            &got, timeout_ms);
    return rc < 0 ? rc : vmmctl_decode_info(body, got, out);
}

/* One INFO in flight (vmmctl_domain_info_many). */
struct info_call {
    int fd;
    size_t i;                   /* index into domids */
    uint32_t id;
    uint64_t deadline;
    size_t have;                /* bytes of msg received */
    uint8_t msg[MAX_MESSAGE];
};

static void info_done(struct info_call *c, int rc, const struct vmmctl_info *vi,
                      vmmctl_info_cb *cb, void *opaque)
{
    close(c->fd);
    c->fd = -1;
    cb(c->i, rc, vi, opaque);
}

/* Connect without waiting and send the request: 0, or -errno. */
static int info_start(struct info_call *c, const char *run_dir, unsigned domid,
                      uint64_t deadline)
{
    char path[4096];
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int rc = vmmctl_socket_path(run_dir, domid, path, sizeof(path));
    if (rc < 0)
        return rc;
    if (strlen(path) >= sizeof(a.sun_path))
        return -ENAMETOOLONG;
    strcpy(a.sun_path, path);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->fd < 0)
        return -errno;
    uint8_t req[sizeof(struct xenon_ctl_hdr)];
    c->id = next_id++;
    size_t n = vmmctl_encode_request(req, sizeof(req), XENON_CTL_INFO, c->id, NULL, 0);
    /* A unix connect completes at once or fails (EAGAIN: the VMM's backlog
     * is full); a 16-byte request always fits the socket's buffer. */
    if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        send(c->fd, req, n, MSG_NOSIGNAL) != (ssize_t)n) {
        rc = errno ? -errno : -EIO;
        close(c->fd);
        c->fd = -1;
        return rc;
    }
    c->have = 0;
    c->deadline = deadline;
    return 0;
}

/* Read what arrived: 1 once the reply is complete (decoded into *vi or its
 * error in *rc), 0 for more to come. Notices before it are skipped. */
static int info_read(struct info_call *c, struct vmmctl_info *vi, int *rc)
{
    for (;;) {
        struct xenon_ctl_hdr h;
        size_t want = sizeof(h);
        bool know = c->have >= sizeof(h);      /* the header is in */
        if (know) {
            int len = message_len(c->msg);
            if (len < 0) {
                *rc = len;
                return 1;
            }
            memcpy(&h, c->msg, sizeof(h));
            want = (size_t)len;
        }
        if (know && c->have == want) {
            if (!(h.type & XENON_CTL_REPLY)) {
                c->have = 0;        /* a whole notice: not ours */
                continue;
            }
            int32_t status;
            const uint8_t *b;
            size_t blen;
            if (vmmctl_decode_reply(c->msg, c->have, XENON_CTL_INFO, c->id, &status,
                                    &b, &blen) < 0)
                *rc = -EPROTO;
            else
                *rc = status < 0 ? status : vmmctl_decode_info(b, blen, vi);
            return 1;
        }
        ssize_t k = recv(c->fd, c->msg + c->have, want - c->have, MSG_DONTWAIT);
        if (k == 0) {
            *rc = -EPIPE;
            return 1;
        }
        if (k < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            *rc = -errno;
            return 1;
        }
        c->have += (size_t)k;
    }
}

void vmmctl_domain_info_many(const char *run_dir, const unsigned *domids, size_t n,
                             vmmctl_info_cb *cb, void *opaque, unsigned timeout_ms)
{
    struct info_call *calls = calloc(VMMCTL_INFO_WINDOW, sizeof(*calls));
    struct vmmctl_info *vi = malloc(sizeof(*vi));
    if (!calls || !vi) {
        /* Out of memory: one at a time, as before. */
        for (size_t i = 0; i < n; i++) {
            struct vmmctl_info one;
            int rc = vmmctl_domain_info(run_dir, domids[i], &one, timeout_ms);
            cb(i, rc, rc == 0 ? &one : NULL, opaque);
        }
        free(calls);
        free(vi);
        return;
    }
    struct pollfd pfd[VMMCTL_INFO_WINDOW];
    size_t next = 0, live = 0;
    for (unsigned k = 0; k < VMMCTL_INFO_WINDOW; k++)
        calls[k].fd = -1;
    while (next < n || live) {
        /* Fill the window. */
        for (unsigned k = 0; k < VMMCTL_INFO_WINDOW && next < n; k++) {
            if (calls[k].fd >= 0)
                continue;
            struct info_call *c = &calls[k];
            c->i = next++;
            int rc = info_start(c, run_dir, domids[c->i],
                                now_ns() + (uint64_t)timeout_ms * 1000000ull);
            if (rc == -EAGAIN) {
                /* Its backlog is full: wait for it alone. */
                struct vmmctl_info one;
                rc = vmmctl_domain_info(run_dir, domids[c->i], &one, timeout_ms);
                cb(c->i, rc, rc == 0 ? &one : NULL, opaque);
            } else if (rc < 0) {
                cb(c->i, rc, NULL, opaque);
            } else {
                live++;
            }
        }
        if (!live)
            continue;
        uint64_t now = now_ns(), soonest = UINT64_MAX;
        unsigned np = 0;
        unsigned at[VMMCTL_INFO_WINDOW];
        for (unsigned k = 0; k < VMMCTL_INFO_WINDOW; k++) {
            struct info_call *c = &calls[k];
            if (c->fd < 0)
                continue;
            if (now >= c->deadline) {
                info_done(c, -ETIMEDOUT, NULL, cb, opaque);
                live--;
                continue;
            }
            if (c->deadline < soonest)
                soonest = c->deadline;
            pfd[np] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
            at[np++] = k;
        }
        if (!np)
            continue;
        int r = poll(pfd, np, (int)((soonest - now + 999999) / 1000000));
        if (r < 0 && errno != EINTR)
            r = 0;                  /* as a timeout: the deadlines decide */
        for (unsigned j = 0; r > 0 && j < np; j++) {
            if (!pfd[j].revents)
                continue;
            struct info_call *c = &calls[at[j]];
            int rc = 0;
            if (info_read(c, vi, &rc)) {
                info_done(c, rc, rc == 0 ? vi : NULL, cb, opaque);
                live--;
            }
        }
    }
    free(calls);
    free(vi);
}

/* --- what the VMM knows better than /proc -------------------------------- */

int xenon_domain_vcpus_of(const struct xenon_paths *p, unsigned domid, pid_t vmm_pid,
                          struct xenon_vcpuinfo **out, int *n)
{
    if (xenon_domain_vcpus(vmm_pid, out, n) < 0)
        return -1;
    struct vmmctl_info vi;
    if (vmmctl_domain_info(p->run_dir, domid, &vi, 2000) < 0)
        return 0;               /* the threads' view alone */
    for (int i = 0; i < *n && (unsigned)i < vi.nr_vcpus; i++) {
        struct xenon_vcpuinfo *v = &(*out)[i];
        const struct xenon_ctl_vcpu *c = &vi.vcpu[i];
        v->cpu_time = (double)c->cpu_time_ns / 1e9;
        switch (c->state) {
        case XENON_CTL_VCPU_DOWN:       /* offline, as Xen shows it */
            v->cpu = -1;
            v->running = v->blocked = false;
            break;
        case XENON_CTL_VCPU_PAUSED:     /* neither running nor blocked */
            v->running = v->blocked = false;
            break;
        case XENON_CTL_VCPU_BLOCKED:
            v->running = false;
            v->blocked = true;
            break;
        }
    }
    return 0;
}
