/* jreplay: record decoding and file scanning (see jreplay.h). */
#include "jreplay.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "wire.h"

/* Bounded little-endian reader over a record body. */
struct rd {
    const uint8_t *p;
    size_t len, off;
    bool bad;
};

static const void *rd_take(struct rd *r, size_t n)
{
    if (r->bad || r->len - r->off < n) {
        r->bad = true;
        return NULL;
    }
    const void *p = r->p + r->off;
    r->off += n;
    return p;
}

static uint32_t rd_u32(struct rd *r)
{
    uint32_t v = 0;
    const void *p = rd_take(r, 4);
    if (p)
        memcpy(&v, p, 4);
    return v;
}

static uint64_t rd_u64(struct rd *r)
{
    uint64_t v = 0;
    const void *p = rd_take(r, 8);
    if (p)
        memcpy(&v, p, 8);
    return v;
}

static char *rd_str(struct rd *r)
{
    uint32_t len = rd_u32(r);
    const char *s = rd_take(r, len);
    if (!s || memchr(s, '\0', len))
        return NULL;
    char *out = malloc(len + 1);
    if (!out)
        abort();
    memcpy(out, s, len);
    out[len] = '\0';
    return out;
}

/* The record at data[off..len) is intact: its body length (>= 1, the
 * type) fits and its CRC matches (the complement of the CRC for a member of
 * a group: crc_xor ~0). */
static bool rec_intact_x(const uint8_t *data, size_t len, size_t off,
                         uint32_t *rlen, const uint32_t *key)
{
    if (len - off < JREC_HDR)
        return false;
    uint32_t l, crc;
    memcpy(&l, data + off, 4);
    memcpy(&crc, data + off + 4, 4);
    if (l == 0 || l > JREC_MAX || len - off - JREC_HDR < l)
        return false;
    if (jrec_crc(key, data + off + JREC_HDR, l) != crc)
        return false;
    *rlen = l;
    return true;
}



/* A group's body: type, then whole members (records whose CRC field is
 * complemented, so that they are no records on their own; the group's
 * CRC covers them), none of them empty or a group. */
static bool group_ok(const uint8_t *body, size_t len)
{
    size_t off = 1;
    while (off < len) {
        uint32_t l;
        if (len - off < JREC_HDR)
            return false;
        memcpy(&l, body + off, 4);
        if (l == 0 || len - off - JREC_HDR < l ||
            body[off + JREC_HDR] == JREC_GROUP)
            return false;
        off += JREC_HDR + l;
    }
    return true;
}

int journal_apply(const uint8_t *body, size_t len, struct tree *t,
                  journal_domain_cb cb, void *arg)
{
    struct rd r = { body, len, 0, false };
    const uint8_t *type = rd_take(&r, 1);
    if (!type)
        return -1;
    switch (*type) {
    case JREC_PUT: {
        char *path = rd_str(&r);
        uint32_t np = rd_u32(&r);
        if (!path || r.bad || np == 0 || np > 65536) {
            free(path);
            return -1;
        }
        struct xs_perm *p = calloc(np, sizeof(*p));
        if (!p)
            abort();
        for (uint32_t i = 0; i < np; i++) {
            p[i].id = rd_u32(&r);
            const uint8_t *pb = rd_take(&r, 1);
            p[i].perm = pb ? (*pb & 3u) : 0;
        }
        uint32_t vlen = rd_u32(&r);
        const char *v = rd_take(&r, vlen);
        int rc = -1;
        if (!r.bad && wire_valid_path(path, SIZE_MAX) &&
            tree_put(t, path, p, np, v, vlen))
            rc = 0;
        free(p);
        free(path);
        return rc;
    }
    case JREC_DEL: {
        char *path = rd_str(&r);
        if (!path)
            return -1;
        if (!wire_valid_path(path, SIZE_MAX)) {
            free(path);
            return -1;
        }
        tree_del(t, path, NULL, NULL);
        free(path);
        return 0;
    }
    case JREC_DOMAIN: {
        struct jdomain_rec d;
        d.domid = rd_u32(&r);
        d.mfn = rd_u64(&r);
        d.port = rd_u32(&r);
        d.target = (int32_t)rd_u32(&r);
        if (r.bad)
            return -1;
        if (cb)
            cb(arg, JREC_DOMAIN, &d);
        return 0;
    }
    case JREC_RELEASE: {
        struct jdomain_rec d = { 0, 0, 0, -1 };
        d.domid = rd_u32(&r);
        if (r.bad)
            return -1;
        if (cb)
            cb(arg, JREC_RELEASE, &d);
        return 0;
    }
    case JREC_GROUP: {
        /* All or nothing: every member is checked before any applies. */
        if (!group_ok(body, len))
            return -1;
        int rc = 0;
        for (size_t off = 1; off < len;) {
            uint32_t l;
            memcpy(&l, body + off, 4);
            if (journal_apply(body + off + JREC_HDR, l, t, cb, arg) < 0)
                rc = -1;
            off += JREC_HDR + l;
        }
        return rc;
    }
    default:
        return -1;
    }
}

