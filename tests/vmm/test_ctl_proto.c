/* Unit tests of the control channel's codec: the VMM's framing and checks
 * (vmm/control/ctl_proto.c) against the toolstack's encoder and reply
 * decoder (libxenon/vmm_control.c), both ways. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl_proto.h"
#include "vmm_control.h"

static size_t req(uint8_t *buf, uint16_t type, uint32_t id, const void *p, size_t len)
{
    size_t n = vmmctl_encode_request(buf, CTL_MAX_MESSAGE, type, id, p, len);
    assert_int_equal(n, sizeof(struct xenon_ctl_hdr) + len);
    return n;
}

static void set_hdr(uint8_t *buf, size_t off, uint32_t v, size_t size)
{
    memcpy(buf + off, &v, size);
}

static void test_hello_round_trip(void **state)
{
    (void)state;
    uint8_t buf[CTL_MAX_MESSAGE];
    struct xenon_ctl_hello h = { .version = XENON_CONTRACT_VERSION };
    size_t n = req(buf, XENON_CTL_HELLO, 42, &h, sizeof(h));
    struct xenon_ctl_hdr hdr;
    size_t total = 0;
    int err = 0;
    assert_int_equal(ctl_frame(buf, n, &hdr, &total, &err), CTL_FRAME_OK);
    assert_int_equal(total, n);
    struct ctl_request r;
    assert_int_equal(ctl_check_request(&hdr, buf + sizeof(hdr), &r), 0);
    assert_int_equal(r.type, XENON_CTL_HELLO);
    assert_int_equal(r.id, 42);
    assert_int_equal(r.u.hello.version, XENON_CONTRACT_VERSION);
}

static void test_frame_needs_whole_message(void **state)
{
    (void)state;
    uint8_t buf[CTL_MAX_MESSAGE];
    struct xenon_ctl_shutdown s = { .reason = 1 };
    size_t n = req(buf, XENON_CTL_SHUTDOWN, 1, &s, sizeof(s));
    struct xenon_ctl_hdr hdr;
    size_t total;
    int err;
    for (size_t k = 0; k < n; k++)
        assert_int_equal(ctl_frame(buf, k, &hdr, &total, &err), CTL_FRAME_MORE);
    assert_int_equal(ctl_frame(buf, n, &hdr, &total, &err), CTL_FRAME_OK);
}

static void test_frame_rejects_bad_headers(void **state)
{
    (void)state;
    uint8_t buf[CTL_MAX_MESSAGE];
    struct xenon_ctl_hdr hdr;
    size_t total;
    int err = 0;
    size_t n = req(buf, XENON_CTL_INFO, 1, NULL, 0);
    buf[0] ^= 1;                                    /* magic */
    assert_int_equal(ctl_frame(buf, 3, &hdr, &total, &err), CTL_FRAME_MORE);
    assert_int_equal(ctl_frame(buf, 4, &hdr, &total, &err), CTL_FRAME_BAD);
    assert_int_equal(err, -EPROTO);
    n = req(buf, XENON_CTL_INFO, 1, NULL, 0);
    set_hdr(buf, offsetof(struct xenon_ctl_hdr, version), XENON_CONTRACT_VERSION + 1, 2);
    assert_int_equal(ctl_frame(buf, n, &hdr, &total, &err), CTL_FRAME_BAD);
    assert_int_equal(err, -EPROTONOSUPPORT);
    n = req(buf, XENON_CTL_INFO, 1, NULL, 0);
    set_hdr(buf, offsetof(struct xenon_ctl_hdr, len), XENON_CTL_MAX_PAYLOAD + 1, 4);
    assert_int_equal(ctl_frame(buf, n, &hdr, &total, &err), CTL_FRAME_BAD);
    assert_int_equal(err, -EMSGSIZE);
    set_hdr(buf, offsetof(struct xenon_ctl_hdr, len), 0xffffffffu, 4);
    assert_int_equal(ctl_frame(buf, n, &hdr, &total, &err), CTL_FRAME_BAD);
    assert_int_equal(err, -EMSGSIZE);
    /* The limit itself is a valid length: the whole message is awaited. */
    set_hdr(buf, offsetof(struct xenon_ctl_hdr, len), XENON_CTL_MAX_PAYLOAD, 4);
    assert_int_equal(ctl_frame(buf, n, &hdr, &total, &err), CTL_FRAME_MORE);
    assert_int_equal(ctl_frame(buf, CTL_MAX_MESSAGE, &hdr, &total, &err), CTL_FRAME_OK);
    assert_int_equal(total, CTL_MAX_MESSAGE);
}

