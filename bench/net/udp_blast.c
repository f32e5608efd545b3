/*
 * udp-blast: the UDP traffic of the network benchmark (bench/net/), fast
 * enough that the path measured, not the tool, is what limits.
 *
 *   udp-blast send IPV4 PORT PAYLOAD SECS    send PAYLOAD-byte datagrams as
 *       fast as sendmmsg goes for SECS seconds; prints "sent N"
 *   udp-blast sink PORT SECS                 count datagrams (recvmmsg) for
 *       SECS seconds after the first; prints "got N BYTES NS"
 *
 * Both print their CPU time (getrusage, user+system, ns) as "cpu_ns C".
 * Addresses come from the benchmark: only its own namespaces' addresses.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_PAYLOAD 65507

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uint64_t cpu_ns(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (uint64_t)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1000000000ull +
           (uint64_t)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1000ull;
}

static unsigned long arg(const char *s, unsigned long max)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || end == s || v > max) {
        fprintf(stderr, "udp-blast: bad number %s\n", s);
        exit(2);
    }
    return v;
}

static int do_send(const char *ip, unsigned port, unsigned len, unsigned secs)
{
    static uint8_t payload[MAX_PAYLOAD];
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, ip, &to.sin_addr) != 1) {
        fprintf(stderr, "udp-blast: bad address %s\n", ip);
        return 2;
    }
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&to, sizeof(to)) < 0) {
        perror("udp-blast: socket");
        return 1;
    }
    struct iovec iov = { .iov_base = payload, .iov_len = len };
    struct mmsghdr m[BATCH];
    memset(m, 0, sizeof(m));
    for (int i = 0; i < BATCH; i++) {
        m[i].msg_hdr.msg_iov = &iov;
        m[i].msg_hdr.msg_iovlen = 1;
    }
    uint64_t sent = 0, end = now_ns() + secs * 1000000000ull;
    while (now_ns() < end) {
        int n = sendmmsg(s, m, BATCH, 0);
        if (n > 0)
            sent += (uint64_t)n;
        /* ECONNREFUSED (an ICMP error), ENOBUFS: go on. */
    }
    printf("sent %llu\ncpu_ns %llu\n", (unsigned long long)sent, (unsigned long long)cpu_ns());
    return 0;
}

static int do_sink(unsigned port, unsigned secs)
{
    static uint8_t bufs[BATCH][2048];
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_ANY) };
    int big = 8 << 20;
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    if (s < 0 || bind(s, (struct sockaddr *)&me, sizeof(me)) < 0) {
        perror("udp-blast: bind");
        return 1;
    }
    struct iovec iov[BATCH];
    struct mmsghdr m[BATCH];
    memset(m, 0, sizeof(m));
    for (int i = 0; i < BATCH; i++) {
        iov[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = sizeof(bufs[i]) };
        m[i].msg_hdr.msg_iov = &iov[i];
        m[i].msg_hdr.msg_iovlen = 1;
    }
    struct timeval tv = { .tv_sec = 1 };
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    uint64_t got = 0, bytes = 0, t0 = 0, end = 0, idle_since = now_ns();
    for (;;) {
        int n = recvmmsg(s, m, BATCH, 0, NULL);
        uint64_t t = now_ns();
        if (n <= 0) {
            if (t0 ? t >= end : t - idle_since > 30000000000ull)
                break;
            continue;
        }
        if (!t0) {
            t0 = t;
            end = t0 + secs * 1000000000ull;
        }
        if (t >= end)
            break;
        got += (uint64_t)n;
        for (int i = 0; i < n; i++)
            bytes += m[i].msg_len;
    }
    printf("got %llu %llu %llu\ncpu_ns %llu\n", (unsigned long long)got,
           (unsigned long long)bytes, (unsigned long long)(t0 ? now_ns() - t0 : 0),
           (unsigned long long)cpu_ns());
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 6 && strcmp(argv[1], "send") == 0)
        return do_send(argv[2], (unsigned)arg(argv[3], 65535), (unsigned)arg(argv[4], MAX_PAYLOAD),
                       (unsigned)arg(argv[5], 3600));
    if (argc == 4 && strcmp(argv[1], "sink") == 0)
        return do_sink((unsigned)arg(argv[2], 65535), (unsigned)arg(argv[3], 3600));
    fprintf(stderr, "usage: udp-blast send IPV4 PORT PAYLOAD SECS | sink PORT SECS\n");
    return 2;
}