/* Resynchronisation after a bad record: the first offset in
 * [from, len) where an intact record of a known type starts. The CRC work
 * is bounded by *budget bytes; false when none is found (or the budget
 * ran out: *budget is then 0). */
static bool resync(const uint8_t *data, size_t len, size_t from,
                   const uint32_t *key, size_t *at, size_t *budget)
{
    for (size_t off = from; off < len && len - off > JREC_HDR; off++) {
        uint32_t l;
        memcpy(&l, data + off, 4);
        if (l == 0 || l > JREC_MAX || len - off - JREC_HDR < l)
            continue;
        uint8_t type = data[off + JREC_HDR];
        if (type < JREC_PUT || type > JREC_GROUP)
            continue;
        if (*budget < l) {
            *budget = 0;
            return false;
        }
        *budget -= l;
        if (rec_intact_x(data, len, off, &l, key)) {
            *at = off;
            return true;
        }
    }
    return false;
}

bool jscan(const uint8_t *data, size_t len, size_t start,
           const uint32_t *key, bool salvage, const char *name, struct tree *t, journal_domain_cb cb, void *arg,
           struct jscan *r)
{
    memset(r, 0, sizeof(*r));
    /* Enough to resync past any number of bad bytes in an honest file;
     * a crafted one gets "damaged to the end". */
    size_t budget = 16 * len + 65536;
    bool applying = true;
    size_t off = start;
    r->end = start;
    while (off < len) {
        uint32_t l;
        if (rec_intact_x(data, len, off, &l, key)) {
            if (applying) {
                if (journal_apply(data + off + JREC_HDR, l, t, cb, arg) < 0)
                    log_warn("%s: record at offset %zu does not apply", name,
                             off);
                r->applied++;
                r->end = off + JREC_HDR + l;
            } else {
                r->intact_after++;
            }
            off += JREC_HDR + l;
            continue;
        }
        size_t next = len;
        bool found = resync(data, len, off + 1, key, &next, &budget);
        if (!found && budget) {
            /* Nothing intact follows: a torn tail (or the stretch after
             * damage we are not applying). */
            if (applying) {
                r->torn = true;
                r->end = off;
            }
            break;
        }
        if (!found)
            next = len;
        if (r->ndamaged++ == 0) {
            r->bad_off = off;
            r->bad_end = next;
        }
        r->dropped += next - off;
        log_err("%s: damaged: %zu bytes at offsets %zu-%zu are not intact "
                "records%s", name, next - off, off, next,
                found ? " (intact records follow)" : " (to the end: too "
                "damaged to look further)");
        if (!salvage)
            applying = false;
        off = next;
        if (applying)
            r->end = next;
    }
    return applying || r->ndamaged == 0;
}
