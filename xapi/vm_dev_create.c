/* VBD.create / VBD.destroy and VIF.create / VIF.destroy: a VM's devices
 * are the disk= and vif= entries of its definition (vm_devices.h), so
 * creating one appends an entry and destroying one removes it; xl and
 * XenAPI then read the same file. Each entry is checked by libxenon's own
 * parsers (xdisk_parse, xvif_parse, strict as xl block-attach and
 * network-attach) before it is written, and the file is edited as the VM
 * setters edit it (vm_meta.h: atomic, refused when xl could not read the
 * result).
 *
 * A Halted VM's new device is in its next start. A Running or Paused VM
 * (with a definition) gets the entry too, and its VBD or VIF is then
 * detached until VBD.plug / VIF.plug attaches it through libxenon's
 * hot-plug (class_devices.c), as XAPI's VBD.create leaves a device to
 * plug. A Suspended VM's devices are refused (VM_BAD_POWER_STATE): its
 * image was saved with the devices it had. destroy of an attached device
 * is OPERATION_NOT_ALLOWED, as XAPI's (unplug it first).
 *
 * VBD: userdevice "0".."15" (or "autodetect": the lowest free) is vdev
 * xvda..xvdp; mode RO/RW (a CD is RO: VBD_CDS_MUST_BE_READONLY); type
 * Disk or CD; a CD may be empty (VDI OpaqueRef:NULL); a read-only VDI
 * takes no RW VBD (VDI_READONLY); a suspend image is no disk
 * (VDI_INCOMPATIBLE_TYPE). VIF: device "0".."63" ("" the lowest free),
 * written as devid=; network -> its bridge; MAC as given (MAC_INVALID
 * unless xl takes it) or, when empty, a random one in Xen's OUI 00:16:3e
 * (libxenon's vif_random_mac, as libxl makes them); MTU when not 1500.
 * When a VIF goes, the entries after it that had no devid= get the one
 * they had (their position), so no other VIF changes its device or
 * reference. other_config given to create is the device's overlay
 * (obj_meta.h). vm-admin, as XAPI's VBD and VIF classes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "disk_spec.h"
#include "dispatch.h"
#include "model.h"
#include "obj_meta.h"
#include "vif_host.h"
#include "vif_spec.h"
#include "vm_meta.h"
#include "vm_record.h"
#include "vm_scan.h"

#define MAX_USERDEVICE 15
#define MAX_VIF_DEVID 63

static const char *str_field(json_object *rec, const char *k, const char *def)
{
    json_object *f;
    if (!json_object_object_get_ex(rec, k, &f))
        return def;
    return json_object_is_type(f, json_type_string) ? json_object_get_string(f) : NULL;
}

static const char *rec_str(json_object *rec, const char *k)
{
    json_object *f;
    return rec && json_object_object_get_ex(rec, k, &f) ? json_object_get_string(f) : "";
}

static bool is_null_ref(const char *r)
{
    return !*r || !strcmp(r, REF_NULL);
}

/* The VM of a create or destroy, with a definition and not Suspended. */
static bool target_vm(struct call *c, const char *ref, struct vm_record *v)
{
    if (!vm_record_by_ref(c, ref, v))
        return false;
    if (!v->path[0])
        return fail(c, "OPERATION_NOT_ALLOWED",
                    "the VM has no definition (made by xl create): nothing to keep the "
                    "device in", NULL), false;
    if (!strcmp(v->power, "Suspended"))
        return fail(c, "VM_BAD_POWER_STATE", v->ref, "halted", "suspended", NULL), false;
    return true;
}

/* The definition's list `key` as its items (new array of strings; empty
 * when it has none), NULL when the file cannot be read. */
static json_object *def_list(const char *path, const char *key)
{
    size_t len;
    char *data = vm_def_text(path, &len);
    if (!data)
        return NULL;
    json_object *a = json_object_new_array();
    struct xcfg *cfg = xcfg_parse_data(path, data, len, NULL);
    const struct xcfg_value *l;
    int n;
    if (cfg && xcfg_get_list(cfg, key, &l, &n, 1) == 0)
        for (int i = 0; i < n; i++)
            if (xcfg_list_item(l, i))
                json_object_array_add(a, json_object_new_string(xcfg_list_item(l, i)));
    if (cfg)
        xcfg_free(cfg);
    free(data);
    return a;
}

