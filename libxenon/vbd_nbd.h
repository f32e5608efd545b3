/* Disks in formats other than raw (qcow2, vhd, qcow, qed), served as
 * Xen's qdisk serves them, by QEMU's own block layer rather than by code
 * of ours: per disk, a qemu-nbd (Debian's qemu-utils) exports the image,
 * with its format given explicitly and read-only when the disk is, over a
 * unix socket in RUN_DIR/nbd/<domid>/ (0700; the socket 0600). The VMM's
 * blkback is its client (docs/blk.md); the only other one a writable
 * disk's server may ever have (its socket stays for it; a read-only one's
 * is unlinked once the VMM connected) is the VMM of the same VM's
 * incoming copy on this host (a migration to localhost, vbd_nbd_adopt),
 * which takes the server over
 * instead of opening the image a second time: QEMU's image lock admits
 * one writer, and the old server's cached qcow2 metadata must never sit
 * beside a second server's. A server is stopped at block-detach and
 * teardown once no other domain's pid file names it, and it ends by
 * itself when its last client's connection closes. Internal to
 * libxenon. */
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

/* A migration's incoming domain `domid` on the host its source runs on:
 * the source's server for this disk (a domain other than domid whose
 * server for devid exports the same image path, writable, and for which
 * same_vm(that domid) says it is the same VM), recorded as domid's too and
 * connected to: the connected socket, or -ENOENT when there is none (then
 * start one), or another -errno with the message on err. */
int vbd_nbd_adopt(const char *run_dir, unsigned domid, unsigned devid, const struct xdisk *d,
                  bool (*same_vm)(unsigned other, void *arg), void *arg, FILE *err);

/* Flush the server on `sock` as its second client (NBD_CMD_FLUSH: QEMU
 * writes its cached qcow2 metadata back and syncs the file), within
 * timeout_ms. 0, or -errno with *why naming the step (nbd_flush.c). */
int vbd_nbd_flush_socket(const char *sock, unsigned timeout_ms, const char **why);
/* The same for every writable disk of the domain that a qemu-nbd serves
 * (a read-only one's has nothing to write back). 0, or -1 with xl's kind
 * of message on err. */
int vbd_nbd_flush_all(const char *run_dir, unsigned domid, FILE *err);

/* Stop one disk's server (if it is still the one its pid file names) and
 * remove its files; all of a domain's, and the directory. Safe to repeat. */
void vbd_nbd_stop(const char *run_dir, unsigned domid, unsigned devid);
void vbd_nbd_stop_all(const char *run_dir, unsigned domid);

#endif
