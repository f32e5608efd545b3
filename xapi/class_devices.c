/* VBD.plug/unplug and VIF.plug/unplug of a running VM, through libxenon's
 * hot-plug as xl block-attach / network-attach and *-detach do. A plug
 * attaches the device as the VM's definition describes it (vm_devices.h:
 * a detached VBD or VIF is one of the definition's); an unplug detaches
 * it from the running domain, leaving the definition as it is. XAPI's
 * errors: VM_BAD_POWER_STATE unless the VM runs, DEVICE_ALREADY_ATTACHED,
 * DEVICE_ALREADY_DETACHED. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm_meta.h"
#include "dispatch.h"
#include "disk_spec.h"
#include "domain.h"
#include "domain_config.h"
#include "model.h"
#include "vif_spec.h"
#include "vm_devices.h"
#include "vm_scan.h"

struct dev_view {
    char ref[48], vm[48], device[64], power[16], cfg[XENON_PATH_MAX + 300];
    long domid;
    bool attached;
};

static bool dev_view(struct call *c, const char *cls, struct dev_view *v)
{
    const char *ref = arg_str(c, 1);
    if (!ref)
        return false;
    memset(v, 0, sizeof(*v));
    model_lock();
    json_object *r = model_get(cls, ref), *f, *vm = NULL, *oc;
    if (r) {
        snprintf(v->ref, sizeof(v->ref), "%s", ref);
        if (json_object_object_get_ex(r, "VM", &f))
            snprintf(v->vm, sizeof(v->vm), "%s", json_object_get_string(f));
        if (json_object_object_get_ex(r, "device", &f))
            snprintf(v->device, sizeof(v->device), "%s", json_object_get_string(f));
        v->attached = json_object_object_get_ex(r, "currently_attached", &f) &&
                      json_object_get_boolean(f);
        vm = model_get("VM", v->vm);
    }
    if (vm) {
        if (json_object_object_get_ex(vm, "power_state", &f))
            snprintf(v->power, sizeof(v->power), "%s", json_object_get_string(f));
        if (json_object_object_get_ex(vm, "domid", &f))
            v->domid = (long)json_object_get_int64(f);
        if (json_object_object_get_ex(vm, "other_config", &oc) &&
            json_object_object_get_ex(oc, "xenon_config_file", &f))
            snprintf(v->cfg, sizeof(v->cfg), "%s", json_object_get_string(f));
    }
    model_unlock();
    if (!r)
        return fail(c, "HANDLE_INVALID", cls, ref, NULL), false;
    if (strcmp(v->power, "Running")) {
        char a[16];
        size_t i = 0;
        for (; v->power[i] && i < sizeof(a) - 1; i++)
            a[i] = (char)(v->power[i] >= 'A' && v->power[i] <= 'Z' ? v->power[i] - 'A' + 'a'
                                                                  : v->power[i]);
        a[i] = 0;
        return fail(c, "VM_BAD_POWER_STATE", v->vm, "running", a, NULL), false;
    }
    return true;
}

/* The VM's definition, parsed (false with c->error). */
static bool definition(struct call *c, const struct dev_view *v, struct domain_config *dc)
{
    size_t len;
    char *data = v->cfg[0] ? vm_def_text(v->cfg, &len) : NULL;
    bool ok = data && vm_def_parse(v->cfg, data, len, dc) == 0;
    free(data);
    if (!ok)
        fail(c, "OPERATION_NOT_ALLOWED", "the device is not in the VM's definition", NULL);
    return ok;
}

/* A libxenon call's outcome: its last message line becomes INTERNAL_ERROR's
 * parameter. */
static json_object *outcome(struct call *c, int rc, char *msg)
{
    vm_scan();
    if (rc >= 0) {
        free(msg);
        return void_result();
    }
    if (msg) {
        char *nl;
        while ((nl = strrchr(msg, '\n')) && !nl[1])
            *nl = 0;
    }
    const char *last = msg ? strrchr(msg, '\n') : NULL;
    fail(c, "INTERNAL_ERROR", last ? last + 1 : msg && *msg ? msg : "device operation failed",
         NULL);
    free(msg);
    return NULL;
}

