/* See vbd_nbd.h: the flush of a writable disk's qemu-nbd, as its second
 * client. Only what a flush needs of the NBD protocol (the fixed
 * newstyle handshake, NBD_OPT_GO, NBD_CMD_FLUSH, NBD_CMD_DISC); every
 * length and magic the server sends is checked, and a server slower than
 * the timeout fails it. */
#include "vbd_nbd.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define NBD_MAGIC 0x4e42444d41474943ull           /* "NBDMAGIC" */
#define NBD_IHAVEOPT 0x49484156454f5054ull        /* "IHAVEOPT" */
#define NBD_REP_MAGIC 0x0003e889045565a9ull
#define NBD_REQUEST_MAGIC 0x25609513u
#define NBD_SIMPLE_REPLY_MAGIC 0x67446698u
#define NBD_FLAG_FIXED_NEWSTYLE 1u
#define NBD_FLAG_NO_ZEROES 2u
#define NBD_OPT_GO 7u
#define NBD_REP_ACK 1u
#define NBD_REP_INFO 3u
#define NBD_REP_ERR_BIT 0x80000000u
#define NBD_INFO_EXPORT 0u
#define NBD_FLAG_HAS_FLAGS 1u
#define NBD_FLAG_READ_ONLY 2u
#define NBD_FLAG_SEND_FLUSH 4u
#define NBD_CMD_DISC 2u
#define NBD_CMD_FLUSH 3u
#define MAX_REPLIES 32
#define MAX_REPLY_LEN 4096

static int put_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? -errno : -EIO;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int get_all(int fd, void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n) {
        ssize_t k = recv(fd, p, n, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? (errno == EAGAIN ? -ETIMEDOUT : -errno) : -ECONNRESET;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static uint64_t be64(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

static uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint8_t *put64(uint8_t *b, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        b[i] = (uint8_t)v;
    return b + 8;
}

static uint8_t *put32(uint8_t *b, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        b[i] = (uint8_t)v;
    return b + 4;
}

static uint8_t *put16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
    return b + 2;
}

/* A request of `type` with no data. */
static int request(int fd, uint16_t type, uint64_t handle)
{
    uint8_t b[28], *p = put32(b, NBD_REQUEST_MAGIC);
    p = put16(p, 0);
    p = put16(p, type);
    p = put64(p, handle);
    p = put64(p, 0);
    put32(p, 0);
    return put_all(fd, b, sizeof(b));
}

/* The handshake up to the transmission phase; *tflags the export's. */
static int handshake(int fd, uint16_t *tflags, const char **why)
{
    uint8_t b[20];
    int rc = get_all(fd, b, 18);
    if (rc < 0)
        return *why = "no greeting", rc;
    uint16_t hflags = (uint16_t)(b[16] << 8 | b[17]);
    if (be64(b) != NBD_MAGIC || be64(b + 8) != NBD_IHAVEOPT ||
        !(hflags & NBD_FLAG_FIXED_NEWSTYLE))
        return *why = "not a fixed-newstyle NBD server", -EPROTO;
    bool no_zeroes = hflags & NBD_FLAG_NO_ZEROES;
    uint8_t o[4 + 16 + 6], *p = put32(o, NBD_FLAG_FIXED_NEWSTYLE |
                                             (no_zeroes ? NBD_FLAG_NO_ZEROES : 0));
    p = put64(p, NBD_IHAVEOPT);
    p = put32(p, NBD_OPT_GO);
    p = put32(p, 6);
    p = put32(p, 0);            /* the default export: an empty name */
    put16(p, 0);                /* no information requests */
    if ((rc = put_all(fd, o, sizeof(o))) < 0)
        return *why = "cannot send NBD_OPT_GO", rc;
    bool have_flags = false;
    for (int i = 0; i < MAX_REPLIES; i++) {
        if ((rc = get_all(fd, b, 20)) < 0)
            return *why = "no option reply", rc;
        uint32_t type = be32(b + 12), len = be32(b + 16);
        if (be64(b) != NBD_REP_MAGIC || be32(b + 8) != NBD_OPT_GO || len > MAX_REPLY_LEN)
            return *why = "a malformed option reply", -EPROTO;
        uint8_t data[MAX_REPLY_LEN];
        if (len && (rc = get_all(fd, data, len)) < 0)
            return *why = "a short option reply", rc;
        if (type & NBD_REP_ERR_BIT)
            return *why = "the export refused NBD_OPT_GO", -EIO;
        if (type == NBD_REP_INFO && len >= 12 && (data[0] << 8 | data[1]) == NBD_INFO_EXPORT) {
            *tflags = (uint16_t)(data[10] << 8 | data[11]);
            have_flags = true;
        }
        if (type == NBD_REP_ACK)
            return have_flags ? 0 : (*why = "no export information", -EPROTO);
    }
    return *why = "too many option replies", -EPROTO;
}

int vbd_nbd_flush_socket(const char *sock, unsigned timeout_ms, const char **why)
{
    *why = "";
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (strlen(sock) >= sizeof(a.sun_path))
        return *why = "socket path too long", -ENAMETOOLONG;
    memcpy(a.sun_path, sock, strlen(sock) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return *why = "socket", -errno;
    struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int rc = connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ? -errno : 0;
    if (rc < 0)
        *why = "cannot connect";
    uint16_t tflags = 0;
    if (rc == 0)
        rc = handshake(fd, &tflags, why);
    if (rc == 0 && (!(tflags & NBD_FLAG_HAS_FLAGS) || (tflags & NBD_FLAG_READ_ONLY) ||
                    !(tflags & NBD_FLAG_SEND_FLUSH))) {
        *why = "the export is read-only or takes no flush";
        rc = -EOPNOTSUPP;
    }
    const uint64_t handle = 0x78656e6f6e666cull;      /* "xenonfl" */
    if (rc == 0 && (rc = request(fd, NBD_CMD_FLUSH, handle)) < 0)
        *why = "cannot send NBD_CMD_FLUSH";
    uint8_t r[16];
    if (rc == 0 && (rc = get_all(fd, r, sizeof(r))) < 0)
        *why = "no reply to NBD_CMD_FLUSH";
    if (rc == 0 && (be32(r) != NBD_SIMPLE_REPLY_MAGIC || be64(r + 8) != handle)) {
        *why = "a malformed reply to NBD_CMD_FLUSH";
        rc = -EPROTO;
    }
    if (rc == 0 && be32(r + 4)) {
        *why = "the server failed the flush";
        rc = -EIO;
    }
    if (rc == 0)
        (void)request(fd, NBD_CMD_DISC, 0);
    close(fd);
    return rc;
}
