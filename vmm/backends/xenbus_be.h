/*
 * The backend side of xenbus, in this VMM, acting as domain 0 for its own
 * domain's PV devices (vbd, vif): generic over device kinds, with a driver
 * per kind giving callbacks. It runs on the I/O thread over the VMM's own
 * non-blocking domain-0 xenstore connection (xs_conn.h, to the socket the
 * xenstore relay is given).
 *
 * A device is attached by the toolstack (DEVICE_ATTACH on the control
 * channel, after it wrote the backend and frontend directories as libxl
 * does) with the descriptor the driver works on. The state machine is the
 * one Xen's backends run (drivers/xen/xen-blkback/xenbus.c frontend_changed):
 *
 *   attach: driver probe() publishes its features, then state InitWait
 *           (a probe that must wait, an NBD handshake: Initialising until
 *           xenbus_dev_probed(), then InitWait, or Closed on failure)
 *   frontend Initialised or Connected (backend not yet Connected):
 *           the frontend directory is read, driver connect(); Connected
 *           (connect() failing: the reason in <backend>/error, Closing)
 *   frontend Closing: backend Closing
 *   frontend Closed, or its state node gone: driver disconnect(); Closed
 *           (a disconnect() that must wait for requests in flight calls
 *           xenbus_dev_disconnect_later(): Closing until the driver's
 *           xenbus_dev_disconnected(), then Closed; the I/O loop goes on)
 *   frontend Initialising while the backend is Closed (a frontend that
 *           reconnects): InitWait again
 *   toolstack writes backend state Closing (xl block-detach, libxl's
 *           device removal with online = 0): once the frontend is not
 *           connected (Closed, or never got past InitWait), disconnect();
 *           Closed. The toolstack then sends DEVICE_DETACH and removes the
 *           nodes.
 *   DEVICE_DETACH: disconnect() if connected, remove(); no more writes.
 *
 * Every value read from the frontend is hostile: drivers read it through
 * xenbus_dev_fe_uint() (strict decimal, bounded) and xenbus_dev_fe_str().
 */
#ifndef XENON_XENBUS_BE_H
#define XENON_XENBUS_BE_H

#include <stdbool.h>
#include <stdint.h>

#include "xenon/contract.h"
#include "xs_conn.h"

struct domain;
struct xenbus_dev;

struct xenbus_driver {
    uint32_t kind;                  /* XENON_DEV_* */
    const char *name;               /* its xenstore directory: "vbd", "vif" */
    /* Set up the device from `fd` (-1 for an EMPTY device) and publish the
     * features (xenbus_dev_printf) the frontend reads before it connects.
     * Owns fd from here on (closes it on failure). 0 or -errno, or 1: not
     * known yet (an NBD handshake), the driver calls xenbus_dev_probed()
     * later from the I/O loop; until then the backend stays Initialising. */
    int (*probe)(struct xenbus_dev *dev, int fd, uint32_t flags);
    /* The frontend has published its rings: map and serve them. 0 or
     * -errno (the device then goes Closing with the reason logged). */
    int (*connect)(struct xenbus_dev *dev);
    /* Stop serving the rings, unmap them (safe when not connected). With
     * requests still in flight it may instead call
     * xenbus_dev_disconnect_later() and finish later, never blocking. */
    void (*disconnect)(struct xenbus_dev *dev);
    /* Release everything probe() set up; a disconnect still waiting for
     * its requests is ended here, at once (xenbus_dev_disconnected() is
     * then never called). */
    void (*remove)(struct xenbus_dev *dev);
};

struct xenbus_dev {
    struct domain *d;
    const struct xenbus_driver *drv;
    uint32_t devid, flags;
    char be_path[XENON_DEV_PATH_MAX];
    char fe_path[XENON_DEV_PATH_MAX];
    void *priv;                     /* the driver's */
    /* Framework state (xenbus_be.c). */
    int be_state, fe_state;         /* XenbusState*; fe: -1 unknown yet */
    bool connected;
    bool disconnecting;             /* disconnect_later(), not disconnected() yet */
    bool probing;                   /* probe() returned 1, no probed() yet */
    bool probe_failed;              /* probed() with an error: stays Closed */
    bool toolstack_closing;
    unsigned gen;                   /* owner of the connect-time reads */
    unsigned nr_keys, keys_pending;
    char **keys, **values;          /* the frontend directory, read at connect */
    struct key_read *reads;
    struct xenbus_dev *next;
};

/* Drivers register themselves before any attach (main.c). */
void xenbus_be_register(const struct xenbus_driver *drv);

/* Note xenstored's socket (NULL: devices cannot be attached); the
 * connection itself is made at the first attach. 0 or -errno. */
int xenbus_be_init(struct domain *d, const char *socket_path);
/* Detach every device and close the connection. */
void xenbus_be_fini(struct domain *d);

/* The control channel's DEVICE_ATTACH / DETACH (see contract.h). attach
 * owns fd (closed on failure). 0 or -errno. */
int xenbus_be_attach(struct domain *d, const struct xenon_ctl_device_attach *a,
                     int fd);
int xenbus_be_detach(struct domain *d, uint32_t kind, uint32_t devid);

/* --- for drivers -------------------------------------------------------- */

/* A probe that returned 1 is over: rc 0, the features published, the
 * backend goes InitWait (unless the toolstack closed it meanwhile); rc
 * -errno, the reason in <backend>/error and the backend Closed (the
 * toolstack, waiting for InitWait, gives up and removes it). */
void xenbus_dev_probed(struct xenbus_dev *dev, int rc);

/* From inside disconnect(): the rings are still in use by requests in
 * flight; the backend stays Closing until xenbus_dev_disconnected(). */
void xenbus_dev_disconnect_later(struct xenbus_dev *dev);
/* The disconnect that waited is over (from the I/O loop, outside the
 * driver's callbacks from this framework): Closed, or InitWait again for
 * a frontend that came back meanwhile. */
void xenbus_dev_disconnected(struct xenbus_dev *dev);

/* Write <backend>/<key> (fire and forget; failures are logged). */
int xenbus_dev_printf(struct xenbus_dev *dev, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Read <backend>/<key> (a node the toolstack wrote, e.g. vif's rate): fn
 * runs later on the I/O thread with the reply (xs_conn.h: XS_READ and the
 * value, or XS_ERROR), never after the device is detached. 0 or -errno. */
int xenbus_dev_read_be(struct xenbus_dev *dev, const char *key, xs_reply_fn *fn,
                       void *opaque);
/* Watch <backend>/<key> (a node the toolstack writes later, e.g. vif's
 * hotplug-status): fn runs on the I/O thread at once and at each change
 * (then read the node with xenbus_dev_read_be), never after the device is
 * detached. 0 or -errno. */
int xenbus_dev_watch_be(struct xenbus_dev *dev, const char *key, xs_watch_fn *fn,
                        void *opaque);
/* From the frontend directory as read at connect time (its children, and
 * one level below a child that is a directory: "queue-0/ring-ref"): the
 * value of key, or NULL when absent. */
const char *xenbus_dev_fe_str(const struct xenbus_dev *dev, const char *key);
/* Key as an unsigned decimal in [0, max]: 0, -ENOENT (absent) or -EINVAL. */
int xenbus_dev_fe_uint(const struct xenbus_dev *dev, const char *key,
                       unsigned long max, unsigned long *out);

#endif
