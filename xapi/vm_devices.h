/* A VM's VBD and VIF records, from the truth only: the disk= and vif=
 * lines of its definition and, while it runs, the devices libxenon made
 * for it (/libxl/<domid>/device/{vbd,vif} and their backends: what xl
 * block-list and network-list show). A device in both is one record,
 * attached; one only in the definition is detached (VBD.plug / VIF.plug
 * attach it from its definition line, as xl block-attach would); one only
 * running (xl block-attach) is attached and goes away when unplugged.
 *
 * Stable UUIDs: UUIDv5 (vm_uuid_for_name's namespace) of
 * "vbd:<VM uuid>/<vdev>" and "vif:<VM uuid>/<devid>". */
#ifndef XAPI_VM_DEVICES_H
#define XAPI_VM_DEVICES_H

#include <json-c/json.h>
#include <stdbool.h>

struct domain_config;
struct xs_client;

/* A definition's devices: {"disks": [{vdev, target, format, ro, cdrom}],
 * "vifs": [{devid, mac, bridge}]}, new. */
json_object *vm_devices_from_config(const struct domain_config *dc);

/* A running domain's devices, in the same shape (new; empty lists when
 * xenstore has none). */
json_object *vm_devices_running(struct xs_client *xs, unsigned domid);

/* locked: put the VBD and VIF records of the VM `vm_ref` (uuid vm_uuid)
 * from its definition's devices `cfg` and the running ones `running`
 * (either may be NULL), set the VM record's VBDs and VIFs, and add every
 * reference put to `seen`. */
void vm_devices_put(const char *vm_ref, const char *vm_uuid, json_object *vm,
                    json_object *cfg, json_object *running, json_object *seen);

/* locked: mark the VBDs and VIFs the stored record of `vm_ref` lists as
 * seen (a VM whose records did not change). */
void vm_devices_keep(const char *vm_ref, json_object *seen);

/* The XAPI methods VBD.plug/unplug, VIF.plug/unplug (class_devices.c). */
/* see dispatch.h: device_methods (class_devices.c) */

#endif
