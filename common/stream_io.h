/*
 * Byte streams for the save-file codecs: a sink that takes gathered
 * writes and a source that hands out exact reads, over a file descriptor
 * or a memory buffer. The readers read exactly what each record says and
 * never ahead, so that one descriptor can be passed between layers (libxl's
 * stream in libxenon, libxc's inside it in the VMM) at record boundaries.
 */
#ifndef XENON_STREAM_IO_H
#define XENON_STREAM_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct stream_sink {
    /* Write all of iov; 0 or a negative errno. */
    int (*writev)(void *ctx, const struct iovec *iov, int iovcnt);
    void *ctx;
    uint64_t bytes;                 /* written so far (kept by stream_put*) */
};

struct stream_source {
    /* Read exactly len bytes; 0, -ENODATA at end of stream before len
     * bytes, or another negative errno. */
    int (*read)(void *ctx, void *buf, size_t len);
    void *ctx;
    uint64_t bytes;                 /* consumed so far (kept by stream_get*) */
    /* Optional (NULL: read into each piece in turn): a scattered exact
     * read, same returns. */
    int (*readv)(void *ctx, const struct iovec *iov, int iovcnt);
    /* Optional (NULL: read and discarded): pass over len bytes, same
     * returns (-ENODATA where fewer are left); -ESPIPE where this source
     * cannot seek, and stream_skip reads and discards them instead. */
    int (*skip)(void *ctx, uint64_t len);
    /* Optional (NULL: the source cannot): copy len bytes of the stream
     * into descriptor out at offset off without passing them through
     * user space; same returns. */
    int (*copy_to_fd)(void *ctx, int out, uint64_t off, uint64_t len);
};

/* Gathered write through the sink (counts bytes). */
int stream_putv(struct stream_sink *s, const struct iovec *iov, int iovcnt);
int stream_put(struct stream_sink *s, const void *p, size_t len);
/* Exact read from the source (counts bytes). */
int stream_get(struct stream_source *s, void *buf, size_t len);
/* Exact scattered read: iov in order (counts bytes). */
int stream_getv(struct stream_source *s, const struct iovec *iov, int iovcnt);
/* len bytes passed over unread where the source can (a regular file
 * seeks), else read and discarded (counts bytes). */
int stream_skip(struct stream_source *s, uint64_t len);
/* len bytes of the stream copied into out at offset off by the source
 * itself (counts bytes); -EOPNOTSUPP where it has no copy_to_fd. */
int stream_copy_to_fd(struct stream_source *s, int out, uint64_t off, uint64_t len);

/* The zero padding that follows a save-stream record body of len bytes, up
 * to XEN_STREAM_REC_ALIGN (xen_stream_format.h; libxl's and libxc's records
 * share it): 0, -ENODATA (the stream ended first), -EBADMSG (a non-zero
 * byte) or the source's error. */
int stream_get_padding(struct stream_source *s, uint32_t len);
/* A record body of len bytes that is not kept, discarded, with its padding
 * as stream_get_padding checks it. Same returns. */
int stream_skip_record(struct stream_source *s, uint32_t len);

/* A descriptor: the int lives in the caller's storage. The source reads
 * scattered with readv and skips a regular file's bytes with a seek
 * (refusing one past its end, as a read would); on a descriptor that is a
 * regular file when the source is made, copy_to_fd is sendfile (the page
 * cache's bytes written into out: no user-space buffer, no faults on a
 * mapping of out). */
void stream_sink_fd(struct stream_sink *s, int *fd);
void stream_source_fd(struct stream_source *s, int *fd);

/* A growable memory buffer (free data with free()). */
struct stream_membuf {
    uint8_t *data;
    size_t len, cap;
};
void stream_sink_mem(struct stream_sink *s, struct stream_membuf *m);

/* A read-only buffer. */
struct stream_memsrc {
    const uint8_t *data;
    size_t len, off;
};
void stream_source_mem(struct stream_source *s, struct stream_memsrc *m);

#endif
