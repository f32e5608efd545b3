/* VBD and VIF records from a VM's definition and its running devices
 * (vm_devices.h). */
#include "vm_devices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "disk_spec.h"
#include "domain_config.h"
#include "host_net.h"
#include "model.h"
#include "storage.h"
#include "vif_spec.h"
#include "vm_scan.h"
#include "xs_client.h"

static void kv(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

static json_object *disk_json(const char *vdev, const char *target, const char *format, bool ro,
                              bool cdrom)
{
    json_object *d = json_object_new_object();
    kv(d, "vdev", vdev);
    kv(d, "target", target);
    kv(d, "format", format);
    json_object_object_add(d, "ro", json_object_new_boolean(ro));
    json_object_object_add(d, "cdrom", json_object_new_boolean(cdrom));
    return d;
}

static json_object *vif_json(int devid, const char *mac, const char *bridge)
{
    json_object *v = json_object_new_object();
    json_object_object_add(v, "devid", json_object_new_int(devid));
    kv(v, "mac", mac);
    kv(v, "bridge", bridge);
    return v;
}

json_object *vm_devices_from_config(const struct domain_config *dc)
{
    json_object *o = json_object_new_object(), *disks = json_object_new_array(),
                *vifs = json_object_new_array();
    for (int i = 0; i < dc->num_disks; i++) {
        const struct xdisk *d = &dc->disks[i];
        if (!d->vdev)
            continue;
        json_object_array_add(disks, disk_json(d->vdev, d->pdev_path, xdisk_format_name(d->format),
                                               !d->readwrite, d->is_cdrom));
    }
    for (int i = 0; i < dc->num_nics; i++) {
        const struct xvif *v = &dc->nics[i];
        char mac[18] = "";
        if (v->mac_set)
            snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", v->mac[0], v->mac[1],
                     v->mac[2], v->mac[3], v->mac[4], v->mac[5]);
        json_object_array_add(vifs, vif_json(v->devid >= 0 ? v->devid : i, mac,
                                             v->bridge ? v->bridge : "xenbr0"));
    }
    json_object_object_add(o, "disks", disks);
    json_object_object_add(o, "vifs", vifs);
    return o;
}

/* <backend>/<key> of a device ("" when absent), malloc'd. */
static char *be_read(struct xs_client *xs, uint32_t kind, unsigned domid, unsigned devid,
                     const char *key)
{
    char p[256], q[300], *v = NULL;
    if (xdev_backend_path(kind, domid, devid, p, sizeof(p)) < 0)
        return strdup("");
    snprintf(q, sizeof(q), "%s/%s", p, key);
    if (xs_read(xs, q, &v) < 0 || !v)
        return strdup("");
    return v;
}

json_object *vm_devices_running(struct xs_client *xs, unsigned domid)
{
    json_object *o = json_object_new_object(), *disks = json_object_new_array(),
                *vifs = json_object_new_array();
    unsigned *ids = NULL;
    int n = 0;
    if (xs && xdev_list(xs, XENON_DEV_VBD, domid, &ids, &n) == 0) {
        for (int i = 0; i < n; i++) {
            char *dev = be_read(xs, XENON_DEV_VBD, domid, ids[i], "dev"),
                 *params = be_read(xs, XENON_DEV_VBD, domid, ids[i], "params"),
                 *mode = be_read(xs, XENON_DEV_VBD, domid, ids[i], "mode"),
                 *type = be_read(xs, XENON_DEV_VBD, domid, ids[i], "device-type");
            if (*dev)
                json_object_array_add(disks, disk_json(dev, params, *params ? "raw" : "empty",
                                                       strcmp(mode, "w") != 0,
                                                       !strcmp(type, "cdrom")));
            free(dev);
            free(params);
            free(mode);
            free(type);
        }
    }
    free(ids);
    ids = NULL;
    n = 0;
    if (xs && xdev_list(xs, XENON_DEV_VIF, domid, &ids, &n) == 0) {
        for (int i = 0; i < n; i++) {
            char *mac = be_read(xs, XENON_DEV_VIF, domid, ids[i], "mac"),
                 *bridge = be_read(xs, XENON_DEV_VIF, domid, ids[i], "bridge");
            json_object_array_add(vifs, vif_json((int)ids[i], mac, bridge));
            free(mac);
            free(bridge);
        }
    }
    free(ids);
    json_object_object_add(o, "disks", disks);
    json_object_object_add(o, "vifs", vifs);
    return o;
}

static const char *sfield(json_object *o, const char *k)
{
    json_object *f;
    return o && json_object_object_get_ex(o, k, &f) ? json_object_get_string(f) : "";
}

