/* journal: append-only journal + snapshot (see journal.h). */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "jreplay.h"
#include "log.h"
#include "wire.h"
#include "util.h"

#define JMAGIC 0x314a5358u /* "XSJ1" little endian */

static uint32_t crc_table[256];

static uint32_t crc32_update(uint32_t c, const void *data, size_t len);

uint32_t crc32_buf(const void *data, size_t len)
{
    return crc32_update(0xffffffffu, data, len) ^ 0xffffffffu;
}

uint32_t jrec_crc(const uint32_t *key, const void *body, size_t len)
{
    uint32_t c = 0xffffffffu;
    if (key)
        c = crc32_update(c, key, sizeof(*key));
    return crc32_update(c, body, len) ^ 0xffffffffu;
}

static uint32_t crc32_update(uint32_t c, const void *data, size_t len)
{
    if (!crc_table[1]) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t t = i;
            for (int k = 0; k < 8; k++)
                t = (t & 1) ? 0xedb88320u ^ (t >> 1) : t >> 1;
            crc_table[i] = t;
        }
    }
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++)
        c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c;
}

/* A new file's secret key: unknown to clients, so that no value they
 * write can carry a record that passes for ours. */
static uint32_t fresh_key(void)
{
    uint32_t k;
    if (getrandom(&k, sizeof(k), 0) != (ssize_t)sizeof(k))
        k = (uint32_t)(now_ns() * 0x9e3779b97f4a7c15ull >> 32);
    return k;
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
    uint32_t crc = jrec_crc(b->keyed ? &b->key : NULL, b->p + off + JREC_HDR,
                            len);
    memcpy(b->p + off, &len, 4);
    memcpy(b->p + off + 4, &crc, 4);
    b->nrec++;
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

/* A version-2 header; the file's records are keyed with key. */
static void header(struct jbuf *b, uint64_t epoch, uint32_t key)
{
    jb_u32(b, JMAGIC);
    jb_u32(b, 2);
    jb_u64(b, epoch);
    jb_u32(b, key);
    jb_u32(b, 0);
    b->keyed = true;
    b->key = key;
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

size_t journal_pending_bytes(const struct journal *j)
{
    return j->buf.len;
}

void journal_group_begin(struct journal *j)
{
    j->group_off = j->buf.len;
    j->group_nrec = j->buf.nrec;
}

/* Two records or more: put a group header in front of them, so that a
 * torn write can only drop all of them. One record stays as it is. */
void journal_group_end(struct journal *j)
{
    struct jbuf *b = &j->buf;
    /* (A sync inside the request, CONTROL compact, emptied the buffer.) */
    if (j->dirfd < 0 || b->nrec < j->group_nrec || b->len < j->group_off ||
        b->nrec - j->group_nrec < 2)
        return;
    size_t off = j->group_off, n = b->len - off;
    /* Members carry the complement of their CRC: on their own they are
     * not intact records, so that the members of a torn group never pass
     * for intact records after damage (see jreplay.c). */
    for (size_t m = off; m < b->len;) {
        uint32_t l, crc;
        memcpy(&l, b->p + m, 4);
        memcpy(&crc, b->p + m + 4, 4);
        crc = ~crc;
        memcpy(b->p + m + 4, &crc, 4);
        m += JREC_HDR + l;
    }
    jb_reserve(b, JREC_HDR + 1);
    memmove(b->p + off + JREC_HDR + 1, b->p + off, n);
    b->p[off + JREC_HDR] = JREC_GROUP;
    b->len += JREC_HDR + 1;
    b->nrec = j->group_nrec;
    rec_end(b, off);
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


struct jheader {
    uint64_t epoch;
    size_t len;         /* where the records start */
    bool keyed;
    uint32_t key;
};

/* Parse a header; false if it is damaged. h is filled in either way with
 * the best guess of the layout (for salvage): version 2 unless the
 * version field says 1 or the file is too short. */
static bool header_ok(const uint8_t *data, size_t len, struct jheader *h)
{
    uint32_t magic = 0, ver = 0;
    memset(h, 0, sizeof(*h));
    if (len >= 8) {
        memcpy(&magic, data, 4);
        memcpy(&ver, data + 4, 4);
    }
    if (len >= JHDR_LEN)
        memcpy(&h->epoch, data + 8, 8);
    if (ver != 1 && len >= JHDR2_LEN) {
        h->len = JHDR2_LEN;
        h->keyed = true;
        memcpy(&h->key, data + 16, 4);
        return magic == JMAGIC && ver == 2;
    }
    h->len = MIN(len, (size_t)JHDR_LEN);
    return magic == JMAGIC && ver == 1 && len >= JHDR_LEN;
}

static int fsync_dir(struct journal *j)
{
    return fsync(j->dirfd);
}

/* Write a whole file as name.tmp and fsync it (not yet in place). */
static int write_tmp(int dirfd, const char *name, const struct jbuf *b)
{
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%s.tmp", name);
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                    0600);
    if (fd < 0)
        return -1;
    if (write_full(fd, b->p, b->len) < 0 || fsync(fd) < 0) {
        int e = errno;
        close(fd);
        unlinkat(dirfd, tmp, 0);
        errno = e;
        return -1;
    }
    close(fd);
    return 0;
}

static int put_in_place(int dirfd, const char *name)
{
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%s.tmp", name);
    if (renameat(dirfd, tmp, dirfd, name) < 0 || fsync(dirfd) < 0)
        return -1;
    return 0;
}

static int open_journal_fd(struct journal *j)
{
    if (j->fd >= 0)
        close(j->fd);
    j->fd = openat(j->dirfd, "journal", O_WRONLY | O_CLOEXEC);
    if (j->fd < 0)
        return -1;
    if (lseek(j->fd, (off_t)j->size, SEEK_SET) < 0)
        return -1;
    return 0;
}

/* Start a fresh journal for the current epoch, keyed with j->buf.key
 * (records may be buffered with it already). */
static int new_journal(struct journal *j)
{
    struct jbuf h = { 0 };
    header(&h, j->epoch, j->buf.key);
    int rc = write_tmp(j->dirfd, "journal", &h);
    free(h.p);
    if (rc < 0 || put_in_place(j->dirfd, "journal") < 0)
        return -1;
    j->size = h.len;
    return open_journal_fd(j);
}

/* The journal file is to be (re)made from scratch: a new key. */
static int fresh_journal(struct journal *j)
{
    j->buf.keyed = true;
    j->buf.key = fresh_key();
    return new_journal(j);
}

/* ---- the reserve ---- */

/* Write the reserve file in full; on failure remove what was written. */
static int reserve_take(struct journal *j)
{
    if (!j->reserve || j->reserve_held)
        return 0;
    int fd = openat(j->dirfd, "reserve.tmp",
                    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    static const uint8_t zeros[65536];
    int rc = 0;
    for (uint64_t done = 0; rc == 0 && done < j->reserve;) {
        size_t n = (size_t)MIN((uint64_t)sizeof(zeros), j->reserve - done);
        rc = write_full(fd, zeros, n);
        done += n;
    }
    if (rc == 0)
        rc = fsync(fd);
    close(fd);
    if (rc == 0)
        rc = renameat(j->dirfd, "reserve.tmp", j->dirfd, "reserve");
    if (rc < 0) {
        int e = errno;
        unlinkat(j->dirfd, "reserve.tmp", 0);
        errno = e;
        return -1;
    }
    j->reserve_held = true;
    return 0;
}

static void reserve_give_back(struct journal *j)
{
    unlinkat(j->dirfd, "reserve", 0);
    j->reserve_held = false;
}

bool journal_full(const struct journal *j)
{
    return j->full;
}

void journal_tick(struct journal *j)
{
    if (!j->full || j->dirfd < 0)
        return;
    /* Cheap look first: do not write megabytes into a full disk every
     * second. */
    struct statvfs sv;
    if (fstatvfs(j->dirfd, &sv) == 0 &&
        (uint64_t)sv.f_bavail * sv.f_frsize < j->reserve + (1u << 20))
        return;
    if (reserve_take(j) < 0)
        return;
    j->full = false;
    log_info("journal: space available again (reserve of %llu bytes "
             "restored): accepting changes",
             (unsigned long long)j->reserve);
}

/* ---- opening ---- */

/* The name a damaged journal is kept under: journal.damaged-N, the first
 * N not taken. */
static int keep_damaged(struct journal *j, char *name, size_t cap)
{
    for (int n = 1; n < 1000; n++) {
        snprintf(name, cap, "journal.damaged-%d", n);
        if (linkat(j->dirfd, "journal", j->dirfd, name, 0) == 0)
            return fsync_dir(j);
        if (errno != EEXIST)
            return -1;
    }
    errno = EEXIST;
    return -1;
}

static int load_snapshot(struct journal *j, struct tree *t,
                         journal_domain_cb cb, void *arg)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = read_file(j->dirfd, "snapshot", &data, &len);
    if (rc < 0) {
        log_err("cannot read %s/snapshot: %m", j->dir);
        return -1;
    }
    if (rc == 1) {
        j->snap_size = 0;
        j->epoch = 1;
        return 0;
    }
    /* The snapshot holds the whole tree, including /tool. */
    tree_del(t, "/tool", NULL, NULL);
    struct jheader h;
    if (!header_ok(data, len, &h)) {
        log_err("%s/snapshot: bad header", j->dir);
        free(data);
        return -1;
    }
    j->epoch = h.epoch;
    struct jscan r;
    bool ok = jscan(data, len, h.len, h.keyed ? &h.key : NULL, false,
                    "snapshot", t, cb, arg, &r);
    free(data);
    if (!ok || r.torn) {
        /* Snapshots are renamed into place only when complete. */
        log_err("%s/snapshot is damaged at offset %zu: not starting", j->dir,
                r.torn ? r.end : r.bad_off);
        return -1;
    }
    j->snap_size = len;
    return 0;
}

static int load_journal(struct journal *j, const struct journal_opts *o,
                        struct tree *t, journal_domain_cb cb, void *arg)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = read_file(j->dirfd, "journal", &data, &len);
    if (rc < 0) {
        log_err("cannot read %s/journal: %m", j->dir);
        return -1;
    }
    if (rc == 1)
        return fresh_journal(j) < 0 ? -1 : 0;
    struct jheader h;
    bool hdr = header_ok(data, len, &h);
    uint64_t jepoch = h.epoch;
    if (hdr && j->snap_size && jepoch + 1 == j->epoch) {
        /* A crash between the two steps of a compaction. */
        free(data);
        log_info("journal: replacing the stale journal of epoch %llu",
                 (unsigned long long)jepoch);
        return fresh_journal(j) < 0 ? -1 : 0;
    }
    bool hdr_damaged = !hdr || jepoch != j->epoch;
    /* Appends go on with the file's own layout (until a compaction). */
    j->buf.keyed = h.keyed;
    j->buf.key = h.key;
    if (hdr_damaged)
        log_err("%s/journal: damaged header (%s; the snapshot's epoch is "
                "%llu)", j->dir, !hdr ? "bad magic, version or length"
                                       : "epoch does not match",
                (unsigned long long)j->epoch);
    struct jscan r = { 0 };
    bool ok = false;
    if (!hdr_damaged || o->salvage)
        ok = jscan(data, len, h.len, h.keyed ? &h.key : NULL, o->salvage,
                   "journal", t, cb, arg, &r);
    free(data);
    if (!ok || (hdr_damaged && !o->salvage)) {
        log_err("%s/journal is damaged%s; %zu intact records follow the "
                "damage. The file is kept as it is. Start with --salvage to "
                "keep every intact record and drop the damaged bytes: not "
                "starting", j->dir, hdr_damaged ? " (header)" : "",
                r.intact_after);
        return -1;
    }
    if (hdr_damaged || r.ndamaged) {
        char kept[64];
        if (keep_damaged(j, kept, sizeof(kept)) < 0) {
            log_err("cannot keep the damaged journal: %m");
            return -1;
        }
        log_err("salvage: kept %zu intact records, dropped %zu damaged "
                "stretches (%zu bytes, the first at offsets %zu-%zu)%s%s; "
                "the damaged journal is kept as %s/%s", r.applied,
                r.ndamaged, r.dropped, r.bad_off, r.bad_end,
                hdr_damaged ? ", replayed despite its damaged header" : "",
                r.torn ? ", cut a torn tail" : "", j->dir, kept);
        /* It is replaced by the compaction the caller does next. */
        j->size = len;
        j->salvaged = true;
        return open_journal_fd(j) < 0 ? -1 : 0;
    }
    j->size = r.end;
    if (r.torn)
        log_warn("journal: dropping a torn last record (%zu unacknowledged "
                 "bytes at offset %zu)", len - r.end, r.end);
    if (open_journal_fd(j) < 0 || ftruncate(j->fd, (off_t)r.end) < 0 ||
        fdatasync(j->fd) < 0) {
        log_err("cannot open %s/journal: %m", j->dir);
        return -1;
    }
    return 0;
}

int journal_open(struct journal *j, const char *dir,
                 const struct journal_opts *o, struct tree *t,
                 journal_domain_cb cb, void *arg)
{
    static const struct journal_opts defaults = { false, 0 };
    if (!o)
        o = &defaults;
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
    if (load_snapshot(j, t, cb, arg) < 0 || load_journal(j, o, t, cb, arg) < 0)
        return -1;
    j->reserve = o->reserve;
    struct stat st;
    if (j->reserve && fstatat(j->dirfd, "reserve", &st, 0) == 0 &&
        (uint64_t)st.st_size == j->reserve)
        j->reserve_held = true;
    else if (j->reserve && reserve_take(j) < 0) {
        log_err("journal: no room for the %llu-byte reserve in %s (%m): "
                "refusing changes until there is",
                (unsigned long long)j->reserve, dir);
        j->full = true;
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

/* ---- appending ---- */

/* One attempt: (re)create the journal if a compaction left it to do, then
 * append the buffer and sync. On failure the file is cut back to the
 * last synced length, so that no partial record stays behind. */
static int append_once(struct journal *j)
{
    if (j->fd < 0 && new_journal(j) < 0)
        return -1;
    if (write_full(j->fd, j->buf.p, j->buf.len) == 0 && fdatasync(j->fd) == 0)
        return 0;
    int e = errno;
    if (ftruncate(j->fd, (off_t)j->size) < 0 ||
        lseek(j->fd, (off_t)j->size, SEEK_SET) < 0) {
        /* Cannot even cut it back: write a fresh journal next time?
         * Not valid (its records are not in the snapshot). Keep the
         * position; the next attempt overwrites from there. */
        lseek(j->fd, (off_t)j->size, SEEK_SET);
    }
    errno = e;
    return -1;
}

int journal_sync(struct journal *j)
{
    if (j->dirfd < 0 || (j->buf.len == 0 && j->fd >= 0))
        return 0;
    int rc = append_once(j);
    if (rc < 0 && (errno == ENOSPC || errno == EDQUOT) && j->reserve_held) {
        log_err("journal: disk full (%m): gave back the %llu-byte reserve "
                "to make this turn's changes durable; refusing further "
                "changes with ENOSPC until space returns",
                (unsigned long long)j->reserve);
        reserve_give_back(j);
        j->full = true;
        rc = append_once(j);
    }
    if (rc < 0) {
        log_err("journal write failed: %m");
        return -1;
    }
    j->size += j->buf.len;
    j->buf.len = 0;
    j->buf.nrec = 0;
    if (j->buf.cap > (1u << 20)) {
        free(j->buf.p);
        j->buf.p = NULL;
        j->buf.cap = 0;
    }
    return 0;
}

/* ---- compaction ---- */

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
    if (j->dirfd < 0 || j->fd < 0)
        return 0;
    if (!force && (j->size < j->compact_min || j->size < j->snap_size ||
                   (j->compact_failed_at &&
                    j->size < j->compact_failed_at + j->compact_min / 4)))
        return 0;
    uint64_t t0 = now_ns();
    struct jbuf snap = { 0 };
    header(&snap, j->epoch + 1, fresh_key());
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
    struct jbuf jh = { 0 };
    header(&jh, j->epoch + 1, fresh_key());
    /* Everything that needs space first (both files written and synced
     * beside the old ones), then the two renames, each made durable
     * before the next: the old pair stays valid until the new snapshot is
     * in place, and from then on the old journal is stale. */
    int rc = write_tmp(j->dirfd, "snapshot", &snap);
    if (rc == 0 && (rc = write_tmp(j->dirfd, "journal", &jh)) < 0)
        unlinkat(j->dirfd, "snapshot.tmp", 0);
    if (rc == 0 && (rc = put_in_place(j->dirfd, "snapshot")) < 0) {
        unlinkat(j->dirfd, "snapshot.tmp", 0);
        unlinkat(j->dirfd, "journal.tmp", 0);
    }
    size_t snap_len = snap.len;
    free(snap.p);
    free(jh.p);
    if (rc < 0) {
        log_err("compaction failed (%m): going on with the current "
                "snapshot and journal");
        j->compact_failed_at = j->size;
        return -1;
    }
    j->epoch++;
    j->snap_size = snap_len;
    j->compact_failed_at = 0;
    /* From here on records belong to the new journal and its key. */
    j->buf.keyed = true;
    j->buf.key = jh.key;
    if (put_in_place(j->dirfd, "journal") < 0) {
        log_err("compaction: cannot put the new journal in place (%m); it "
                "is created before anything else is written");
        close(j->fd);
        j->fd = -1;
        return -1;
    }
    j->size = jh.len;
    if (open_journal_fd(j) < 0) {
        close(j->fd);
        j->fd = -1;
        return -1;
    }
    log_info("compacted: snapshot %zu bytes in %.1f ms", snap_len,
             (double)(now_ns() - t0) / 1e6);
    return 0;
}
