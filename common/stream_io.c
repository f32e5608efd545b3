#include "stream_io.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "xenon/xen_stream_format.h"

int stream_putv(struct stream_sink *s, const struct iovec *iov, int iovcnt)
{
    int rc = s->writev(s->ctx, iov, iovcnt);
    if (rc == 0)
        for (int i = 0; i < iovcnt; i++)
            s->bytes += iov[i].iov_len;
    return rc;
}

int stream_put(struct stream_sink *s, const void *p, size_t len)
{
    struct iovec iov = { (void *)p, len };
    return stream_putv(s, &iov, 1);
}

int stream_get(struct stream_source *s, void *buf, size_t len)
{
    int rc = s->read(s->ctx, buf, len);
    if (rc == 0)
        s->bytes += len;
    return rc;
}

int stream_getv(struct stream_source *s, const struct iovec *iov, int iovcnt)
{
    int rc = 0;
    if (s->readv)
        rc = s->readv(s->ctx, iov, iovcnt);
    for (int i = 0; !s->readv && rc == 0 && i < iovcnt; i++)
        rc = s->read(s->ctx, iov[i].iov_base, iov[i].iov_len);
    for (int i = 0; rc == 0 && i < iovcnt; i++)
        s->bytes += iov[i].iov_len;
    return rc;
}

int stream_skip(struct stream_source *s, uint64_t len)
{
    if (s->skip) {
        int rc = s->skip(s->ctx, len);
        if (rc != -ESPIPE) {    /* -ESPIPE: this source cannot seek; read */
            if (rc == 0)
                s->bytes += len;
            return rc;
        }
    }
    uint8_t buf[4096];
    while (len) {
        size_t n = len < sizeof(buf) ? (size_t)len : sizeof(buf);
        int rc = stream_get(s, buf, n);
        if (rc)
            return rc;
        len -= n;
    }
    return 0;
}

int stream_copy_to_fd(struct stream_source *s, int out, uint64_t off, uint64_t len)
{
    if (!s->copy_to_fd)
        return -EOPNOTSUPP;
    int rc = s->copy_to_fd(s->ctx, out, off, len);
    if (rc == 0)
        s->bytes += len;
    return rc;
}

/* Moves all of iov through readv or writev, IOV_MAX entries at a time: a
 * batch of libxc's 1024 pages is one or two system calls, not sixteen.
 * Short transfers resume where they stopped; a read's end of file before
 * the last byte is -ENODATA. */
static int fd_allv(int fd, const struct iovec *iov, int iovcnt, bool reading)
{
    struct iovec local[IOV_MAX];
    while (iovcnt > 0) {
        int n = MIN(iovcnt, (int)ARRAY_SIZE(local));
        memcpy(local, iov, n * sizeof(*iov));
        struct iovec *v = local;
        int left = n;
        while (left > 0) {
            ssize_t r = reading ? readv(fd, v, left) : writev(fd, v, left);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                return -errno;
            }
            if (r == 0 && reading)
                return -ENODATA;
            while (left > 0 && (size_t)r >= v->iov_len) {
                r -= v->iov_len;
                v++;
                left--;
            }
            if (left > 0) {
                v->iov_base = (uint8_t *)v->iov_base + r;
                v->iov_len -= r;
            }
        }
        iov += n;
        iovcnt -= n;
    }
    return 0;
}

static int fd_writev(void *ctx, const struct iovec *iov, int iovcnt)
{
    return fd_allv(*(int *)ctx, iov, iovcnt, false);
}

int stream_get_padding(struct stream_source *s, uint32_t len)
{
    uint8_t pad[XEN_STREAM_REC_ALIGN];
    size_t n = ALIGN_UP((size_t)len, XEN_STREAM_REC_ALIGN) - len;
    int rc = stream_get(s, pad, n);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (pad[i])
            return -EBADMSG;
    return 0;
}

int stream_skip_record(struct stream_source *s, uint32_t len)
{
    int rc = stream_skip(s, len);
    return rc ? rc : stream_get_padding(s, len);
}

static int fd_read(void *ctx, void *buf, size_t len)
{
    int fd = *(int *)ctx;
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t r = read(fd, p, len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            return -ENODATA;
        p += r;
        len -= r;
    }
    return 0;
}

static int fd_readv(void *ctx, const struct iovec *iov, int iovcnt)
{
    return fd_allv(*(int *)ctx, iov, iovcnt, true);
}

/* A regular file seeks over the bytes, refusing a seek past its end as a
 * read would; anything else (a pipe, a socket) gives -ESPIPE, and
 * stream_skip reads them. */
static int fd_skip(void *ctx, uint64_t len)
{
    int fd = *(int *)ctx;
    struct stat st;
    off_t at;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        (at = lseek(fd, 0, SEEK_CUR)) >= 0) {
        if (len > (uint64_t)st.st_size || (uint64_t)at > (uint64_t)st.st_size - len) {
            (void)lseek(fd, 0, SEEK_END);
            return -ENODATA;
        }
        return lseek(fd, (off_t)len, SEEK_CUR) < 0 ? -errno : 0;
    }
    return -ESPIPE;     /* stream_skip reads the bytes instead */
}

/* sendfile writes at out's file position: set it first. */
static int fd_copy_to_fd(void *ctx, int out, uint64_t off, uint64_t len)
{
    int fd = *(int *)ctx;
    if (off > INT64_MAX || lseek(out, (off_t)off, SEEK_SET) < 0)
        return off > INT64_MAX ? -EINVAL : -errno;
    while (len) {
        ssize_t n = sendfile(out, fd, NULL, (size_t)MIN(len, (uint64_t)1 << 30));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -ENODATA;
        len -= (uint64_t)n;
    }
    return 0;
}

void stream_sink_fd(struct stream_sink *s, int *fd)
{
    *s = (struct stream_sink){ fd_writev, fd, 0 };
}

void stream_source_fd(struct stream_source *s, int *fd)
{
    struct stat st;
    bool regular = fstat(*fd, &st) == 0 && S_ISREG(st.st_mode);
    *s = (struct stream_source){ fd_read, fd, 0, fd_readv, fd_skip,
                                 regular ? fd_copy_to_fd : NULL };
}

static int mem_writev(void *ctx, const struct iovec *iov, int iovcnt)
{
    struct stream_membuf *m = ctx;
    size_t need = m->len;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > SIZE_MAX - need)
            return -ENOMEM;
        need += iov[i].iov_len;
    }
    if (need > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        uint8_t *d = realloc(m->data, cap);
        if (!d)
            return -ENOMEM;
        m->data = d;
        m->cap = cap;
    }
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len)
            memcpy(m->data + m->len, iov[i].iov_base, iov[i].iov_len);
        m->len += iov[i].iov_len;
    }
    return 0;
}

void stream_sink_mem(struct stream_sink *s, struct stream_membuf *m)
{
    *s = (struct stream_sink){ mem_writev, m, 0 };
}

static int mem_read(void *ctx, void *buf, size_t len)
{
    struct stream_memsrc *m = ctx;
    if (len > m->len - m->off)
        return -ENODATA;
    if (len)
        memcpy(buf, m->data + m->off, len);
    m->off += len;
    return 0;
}

static int mem_skip(void *ctx, uint64_t len)
{
    struct stream_memsrc *m = ctx;
    if (len > m->len - m->off)
        return -ENODATA;
    m->off += len;
    return 0;
}

void stream_source_mem(struct stream_source *s, struct stream_memsrc *m)
{
    *s = (struct stream_source){ mem_read, m, 0, NULL, mem_skip, NULL };
}