static bool bfield(json_object *o, const char *k)
{
    json_object *f;
    return o && json_object_object_get_ex(o, k, &f) && json_object_get_boolean(f);
}

static json_object *list_of(json_object *devs, const char *k)
{
    json_object *l;
    return devs && json_object_object_get_ex(devs, k, &l) ? l : NULL;
}

/* The entry of list l whose `key` reads `want` (as text). */
static json_object *find(json_object *l, const char *key, const char *want)
{
    for (size_t i = 0; l && i < json_object_array_length(l); i++) {
        json_object *e = json_object_array_get_idx(l, i);
        if (!strcmp(sfield(e, key), want))
            return e;
    }
    return NULL;
}

/* XAPI's userdevice: the disk's position (xvda 0, xvdb 1, hdc 2...). */
static int userdevice(const char *vdev, int fallback)
{
    int n = xdisk_vdev_number(vdev);
    if (n < 0)
        return fallback;
    if ((n >> 28) == 1)
        return (n >> 8) & 0xfffff;
    switch (n >> 8) {
    case 202: return (n >> 4) & 15;
    case 8: return (n >> 4) & 15;
    case 3: return (n >> 6) & 1;
    case 22: return 2 + ((n >> 6) & 1);
    default: return fallback;
    }
}

static void put_vbd(const char *vm_ref, const char *vm_uuid, json_object *d, bool in_cfg,
                    bool attached, int index, json_object *vbds, json_object *seen)
{
    const char *vdev = sfield(d, "vdev"), *target = sfield(d, "target");
    char id[400], uuid[40], key[64], ud[16];
    snprintf(id, sizeof(id), "vbd:%s/%s", vm_uuid, vdev);
    vm_uuid_for_name(id, uuid);
    snprintf(key, sizeof(key), "VBD/%s", uuid);
    char ref[48];
    snprintf(ref, sizeof(ref), "%s", model_ref_for(key));
    bool empty = !*target || !strcmp(sfield(d, "format"), "empty");
    bool cdrom = bfield(d, "cdrom");
    json_object *r = json_object_new_object();
    kv(r, "uuid", uuid);
    kv(r, "VM", vm_ref);
    kv(r, "VDI", empty ? REF_NULL : storage_vdi_ref_as(target, !strcmp(sfield(d, "format"), "qcow2")));
    kv(r, "device", vdev);
    snprintf(ud, sizeof(ud), "%d", userdevice(vdev, index));
    kv(r, "userdevice", ud);
    json_object_object_add(r, "bootable", json_object_new_boolean(index == 0 && !cdrom));
    kv(r, "mode", bfield(d, "ro") ? "RO" : "RW");
    kv(r, "type", cdrom ? "CD" : "Disk");
    json_object_object_add(r, "unpluggable", json_object_new_boolean(1));
    json_object_object_add(r, "storage_lock", json_object_new_boolean(0));
    json_object_object_add(r, "empty", json_object_new_boolean(empty));
    json_object_object_add(r, "currently_attached", json_object_new_boolean(attached));
    json_object_object_add(r, "status_code", json_object_new_int64(0));
    kv(r, "status_detail", "");
    json_object_object_add(r, "runtime_properties", json_object_new_object());
    kv(r, "qos_algorithm_type", "");
    json_object_object_add(r, "qos_algorithm_params", json_object_new_object());
    json_object_object_add(r, "qos_supported_algorithms", json_object_new_array());
    json_object *oc = json_object_new_object();
    kv(oc, "xenon_in_definition", in_cfg ? "true" : "false");
    json_object_object_add(r, "other_config", oc);
    kv(r, "metrics", REF_NULL);
    json_object *ops = json_object_new_array();
    json_object_array_add(ops, json_object_new_string(attached ? "unplug" : "plug"));
    json_object_object_add(r, "allowed_operations", ops);
    json_object_object_add(r, "current_operations", json_object_new_object());
    model_put("VBD", ref, r);
    json_object_array_add(vbds, json_object_new_string(ref));
    json_object_object_add(seen, ref, NULL);
}

