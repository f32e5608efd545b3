/* journal: append-only journal + snapshot (see journal.h). */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "wire.h"
#include "util.h"

#define JMAGIC 0x314a5358u /* "XSJ1" little endian */
#define JHDR_LEN 16
#define JREC_HDR 8
#define JREC_MAX (64u * 1024 * 1024)

static uint32_t crc_table[256];

uint32_t crc32_buf(const void *data, size_t len)
{
    if (!crc_table[1]) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
            crc_table[i] = c;
        }
    }
    const uint8_t *p = data;
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < len; i++)
        c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static void jb_reserve(struct jbuf *b, size_t n)
{
    if (b->len + n <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n)
        cap *= 2;
    b->p = realloc(b->p, cap);
    if (!b->p)
        abort();
    b->cap = cap;
}

static void jb_put(struct jbuf *b, const void *d, size_t n)
{
    jb_reserve(b, n);
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void jb_u8(struct jbuf *b, uint8_t v) { jb_put(b, &v, 1); }
static void jb_u32(struct jbuf *b, uint32_t v) { jb_put(b, &v, 4); }
static void jb_u64(struct jbuf *b, uint64_t v) { jb_put(b, &v, 8); }

/* Start a record; returns the offset of its header. */
static size_t rec_begin(struct jbuf *b, uint8_t type)
{
    size_t off = b->len;
    jb_u32(b, 0);
    jb_u32(b, 0);
    jb_u8(b, type);
    return off;
}

static void rec_end(struct jbuf *b, size_t off)
{
    uint32_t len = (uint32_t)(b->len - off - JREC_HDR);
    uint32_t crc = crc32_buf(b->p + off + JREC_HDR, len);
    memcpy(b->p + off, &len, 4);
    memcpy(b->p + off + 4, &crc, 4);
}

static void rec_put(struct jbuf *b, const struct node *n)
{
    size_t off = rec_begin(b, JREC_PUT);
    uint32_t pl = (uint32_t)strlen(n->path);
    jb_u32(b, pl);
    jb_put(b, n->path, pl);
    jb_u32(b, n->nperms);
    for (uint32_t i = 0; i < n->nperms; i++) {
        jb_u32(b, n->perms[i].id);
        jb_u8(b, (uint8_t)n->perms[i].perm);
    }
    jb_u32(b, n->vlen);
    jb_put(b, n->value, n->vlen);
    rec_end(b, off);
}

static void rec_domain(struct jbuf *b, const struct jdomain_rec *d)
{
    size_t off = rec_begin(b, JREC_DOMAIN);
    jb_u32(b, d->domid);
    jb_u64(b, d->mfn);
    jb_u32(b, d->port);
    jb_u32(b, (uint32_t)d->target);
    rec_end(b, off);
}

static void header(struct jbuf *b, uint64_t epoch)
{
    jb_u32(b, JMAGIC);
    jb_u32(b, 1);
    jb_u64(b, epoch);
}

void journal_put(struct journal *j, const struct node *n)
{
    if (j->dirfd >= 0)
        rec_put(&j->buf, n);
}

void journal_del(struct journal *j, const char *path)
{
    if (j->dirfd < 0)
        return;
    size_t off = rec_begin(&j->buf, JREC_DEL);
    uint32_t pl = (uint32_t)strlen(path);
    jb_u32(&j->buf, pl);
    jb_put(&j->buf, path, pl);
    rec_end(&j->buf, off);
}

void journal_domain(struct journal *j, const struct jdomain_rec *d)
{
    if (j->dirfd >= 0)
        rec_domain(&j->buf, d);
}

void journal_release(struct journal *j, uint32_t domid)
{
    if (j->dirfd < 0)
        return;
    size_t off = rec_begin(&j->buf, JREC_RELEASE);
    jb_u32(&j->buf, domid);
    rec_end(&j->buf, off);
}

bool journal_pending(const struct journal *j)
{
    return j->buf.len > 0;
}

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
    default:
        return -1;
    }
}