static int check(uint16_t type, const void *p, size_t len, struct ctl_request *r)
{
    uint8_t buf[CTL_MAX_MESSAGE];
    size_t n = req(buf, type, 7, p, len);
    struct xenon_ctl_hdr hdr;
    size_t total;
    int err;
    assert_int_equal(ctl_frame(buf, n, &hdr, &total, &err), CTL_FRAME_OK);
    return ctl_check_request(&hdr, buf + sizeof(hdr), r);
}

static void test_request_checks(void **state)
{
    (void)state;
    struct ctl_request r;
    uint8_t zero[16] = { 0 };
    /* Exact payload sizes. */
    uint16_t empty[] = { XENON_CTL_PAUSE, XENON_CTL_UNPAUSE, XENON_CTL_INFO, XENON_CTL_GO,
                         XENON_CTL_STATE_CHECK };
    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        assert_int_equal(check(empty[i], NULL, 0, &r), 0);
        assert_int_equal(r.type, empty[i]);
        assert_int_equal(check(empty[i], zero, 1, &r), -EINVAL);
    }
    assert_int_equal(check(XENON_CTL_HELLO, zero, 4, &r), -EINVAL);
    assert_int_equal(check(XENON_CTL_HELLO, zero, 12, &r), -EINVAL);
    assert_int_equal(check(XENON_CTL_SHUTDOWN, zero, 0, &r), -EINVAL);
    /* Values and reserved fields. */
    for (uint32_t reason = 0; reason <= 5; reason++) {
        struct xenon_ctl_shutdown s = { .reason = reason };
        assert_int_equal(check(XENON_CTL_SHUTDOWN, &s, sizeof(s), &r), 0);
        assert_int_equal(r.u.shutdown.reason, reason);
    }
    struct xenon_ctl_shutdown s = { .reason = 6 };
    assert_int_equal(check(XENON_CTL_SHUTDOWN, &s, sizeof(s), &r), -EINVAL);
    s = (struct xenon_ctl_shutdown){ .reason = 0x80000000u };
    assert_int_equal(check(XENON_CTL_SHUTDOWN, &s, sizeof(s), &r), -EINVAL);
    s = (struct xenon_ctl_shutdown){ .reason = 0, .reserved = 1 };
    assert_int_equal(check(XENON_CTL_SHUTDOWN, &s, sizeof(s), &r), -EINVAL);
    struct xenon_ctl_hello h = { .version = 1, .reserved = 2 };
    assert_int_equal(check(XENON_CTL_HELLO, &h, sizeof(h), &r), -EINVAL);
    /* Types: reserved, unknown, replies and notices. */
    for (uint16_t t = XENON_CTL_RESERVED_FIRST; t <= XENON_CTL_RESERVED_LAST; t++)
        if (t != XENON_CTL_DEVICE_ATTACH && t != XENON_CTL_DEVICE_DETACH &&
            t != XENON_CTL_SAVE && t != XENON_CTL_RESTORE && t != XENON_CTL_RESUME)
            assert_int_equal(check(t, NULL, 0, &r), -EOPNOTSUPP);
    /* SAVE / RESTORE: a known part, no flags (LIVE on a SAVE IMAGE only), a length
     * only for a restore of the devices part, and within its bound. */
    struct xenon_ctl_save sv = { .part = XENON_SAVE_PART_IMAGE };
    assert_int_equal(check(XENON_CTL_SAVE, &sv, sizeof(sv), &r), 0);
    assert_int_equal(r.u.save.part, XENON_SAVE_PART_IMAGE);
    assert_int_equal(check(XENON_CTL_RESTORE, &sv, sizeof(sv), &r), 0);
    assert_int_equal(check(XENON_CTL_SAVE, NULL, 0, &r), -EINVAL);
    assert_int_equal(check(XENON_CTL_RESUME, NULL, 0, &r), 0);
    sv.part = 3;
    assert_int_equal(check(XENON_CTL_SAVE, &sv, sizeof(sv), &r), -EINVAL);
    sv = (struct xenon_ctl_save){ .part = XENON_SAVE_PART_IMAGE, .flags = XENON_SAVE_F_LIVE };
    assert_int_equal(check(XENON_CTL_SAVE, &sv, sizeof(sv), &r), 0);
    assert_int_equal(r.u.save.flags, XENON_SAVE_F_LIVE);
    assert_int_equal(check(XENON_CTL_RESTORE, &sv, sizeof(sv), &r), -EINVAL);
    sv.part = XENON_SAVE_PART_DEVICES;
    assert_int_equal(check(XENON_CTL_SAVE, &sv, sizeof(sv), &r), -EINVAL);
    sv = (struct xenon_ctl_save){ .part = XENON_SAVE_PART_IMAGE, .flags = 2 };
    assert_int_equal(check(XENON_CTL_SAVE, &sv, sizeof(sv), &r), -EINVAL);
    sv = (struct xenon_ctl_save){ .part = XENON_SAVE_PART_DEVICES, .length = 64 };
    assert_int_equal(check(XENON_CTL_SAVE, &sv, sizeof(sv), &r), -EINVAL);
    assert_int_equal(check(XENON_CTL_RESTORE, &sv, sizeof(sv), &r), 0);
    assert_int_equal(r.u.save.length, 64);
    sv.length = XENON_SAVE_MAX_DEVICES + 1ull;
    assert_int_equal(check(XENON_CTL_RESTORE, &sv, sizeof(sv), &r), -EINVAL);
    assert_int_equal(check(XENON_CTL_DEVICE_ATTACH, NULL, 0, &r), -EINVAL);
    assert_int_equal(check(XENON_CTL_DEVICE_DETACH, NULL, 0, &r), -EINVAL);
    assert_int_equal(check(0, NULL, 0, &r), -ENOSYS);
    assert_int_equal(check(8, NULL, 0, &r), -ENOSYS);
    assert_int_equal(check(XENON_CTL_INFO | XENON_CTL_REPLY, NULL, 0, &r), -ENOSYS);
    assert_int_equal(check(XENON_CTL_NOTICE_BUILT, NULL, 0, &r), -ENOSYS);
    assert_int_equal(check(0xffff, NULL, 0, &r), -ENOSYS);
}