static void put_vif(const char *vm_ref, const char *vm_uuid, json_object *v, bool in_cfg,
                    bool attached, json_object *vifs, json_object *seen)
{
    const char *devid = sfield(v, "devid"), *bridge = sfield(v, "bridge");
    char id[400], uuid[40], key[64];
    snprintf(id, sizeof(id), "vif:%s/%s", vm_uuid, devid);
    vm_uuid_for_name(id, uuid);
    snprintf(key, sizeof(key), "VIF/%s", uuid);
    char ref[48];
    snprintf(ref, sizeof(ref), "%s", model_ref_for(key));
    json_object *r = json_object_new_object();
    kv(r, "uuid", uuid);
    kv(r, "VM", vm_ref);
    kv(r, "device", devid);
    kv(r, "network", host_net_network_ref(bridge));
    kv(r, "MAC", sfield(v, "mac"));
    json_object_object_add(r, "MAC_autogenerated", json_object_new_boolean(!*sfield(v, "mac")));
    json_object_object_add(r, "MTU", json_object_new_int64(1500));
    json_object_object_add(r, "currently_attached", json_object_new_boolean(attached));
    json_object_object_add(r, "status_code", json_object_new_int64(0));
    kv(r, "status_detail", "");
    json_object_object_add(r, "runtime_properties", json_object_new_object());
    kv(r, "qos_algorithm_type", "");
    json_object_object_add(r, "qos_algorithm_params", json_object_new_object());
    json_object_object_add(r, "qos_supported_algorithms", json_object_new_array());
    json_object *oc = json_object_new_object();
    kv(oc, "xenon_bridge", bridge);
    kv(oc, "xenon_in_definition", in_cfg ? "true" : "false");
    json_object_object_add(r, "other_config", oc);
    kv(r, "metrics", REF_NULL);
    kv(r, "locking_mode", "network_default");
    json_object_object_add(r, "ipv4_allowed", json_object_new_array());
    json_object_object_add(r, "ipv6_allowed", json_object_new_array());
    kv(r, "ipv4_configuration_mode", "None");
    json_object_object_add(r, "ipv4_addresses", json_object_new_array());
    kv(r, "ipv4_gateway", "");
    kv(r, "ipv6_configuration_mode", "None");
    json_object_object_add(r, "ipv6_addresses", json_object_new_array());
    kv(r, "ipv6_gateway", "");
    json_object *ops = json_object_new_array();
    json_object_array_add(ops, json_object_new_string(attached ? "unplug" : "plug"));
    json_object_object_add(r, "allowed_operations", ops);
    json_object_object_add(r, "current_operations", json_object_new_object());
    model_put("VIF", ref, r);
    json_object_array_add(vifs, json_object_new_string(ref));
    json_object_object_add(seen, ref, NULL);
}

void vm_devices_put(const char *vm_ref, const char *vm_uuid, json_object *vm,
                    json_object *cfg, json_object *running, json_object *seen)
{
    json_object *vbds = json_object_new_array(), *vifs = json_object_new_array();
    json_object *cd = list_of(cfg, "disks"), *rd = list_of(running, "disks");
    json_object *cv = list_of(cfg, "vifs"), *rv = list_of(running, "vifs");
    int index = 0;
    /* the definition's devices, attached when running; then those only
     * running */
    for (size_t i = 0; cd && i < json_object_array_length(cd); i++) {
        json_object *d = json_object_array_get_idx(cd, i);
        json_object *live = find(rd, "vdev", sfield(d, "vdev"));
        put_vbd(vm_ref, vm_uuid, live ? live : d, true, live != NULL, index++, vbds, seen);
    }
    for (size_t i = 0; rd && i < json_object_array_length(rd); i++) {
        json_object *d = json_object_array_get_idx(rd, i);
        if (!find(cd, "vdev", sfield(d, "vdev")))
            put_vbd(vm_ref, vm_uuid, d, false, true, index++, vbds, seen);
    }
    for (size_t i = 0; cv && i < json_object_array_length(cv); i++) {
        json_object *v = json_object_array_get_idx(cv, i);
        json_object *live = find(rv, "devid", sfield(v, "devid"));
        put_vif(vm_ref, vm_uuid, live ? live : v, true, live != NULL, vifs, seen);
    }
    for (size_t i = 0; rv && i < json_object_array_length(rv); i++) {
        json_object *v = json_object_array_get_idx(rv, i);
        if (!find(cv, "devid", sfield(v, "devid")))
            put_vif(vm_ref, vm_uuid, v, false, true, vifs, seen);
    }
    json_object_object_add(vm, "VBDs", vbds);
    json_object_object_add(vm, "VIFs", vifs);
}

void vm_devices_keep(const char *vm_ref, json_object *seen)
{
    json_object *vm = model_get("VM", vm_ref);
    static const char *const lists[] = { "VBDs", "VIFs", NULL };
    for (int k = 0; vm && lists[k]; k++) {
        json_object *l;
        if (!json_object_object_get_ex(vm, lists[k], &l))
            continue;
        for (size_t i = 0; i < json_object_array_length(l); i++)
            json_object_object_add(seen, json_object_get_string(json_object_array_get_idx(l, i)),
                                   NULL);
    }
}
