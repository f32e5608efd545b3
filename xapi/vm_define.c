/* VM.create and VM.destroy: a VM's definition is an xl.cfg file in the VM
 * directory, so creating a VM writes one and destroying a halted VM
 * removes it; the VM records then come from the scan as for any other
 * definition. What a client sends is checked before it reaches the file:
 * a name xl accepts, an absolute kernel path without quotes or control
 * characters, bounded memory and vCPU counts. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dispatch.h"
#include "model.h"
#include "obj_meta.h"
#include "vm_meta.h"
#include "vm_record.h"
#include "vm_scan.h"
#include "vm_suspend.h"

#define MAX_VCPUS 128
#define MAX_MEMORY_MIB (1u << 20)       /* 1 TiB */

bool vm_good_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || !strcmp(s, "Domain-0"))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return s[0] != '.' && s[0] != '-';
}

/* Text that can sit between double quotes in an xl.cfg. */
static bool good_text(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == '"' || s[i] == '\\' || s[i] == 0x7f)
            return false;
    return true;
}

/* A field of the record as a string ("" when absent); NULL when present
 * but not a string. */
static const char *str_field(json_object *rec, const char *k)
{
    json_object *f;
    if (!json_object_object_get_ex(rec, k, &f))
        return "";
    return json_object_is_type(f, json_type_string) ? json_object_get_string(f) : NULL;
}

/* An int64 field (a number, or a string of digits as XML-RPC sends
 * them); def when absent, -1 when malformed. */
static long long int_field(json_object *rec, const char *k, long long def)
{
    json_object *f;
    if (!json_object_object_get_ex(rec, k, &f))
        return def;
    if (json_object_is_type(f, json_type_int))
        return json_object_get_int64(f);
    if (json_object_is_type(f, json_type_string)) {
        char *end;
        errno = 0;
        long long v = strtoll(json_object_get_string(f), &end, 10);
        if (!errno && end != json_object_get_string(f) && !*end)
            return v;
    }
    return -1;
}

static json_object *vm_create(struct call *c)
{
    json_object *rec = json_object_array_get_idx(c->params, 1);
    if (!json_object_is_type(rec, json_type_object))
        return fail(c, "FIELD_TYPE_ERROR", "args", NULL);
    const char *name = str_field(rec, "name_label"), *kernel = str_field(rec, "PV_kernel"),
               *args = str_field(rec, "PV_args"), *ramdisk = str_field(rec, "PV_ramdisk");
    long long mem = int_field(rec, "memory_static_max", 16ll << 20);
    long long vcpus = int_field(rec, "VCPUs_at_startup", 1);
    long long maxv = int_field(rec, "VCPUs_max", vcpus);
    if (!name || !vm_good_name(name))
        return fail(c, "INVALID_VALUE", "name_label", name ? name : "", NULL);
    if (!kernel || kernel[0] != '/' || !good_text(kernel, 1024))
        return fail(c, "INVALID_VALUE", "PV_kernel", kernel ? kernel : "", NULL);
    if (!args || !good_text(args, 2048))
        return fail(c, "INVALID_VALUE", "PV_args", "", NULL);
    if (!ramdisk || (*ramdisk && (ramdisk[0] != '/' || !good_text(ramdisk, 1024))))
        return fail(c, "INVALID_VALUE", "PV_ramdisk", ramdisk ? ramdisk : "", NULL);
    if (mem < (1ll << 20) || mem > ((long long)MAX_MEMORY_MIB << 20) || mem % (1 << 20))
        return fail(c, "INVALID_VALUE", "memory_static_max", "", NULL);
    if (vcpus < 1 || vcpus > MAX_VCPUS || maxv < vcpus || maxv > MAX_VCPUS)
        return fail(c, "INVALID_VALUE", "VCPUs_at_startup", "", NULL);
    model_lock();
    bool taken = model_find("VM", "name_label", name) != NULL;
    model_unlock();
    if (taken)
        return fail(c, "INVALID_VALUE", "name_label", name, NULL);
    char path[XENON_PATH_MAX * 2], uuid[40];
    snprintf(path, sizeof(path), "%s/%s.cfg", vm_scan_dir(), name);
    model_new_uuid(uuid);
    char text[4096];
    int n = snprintf(text, sizeof(text),
                     "# Made by XenAPI VM.create (xenon-xapi); VM.destroy removes it.\n"
                     "name = \"%s\"\nuuid = \"%s\"\ntype = \"pvh\"\nkernel = \"%s\"\n"
                     "%s%s%s%s%s%s"
                     "memory = %lld\nmaxmem = %lld\nvcpus = %lld\nmaxvcpus = %lld\n",
                     name, uuid, kernel,
                     *args ? "cmdline = \"" : "", args, *args ? "\"\n" : "",
                     *ramdisk ? "ramdisk = \"" : "", ramdisk, *ramdisk ? "\"\n" : "",
                     mem >> 20, mem >> 20, vcpus, maxv);
    if (n < 0 || (size_t)n >= sizeof(text))
        return fail(c, "INVALID_VALUE", "args", "too long", NULL);
    char err[160];
    if (vm_def_create(path, text, (size_t)n, err, sizeof(err)) < 0)
        return fail(c, "INTERNAL_ERROR", err, NULL);
    json_object *res = vm_scan_new_vm(uuid);
    if (!res) {             /* the file did not make a VM (xl's checks): take it back */
        unlink(path);
        vm_scan();
        return fail(c, "INVALID_VALUE", "args", "not a valid VM definition", NULL);
    }
    return res;
}

/* The other_config a client set on the VM's VBDs and VIFs (obj_meta.h)
 * goes with the definition that held them. */
static void forget_devices(const char *vm)
{
    static const char *const lists[][2] = { { "VBDs", "VBD" }, { "VIFs", "VIF" } };
    model_lock();
    json_object *r = model_get("VM", vm), *l, *d, *u;
    for (int k = 0; r && k < 2; k++) {
        if (!json_object_object_get_ex(r, lists[k][0], &l))
            continue;
        for (size_t i = 0; i < json_object_array_length(l); i++) {
            char err[200];
            d = model_get(lists[k][1], json_object_get_string(json_object_array_get_idx(l, i)));
            if (d && json_object_object_get_ex(d, "uuid", &u))
                obj_meta_put(lists[k][1], json_object_get_string(u), NULL, err, sizeof(err));
        }
    }
    model_unlock();
}

static json_object *vm_destroy(struct call *c)
{
    struct vm_record v;
    if (!vm_record_of(c, &v))
        return NULL;
    /* a checkpoint (a Suspended snapshot) goes with its memory image */
    bool checkpoint = v.snap && !strcmp(v.power, "Suspended");
    if (!checkpoint && !vm_record_in(c, &v, "Halted"))
        return NULL;
    if (!v.path[0] || unlink(v.path) < 0)
        return fail(c, "INTERNAL_ERROR", "cannot remove the definition", NULL);
    forget_devices(v.ref);
    char img[XENON_PATH_MAX + 64];
    if (checkpoint && vm_suspend_image_path(v.uuid, img, sizeof(img)))
        unlink(img);
    vm_scan();
    return void_result();
}

const struct xapi_method vm_define_methods[] = {
    { "VM.create", 2, ROLE_VM_ADMIN, 0, vm_create },
    { "VM.destroy", 2, ROLE_VM_ADMIN, M_ASYNC, vm_destroy },
    { NULL, 0, 0, 0, NULL },
};
