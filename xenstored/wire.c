/* wire: xs_wire framing and payload validation (see wire.h). */
#include "wire.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum wire_frame_status wire_frame(const uint8_t *buf, size_t avail,
                                  struct xsd_sockmsg *hdr, size_t *msglen)
{
    if (avail < WIRE_HDR_LEN)
        return WIRE_NEED_MORE;
    memcpy(hdr, buf, WIRE_HDR_LEN);
    if (hdr->len > XENSTORE_PAYLOAD_MAX)
        return WIRE_BAD;
    if (avail < WIRE_HDR_LEN + hdr->len)
        return WIRE_NEED_MORE;
    *msglen = WIRE_HDR_LEN + hdr->len;
    return WIRE_MSG;
}

unsigned wire_split(const char *payload, size_t len, const char **argv,
                    unsigned max)
{
    unsigned n = 0;
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (payload[i] != '\0')
            continue;
        if (n < max)
            argv[n] = payload + start;
        n++;
        start = i + 1;
    }
    return n;
}

bool wire_onearg(const char *payload, size_t len)
{
    return len > 0 && memchr(payload, '\0', len) == payload + len - 1;
}

static bool valid_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '/' || c == '_' ||
           c == '@';
}

bool wire_valid_path(const char *path, size_t path_max)
{
    size_t len = strlen(path);
    if (len == 0 || path[0] != '/')
        return false;
    if (len > 1 && path[len - 1] == '/')
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!valid_char(path[i]))
            return false;
        if (path[i] == '/' && path[i + 1] == '/')
            return false;
    }
    /* Length limit counts after /local/domain/<id>/ as Xen does. */
    size_t off = 0;
    static const char pfx[] = "/local/domain/";
    if (strncmp(path, pfx, sizeof(pfx) - 1) == 0) {
        size_t i = sizeof(pfx) - 1, digits = 0;
        while (path[i] >= '0' && path[i] <= '9' && digits < 5) {
            i++;
            digits++;
        }
        if (digits > 0 && path[i] == '/')
            off = i + 1;
    }
    if (len > XENSTORE_ABS_PATH_MAX + off)
        return false;
    return len - off <= path_max;
}

bool wire_valid_special(const char *path)
{
    return path[0] == '@' && strlen(path) <= XENSTORE_REL_PATH_MAX;
}

bool wire_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned long d = (unsigned long)(*s - '0');
        /* Checked before it is computed: v * 10 + d may wrap when max is
         * near ULONG_MAX (the 64-bit gfn, any u32 on an ILP32 build). */
        if (d > max || v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

const char *wire_errname(int err)
{
    for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
        if (xsd_errors[i].errnum == err)
            return xsd_errors[i].errstring;
    return "EINVAL";
}

const char *wire_typename(uint32_t type)
{
    static const char *const names[XS_TYPE_COUNT] = {
        [XS_CONTROL] = "CONTROL", [XS_DIRECTORY] = "DIRECTORY",
        [XS_READ] = "READ", [XS_GET_PERMS] = "GET_PERMS",
        [XS_WATCH] = "WATCH", [XS_UNWATCH] = "UNWATCH",
        [XS_TRANSACTION_START] = "TRANSACTION_START",
        [XS_TRANSACTION_END] = "TRANSACTION_END",
        [XS_INTRODUCE] = "INTRODUCE", [XS_RELEASE] = "RELEASE",
        [XS_GET_DOMAIN_PATH] = "GET_DOMAIN_PATH", [XS_WRITE] = "WRITE",
        [XS_MKDIR] = "MKDIR", [XS_RM] = "RM", [XS_SET_PERMS] = "SET_PERMS",
        [XS_WATCH_EVENT] = "WATCH_EVENT", [XS_ERROR] = "ERROR",
        [XS_IS_DOMAIN_INTRODUCED] = "IS_DOMAIN_INTRODUCED",
        [XS_RESUME] = "RESUME", [XS_SET_TARGET] = "SET_TARGET",
        [XS_RESET_WATCHES] = "RESET_WATCHES",
        [XS_DIRECTORY_PART] = "DIRECTORY_PART",
    };
    if (type < XS_TYPE_COUNT && names[type])
        return names[type];
    return "UNKNOWN";
}