static json_object *vbd_plug(struct call *c)
{
    struct dev_view v;
    if (!dev_view(c, "VBD", &v))
        return NULL;
    if (v.attached)
        return fail(c, "DEVICE_ALREADY_ATTACHED", v.ref, NULL);
    struct domain_config dc;
    if (!definition(c, &v, &dc))
        return NULL;
    const struct xdisk *d = NULL;
    for (int i = 0; i < dc.num_disks; i++)
        if (dc.disks[i].vdev && !strcmp(dc.disks[i].vdev, v.device))
            d = &dc.disks[i];
    json_object *r = NULL;
    if (!d) {
        fail(c, "OPERATION_NOT_ALLOWED", "the device is not in the VM's definition", NULL);
    } else {
        char *msg = NULL;
        size_t ml;
        FILE *err = open_memstream(&msg, &ml);
        int rc = xenon_block_attach(&vm_paths, (unsigned)v.domid, d, err);
        fclose(err);
        r = outcome(c, rc, msg);
    }
    domain_config_dispose(&dc);
    return r;
}

/* VBD.unplug and VIF.unplug: detach through libxenon's hot-plug. */
typedef int detach_fn(const struct xenon_paths *p, unsigned domid, const char *which,
                      FILE *err);

static json_object *unplug(struct call *c, const char *cls, detach_fn *detach)
{
    struct dev_view v;
    if (!dev_view(c, cls, &v))
        return NULL;
    if (!v.attached)
        return fail(c, "DEVICE_ALREADY_DETACHED", v.ref, NULL);
    char *msg = NULL;
    size_t ml;
    FILE *err = open_memstream(&msg, &ml);
    int rc = detach(&vm_paths, (unsigned)v.domid, v.device, err);
    fclose(err);
    return outcome(c, rc, msg);
}

static json_object *vbd_unplug(struct call *c)
{
    return unplug(c, "VBD", xenon_block_detach);
}

static json_object *vif_plug(struct call *c)
{
    struct dev_view v;
    if (!dev_view(c, "VIF", &v))
        return NULL;
    if (v.attached)
        return fail(c, "DEVICE_ALREADY_ATTACHED", v.ref, NULL);
    struct domain_config dc;
    if (!definition(c, &v, &dc))
        return NULL;
    struct xvif *n = NULL;
    for (int i = 0; i < dc.num_nics; i++) {
        char id[16];
        snprintf(id, sizeof(id), "%d", dc.nics[i].devid >= 0 ? dc.nics[i].devid : i);
        if (!strcmp(id, v.device))
            n = &dc.nics[i];
    }
    json_object *r = NULL;
    if (!n) {
        fail(c, "OPERATION_NOT_ALLOWED", "the device is not in the VM's definition", NULL);
    } else {
        char *msg = NULL;
        size_t ml;
        FILE *err = open_memstream(&msg, &ml);
        int rc = xenon_network_attach(&vm_paths, (unsigned)v.domid, n, err);
        fclose(err);
        r = outcome(c, rc, msg);
    }
    domain_config_dispose(&dc);
    return r;
}

static json_object *vif_unplug(struct call *c)
{
    return unplug(c, "VIF", xenon_network_detach);
}

/* SR.scan: the image directory read again now (it is also watched by
 * inotify, so this only matters for changes inotify does not report,
 * such as a file grown in place by a writer that keeps it open). */
static json_object *sr_scan(struct call *c)
{
    const char *ref = arg_str(c, 1);
    if (!ref)
        return NULL;
    model_lock();
    bool known = model_get("SR", ref) != NULL;
    model_unlock();
    if (!known)
        return fail(c, "HANDLE_INVALID", "SR", ref, NULL);
    vm_scan();
    return void_result();
}

const struct xapi_method device_methods[] = {
    { "SR.scan", 2, ROLE_VM_POWER_ADMIN, M_ASYNC, sr_scan },
    { "VBD.plug", 2, ROLE_VM_ADMIN, M_ASYNC, vbd_plug },
    { "VBD.unplug", 2, ROLE_VM_ADMIN, M_ASYNC, vbd_unplug },
    { "VIF.plug", 2, ROLE_VM_ADMIN, M_ASYNC, vif_plug },
    { "VIF.unplug", 2, ROLE_VM_ADMIN, M_ASYNC, vif_unplug },
    { NULL, 0, 0, 0, NULL },
};
