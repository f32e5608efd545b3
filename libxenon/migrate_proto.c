/* xl's migration handshake (contract in migrate_proto.h). */
#include "migrate_proto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* As tools/xl/xl.h has them; the facts, not its text. */
const char migrate_banner[] =
    "xl migration receiver ready, send binary domain data.\n";
const char migrate_ready[] = "domain received, ready to unpause";
const char migrate_go[] = "domain is yours, you are cleared to unpause";
const char migrate_report_msg[] = "my copy unpause results are as follows";

#define MAX_MSG 64

size_t migrate_msg_len(const char *msg)
{
    /* xl sends the banner with sizeof - 1, the others with sizeof. */
    return strlen(msg) + (msg == migrate_banner ? 0 : 1);
}

static int send_msg(struct stream_sink *out, const char *msg)
{
    return stream_put(out, msg, migrate_msg_len(msg));
}

static int seterr(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int seterr(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Read exactly msg's bytes. A short read is told apart from wrong bytes,
 * and the bytes are read one message at a time, never beyond. */
static int recv_msg(struct stream_source *in, const char *msg,
                    const char *what, char *err, size_t errlen)
{
    char buf[MAX_MSG];
    size_t want = migrate_msg_len(msg);
    _Static_assert(sizeof(migrate_banner) <= MAX_MSG, "fits");
    if (err && errlen)
        err[0] = '\0';
    int rc = stream_get(in, buf, want);
    if (rc == -ENODATA)
        return seterr(err, errlen, -ENODATA, "migration stream ended before "
                      "the whole %s (%zu bytes)", what, want);
    if (rc < 0)
        return seterr(err, errlen, rc, "migration stream: reading the %s: %s",
                      what, strerror(-rc));
    if (memcmp(buf, msg, want)) {
        size_t same = 0;
        while (same < want && buf[same] == msg[same])
            same++;
        return seterr(err, errlen, -EPROTO,
                      "migration stream contained unexpected data instead of "
                      "the %s (differs at byte %zu of %zu)", what, same, want);
    }
    return 0;
}

int migrate_send_banner(struct stream_sink *out)
{
    return send_msg(out, migrate_banner);
}

int migrate_send_ready(struct stream_sink *out)
{
    return send_msg(out, migrate_ready);
}

int migrate_recv_go(struct stream_source *in, char *err, size_t errlen)
{
    return recv_msg(in, migrate_go, "GO message", err, errlen);
}

int migrate_send_report(struct stream_sink *out, int libxl_rc)
{
    int code = libxl_rc < 0 ? -libxl_rc : libxl_rc;
    if (code > 255)
        return -EINVAL;
    uint8_t b = (uint8_t)code;
    int rc = send_msg(out, migrate_report_msg);
    return rc ? rc : stream_put(out, &b, 1);
}

int migrate_send_resume(struct stream_sink *out)
{
    return send_msg(out, migrate_go);
}

int migrate_recv_banner(struct stream_source *in, char *err, size_t errlen)
{
    return recv_msg(in, migrate_banner, "banner", err, errlen);
}

int migrate_recv_ready(struct stream_source *in, char *err, size_t errlen)
{
    return recv_msg(in, migrate_ready, "ready message", err, errlen);
}

int migrate_send_go(struct stream_sink *out)
{
    return send_msg(out, migrate_go);
}

int migrate_recv_report(struct stream_source *in, uint8_t *status, char *err,
                        size_t errlen)
{
    int rc = recv_msg(in, migrate_report_msg, "success/failure report message",
                      err, errlen);
    if (rc)
        return rc;
    rc = stream_get(in, status, 1);
    if (rc == -ENODATA)
        return seterr(err, errlen, -ENODATA, "migration stream ended before "
                      "the success/failure status byte");
    if (rc < 0)
        return seterr(err, errlen, rc, "migration stream: reading the "
                      "success/failure status: %s", strerror(-rc));
    return 0;
}

int migrate_recv_resume(struct stream_source *in, char *err, size_t errlen)
{
    return recv_msg(in, migrate_go, "permission for sender to resume", err,
                    errlen);
}
