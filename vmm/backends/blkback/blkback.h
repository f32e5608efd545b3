/*
 * blkback: the vbd backend in this VMM (docs/blk.md). A xenbus driver
 * (xenbus_be.h) serving a disk's io/blkif.h rings (1 to 4 queues, 1 to 16
 * pages each, indirect requests, persistent grants) on the I/O thread,
 * with the disk's I/O through an engine (blk_engine.h: io_uring for a raw
 * image or device, libnbd for a socket to the domain's qemu-nbd): a ring
 * kick takes every request (copied out of the shared page once, checked as
 * Xen's blkback checks them), maps their grants (xen/grant_map.h) and
 * submits them in one batch; completions come back out of order on the
 * I/O loop, each answered as it completes.
 */
#ifndef XENON_BLKBACK_H
#define XENON_BLKBACK_H

/* Register the driver (kind XENON_DEV_VBD) with xenbus_be. */
void blkback_register(void);

#endif