/* DEVICE_ATTACH: every field checked before a backend sees it. */
static void test_device_attach(void **state)
{
    (void)state;
    struct ctl_request r;
    struct xenon_ctl_device_attach a = { .kind = XENON_DEV_VBD, .devid = 51712 };
    strcpy(a.backend, "/local/domain/0/backend/vbd/3/51712");
    assert_int_equal(check(XENON_CTL_DEVICE_ATTACH, &a, sizeof(a), &r), 0);
    assert_int_equal(r.u.attach.devid, 51712);
    assert_string_equal(r.u.attach.backend, a.backend);
    struct xenon_ctl_device_attach b = a;
    b.flags = XENON_DEV_F_CDROM | XENON_DEV_F_EMPTY | XENON_DEV_F_READONLY;
    assert_int_equal(check(XENON_CTL_DEVICE_ATTACH, &b, sizeof(b), &r), 0);
    b.flags = XENON_DEV_F_EMPTY;                    /* empty needs cdrom */
    assert_int_equal(check(XENON_CTL_DEVICE_ATTACH, &b, sizeof(b), &r), -EINVAL);
    b = a, b.flags = XENON_DEV_F_NO_DISCARD;
    assert_int_equal(check(XENON_CTL_DEVICE_ATTACH, &b, sizeof(b), &r), 0);
    b = a, b.flags = XENON_DEV_F_NBD | XENON_DEV_F_READONLY;
    assert_int_equal(check(XENON_CTL_DEVICE_ATTACH, &b, sizeof(b), &r), 0);
    b = a, b.flags = XENON_DEV_F_NBD | XENON_DEV_F_EMPTY | XENON_DEV_F_CDROM;
    assert_int_equal(check(XENON_CTL_DEVICE_ATTACH, &b, sizeof(b), &r), -EINVAL);
    b = a, b.kind = XENON_DEV_VIF, b.flags = XENON_DEV_F_NBD;
    assert_int_equal(check(XENON_CTL_DEVICE_ATTACH, &b, sizeof(b), &r), -EINVAL);
    b = a, b.flags = 0x20;
    assert_int_equal(check(XENON_CTL_DEVICE_ATTACH, &b, sizeof(b), &r), -EINVAL);
    b = a, b.kind = 3;
    assert_int_equal(check(XENON_CTL_DEVICE_ATTACH, &b, sizeof(b), &r), -EINVAL);
    b = a, b.reserved = 1;
    assert_int_equal(check(XENON_CTL_DEVICE_ATTACH, &b, sizeof(b), &r), -EINVAL);
    b = a, b.kind = XENON_DEV_VIF, b.flags = XENON_DEV_F_READONLY;
    assert_int_equal(check(XENON_CTL_DEVICE_ATTACH, &b, sizeof(b), &r), -EINVAL);
    const char *bad[] = { "/local/domain/1/backend/vbd/3/1", "/local/domain/0/backend/",
                          "/local/domain/0/backend/vbd//1", "/local/domain/0/backend/vbd/",
                          "/local/domain/0/backend/v.d/1", "relative/path" };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        b = a;
        memset(b.backend, 0, sizeof(b.backend));
        strcpy(b.backend, bad[i]);
        assert_int_equal(check(XENON_CTL_DEVICE_ATTACH, &b, sizeof(b), &r), -EINVAL);
    }
    b = a, b.backend[sizeof(b.backend) - 1] = 'x';  /* garbage after the NUL */
    assert_int_equal(check(XENON_CTL_DEVICE_ATTACH, &b, sizeof(b), &r), -EINVAL);
    memset(b.backend, 'a', sizeof(b.backend));       /* no NUL at all */
    assert_int_equal(check(XENON_CTL_DEVICE_ATTACH, &b, sizeof(b), &r), -EINVAL);
    assert_int_equal(check(XENON_CTL_DEVICE_ATTACH, &a, sizeof(a) - 1, &r), -EINVAL);
    struct xenon_ctl_device_detach dt = { .kind = XENON_DEV_VIF, .devid = 0 };
    assert_int_equal(check(XENON_CTL_DEVICE_DETACH, &dt, sizeof(dt), &r), 0);
    dt.kind = 0;
    assert_int_equal(check(XENON_CTL_DEVICE_DETACH, &dt, sizeof(dt), &r), -EINVAL);
}

