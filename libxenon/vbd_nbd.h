/* Disks in formats other than raw (qcow2, vhd, qcow, qed), served as
 * Xen's qdisk serves them, by QEMU's own block layer rather than by code
 * of ours: per disk, a qemu-nbd (Debian's qemu-utils) exports the image,
 * with its format given explicitly and read-only when the disk is, over a
 * unix socket in RUN_DIR/nbd/<domid>/ (0700; the socket 0600). The VMM's
 * blkback is its one client (docs/blk.md). The server is the domain's:
 * stopped at block-detach and teardown, and it ends by itself when the
 * VMM's connection closes. Internal to libxenon. */
#ifndef XENON_VBD_NBD_H
#define XENON_VBD_NBD_H

#include <stdbool.h>
#include <stdio.h>

#include "disk_spec.h"

/* QEMU's name for a disk format, or NULL (raw, empty: not served so). */
const char *vbd_nbd_format(enum xdisk_format f);

/* Start the disk's server and connect to it: the connected socket (for
 * DEVICE_ATTACH with XENON_DEV_F_NBD), or -1 with xl's kind of message on
 * err and nothing left. */
int vbd_nbd_start(const char *run_dir, unsigned domid, unsigned devid, const struct xdisk *d,
                  bool ro, FILE *err);

/* Stop one disk's server (if it is still the one its pid file names) and
 * remove its files; all of a domain's, and the directory. Safe to repeat. */
void vbd_nbd_stop(const char *run_dir, unsigned domid, unsigned devid);
void vbd_nbd_stop_all(const char *run_dir, unsigned domid);

#endif