/* Write items as the definition's list `key` (removed when empty). */
static int write_list(const char *path, const char *key, json_object *items, char *err,
                      size_t errn)
{
    size_t n = json_object_array_length(items);
    if (!n)
        return vm_meta_set(path, key, NULL, err, errn);
    char *text = NULL;
    size_t tl;
    FILE *f = open_memstream(&text, &tl);
    if (!f) {
        snprintf(err, errn, "out of memory");
        return -1;
    }
    bool ok = true;
    fputs("[ ", f);
    for (size_t i = 0; i < n; i++) {
        char *q = vm_meta_quote(json_object_get_string(json_object_array_get_idx(items, i)));
        ok = ok && q;
        fprintf(f, "%s%s", i ? ", " : "", q ? q : "");
        free(q);
    }
    fputs(" ]", f);
    fclose(f);
    int rc = ok ? vm_meta_set(path, key, text, err, errn) : -1;
    if (!ok)
        snprintf(err, errn, "a device xl.cfg cannot hold");
    free(text);
    return rc;
}

/* A disk spec parsed as xl does (d disposed by the caller); false when xl
 * would refuse it. */
static bool disk_parse(const char *spec, struct xdisk *d)
{
    char *msg = NULL;
    size_t ml;
    FILE *r = open_memstream(&msg, &ml);
    xdisk_init(d);
    const char *specs[] = { spec };
    int rc = r ? xdisk_parse(r, "XenAPI", 1, specs, d) : ENOMEM;
    if (r)
        fclose(r);
    free(msg);
    return rc == 0;
}

static bool vif_parse(const char *spec, struct xvif *v, bool strict)
{
    char *msg = NULL;
    size_t ml;
    FILE *r = open_memstream(&msg, &ml);
    xvif_init(v);
    int rc = r ? xvif_parse(r, "XenAPI", spec, v, strict, NULL) : ENOMEM;
    if (r)
        fclose(r);
    free(msg);
    return rc == 0;
}

/* locked: whether the VM's devices of `list` ("VBDs", "VIFs") have one
 * whose `field` reads value. */
static bool vm_has_device(const char *vm, const char *list, const char *cls, const char *field,
                          const char *value)
{
    json_object *r = model_get("VM", vm), *l;
    if (!r || !json_object_object_get_ex(r, list, &l))
        return false;
    for (size_t i = 0; i < json_object_array_length(l); i++) {
        json_object *d = model_get(cls, json_object_get_string(json_object_array_get_idx(l, i)));
        if (d && !strcmp(rec_str(d, field), value))
            return true;
    }
    return false;
}

/* The other_config of a create's record (new; NULL with c->error). */
static json_object *other_config_of(struct call *c, json_object *rec)
{
    json_object *oc, *m = json_object_new_object();
    if (!json_object_object_get_ex(rec, "other_config", &oc))
        return m;
    if (!json_object_is_type(oc, json_type_object) || json_object_object_length(oc) > 256) {
        json_object_put(m);
        return fail(c, "FIELD_TYPE_ERROR", "other_config", NULL);
    }
    json_object_object_foreach(oc, k, v) {
        if (!json_object_is_type(v, json_type_string) || !*k || strlen(k) > 256 ||
            !strncmp(k, "xenon_", 6) || strlen(json_object_get_string(v)) > 4096) {
            json_object_put(m);
            return fail(c, "INVALID_VALUE", "other_config", k, NULL);
        }
        json_object_object_add(m, k, json_object_new_string(json_object_get_string(v)));
    }
    return m;
}

/* Append spec to the VM's list, keep the device's other_config, rescan,
 * and answer the new device's reference (from "<kind>:<vm uuid>/<id>"). */