static void test_reply_round_trip(void **state)
{
    (void)state;
    uint8_t buf[CTL_MAX_MESSAGE];
    struct xenon_ctl_hello_reply hr = { .version = 1, .domid = 3, .nr_vcpus = 2, .pid = 99 };
    size_t n = ctl_encode_reply(buf, sizeof(buf), XENON_CTL_HELLO, 5, 0, &hr, sizeof(hr));
    assert_int_equal(n, sizeof(struct xenon_ctl_hdr) + 8 + sizeof(hr));
    int32_t st;
    const uint8_t *body;
    size_t blen;
    assert_int_equal(vmmctl_decode_reply(buf, n, XENON_CTL_HELLO, 5, &st, &body, &blen), 0);
    assert_int_equal(st, 0);
    assert_int_equal(blen, sizeof(hr));
    assert_memory_equal(body, &hr, sizeof(hr));
    /* Not the reply asked for, or cut short. */
    assert_int_equal(vmmctl_decode_reply(buf, n, XENON_CTL_HELLO, 6, &st, &body, &blen), -EPROTO);
    assert_int_equal(vmmctl_decode_reply(buf, n, XENON_CTL_INFO, 5, &st, &body, &blen), -EPROTO);
    assert_int_equal(vmmctl_decode_reply(buf, n - 1, XENON_CTL_HELLO, 5, &st, &body, &blen), -EPROTO);
    assert_int_equal(vmmctl_decode_reply(buf, 20, XENON_CTL_HELLO, 5, &st, &body, &blen), -EPROTO);
    /* An error carries no body, even when one is offered. */
    n = ctl_encode_reply(buf, sizeof(buf), XENON_CTL_PAUSE, 1, -ETIMEDOUT, &hr, sizeof(hr));
    assert_int_equal(n, sizeof(struct xenon_ctl_hdr) + 8);
    assert_int_equal(vmmctl_decode_reply(buf, n, XENON_CTL_PAUSE, 1, &st, &body, &blen), 0);
    assert_int_equal(st, -ETIMEDOUT);
    assert_int_equal(blen, 0);
    /* A positive status is no errno. */
    n = ctl_encode_reply(buf, sizeof(buf), XENON_CTL_PAUSE, 1, 5, NULL, 0);
    assert_int_equal(vmmctl_decode_reply(buf, n, XENON_CTL_PAUSE, 1, &st, &body, &blen), -EPROTO);
    /* Too large, or a buffer too small: nothing encoded. */
    assert_int_equal(ctl_encode_reply(buf, sizeof(buf), XENON_CTL_INFO, 1, 0, buf,
                                      XENON_CTL_MAX_PAYLOAD), 0);
    assert_int_equal(ctl_encode_reply(buf, 20, XENON_CTL_INFO, 1, 0, NULL, 0), 0);
    assert_int_equal(vmmctl_encode_request(buf, sizeof(buf), XENON_CTL_INFO, 1, buf,
                                           XENON_CTL_MAX_PAYLOAD + 1), 0);
}