static int read_file(int dirfd, const char *name, uint8_t **data, size_t *len)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 1 : -1;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return -1;
    }
    *len = (size_t)st.st_size;
    *data = malloc(*len ? *len : 1);
    if (!*data)
        abort();
    if (*len && read_full(fd, *data, *len) < 0) {
        close(fd);
        free(*data);
        return -1;
    }
    close(fd);
    return 0;
}

/* Replay records from data[JHDR_LEN..len). Returns the offset of the end of
 * the last good record. */
static size_t replay(const uint8_t *data, size_t len, struct tree *t,
                     journal_domain_cb cb, void *arg, bool *corrupt)
{
    size_t off = JHDR_LEN;
    *corrupt = false;
    while (len - off >= JREC_HDR) {
        uint32_t rlen, crc;
        memcpy(&rlen, data + off, 4);
        memcpy(&crc, data + off + 4, 4);
        if (rlen > JREC_MAX || len - off - JREC_HDR < rlen ||
            crc32_buf(data + off + JREC_HDR, rlen) != crc) {
            *corrupt = true;
            break;
        }
        if (journal_apply(data + off + JREC_HDR, rlen, t, cb, arg) < 0)
            log_warn("journal: record at offset %zu does not apply", off);
        off += JREC_HDR + rlen;
    }
    if (off != len)
        *corrupt = true;
    return off;
}

static bool header_ok(const uint8_t *data, size_t len, uint64_t *epoch)
{
    uint32_t magic, ver;
    if (len < JHDR_LEN)
        return false;
    memcpy(&magic, data, 4);
    memcpy(&ver, data + 4, 4);
    memcpy(epoch, data + 8, 8);
    return magic == JMAGIC && ver == 1;
}

/* Write a whole file atomically: name.tmp, fsync, rename, fsync dir. */
static int write_atomic(int dirfd, const char *name, const struct jbuf *b)
{
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%s.tmp", name);
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                    0600);
    if (fd < 0)
        return -1;
    if (write_full(fd, b->p, b->len) < 0 || fsync(fd) < 0) {
        close(fd);
        return -1;
    }
    close(fd);
    if (renameat(dirfd, tmp, dirfd, name) < 0 || fsync(dirfd) < 0)
        return -1;
    return 0;
}

static int open_journal_fd(struct journal *j)
{
    j->fd = openat(j->dirfd, "journal", O_WRONLY | O_CLOEXEC);
    if (j->fd < 0)
        return -1;
    if (lseek(j->fd, (off_t)j->size, SEEK_SET) < 0)
        return -1;
    return 0;
}

/* Start a fresh journal for the current epoch. */
static int new_journal(struct journal *j)
{
    struct jbuf h = { 0 };
    header(&h, j->epoch);
    int rc = write_atomic(j->dirfd, "journal", &h);
    free(h.p);
    if (rc < 0)
        return -1;
    if (j->fd >= 0)
        close(j->fd);
    j->size = JHDR_LEN;
    return open_journal_fd(j);
}