static json_object *add_device(struct call *c, const struct vm_record *v, const char *key,
                               const char *spec, const char *cls, const char *kind,
                               const char *id, json_object *oc)
{
    char name[128], uuid[40], rkey[64], err[300];
    snprintf(name, sizeof(name), "%s:%s/%s", kind, v->uuid, id);
    vm_uuid_for_name(name, uuid);
    json_object *items = def_list(v->path, key);
    if (!items)
        return fail(c, "INTERNAL_ERROR", "cannot read the definition", NULL);
    json_object_array_add(items, json_object_new_string(spec));
    json_object *o = json_object_new_object();
    if (json_object_object_length(oc))
        json_object_object_add(o, "other_config", json_object_get(oc));
    model_lock();
    int rc = obj_meta_put(cls, uuid, o, err, sizeof(err));
    model_unlock();
    if (rc == 0 && write_list(v->path, key, items, err, sizeof(err)) < 0) {
        char e2[200];
        model_lock();
        obj_meta_put(cls, uuid, NULL, e2, sizeof(e2));     /* no device to keep it for */
        model_unlock();
        rc = -1;
    }
    json_object_put(items);
    json_object_put(o);
    if (rc < 0)
        return fail(c, "INTERNAL_ERROR", err, NULL);
    vm_scan();
    snprintf(rkey, sizeof(rkey), "%s/%s", cls, uuid);
    model_lock();
    const char *ref = model_ref_for(rkey);
    json_object *res = model_get(cls, ref) ? json_object_new_string(ref) : NULL;
    model_unlock();
    return res ? res : fail(c, "INTERNAL_ERROR", "the new device is not the VM's", NULL);
}

