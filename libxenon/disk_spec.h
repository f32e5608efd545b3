/* Disk specifications (xl-disk-configuration): `disk = ['spec', ...]` and
 * `xl block-attach`. Parsed the way xl parses them, with the same error
 * messages. */
#ifndef XENON_DISK_SPEC_H
#define XENON_DISK_SPEC_H

#include <stdio.h>

/* Values match libxl's enums, so they serialise the same way. */
enum xdisk_format {
    XDISK_FORMAT_UNKNOWN, XDISK_FORMAT_QCOW, XDISK_FORMAT_QCOW2,
    XDISK_FORMAT_VHD, XDISK_FORMAT_RAW, XDISK_FORMAT_EMPTY, XDISK_FORMAT_QED,
};
enum xdisk_backend {
    XDISK_BACKEND_UNKNOWN, XDISK_BACKEND_PHY, XDISK_BACKEND_TAP,
    XDISK_BACKEND_QDISK, XDISK_BACKEND_STANDALONE,
};
enum xdisk_specification {
    XDISK_SPEC_UNKNOWN, XDISK_SPEC_XEN, XDISK_SPEC_VIRTIO,
};

struct xdisk {
    char *pdev_path;        /* target */
    char *vdev;
    char *backend_domname;
    char *script;
    char *colo_host, *colo_export, *active_disk, *hidden_disk;
    enum xdisk_format format;
    enum xdisk_backend backend;
    enum xdisk_specification specification;
    int readwrite, is_cdrom, removable, direct_io_safe;
    int discard_enable, colo_enable, trusted;  /* -1 default, 0, 1 */
    int colo_port;
};

void xdisk_init(struct xdisk *d);
void xdisk_dispose(struct xdisk *d);

/* Parse nspecs strings that together describe one disk (normally one).
 * Messages go to `report` as "SOURCE: config parsing error in disk
 * specification: ...". Returns 0, EINVAL or ENOMEM. */
int xdisk_parse(FILE *report, const char *source, int nspecs,
                const char *const *specs, struct xdisk *d);

/* Device number of a vdev name (xvda = 51712, xvdb1 = 51729, hda = 768,
 * sda = 2048, d0p1, or a plain number); -1 if it is not one. */
int xdisk_vdev_number(const char *vdev);

const char *xdisk_format_name(enum xdisk_format f);
const char *xdisk_backend_name(enum xdisk_backend b);

#endif