int journal_open(struct journal *j, const char *dir, struct tree *t,
                 journal_domain_cb cb, void *arg)
{
    memset(j, 0, sizeof(*j));
    j->dirfd = j->fd = -1;
    j->compact_min = 16u * 1024 * 1024;
    if (!dir)
        return 0;
    if (mkdir_p(dir) < 0) {
        log_err("cannot create %s: %m", dir);
        return -1;
    }
    j->dir = strdup(dir);
    j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (j->dirfd < 0) {
        log_err("cannot open %s: %m", dir);
        return -1;
    }

    uint8_t *data = NULL;
    size_t len = 0;
    bool corrupt;
    int rc = read_file(j->dirfd, "snapshot", &data, &len);
    if (rc < 0) {
        log_err("cannot read %s/snapshot: %m", dir);
        return -1;
    }
    if (rc == 0) {
        /* The snapshot holds the whole tree, including /tool. */
        tree_del(t, "/tool", NULL, NULL);
        if (!header_ok(data, len, &j->epoch)) {
            log_err("%s/snapshot: bad header", dir);
            free(data);
            return -1;
        }
        size_t end = replay(data, len, t, cb, arg, &corrupt);
        free(data);
        if (corrupt) {
            /* Snapshots are renamed into place only when complete. */
            log_err("%s/snapshot corrupt at offset %zu", dir, end);
            return -1;
        }
        j->snap_size = len;
    } else {
        j->snap_size = 0;
        j->epoch = 1;
    }

    rc = read_file(j->dirfd, "journal", &data, &len);
    if (rc < 0) {
        log_err("cannot read %s/journal: %m", dir);
        return -1;
    }
    uint64_t jepoch;
    if (rc == 0 && header_ok(data, len, &jepoch) && jepoch == j->epoch) {
        size_t end = replay(data, len, t, cb, arg, &corrupt);
        free(data);
        j->size = end;
        if (corrupt)
            log_warn("journal: dropping %zu unacknowledged bytes at "
                     "offset %zu", len - end, end);
        if (open_journal_fd(j) < 0 || ftruncate(j->fd, (off_t)end) < 0 ||
            fdatasync(j->fd) < 0) {
            log_err("cannot open %s/journal: %m", dir);
            return -1;
        }
    } else {
        if (rc == 0)
            free(data);
        if (rc == 0)
            log_info("journal: ignoring stale journal");
        if (new_journal(j) < 0) {
            log_err("cannot create %s/journal: %m", dir);
            return -1;
        }
    }
    return 0;
}

void journal_close(struct journal *j)
{
    if (j->fd >= 0)
        close(j->fd);
    if (j->dirfd >= 0)
        close(j->dirfd);
    free(j->buf.p);
    free(j->dir);
    memset(j, 0, sizeof(*j));
    j->fd = j->dirfd = -1;
}

int journal_sync(struct journal *j)
{
    if (j->dirfd < 0 || j->buf.len == 0)
        return 0;
    if (write_full(j->fd, j->buf.p, j->buf.len) < 0 || fdatasync(j->fd) < 0) {
        log_err("journal write failed: %m");
        return -1;
    }
    j->size += j->buf.len;
    j->buf.len = 0;
    if (j->buf.cap > (1u << 20)) {
        free(j->buf.p);
        j->buf.p = NULL;
        j->buf.cap = 0;
    }
    return 0;
}

struct snap_ctx {
    struct jbuf *b;
};

static void snap_node(void *arg, const struct node *n)
{
    struct snap_ctx *s = arg;
    rec_put(s->b, n);
}

int journal_maybe_compact(struct journal *j, const struct tree *t,
                          journal_dump_domains dd, void *arg, bool force)
{
    if (j->dirfd < 0)
        return 0;
    if (!force && (j->size < j->compact_min || j->size < j->snap_size))
        return 0;
    uint64_t t0 = now_ns();
    struct jbuf snap = { 0 };
    header(&snap, j->epoch + 1);
    struct snap_ctx s = { &snap };
    /* The root always exists; store its perms and value too. */
    tree_walk(t, "/", snap_node, &s);
    /* Domain records go through the journal's buffer helpers. */
    struct jbuf saved = j->buf;
    j->buf = snap;
    if (dd)
        dd(arg, j);
    snap = j->buf;
    j->buf = saved;
    int rc = write_atomic(j->dirfd, "snapshot", &snap);
    size_t snap_len = snap.len;
    free(snap.p);
    if (rc < 0) {
        log_err("snapshot write failed: %m");
        return -1;
    }
    j->epoch++;
    j->snap_size = snap_len;
    if (new_journal(j) < 0) {
        log_err("cannot start new journal: %m");
        return -1;
    }
    log_info("compacted: snapshot %zu bytes in %.1f ms", snap_len,
             (double)(now_ns() - t0) / 1e6);
    return 0;
}