static json_object *vbd_create(struct call *c)
{
    json_object *rec = json_object_array_get_idx(c->params, 1), *f;
    if (!json_object_is_type(rec, json_type_object))
        return fail(c, "FIELD_TYPE_ERROR", "args", NULL);
    const char *vm = str_field(rec, "VM", ""), *vdi = str_field(rec, "VDI", REF_NULL),
               *type = str_field(rec, "type", "Disk"), *ud = str_field(rec, "userdevice", "autodetect");
    if (!vm || !vdi || !type || !ud)
        return fail(c, "FIELD_TYPE_ERROR", "args", NULL);
    bool cd = !strcmp(type, "CD");
    if (!cd && strcmp(type, "Disk"))
        return fail(c, "INVALID_VALUE", "type", type, NULL);
    const char *mode = str_field(rec, "mode", cd ? "RO" : "RW");
    if (!mode || (strcmp(mode, "RO") && strcmp(mode, "RW")))
        return fail(c, "INVALID_VALUE", "mode", mode ? mode : "", NULL);
    bool rw = !strcmp(mode, "RW");
    if (cd && rw)
        return fail(c, "VBD_CDS_MUST_BE_READONLY", NULL);
    bool empty = is_null_ref(vdi) ||
                 (json_object_object_get_ex(rec, "empty", &f) && json_object_get_boolean(f));
    if (empty && !cd)
        return fail(c, "INVALID_VALUE", "VDI", "a Disk VBD needs a VDI", NULL);
    json_object *oc = other_config_of(c, rec);
    if (!oc)
        return NULL;
    char target[XENON_PATH_MAX * 2] = "", fmt[16] = "raw";
    json_object *res = NULL;
    if (!empty) {
        model_lock();
        json_object *d = model_get("VDI", vdi), *sm;
        bool ro = false, suspend = false;
        if (d) {
            snprintf(target, sizeof(target), "%s", rec_str(d, "location"));
            if (json_object_object_get_ex(d, "sm_config", &sm))
                snprintf(fmt, sizeof(fmt), "%s", rec_str(sm, "image-format"));
            ro = json_object_object_get_ex(d, "read_only", &f) && json_object_get_boolean(f);
            suspend = !strcmp(rec_str(d, "type"), "suspend");
        }
        model_unlock();
        if (!d)
            fail(c, "HANDLE_INVALID", "VDI", vdi, NULL);
        else if (suspend)
            fail(c, "VDI_INCOMPATIBLE_TYPE", vdi, "suspend", NULL);
        else if (ro && rw)
            fail(c, "VDI_READONLY", vdi, NULL);
        else if (strcmp(fmt, "raw") && strcmp(fmt, "qcow2"))
            fail(c, "VDI_INCOMPATIBLE_TYPE", vdi, fmt, NULL);
        if (c->error) {
            json_object_put(oc);
            return NULL;
        }
    }
    struct vm_record v;
    if (!target_vm(c, vm, &v)) {
        json_object_put(oc);
        return NULL;
    }
    vm_def_lock();
    int n = -1;
    model_lock();
    if (!strcmp(ud, "autodetect") || !*ud) {
        for (int i = 0; i <= MAX_USERDEVICE && n < 0; i++) {
            char s[8];
            snprintf(s, sizeof(s), "%d", i);
            if (!vm_has_device(v.ref, "VBDs", "VBD", "userdevice", s))
                n = i;
        }
    } else if (strspn(ud, "0123456789") == strlen(ud) && strlen(ud) <= 2 &&
               atoi(ud) <= MAX_USERDEVICE) {
        n = atoi(ud);
        char s[8];
        snprintf(s, sizeof(s), "%d", n);
        if (vm_has_device(v.ref, "VBDs", "VBD", "userdevice", s))
            n = -2;
    } else {
        n = -3;
    }
    char vdev[8];
    snprintf(vdev, sizeof(vdev), "xvd%c", 'a' + (n >= 0 ? n : 0));
    if (n >= 0 && vm_has_device(v.ref, "VBDs", "VBD", "device", vdev))
        n = -2;
    model_unlock();
    if (n == -3 || (n == -1 && strcmp(ud, "autodetect") && *ud))
        fail(c, "INVALID_DEVICE", ud, NULL);
    else if (n == -1)
        fail(c, "INVALID_DEVICE", "no free userdevice", NULL);
    else if (n == -2)
        fail(c, "DEVICE_ALREADY_EXISTS", ud, NULL);
    char *spec = NULL;
    if (!c->error) {
        int l = empty ? asprintf(&spec, "vdev=%s, access=ro, devtype=cdrom", vdev)
                      : asprintf(&spec, "format=%s, vdev=%s, access=%s%s, target=%s", fmt, vdev,
                                 rw ? "rw" : "ro", cd ? ", devtype=cdrom" : "", target);
        struct xdisk d;
        if (l < 0)
            spec = NULL, fail(c, "INTERNAL_ERROR", "out of memory", NULL);
        else if (!disk_parse(spec, &d) || strcmp(d.vdev, vdev))
            fail(c, "INVALID_VALUE", "VDI", "a disk xl would not take", NULL);
        if (l >= 0)
            xdisk_dispose(&d);
    }
    if (!c->error)
        res = add_device(c, &v, "disk", spec, "VBD", "vbd", vdev, oc);
    vm_def_unlock();
    free(spec);
    json_object_put(oc);
    return res;
}

/* The device record of a destroy, its VM and whether it is attached. */
static bool device_of(struct call *c, const char *cls, char *uuid, char *device,
                      struct vm_record *v, bool *attached)
{
    const char *ref = arg_str(c, 1);
    if (!ref)
        return false;
    char vm[64] = "";
    model_lock();
    json_object *r = model_get(cls, ref), *f;
    if (r) {
        snprintf(uuid, 40, "%s", rec_str(r, "uuid"));
        snprintf(device, 64, "%s", rec_str(r, "device"));
        snprintf(vm, sizeof(vm), "%s", rec_str(r, "VM"));
        *attached = json_object_object_get_ex(r, "currently_attached", &f) &&
                    json_object_get_boolean(f);
    }
    model_unlock();
    if (!r)
        return fail(c, "HANDLE_INVALID", cls, ref, NULL), false;
    if (!target_vm(c, vm, v))
        return false;
    if (*attached) {
        char msg[200];
        snprintf(msg, sizeof(msg), "%s '%s' still attached to '%s'", cls, uuid, v->uuid);
        return fail(c, "OPERATION_NOT_ALLOWED", msg, NULL), false;
    }
    return true;
}