static void test_info_decode(void **state)
{
    (void)state;
    uint8_t body[XENON_CTL_MAX_PAYLOAD];
    struct xenon_ctl_info in = { .state = XENON_CTL_STATE_PAUSED, .shutdown_reason = -1,
                                 .nr_vcpus = 2, .memory_bytes = 16 << 20, .uptime_ns = 5 };
    struct xenon_ctl_vcpu v[2] = { { 100, XENON_CTL_VCPU_PAUSED, -1 },
                                   { 200, XENON_CTL_VCPU_DOWN, 3 } };
    memcpy(body, &in, sizeof(in));
    memcpy(body + sizeof(in), v, sizeof(v));
    struct vmmctl_info out;
    assert_int_equal(vmmctl_decode_info(body, sizeof(in) + sizeof(v), &out), 0);
    assert_int_equal(out.state, XENON_CTL_STATE_PAUSED);
    assert_int_equal(out.nr_vcpus, 2);
    assert_int_equal(out.vcpu[1].cpu_time_ns, 200);
    assert_int_equal(out.memory_bytes, 16 << 20);
    /* Sizes that disagree with the count, too many vCPUs, unknown states. */
    assert_int_equal(vmmctl_decode_info(body, sizeof(in) + sizeof(v) - 1, &out), -EPROTO);
    assert_int_equal(vmmctl_decode_info(body, sizeof(in) - 1, &out), -EPROTO);
    in.nr_vcpus = XENON_CTL_MAX_VCPUS + 1;
    memcpy(body, &in, sizeof(in));
    assert_int_equal(vmmctl_decode_info(body, sizeof(in) + (XENON_CTL_MAX_VCPUS + 1) * 16, &out),
                     -EPROTO);
    in.nr_vcpus = 2;
    in.state = 9;
    memcpy(body, &in, sizeof(in));
    assert_int_equal(vmmctl_decode_info(body, sizeof(in) + sizeof(v), &out), -EPROTO);
    in.state = XENON_CTL_STATE_RUNNING;
    v[0].state = 4;
    memcpy(body, &in, sizeof(in));
    memcpy(body + sizeof(in), v, sizeof(v));
    assert_int_equal(vmmctl_decode_info(body, sizeof(in) + sizeof(v), &out), -EPROTO);
}

