/*
 * xl's migration handshake (libxenon/migrate_proto.c) against a scripted
 * peer over a socketpair: the bytes each side sends are those Xen's xl
 * sends (spelled out here from tools/xl/xl.h, independently of the code
 * under test), each reader refuses a wrong or short message by name and
 * reads nothing beyond its own; and a whole exchange between a sender and
 * a receiver process, with a save file's first bytes between the steps.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "migrate_proto.h"
#include "savefile.h"

/* What xl sends: the banner without a NUL, the rest with one. */
#define XL_BANNER "xl migration receiver ready, send binary domain data.\n"
#define XL_READY "domain received, ready to unpause"
#define XL_GO "domain is yours, you are cleared to unpause"
#define XL_REPORT "my copy unpause results are as follows"
#define CONFIG "{\"c_info\":{\"name\":\"guest\"}}"

struct pair {
    int us, peer;
    struct stream_sink out;
    struct stream_source in;
    char err[256];
};

static int setup(void **state)
{
    struct pair *p = calloc(1, sizeof(*p));
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    p->us = sv[0];
    p->peer = sv[1];
    stream_sink_fd(&p->out, &p->us);
    stream_source_fd(&p->in, &p->us);
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    struct pair *p = *state;
    close(p->us);
    if (p->peer >= 0)
        close(p->peer);
    free(p);
    return 0;
}

static void peer_says(struct pair *p, const void *b, size_t n)
{
    assert_int_equal(write(p->peer, b, n), (ssize_t)n);
}

/* The peer reads exactly n bytes and they must be b; nothing else came. */
static void peer_hears(struct pair *p, const void *b, size_t n)
{
    char buf[128];
    assert_true(n <= sizeof(buf));
    assert_int_equal(recv(p->peer, buf, sizeof(buf), MSG_DONTWAIT), (ssize_t)n);
    assert_memory_equal(buf, b, n);
}

static void lengths_as_xl(void **state)
{
    (void)state;
    assert_int_equal(migrate_msg_len(migrate_banner), strlen(XL_BANNER));
    assert_int_equal(migrate_msg_len(migrate_banner), 54);
    assert_int_equal(migrate_msg_len(migrate_ready), sizeof(XL_READY));
    assert_int_equal(migrate_msg_len(migrate_go), sizeof(XL_GO));
    assert_int_equal(migrate_msg_len(migrate_report_msg), sizeof(XL_REPORT));
}

/* The receiver's bytes, as xl's sender expects them. */
static void receiver_sends_xl_bytes(void **state)
{
    struct pair *p = *state;
    assert_int_equal(migrate_send_banner(&p->out), 0);
    peer_hears(p, XL_BANNER, strlen(XL_BANNER));
    assert_int_equal(migrate_send_ready(&p->out), 0);
    peer_hears(p, XL_READY, sizeof(XL_READY));
    assert_int_equal(migrate_send_report(&p->out, 0), 0);
    peer_hears(p, XL_REPORT "\0", sizeof(XL_REPORT) + 1);
    /* A libxl error code goes negated, as xl's rc_buf = -rc. */
    assert_int_equal(migrate_send_report(&p->out, -3), 0);
    peer_hears(p, XL_REPORT "\0\3", sizeof(XL_REPORT) + 1);
    assert_int_equal(migrate_send_report(&p->out, MIGRATE_STATUS_FAIL), 0);
    peer_hears(p, XL_REPORT "\0\3", sizeof(XL_REPORT) + 1);
    assert_int_equal(migrate_send_report(&p->out, -256), -EINVAL);
    assert_int_equal(migrate_send_resume(&p->out), 0);
    peer_hears(p, XL_GO, sizeof(XL_GO));
}

static void sender_sends_xl_bytes(void **state)
{
    struct pair *p = *state;
    assert_int_equal(migrate_send_go(&p->out), 0);
    peer_hears(p, XL_GO, sizeof(XL_GO));
}

/* The sender reads xl's receiver, one message at a time and no further:
 * the save file's first bytes after the banner stay in the stream. */
static void sender_reads_xl_receiver(void **state)
{
    struct pair *p = *state;
    peer_says(p, XL_BANNER "NEXT", strlen(XL_BANNER) + 4);
    assert_int_equal(migrate_recv_banner(&p->in, p->err, sizeof(p->err)), 0);
    char next[4];
    assert_int_equal(read(p->us, next, 4), 4);
    assert_memory_equal(next, "NEXT", 4);
    peer_says(p, XL_READY, sizeof(XL_READY));
    assert_int_equal(migrate_recv_ready(&p->in, p->err, sizeof(p->err)), 0);
    uint8_t status = 0xff;
    peer_says(p, XL_REPORT "\0", sizeof(XL_REPORT) + 1);
    assert_int_equal(migrate_recv_report(&p->in, &status, p->err, sizeof(p->err)), 0);
    assert_int_equal(status, 0);
    /* A failure: its code, then permission to resume. */
    peer_says(p, XL_REPORT "\0\3" XL_GO, sizeof(XL_REPORT) + 1 + sizeof(XL_GO));
    assert_int_equal(migrate_recv_report(&p->in, &status, p->err, sizeof(p->err)), 0);
    assert_int_equal(status, 3);
    assert_int_equal(migrate_recv_resume(&p->in, p->err, sizeof(p->err)), 0);
    /* The receiver reads the sender's go. */
    peer_says(p, XL_GO, sizeof(XL_GO));
    assert_int_equal(migrate_recv_go(&p->in, p->err, sizeof(p->err)), 0);
}