/* Write the list without item `drop`, forget the device's overlay, rescan. */
static json_object *remove_item(struct call *c, const struct vm_record *v, const char *key,
                                json_object *items, int drop, const char *cls, const char *uuid)
{
    char err[300];
    if (drop < 0)
        return fail(c, "OPERATION_NOT_ALLOWED", "the device is not in the VM's definition", NULL);
    json_object_array_del_idx(items, (size_t)drop, 1);
    if (write_list(v->path, key, items, err, sizeof(err)) < 0)
        return fail(c, "INTERNAL_ERROR", err, NULL);
    model_lock();
    obj_meta_put(cls, uuid, NULL, err, sizeof(err));
    model_unlock();
    vm_scan();
    return void_result();
}

static json_object *vbd_destroy(struct call *c)
{
    char uuid[40], device[64];
    struct vm_record v;
    bool attached;
    if (!device_of(c, "VBD", uuid, device, &v, &attached))
        return NULL;
    vm_def_lock();
    json_object *items = def_list(v.path, "disk"), *res = NULL;
    if (!items) {
        fail(c, "INTERNAL_ERROR", "cannot read the definition", NULL);
    } else {
        int drop = -1;
        for (size_t i = 0; i < json_object_array_length(items) && drop < 0; i++) {
            struct xdisk d;
            if (disk_parse(json_object_get_string(json_object_array_get_idx(items, i)), &d) &&
                d.vdev && !strcmp(d.vdev, device))
                drop = (int)i;
            xdisk_dispose(&d);
        }
        res = remove_item(c, &v, "disk", items, drop, "VBD", uuid);
    }
    json_object_put(items);
    vm_def_unlock();
    return res;
}