struct seen {
    int requests, errors, last_err;
    uint32_t ids[8];
};

static void on_req(void *o, const struct ctl_request *r)
{
    struct seen *s = o;
    s->ids[s->requests++ % 8] = r->id;
}

static void on_err(void *o, uint16_t type, uint32_t id, int err)
{
    (void)type;
    (void)id;
    struct seen *s = o;
    s->errors++;
    s->last_err = err;
}

static void test_consume_stream(void **state)
{
    (void)state;
    uint8_t buf[4 * CTL_MAX_MESSAGE];
    size_t n = 0;
    n += vmmctl_encode_request(buf + n, sizeof(buf) - n, XENON_CTL_INFO, 1, NULL, 0);
    n += vmmctl_encode_request(buf + n, sizeof(buf) - n, XENON_CTL_PAUSE, 2, "x", 1);
    n += vmmctl_encode_request(buf + n, sizeof(buf) - n, XENON_CTL_GO, 3, NULL, 0);
    size_t whole = n;
    n += vmmctl_encode_request(buf + n, sizeof(buf) - n, XENON_CTL_UNPAUSE, 4, NULL, 0) - 3;
    struct seen s = { 0 };
    struct ctl_sink sink = { on_req, on_err, &s };
    bool close = true;
    /* Two good, one refused (the stream goes on), a partial one kept. */
    assert_int_equal(ctl_consume(buf, n, &sink, &close), whole);
    assert_false(close);
    assert_int_equal(s.requests, 2);
    assert_int_equal(s.ids[0], 1);
    assert_int_equal(s.ids[1], 3);
    assert_int_equal(s.errors, 1);
    assert_int_equal(s.last_err, -EINVAL);
    /* A bad header ends the stream, after the messages before it. */
    s = (struct seen){ 0 };
    n = vmmctl_encode_request(buf, sizeof(buf), XENON_CTL_INFO, 1, NULL, 0);
    memcpy(buf + n, "JUNKJUNKJUNKJUNK", 16);
    assert_int_equal(ctl_consume(buf, n + 16, &sink, &close), n + 16);
    assert_true(close);
    assert_int_equal(s.requests, 1);
    assert_int_equal(s.last_err, -EPROTO);
}

/* --- INFO of many VMMs at once (xl list) ------------------------------- */

static int listen_at(const char *dir, unsigned domid)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof(a.sun_path), "%s/control/%u.sock", dir, domid);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4), 0);
    return fd;
}

static void read_n(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, (uint8_t *)buf + got, n - got);
        if (k <= 0)
            _exit(1);
        got += (size_t)k;
    }
}

/* A VMM's answer to INFO request `req` in state `st`, written in two
 * parts (the reader must assemble it). */