static void expect(struct pair *p, int rc, int want, const char *what)
{
    assert_int_equal(rc, want);
    if (!strstr(p->err, what))
        fail_msg("error \"%s\" does not name \"%s\"", p->err, what);
}

/* A wrong byte anywhere, a missing NUL, a NUL too many, another
 * program's greeting: refused, naming the message. */
static void wrong_bytes_refused(void **state)
{
    struct pair *p = *state;
    char bad[sizeof(XL_BANNER)];
    memcpy(bad, XL_BANNER, sizeof(bad));
    bad[20] ^= 1;
    peer_says(p, bad, strlen(XL_BANNER));
    expect(p, migrate_recv_banner(&p->in, p->err, sizeof(p->err)), -EPROTO,
           "unexpected data instead of the banner (differs at byte 20");

    /* The ready message without its NUL, followed by the next message:
     * the NUL's place holds another byte. */
    peer_says(p, XL_READY, strlen(XL_READY));
    peer_says(p, XL_REPORT, 1);
    expect(p, migrate_recv_ready(&p->in, p->err, sizeof(p->err)), -EPROTO,
           "ready message");

    peer_says(p, "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n-----------------------",
              strlen(XL_BANNER));
    expect(p, migrate_recv_banner(&p->in, p->err, sizeof(p->err)), -EPROTO,
           "differs at byte 0");

    peer_says(p, XL_GO, sizeof(XL_GO) - 1);
    peer_says(p, "x", 1);
    expect(p, migrate_recv_go(&p->in, p->err, sizeof(p->err)), -EPROTO,
           "GO message");

    uint8_t status;
    char other[sizeof(XL_REPORT)] = XL_READY;     /* a report expected */
    peer_says(p, other, sizeof(other));
    expect(p, migrate_recv_report(&p->in, &status, p->err, sizeof(p->err)),
           -EPROTO, "success/failure report message");
}

/* The peer goes away: mid-message, or after the report before its byte. */
static void short_refused(void **state)
{
    struct pair *p = *state;
    peer_says(p, XL_BANNER, 30);
    close(p->peer);
    p->peer = -1;
    expect(p, migrate_recv_banner(&p->in, p->err, sizeof(p->err)), -ENODATA,
           "ended before the whole banner");
}

static void short_status_refused(void **state)
{
    struct pair *p = *state;
    uint8_t status;
    peer_says(p, XL_REPORT, sizeof(XL_REPORT));
    close(p->peer);
    p->peer = -1;
    expect(p, migrate_recv_report(&p->in, &status, p->err, sizeof(p->err)),
           -ENODATA, "status byte");
    expect(p, migrate_recv_resume(&p->in, p->err, sizeof(p->err)), -ENODATA,
           "permission for sender to resume");
}

/* A whole exchange: a receiver process, the sender here, xl's order, the
 * save file's start (xl header with the config) between the steps. */
static void whole_exchange(void **state)
{
    struct pair *p = *state;
    /* How long the save file's start is, so the receiver reads it all. */
    struct stream_membuf start = { 0 };
    struct stream_sink ms;
    stream_sink_mem(&ms, &start);
    assert_int_equal(savefile_write_start(&ms, CONFIG), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        int fd = p->peer;
        struct stream_sink out;
        struct stream_source in;
        stream_sink_fd(&out, &fd);
        stream_source_fd(&in, &fd);
        char err[256], head[256];
        if (migrate_send_banner(&out))
            _exit(10);
        /* The xl header's magic is the first thing that comes. */
        if (start.len > sizeof(head) || stream_get(&in, head, start.len) ||
            memcmp(head, start.data, start.len) ||
            memcmp(head, "Xen saved domain, xl format\n \0 \r", 32))
            _exit(11);
        if (migrate_send_ready(&out) || migrate_recv_go(&in, err, sizeof(err)))
            _exit(12);
        if (migrate_send_report(&out, 0))
            _exit(13);
        _exit(0);
    }
    close(p->peer);
    p->peer = -1;
    assert_int_equal(migrate_recv_banner(&p->in, p->err, sizeof(p->err)), 0);
    assert_int_equal(savefile_write_start(&p->out, CONFIG), 0);
    assert_int_equal(migrate_recv_ready(&p->in, p->err, sizeof(p->err)), 0);
    assert_int_equal(migrate_send_go(&p->out), 0);
    uint8_t status = 0xff;
    assert_int_equal(migrate_recv_report(&p->in, &status, p->err, sizeof(p->err)), 0);
    assert_int_equal(status, 0);
    int ws;
    assert_int_equal(waitpid(child, &ws, 0), child);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    free(start.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lengths_as_xl),
        cmocka_unit_test_setup_teardown(receiver_sends_xl_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(sender_sends_xl_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(sender_reads_xl_receiver, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_bytes_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(short_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(short_status_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(whole_exchange, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