/* A bridge name that may stand in a vif spec: an interface name. */
static bool good_bridge(const char *b)
{
    size_t n = strlen(b);
    return n && n < 16 && strspn(b, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789._-") == n;
}

static json_object *vif_create(struct call *c)
{
    json_object *rec = json_object_array_get_idx(c->params, 1), *f;
    if (!json_object_is_type(rec, json_type_object))
        return fail(c, "FIELD_TYPE_ERROR", "args", NULL);
    const char *vm = str_field(rec, "VM", ""), *net = str_field(rec, "network", ""),
               *mac = str_field(rec, "MAC", ""), *dev = str_field(rec, "device", "");
    if (!vm || !net || !mac || !dev)
        return fail(c, "FIELD_TYPE_ERROR", "args", NULL);
    long long mtu = 0;
    if (json_object_object_get_ex(rec, "MTU", &f)) {
        errno = 0;
        char *end = NULL;
        mtu = json_object_is_type(f, json_type_int) ? json_object_get_int64(f)
              : json_object_is_type(f, json_type_string)
                  ? strtoll(json_object_get_string(f), &end, 10) : -1;
        if (errno || (end && *end) || (mtu != 0 && (mtu < 68 || mtu > 65535)))
            return fail(c, "INVALID_VALUE", "MTU", "", NULL);
    }
    char bridge[64] = "", macbuf[18];
    model_lock();
    json_object *n = model_get("network", net);
    if (n)
        snprintf(bridge, sizeof(bridge), "%s", rec_str(n, "bridge"));
    model_unlock();
    if (!n)
        return fail(c, "HANDLE_INVALID", "network", net, NULL);
    if (!good_bridge(bridge))
        return fail(c, "OPERATION_NOT_ALLOWED", "the network has no bridge a VIF can join", NULL);
    if (!*mac) {
        uint8_t m[6];
        vif_random_mac(m);
        vif_format_mac(m, macbuf);
    } else {
        char probe[40];
        struct xvif t;
        bool ok = strlen(mac) == 17 && strspn(mac, "0123456789abcdefABCDEF:") == 17;
        if (ok) {
            snprintf(probe, sizeof(probe), "mac=%s", mac);
            ok = vif_parse(probe, &t, true) && t.mac_set;
            if (ok)
                vif_format_mac(t.mac, macbuf);
            xvif_dispose(&t);
        }
        if (!ok)
            return fail(c, "MAC_INVALID", mac, NULL);
    }
    json_object *oc = other_config_of(c, rec);
    if (!oc)
        return NULL;
    struct vm_record v;
    if (!target_vm(c, vm, &v)) {
        json_object_put(oc);
        return NULL;
    }
    vm_def_lock();
    int id = -1;
    char ids[8];
    model_lock();
    if (!*dev) {
        for (int i = 0; i <= MAX_VIF_DEVID && id < 0; i++) {
            snprintf(ids, sizeof(ids), "%d", i);
            if (!vm_has_device(v.ref, "VIFs", "VIF", "device", ids))
                id = i;
        }
    } else if (strspn(dev, "0123456789") == strlen(dev) && strlen(dev) <= 2 &&
               atoi(dev) <= MAX_VIF_DEVID) {
        id = atoi(dev);
        snprintf(ids, sizeof(ids), "%d", id);
        if (vm_has_device(v.ref, "VIFs", "VIF", "device", ids))
            id = -2;
    } else {
        id = -3;
    }
    model_unlock();
    json_object *res = NULL;
    char *spec = NULL;
    if (id == -2)
        fail(c, "DEVICE_ALREADY_EXISTS", dev, NULL);
    else if (id < 0)
        fail(c, "INVALID_DEVICE", *dev ? dev : "no free device", NULL);
    else if ((mtu && mtu != 1500 ? asprintf(&spec, "mac=%s,bridge=%s,devid=%d,mtu=%lld", macbuf,
                                            bridge, id, mtu)
                                 : asprintf(&spec, "mac=%s,bridge=%s,devid=%d", macbuf, bridge,
                                            id)) < 0)
        spec = NULL, fail(c, "INTERNAL_ERROR", "out of memory", NULL);
    if (!c->error) {
        struct xvif t;
        bool ok = vif_parse(spec, &t, true) && t.devid == id;
        xvif_dispose(&t);
        if (!ok)
            fail(c, "INVALID_VALUE", "VIF", "a vif xl would not take", NULL);
        else
            res = add_device(c, &v, "vif", spec, "VIF", "vif", ids, oc);
    }
    vm_def_unlock();
    free(spec);
    json_object_put(oc);
    return res;
}

static json_object *vif_destroy(struct call *c)
{
    char uuid[40], device[64];
    struct vm_record v;
    bool attached;
    if (!device_of(c, "VIF", uuid, device, &v, &attached))
        return NULL;
    vm_def_lock();
    json_object *items = def_list(v.path, "vif"), *res = NULL;
    if (!items) {
        fail(c, "INTERNAL_ERROR", "cannot read the definition", NULL);
    } else {
        int drop = -1;
        size_t n = json_object_array_length(items);
        for (size_t i = 0; i < n; i++) {
            const char *s = json_object_get_string(json_object_array_get_idx(items, i));
            struct xvif t;
            bool ok = vif_parse(s, &t, false);
            int devid = ok && t.devid >= 0 ? t.devid : (int)i;
            char id[16];
            snprintf(id, sizeof(id), "%d", devid);
            if (drop < 0 && !strcmp(id, device)) {
                drop = (int)i;
            } else if (ok && t.devid < 0 && drop >= 0) {
                /* it would move up a place: pin the devid it has */
                char *pinned = NULL;
                if (asprintf(&pinned, "%s,devid=%d", s, devid) >= 0) {
                    json_object_array_put_idx(items, i, json_object_new_string(pinned));
                    free(pinned);
                }
            }
            xvif_dispose(&t);
        }
        res = remove_item(c, &v, "vif", items, drop, "VIF", uuid);
    }
    json_object_put(items);
    vm_def_unlock();
    return res;
}

const struct xapi_method device_create_methods[] = {
    { "VBD.create", 2, ROLE_VM_ADMIN, M_ASYNC, vbd_create },
    { "VBD.destroy", 2, ROLE_VM_ADMIN, M_ASYNC, vbd_destroy },
    { "VIF.create", 2, ROLE_VM_ADMIN, M_ASYNC, vif_create },
    { "VIF.destroy", 2, ROLE_VM_ADMIN, M_ASYNC, vif_destroy },
    { NULL, 0, 0, 0, NULL },
};
