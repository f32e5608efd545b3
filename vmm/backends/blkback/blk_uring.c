/* blkback's io_uring engine (blk_engine.h): a raw image or block device.
 * READ/WRITE are readv/writev, FLUSH_DISKCACHE is fdatasync (after its
 * data, if any, linked with IOSQE_IO_LINK so the sync follows the write),
 * DISCARD punches a hole. Completions arrive through the uring's eventfd. */
#include "blk_engine.h"
#include "blkif_req.h"
#include "ioloop.h"

#include <errno.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define URING_DEPTH 256u                /* a full uring: start() says "no room" */

/* A completion's user data: the request's tag, and how to judge it. */
#define UD_LINK_HEAD (1ull << 32)       /* a flush's data write: its sync reports */
#define UD_CHECK_LEN (1ull << 33)       /* must move exactly UD_LEN bytes */
#define UD_LEN_SHIFT 34

struct blk_uring {
    struct blk_engine e;
    int fd;
    struct io_uring uring;
    struct io_watch watch;              /* the uring's eventfd */
    unsigned inflight;                  /* requests, not sqes */
};

static struct io_uring_sqe *sqe_for(struct blk_uring *u, uint64_t ud)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->uring);
    io_uring_sqe_set_data64(sqe, ud);
    return sqe;
}

static int uring_start(struct blk_engine *e, const struct blk_io *io)
{
    struct blk_uring *u = (struct blk_uring *)e;
    bool with_data = io->op == BLKIF_OP_FLUSH_DISKCACHE && io->niov;
    unsigned need = with_data ? 2 : 1;
    if (io_uring_sq_space_left(&u->uring) < need)
        io_uring_submit(&u->uring);
    if (io_uring_sq_space_left(&u->uring) < need)
        return 0;
    uint64_t ud = io->tag, rw = ud | UD_CHECK_LEN | (uint64_t)io->bytes << UD_LEN_SHIFT;
    switch (io->op) {
    case BLKIF_OP_READ:
        io_uring_prep_readv(sqe_for(u, rw), u->fd, io->iov, io->niov, io->offset);
        break;
    case BLKIF_OP_WRITE:
        io_uring_prep_writev(sqe_for(u, rw), u->fd, io->iov, io->niov, io->offset);
        break;
    case BLKIF_OP_DISCARD:
        /* Punching a hole reads back as zeroes: on a file and, since
         * Linux 4.9, on a block device. */
        io_uring_prep_fallocate(sqe_for(u, ud), u->fd,
                                FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, io->offset,
                                io->length);
        break;
    case BLKIF_OP_FLUSH_DISKCACHE:
        if (with_data) {
            /* A short or failed write breaks the link: the sync then
             * completes with -ECANCELED and reports the failure. */
            struct io_uring_sqe *w = sqe_for(u, rw | UD_LINK_HEAD);
            io_uring_prep_writev(w, u->fd, io->iov, io->niov, io->offset);
            w->flags |= IOSQE_IO_LINK;
        }
        io_uring_prep_fsync(sqe_for(u, ud), u->fd, IORING_FSYNC_DATASYNC);
        break;
    default:
        return -1;
    }
    u->inflight++;
    return 1;
}

static void reap(struct blk_uring *u);

/* What the kernel finished inside the submit (a read the page cache
 * holds) is answered in this pass, not after the eventfd's wake-up: the
 * QD1 read's round trip loses a wake-up of the I/O thread. */
static void uring_submit(struct blk_engine *e)
{
    struct blk_uring *u = (struct blk_uring *)e;
    io_uring_submit(&u->uring);
    if (io_uring_cq_ready(&u->uring))
        reap(u);
}

