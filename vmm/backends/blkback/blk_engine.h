/*
 * blkback's I/O engines: what carries out a checked request's data
 * transfer once the ring handling (blkback.c) has mapped its grants. Two
 * engines, one per kind of descriptor the toolstack hands over:
 *
 *   blk_uring.c  a raw image or block device: io_uring (liburing)
 *   blk_nbd.c    a connected socket to the domain's NBD server (qemu-nbd
 *                exporting a qcow2, vhd, ... image): libnbd's async API
 *
 * Both run on the I/O thread and never block it while serving: requests
 * are queued by start(), sent in one batch by submit(), and each one's
 * completion comes back through `done` from the engine's own io_watch on
 * the I/O loop (never from inside start()), in any order.
 */
#ifndef XENON_BLK_ENGINE_H
#define XENON_BLK_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* One request's transfer, as an engine sees it. iov stays valid until the
 * request's completion. */
struct blk_io {
    uint8_t op;             /* BLKIF_OP_READ, _WRITE, _DISCARD, _FLUSH_DISKCACHE
                             * (a flush with data: the data, then the flush;
                             * WRITE_BARRIER arrives here as a flush) */
    uint32_t tag;           /* handed back in done() */
    uint64_t offset;        /* in bytes */
    uint64_t length;        /* DISCARD: bytes */
    const struct iovec *iov;
    unsigned niov;
    size_t bytes;           /* the iovecs' total */
};

/* Completion: status is BLKIF_RSP_OKAY, _ERROR or _EOPNOTSUPP. After
 * each pass that delivered completions, batch_done (the responses are
 * pushed once per pass, not once per request). */
typedef void blk_done_fn(void *opaque, uint32_t tag, int16_t status);
typedef void blk_batch_fn(void *opaque);

/* What the disk offers, from the engine (the image's size, the export's
 * flags). */
struct blk_disk_info {
    uint64_t sectors;
    bool readonly;          /* the export refuses writes */
    bool flush;             /* feature-flush-cache */
    bool discard;           /* can discard (trim) */
};

struct blk_engine;

struct blk_engine_ops {
    /* Queue one request: 1 queued, 0 no room now (the caller retries after
     * a completion), -1 refused at once (the caller answers ERROR). */
    int (*start)(struct blk_engine *e, const struct blk_io *io);
    /* Send what start() queued. */
    void (*submit)(struct blk_engine *e);
    /* A ring is being disconnected: what is in flight completes through
     * done() from the I/O loop as usual, within a bound (the NBD engine
     * drops a connection whose server does not answer in time, failing
     * what it had). Returns at once; done() may run inside it. */
    void (*drain)(struct blk_engine *e);
    /* End what is in flight now: after it no completion touches a buffer.
     * done() runs inside it for each request (NBD: the connection is
     * dropped, failing them; io_uring: waits for the kernel). */
    void (*cancel)(struct blk_engine *e);
    void (*destroy)(struct blk_engine *e);
};

struct blk_engine {
    const struct blk_engine_ops *ops;
    blk_done_fn *done;
    blk_batch_fn *batch_done;       /* set by the caller after create */
    void *opaque;
    const char *name;       /* for the log: "dom3: vbd 51712" */
};

/* Each takes fd (closed on failure). NULL on failure, the reason logged.
 * The io_uring engine fills *info at once. */
struct blk_engine *blk_uring_create(int fd, blk_done_fn *done, void *opaque,
                                    const char *name, struct blk_disk_info *info);
/* The NBD engine's handshake runs on the I/O loop, bounded: ready() comes
 * later (never from inside create) with the disk, or with NULL when the
 * server failed or did not answer in time (the engine then refuses every
 * request; destroy it as usual). No request may start before ready(). */
typedef void blk_ready_fn(void *opaque, const struct blk_disk_info *info);
struct blk_engine *blk_nbd_create(int fd, bool readonly, blk_done_fn *done,
                                  blk_ready_fn *ready, void *opaque, const char *name);

#endif