static void answer_info(int c, const struct xenon_ctl_hdr *req, uint32_t st)
{
    uint8_t msg[256];
    struct xenon_ctl_status status = { 0, 0 };
    struct xenon_ctl_info in = { .state = st, .shutdown_reason = -1, .nr_vcpus = 1 };
    struct xenon_ctl_vcpu v = { 7, XENON_CTL_VCPU_BLOCKED, -1 };
    struct xenon_ctl_hdr h = { XENON_CTL_MAGIC, XENON_CONTRACT_VERSION,
                               XENON_CTL_INFO | XENON_CTL_REPLY, req->id,
                               sizeof(status) + sizeof(in) + sizeof(v) };
    size_t n = 0;
    memcpy(msg + n, &h, sizeof(h)), n += sizeof(h);
    memcpy(msg + n, &status, sizeof(status)), n += sizeof(status);
    memcpy(msg + n, &in, sizeof(in)), n += sizeof(in);
    memcpy(msg + n, &v, sizeof(v)), n += sizeof(v);
    if (write(c, msg, 10) != 10)
        _exit(1);
    usleep(20000);
    if (write(c, msg + 10, n - 10) != (ssize_t)(n - 10))
        _exit(1);
}

struct many_result {
    int calls[4];
    int rc[4];
    uint32_t state[4];
};

static void on_many(size_t i, int rc, const struct vmmctl_info *vi, void *opaque)
{
    struct many_result *r = opaque;
    assert_true(i < 4);
    r->calls[i]++;
    r->rc[i] = rc;
    if (rc == 0)
        r->state[i] = vi->state;
}

/* Domains 1 and 2 answer (2 after a notice), 3 hangs up without an
 * answer, 4 has no socket: each gets exactly one outcome. (The timeout
 * is not what ends any of them: nothing here depends on timing.) */
static void test_info_many(void **state)
{
    (void)state;
    char dir[] = "/tmp/test-ctl-many-XXXXXX", sub[64];
    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof(sub), "%s/control", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    int l1 = listen_at(dir, 1), l2 = listen_at(dir, 2), l3 = listen_at(dir, 3);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        struct xenon_ctl_hdr req;
        int c = accept(l1, NULL, NULL);
        read_n(c, &req, sizeof(req));
        if (req.type != XENON_CTL_INFO)
            _exit(1);
        answer_info(c, &req, XENON_CTL_STATE_RUNNING);
        int c2 = accept(l2, NULL, NULL);
        struct xenon_ctl_hdr notice = { XENON_CTL_MAGIC, XENON_CONTRACT_VERSION,
                                        XENON_CTL_NOTICE_BUILT, 0, 0 };
        if (write(c2, &notice, sizeof(notice)) != sizeof(notice))
            _exit(1);
        read_n(c2, &req, sizeof(req));
        answer_info(c2, &req, XENON_CTL_STATE_PAUSED);
        int c3 = accept(l3, NULL, NULL);
        read_n(c3, &req, sizeof(req));
        close(c3);                  /* ends without an answer */
        pause();
        _exit(0);
    }
    const unsigned ids[4] = { 1, 2, 3, 4 };
    struct many_result r;
    memset(&r, 0, sizeof(r));
    vmmctl_domain_info_many(dir, ids, 4, on_many, &r, 60000);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(r.calls[i], 1);
    assert_int_equal(r.rc[0], 0);
    assert_int_equal(r.state[0], XENON_CTL_STATE_RUNNING);
    assert_int_equal(r.rc[1], 0);
    assert_int_equal(r.state[1], XENON_CTL_STATE_PAUSED);
    assert_int_equal(r.rc[2], -EPIPE);
    assert_int_equal(r.rc[3], -ENOENT);
    close(l1);
    close(l2);
    close(l3);
    for (unsigned i = 1; i <= 3; i++) {
        char path[128];
        snprintf(path, sizeof(path), "%s/%u.sock", sub, i);
        unlink(path);
    }
    rmdir(sub);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_round_trip),
        cmocka_unit_test(test_frame_needs_whole_message),
        cmocka_unit_test(test_frame_rejects_bad_headers),
        cmocka_unit_test(test_request_checks),
        cmocka_unit_test(test_device_attach),
        cmocka_unit_test(test_reply_round_trip),
        cmocka_unit_test(test_info_decode),
        cmocka_unit_test(test_consume_stream),
        cmocka_unit_test(test_info_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