static void reap(struct blk_uring *u)
{
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;
    /* The callbacks may start new requests: collect first, answer after
     * the ring advanced (at most the uring's depth per pass). */
    struct { uint32_t tag; int16_t st; } done[URING_DEPTH];
    unsigned nd = 0;
    io_uring_for_each_cqe(&u->uring, head, cqe) {
        if (nd == URING_DEPTH)
            break;
        n++;
        uint64_t ud = io_uring_cqe_get_data64(cqe);
        int res = cqe->res;
        if (ud & UD_LINK_HEAD)
            continue;
        bool ok = res >= 0 && (!(ud & UD_CHECK_LEN) || (uint64_t)res == ud >> UD_LEN_SHIFT);
        done[nd].tag = (uint32_t)ud;
        done[nd++].st = ok ? BLKIF_RSP_OKAY
                        : res == -EOPNOTSUPP ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR;
    }
    io_uring_cq_advance(&u->uring, n);
    u->inflight -= nd;
    for (unsigned i = 0; i < nd; i++)
        u->e.done(u->e.opaque, done[i].tag, done[i].st);
    if (nd && u->e.batch_done)
        u->e.batch_done(u->e.opaque);
}

static void on_uring(struct io_watch *w, uint32_t events)
{
    (void)events;
    struct blk_uring *u = w->opaque;
    uint64_t v;
    (void)!read(w->fd, &v, sizeof(v));
    reap(u);
    /* A pass stopped at its bound: come back for the rest. */
    if (io_uring_cq_ready(&u->uring)) {
        v = 1;
        (void)!write(w->fd, &v, sizeof(v));
    }
}

/* A local file's or device's requests complete by themselves: their
 * completions come through on_uring as usual. */
static void uring_drain(struct blk_engine *e)
{
    (void)e;
}

/* The kernel may still be writing into granted pages: wait for it (only
 * when a device goes with requests in flight, for at most the disk's
 * latency). */
static void uring_cancel(struct blk_engine *e)
{
    struct blk_uring *u = (struct blk_uring *)e;
    while (u->inflight) {
        io_uring_submit(&u->uring);
        struct io_uring_cqe *cqe;
        if (io_uring_wait_cqe(&u->uring, &cqe) < 0)
            break;
        reap(u);
    }
}

static void uring_destroy(struct blk_engine *e)
{
    struct blk_uring *u = (struct blk_uring *)e;
    uring_cancel(e);
    ioloop_del(&u->watch);
    close(u->watch.fd);
    io_uring_queue_exit(&u->uring);
    close(u->fd);
    free(u);
}

static const struct blk_engine_ops uring_ops = {
    .start = uring_start, .submit = uring_submit, .drain = uring_drain, .cancel = uring_cancel,
    .destroy = uring_destroy,
};

static int disk_sectors(int fd, uint64_t *out)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    uint64_t bytes = (uint64_t)st.st_size;
    if (S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, &bytes) < 0)
        return -errno;
    *out = bytes >> BLK_SECTOR_SHIFT;
    return 0;
}

struct blk_engine *blk_uring_create(int fd, blk_done_fn *done, void *opaque,
                                    const char *name, struct blk_disk_info *info)
{
    struct blk_uring *u = calloc(1, sizeof(*u));
    if (u)
        u->watch.fd = -1;
    int rc = u ? disk_sectors(fd, &info->sectors) : -ENOMEM;
    bool uring_ok = false;
    if (rc == 0) {
        u->e = (struct blk_engine){ .ops = &uring_ops, .done = done, .opaque = opaque,
                                    .name = name };
        u->fd = fd;
        u->watch.ready = on_uring;
        u->watch.opaque = u;
        rc = io_uring_queue_init(URING_DEPTH, &u->uring, 0);
    }
    if (rc == 0) {
        uring_ok = true;
        u->watch.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        rc = u->watch.fd < 0 ? -errno : io_uring_register_eventfd(&u->uring, u->watch.fd);
        if (rc == 0)
            rc = ioloop_add(&u->watch, EPOLLIN);
    }
    if (rc < 0) {
        log_err("%s: %s", name, strerror(-rc));
        if (u && u->watch.fd >= 0)
            close(u->watch.fd);
        if (uring_ok)
            io_uring_queue_exit(&u->uring);
        close(fd);
        free(u);
        return NULL;
    }
    /* What a raw image can do, the ring handling limits further (a
     * read-only disk, discard-enable=0). */
    info->readonly = false;
    info->flush = true;
    info->discard = true;
    return &u->e;
}
