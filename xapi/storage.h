/* The SR, PBD and VDI classes: storage as the host holds it, no second
 * copy. One SR is a directory of disk images (--sr-dir, by default
 * STATE_DIR/images): each regular *.raw, *.img, *.qcow2 (or any file
 * whose first bytes are qcow2's magic) in it is a VDI, its virtual_size the
 * file's size for raw images and what `qemu-img info --output=json` says
 * for qcow2 (run once per change of the file: cached by inode, size and
 * modification time). Disks that VMs use from elsewhere are VDIs of a
 * second SR, "Disks outside the image directory", for as long as a VBD
 * names them (a VBD's qcow2 one sized by qemu-img too, by its declared
 * format, cached alike). One PBD plugs each SR into the host.
 *
 * Stable UUIDs: UUIDv5 (vm_uuid_for_name's namespace) of "sr:<dir>",
 * "sr:external", "pbd:<sr uuid>" and "vdi:<absolute path>", so a VDI keeps
 * its uuid across restarts of the daemon for as long as its file keeps its
 * name. */
#ifndef XAPI_STORAGE_H
#define XAPI_STORAGE_H

#include <json-c/json.h>

void storage_config(const char *sr_dir);
const char *storage_dir(void);

/* Not locked: read the image directory (qemu-img for new qcow2 files). */
void storage_scan(void);

/* locked: the VDI reference of a disk image path (made absolute against
 * nothing: paths in definitions are taken as written). */
const char *storage_vdi_ref(const char *path);
/* locked: the same for a VBD's disk of a declared format: a qcow2 one
 * outside the SR gets the virtual_size qemu-img reads (from the next
 * scan on; a scan is asked for), not its file's size. */
#include <stdbool.h>
const char *storage_vdi_ref_as(const char *path, bool qcow2);
/* locked: the same for a VM's suspend image (vm_suspend.h): a VDI of
 * type "suspend" in the second SR for as long as the file is there. */
const char *storage_suspend_vdi_ref(const char *path);

/* locked: whether an image of the SR is a qcow2 overlay on `path` (its
 * backing file, as qemu-img names it), as of the last scan. */
#include <stdbool.h>
bool storage_backs_an_image(const char *path);

/* locked: the reference of the image directory's SR (the one VDI.create
 * makes images in), and its file system's free bytes as of now (-1 when
 * statvfs fails). */
const char *storage_sr_ref(void);
#include <stdint.h>
int64_t storage_free_bytes(void);

/* locked: put the SR, PBD and VDI records (VDI.VBDs from the VBD records
 * in the model), drop those no longer there, and the host's PBDs and the
 * pool's default_SR. */
void storage_put(void);

#endif
