/* xsbench: micro-benchmarks for xenon-xenstored, and the bare unix-socket
 * baseline they are compared with.
 *
 *   xsbench echo SOCK            serve: echo every xs_wire message back
 *   xsbench rtt|read|write|txn SOCK N
 *                                N sequential round trips; prints ops/s
 *   xsbench watch SOCK N         N writes, each timed until the watcher
 *                                gets its event; prints mean latency (ns)
 *   xsbench pwrite SOCK N        N writes pipelined 64 deep (shows group
 *                                commit); prints writes/s
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <xen/xen.h>
#include <xen/io/xs_wire.h>

#include "util.h"

static int connect_to(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror(path);
        exit(1);
    }
    return fd;
}

static char payload[XENSTORE_PAYLOAD_MAX];

static void send_msg(int fd, uint32_t type, uint32_t tx, const void *p,
                     size_t len)
{
    struct xsd_sockmsg h = { type, 1, tx, (uint32_t)len };
    char buf[sizeof(h) + XENSTORE_PAYLOAD_MAX];
    memcpy(buf, &h, sizeof(h));
    memcpy(buf + sizeof(h), p, len);
    if (write_full(fd, buf, sizeof(h) + len) < 0) {
        perror("write");
        exit(1);
    }
}

/* Receive one message; returns its type, payload in payload[]. */
static uint32_t recv_msg(int fd, uint32_t *len)
{
    struct xsd_sockmsg h;
    if (read_full(fd, &h, sizeof(h)) < 0 || h.len > XENSTORE_PAYLOAD_MAX ||
        read_full(fd, payload, h.len) < 0) {
        fprintf(stderr, "xsbench: connection lost\n");
        exit(1);
    }
    if (len)
        *len = h.len;
    return h.type;
}

static uint32_t call(int fd, uint32_t type, uint32_t tx, const void *p,
                     size_t len)
{
    send_msg(fd, type, tx, p, len);
    uint32_t t;
    while ((t = recv_msg(fd, NULL)) == XS_WATCH_EVENT)
        ;
    if (t != type) {
        fprintf(stderr, "xsbench: request %u failed: %s\n", type, payload);
        exit(1);
    }
    return t;
}

static int serve_echo(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    unlink(path);
    if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(l, 16) < 0) {
        perror(path);
        return 1;
    }
    for (;;) {
        int fd = accept(l, NULL, NULL);
        if (fd < 0)
            continue;
        /* The cheapest honest server: one read, echo every complete
         * message back with one write. */
        static char buf[65536];
        size_t have = 0;
        for (;;) {
            ssize_t r = read(fd, buf + have, sizeof(buf) - have);
            if (r <= 0)
                break;
            have += (size_t)r;
            size_t done = 0;
            while (have - done >= sizeof(struct xsd_sockmsg)) {
                struct xsd_sockmsg h;
                memcpy(&h, buf + done, sizeof(h));
                if (h.len > XENSTORE_PAYLOAD_MAX)
                    goto out;
                if (have - done < sizeof(h) + h.len)
                    break;
                done += sizeof(h) + h.len;
            }
            if (done && write_full(fd, buf, done) < 0)
                break;
            memmove(buf, buf + done, have - done);
            have -= done;
        }
    out:
        close(fd);
    }
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "echo") == 0)
        return serve_echo(argv[2]);
    if (argc != 4) {
        fprintf(stderr, "usage: xsbench echo SOCK | "
                        "xsbench rtt|read|write|txn|watch SOCK N\n");
        return 2;
    }
    const char *mode = argv[1];
    long n = atol(argv[3]);
    int fd = connect_to(argv[2]);
    static const char key[] = "/bench/key";
    static const char wr[] = "/bench/key\0value";
    uint64_t t0;
    if (strcmp(mode, "watch") == 0) {
        int w = connect_to(argv[2]);
        static const char wp[] = "/bench/w\0tok";
        call(w, XS_WATCH, 0, wp, sizeof(wp));
        if (recv_msg(w, NULL) != XS_WATCH_EVENT) /* the initial event */
            return 1;
        static const char ww[] = "/bench/w/x\0v";
        uint64_t sum = 0;
        for (long i = 0; i < n; i++) {
            t0 = now_ns();
            send_msg(fd, XS_WRITE, 0, ww, sizeof(ww) - 1);
            if (recv_msg(w, NULL) != XS_WATCH_EVENT)
                return 1;
            sum += now_ns() - t0;
            if (recv_msg(fd, NULL) != XS_WRITE)
                return 1;
        }
        printf("%.0f\n", (double)sum / (double)n);
        return 0;
    }
    if (strcmp(mode, "read") == 0 || strcmp(mode, "txn") == 0)
        call(fd, XS_WRITE, 0, wr, sizeof(wr) - 1);
    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        if (strcmp(mode, "rtt") == 0 || strcmp(mode, "read") == 0) {
            call(fd, XS_READ, 0, key, sizeof(key));
        } else if (strcmp(mode, "pwrite") == 0) {
            long batch = n - i < 64 ? n - i : 64;
            for (long k = 0; k < batch; k++)
                send_msg(fd, XS_WRITE, 0, wr, sizeof(wr) - 1);
            for (long k = 0; k < batch; k++)
                if (recv_msg(fd, NULL) != XS_WRITE)
                    return 1;
            i += batch - 1;
        } else if (strcmp(mode, "write") == 0) {
            call(fd, XS_WRITE, 0, wr, sizeof(wr) - 1);
        } else if (strcmp(mode, "txn") == 0) {
            call(fd, XS_TRANSACTION_START, 0, "", 1);
            uint32_t tx = (uint32_t)strtoul(payload, NULL, 10);
            call(fd, XS_WRITE, tx, wr, sizeof(wr) - 1);
            call(fd, XS_TRANSACTION_END, tx, "T", 2);
        } else {
            fprintf(stderr, "unknown mode %s\n", mode);
            return 2;
        }
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    printf("%.0f\n", (double)n / secs);
    return 0;
}
