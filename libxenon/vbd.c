/* Virtual block devices: a `disk=` entry (or xl block-attach) made into a
 * vbd as libxl's device_disk_add makes it, served by blkback in the
 * domain's VMM (docs/blk.md). The image is opened here, under the
 * toolstack's policy and privileges; the VMM gets the descriptor. */
#include "domain_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xen/io/xenbus.h>

#include "device.h"
#include "vbd_nbd.h"
#include "vmm_control.h"
#include "xs_client.h"

#define ATTACH_TIMEOUT_MS 30000     /* the first attach waits for the build */
#define INIT_TIMEOUT_MS 10000       /* libxl's LIBXL_INIT_TIMEOUT */

/* The image or block device, read-only or not: a descriptor, or -1 with
 * the reason on err. */
static int open_target(const struct xdisk *d, bool ro, FILE *err)
{
    int fd = open(d->pdev_path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY |
                                    O_NONBLOCK);
    if (fd < 0) {
        fprintf(err, "libxl: error: Disk vdev=%s failed to open %s: %s\n", d->vdev,
                d->pdev_path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
        fprintf(err, "libxl: error: Disk vdev=%s: %s is not a file or block device\n",
                d->vdev, d->pdev_path);
        close(fd);
        return -1;
    }
    /* O_NONBLOCK only kept open() from hanging on a FIFO. */
    fcntl(fd, F_SETFL, 0);
    return fd;
}

struct vm_ident {
    const struct xenon_paths *p;
    const char *uuid;
};

/* Whether domain `other` is a copy of the VM arg names. */
static bool same_vm(unsigned other, void *arg)
{
    const struct vm_ident *v = arg;
    char name[256], uuid[37];
    return xenon_domain_identity(v->p, other, name, sizeof(name), uuid) == 0 &&
           strcmp(uuid, v->uuid) == 0;
}

/* vbd_add; `incoming_uuid` (or NULL): the domain is the incoming copy of
 * that VM in a migration, and takes over a server the source's copy on
 * this host already runs for a disk (vbd_nbd.h). */
static int vbd_add_ex(const struct xenon_paths *p, struct xs_client *xs, int ctl_fd,
                      unsigned domid, const struct xdisk *d, const char *incoming_uuid,
                      FILE *err)
{
    int devid = xdisk_vdev_number(d->vdev);
    if (devid < 0) {
        fprintf(err, "libxl: error: Invalid or unsupported virtual disk identifier %s\n",
                d->vdev);
        return -1;
    }
    bool empty = d->format == XDISK_FORMAT_EMPTY;
    /* Raw: the image itself, on io_uring. Another format: the socket to
     * the disk's own qemu-nbd (vbd_nbd.h), as Xen's qdisk serves it. */
    bool nbd = !empty && d->format != XDISK_FORMAT_RAW;
    if (nbd && !vbd_nbd_format(d->format)) {
        fprintf(err, "libxl: error: Disk vdev=%s: format %s is not supported\n", d->vdev,
                xdisk_format_name(d->format));
        return -1;
    }
    if (empty && !d->is_cdrom) {
        fprintf(err, "libxl: error: Disk vdev=%s is empty but not cdrom\n", d->vdev);
        return -1;
    }
    bool ro = !d->readwrite || d->is_cdrom;
    int fd = -1;
    if (nbd) {
        /* The image must be there and ours to open, as for a raw one. */
        if ((fd = open_target(d, ro, err)) < 0)
            return -1;
        close(fd);
        /* A writable image's second server could not take QEMU's write
         * lock, and two servers' caches of one qcow2 must never meet:
         * on this host the incoming copy is served by the source's. */
        struct vm_ident v = { p, incoming_uuid };
        fd = !ro && incoming_uuid
                 ? vbd_nbd_adopt(p->run_dir, domid, (unsigned)devid, d, same_vm, &v, err)
                 : -ENOENT;
        if (fd == -ENOENT)
            fd = vbd_nbd_start(p->run_dir, domid, (unsigned)devid, d, ro, err);
        if (fd < 0)
            return -1;
    } else if (!empty && (fd = open_target(d, ro, err)) < 0) {
        return -1;
    }
    /* libxl's params for a qdisk disk: "FORMAT:TARGET". */
    char params[XENON_PATH_MAX + 16];
    snprintf(params, sizeof(params), "%s%s%s", nbd ? xdisk_format_name(d->format) : "",
             nbd ? ":" : "", d->pdev_path ? d->pdev_path : "");
    uint32_t flags = (nbd ? XENON_DEV_F_NBD : 0) | (ro ? XENON_DEV_F_READONLY : 0) |
                     (d->is_cdrom ? XENON_DEV_F_CDROM : 0) | (empty ? XENON_DEV_F_EMPTY : 0) |
                     (d->discard_enable == 0 ? XENON_DEV_F_NO_DISCARD : 0);

    char fid[16], vdev_num[16];
    snprintf(fid, sizeof(fid), "%u", domid);
    snprintf(vdev_num, sizeof(vdev_num), "%d", devid);
    const char *devtype = d->is_cdrom ? "cdrom" : "disk";
    const char *bents[] = {
        "frontend-id", fid, "online", "1", "removable", d->removable > 0 ? "1" : "0",
        "bootable", "1", "state", "1", "dev", d->vdev, "type", nbd ? "qdisk" : "phy",
        "mode", ro ? "r" : "w", "device-type", devtype, "params", params,
        "discard-enable", d->discard_enable == 0 ? "0" : "1", NULL,
    };
    const char *fents[] = {
        "backend-id", "0", "state", "1", "virtual-device", vdev_num,
        "device-type", devtype, NULL,
    };
    struct xdev dev = { .kind = XENON_DEV_VBD, .domid = domid, .devid = (unsigned)devid,
                        .bents = bents, .fents = fents };
    int rc = xdev_add_nodes(xs, &dev);
    if (rc == 0)
        rc = xdev_attach(ctl_fd, XENON_DEV_VBD, domid, (unsigned)devid, flags, fd,
                         ATTACH_TIMEOUT_MS);
    if (fd >= 0)
        close(fd);      /* the VMM holds its own copy */
    if (rc == 0)
        rc = xdev_wait_state(xs, XENON_DEV_VBD, domid, (unsigned)devid,
                             XenbusStateInitWait, INIT_TIMEOUT_MS);
    if (rc < 0) {
        fprintf(err, "libxl: error: unable to add disk %s (vdev %s) to domain %u: %s\n",
                d->pdev_path ? d->pdev_path : "(empty)", d->vdev, domid, strerror(-rc));
        /* Closed and detached again if the VMM took it, nodes removed. */
        xdev_remove(xs, ctl_fd, XENON_DEV_VBD, domid, (unsigned)devid, NULL);
        if (nbd)
            vbd_nbd_stop(p->run_dir, domid, (unsigned)devid);
        return -1;
    }
    return 0;
}

int vbd_add(const struct xenon_paths *p, struct xs_client *xs, int ctl_fd, unsigned domid,
            const struct xdisk *d, FILE *err)
{
    return vbd_add_ex(p, xs, ctl_fd, domid, d, NULL, err);
}

int vbd_add_all(const struct xenon_paths *p, struct xs_client *xs, int ctl_fd, unsigned domid,
                const struct domain_config *dc, bool incoming, FILE *err)
{
    char uuid[37];
    uuid_string(dc->uuid, uuid);
    for (int i = 0; i < dc->num_disks; i++)
        if (vbd_add_ex(p, xs, ctl_fd, domid, &dc->disks[i], incoming ? uuid : NULL, err) < 0)
            return -1;
    return 0;
}

/* --- at run time: xl block-attach, block-detach, block-list --------------- */

int xenon_block_attach(const struct xenon_paths *p, unsigned domid,
                       const struct xdisk *d, FILE *err)
{
    struct xs_client *xs = xs_connect(p, err);
    if (!xs)
        return -1;
    int ctl = xdev_open_vmm(p, domid, "block-attach", err);
    int rc = -1;
    if (ctl >= 0) {
        int devid = xdisk_vdev_number(d->vdev);
        char fe[160], *state = NULL;
        /* A vdev in use is refused, as libxl refuses it. */
        if (devid >= 0 &&
            xdev_frontend_path(XENON_DEV_VBD, domid, (unsigned)devid, fe, sizeof(fe)) == 0 &&
            (state = xs_readf(xs, "%s/state", fe)) != NULL)
            fprintf(err, "libxl: error: device %s already exists in domain %u\n",
                    d->vdev, domid);
        else
            rc = vbd_add(p, xs, ctl, domid, d, err);
        free(state);
        close(ctl);
    }
    xs_close(xs);
    return rc;
}

int xenon_cdrom_insert(const struct xenon_paths *p, unsigned domid, const struct xdisk *d,
                       FILE *err)
{
    /* libxl checks the domain's type before it looks for the drive. A PV
     * frontend has no media change in io/blkif.h; Xen's blkback refuses a
     * changed physical device too. */
    (void)p, (void)d;
    fprintf(err, "libxl: error: Domain %u:cdrom-insert requires an HVM domain\n", domid);
    return -1;
}

int xenon_block_detach(const struct xenon_paths *p, unsigned domid, const char *vdev,
                       FILE *err)
{
    int devid = xdisk_vdev_number(vdev);
    struct xs_client *xs = xs_connect(p, err);
    if (!xs)
        return -1;
    char lx[160], *be = NULL;
    if (devid < 0 || xdev_libxl_path(XENON_DEV_VBD, domid, (unsigned)devid, lx,
                                     sizeof(lx)) < 0 ||
        !(be = xs_readf(xs, "%s/backend", lx))) {
        fprintf(err, "Error: Device %s not connected.\n", vdev);
        xs_close(xs);
        return -1;
    }
    free(be);
    int rc = xdev_detach_running(p, xs, XENON_DEV_VBD, domid, (unsigned)devid,
                                 "block-detach", err);
    /* Its NBD server, if it had one (the VMM's connection is closed). */
    vbd_nbd_stop(p->run_dir, domid, (unsigned)devid);
    xs_close(xs);
    return rc;
}

int xenon_domain_flush_disks(const struct xenon_paths *p, unsigned domid, FILE *err)
{
    return vbd_nbd_flush_all(p->run_dir, domid, err) < 0 ? -1 : 0;
}

static void fill_vbdinfo(struct xs_client *xs, unsigned domid, unsigned devid,
                         const char *fe, const char *be, void *slot)
{
    struct xenon_vbdinfo *v = slot;
    *v = (struct xenon_vbdinfo){ .devid = devid, .frontend_id = domid,
                                 .backend_id = xdev_read_num(xs, fe, "backend-id"),
                                 .state = xdev_read_num(xs, fe, "state"),
                                 .evtch = xdev_read_num(xs, fe, "event-channel"),
                                 .rref = xdev_read_num(xs, fe, "ring-ref") };
    snprintf(v->backend, sizeof(v->backend), "%s", be);
}

int xenon_block_list(const struct xenon_paths *p, unsigned domid,
                     struct xenon_vbdinfo **out, int *n, FILE *err)
{
    void *slots;
    int rc = xdev_list_info(p, XENON_DEV_VBD, domid, sizeof(**out), fill_vbdinfo,
                            &slots, n, err);
    *out = slots;
    return rc;
}
