/*
 * PV devices as libxl makes them (tools/libs/light/libxl_device.c), for
 * every kind (vbd here, vif for the network): the xenstore directories
 * with libxl's permissions, the wait for the backend's states, the
 * removal in libxl's order, and the DEVICE_ATTACH / DETACH messages that
 * start and stop the backend in the domain's VMM (contract.h), which runs
 * the backend as domain 0 would.
 *
 *   backend   /local/domain/0/backend/<kind>/<domid>/<devid>
 *             owned by dom0, readable by the domain; "frontend" and the
 *             caller's keys (frontend-id, online, state, ...)
 *   frontend  /local/domain/<domid>/device/<kind>/<devid>
 *             owned by the domain, readable by dom0; "backend" and the
 *             caller's keys (backend-id, state, ...)
 *   libxl     /libxl/<domid>/device/<kind>/<devid>: frontend, backend and
 *             a copy of the backend keys (libxl's own record; xl
 *             block-list and destroy walk it)
 */
#ifndef XENON_DEVICE_H
#define XENON_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "xenon/contract.h"

struct xs_client;
struct xenon_paths;

/* "vbd", "vif"; NULL for another kind. */
const char *xdev_kind_name(uint32_t kind);

struct xdev {
    uint32_t kind;                  /* XENON_DEV_* */
    unsigned domid, devid;
    /* key, value, key, value, ..., NULL (the backend and frontend keys
     * beyond "frontend" / "backend", which are written here). */
    const char *const *bents;
    const char *const *fents;
};

/* Its three paths. 0 or -ENAMETOOLONG. */
int xdev_backend_path(uint32_t kind, unsigned domid, unsigned devid, char *out,
                      size_t n);
int xdev_frontend_path(uint32_t kind, unsigned domid, unsigned devid, char *out,
                       size_t n);
int xdev_libxl_path(uint32_t kind, unsigned domid, unsigned devid, char *out,
                    size_t n);

/* Write the directories as libxl__device_generic_add does, in one
 * transaction (retried on conflict). 0 or -errno. */
int xdev_add_nodes(struct xs_client *xs, const struct xdev *dev);

/* Wait until the backend's state is `state` (XenbusState*): 0, -ETIMEDOUT,
 * or -ENOENT once the backend directory is gone. */
int xdev_wait_state(struct xs_client *xs, uint32_t kind, unsigned domid,
                    unsigned devid, int state, unsigned timeout_ms);

/* DEVICE_ATTACH over a control connection, passing fd (-1 with
 * XENON_DEV_F_EMPTY). The VMM's status, or a transport error. */
int xdev_attach(int ctl_fd, uint32_t kind, unsigned domid, unsigned devid,
                uint32_t flags, int fd, unsigned timeout_ms);
int xdev_detach(int ctl_fd, uint32_t kind, unsigned devid, unsigned timeout_ms);

/* Remove a device as libxl does: online = 0 and state Closing (unless
 * already Closed) in one transaction, wait for the backend to reach
 * Closed (10 s; forced removal afterwards, as libxl does), DETACH in the
 * VMM (ctl_fd; -1: not running), then the frontend, libxl and backend
 * directories with their emptied parents. 0, or -errno of the first step
 * that failed (the nodes are removed regardless). */
int xdev_remove(struct xs_client *xs, int ctl_fd, uint32_t kind, unsigned domid,
                unsigned devid, FILE *err);

/* A domain's devices of every kind, as teardown removes them: the backend
 * directories /local/domain/0/backend/<kind>/<domid> (the frontend and
 * libxl ones go with the domain's own directories). */
void xdev_rm_domain(struct xs_client *xs, unsigned domid);

/* Devices of `kind` the domain has (from /libxl/<domid>/device/<kind>),
 * as a malloc'd, ascending array. 0 or -errno. */
int xdev_list(struct xs_client *xs, uint32_t kind, unsigned domid,
              unsigned **devids, int *n);

/* --- at run time (xl block-*, network-*), shared by vbd.c and vif.c ----- */

/* A number read from <dir>/<key>; -1 when the node is not there. */
int xdev_read_num(struct xs_client *xs, const char *dir, const char *key);

/* A control connection to the running domain's VMM, or -1 with
 * "<what>: domain <domid> ..." printed to err. */
int xdev_open_vmm(const struct xenon_paths *p, unsigned domid, const char *what,
                  FILE *err);

/* The tail of xl block-detach / network-detach, once the device is known to
 * exist: xdev_remove through the running VMM (named `what` in errors).
 * A frontend that would not close was removed by force (as libxl): the
 * device is gone either way, so -ETIMEDOUT counts as done. 0 or -1. */
int xdev_detach_running(const struct xenon_paths *p, struct xs_client *xs,
                        uint32_t kind, unsigned domid, unsigned devid,
                        const char *what, FILE *err);

/* Fill one slot of an xl *-list answer from the device's frontend
 * directory `fe`, whose "backend" is `be`. */
typedef void xdev_fill_fn(struct xs_client *xs, unsigned domid, unsigned devid,
                          const char *fe, const char *be, void *slot);

/* The skeleton of xl block-list / network-list: the domain's devices of
 * `kind`, each whose frontend names a backend filled by `fill` into the next
 * of a zeroed, malloc'd array of elem_size-byte slots (one spare); the others
 * are skipped, as libxl's *_getinfo fails for them. *out (the caller frees
 * it) and *n; 0, or -1 with *out NULL and *n 0. */
int xdev_list_info(const struct xenon_paths *p, uint32_t kind, unsigned domid,
                   size_t elem_size, xdev_fill_fn *fill, void **out, int *n,
                   FILE *err);

#endif
