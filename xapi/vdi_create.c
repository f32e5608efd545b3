/* VDI.create and VDI.destroy in the image directory's SR (storage.h): a
 * VDI there is a file, so creating one makes the image and destroying
 * one removes it; the records then follow from the scan. An image is a
 * sparse raw file, or a qcow2 one made by `qemu-img create` when the
 * record's sm_config:image-format says "qcow2" or, without one, the SR's
 * other_config:image-format does (SR.add_to_other_config). The file is
 * named after name_label (letters, digits, '.', '_', '-'; others become
 * '_'), with -2, -3... when the name is taken, mode 0600 (0400 when
 * read_only: the scan reads read_only from the mode); the name_label,
 * name_description and other_config given are the VDI's overlay
 * (obj_meta.h). XAPI's errors: SR_FULL [requested, maximum] when the SR's
 * file system has less room than the virtual size, SR_OPERATION_NOT_
 * SUPPORTED [sr] for the second SR (disks outside the directory),
 * VDI_IN_USE [vdi, "destroy"] while a VBD names the VDI (an attached one,
 * or one in any VM's definition: removing the file would leave the
 * definition naming nothing) or a qcow2 image of the SR is an overlay on
 * it. vm-admin, as XAPI's VDI class. */
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
#include "qemu_img.h"
#include "storage.h"
#include "vm_meta.h"
#include "util.h"
#include "vm_scan.h"

#define MAX_VDI_SIZE (1ll << 50)        /* 1 PiB */

/* A field of the record as a string (def when absent); NULL when it is
 * not one. */
static const char *str_field(json_object *rec, const char *k, const char *def)
{
    json_object *f;
    if (!json_object_object_get_ex(rec, k, &f))
        return def;
    return json_object_is_type(f, json_type_string) ? json_object_get_string(f) : NULL;
}

/* An int64 field: a number, or decimal digits as XML-RPC sends them; -1
 * when absent or malformed. */
static long long int_field(json_object *rec, const char *k)
{
    json_object *f;
    if (!json_object_object_get_ex(rec, k, &f))
        return -1;
    if (json_object_is_type(f, json_type_int))
        return json_object_get_int64(f);
    if (json_object_is_type(f, json_type_string)) {
        const char *s = json_object_get_string(f);
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (!errno && end != s && !*end)
            return v;
    }
    return -1;
}

/* The directory holding path, synced (a new or removed name made
 * durable). */
static void sync_dir_of(const char *path)
{
    char dir[XENON_PATH_MAX * 2];
    const char *slash = strrchr(path, '/');
    if (!slash)
        return;
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    (void)dir_fsync(dir);
}

/* The file name's stem from a name_label. */
static void stem_of(const char *label, char *out, size_t n)
{
    size_t k = 0;
    for (const char *p = label; *p && k + 1 < n && k < 48; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.';
        if (k == 0 && (ch == '.' || ch == '-'))
            ok = false;         /* no hidden file, no option-like name */
        out[k++] = ok ? ch : '_';
    }
    out[k] = 0;
    if (!k)
        snprintf(out, n, "vdi");
}

/* A new empty file in the SR directory, O_EXCL: its path in out, its fd. */
static int reserve(const char *stem, const char *ext, char *out, size_t n)
{
    for (int i = 1; i < 1000; i++) {
        char suffix[16] = "";
        if (i > 1)
            snprintf(suffix, sizeof(suffix), "-%d", i);
        int l = snprintf(out, n, "%s/%s%s.%s", storage_dir(), stem, suffix, ext);
        if (l < 0 || (size_t)l >= n) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

/* The image format: the record's sm_config, else the SR's other_config
 * (NULL: neither raw nor qcow2). */
static const char *format_of(json_object *rec, const char *sr_ref)
{
    json_object *sm, *f, *sr, *oc;
    if (json_object_object_get_ex(rec, "sm_config", &sm) &&
        json_object_object_get_ex(sm, "image-format", &f)) {
        const char *s = json_object_get_string(f);
        return !strcmp(s, "raw") ? "raw" : !strcmp(s, "qcow2") ? "qcow2" : NULL;
    }
    model_lock();
    const char *r = "raw";
    if ((sr = model_get("SR", sr_ref)) && json_object_object_get_ex(sr, "other_config", &oc) &&
        json_object_object_get_ex(oc, "image-format", &f))
        r = !strcmp(json_object_get_string(f), "qcow2") ? "qcow2"
            : !strcmp(json_object_get_string(f), "raw") ? "raw" : NULL;
    model_unlock();
    return r;
}

/* The overlay of a new VDI from its record (new), NULL with c->error. */
static json_object *overlay_of(struct call *c, json_object *rec)
{
    const char *label = str_field(rec, "name_label", NULL),
               *desc = str_field(rec, "name_description", NULL);
    json_object *o = json_object_new_object(), *oc;
    if ((json_object_object_get_ex(rec, "name_label", NULL) && !label) ||
        (json_object_object_get_ex(rec, "name_description", NULL) && !desc) ||
        (label && strlen(label) > 4096) || (desc && strlen(desc) > 4096)) {
        json_object_put(o);
        return fail(c, "INVALID_VALUE", "name_label", "", NULL);
    }
    if (label)
        json_object_object_add(o, "name_label", json_object_new_string(label));
    if (desc && *desc)
        json_object_object_add(o, "name_description", json_object_new_string(desc));
    if (json_object_object_get_ex(rec, "other_config", &oc)) {
        if (!json_object_is_type(oc, json_type_object) || json_object_object_length(oc) > 256) {
            json_object_put(o);
            return fail(c, "FIELD_TYPE_ERROR", "other_config", NULL);
        }
        json_object *m = json_object_new_object();
        json_object_object_foreach(oc, k, v) {
            if (!json_object_is_type(v, json_type_string) || !*k || strlen(k) > 256 ||
                !strncmp(k, "xenon_", 6) || strlen(json_object_get_string(v)) > 4096) {
                json_object_put(m);
                json_object_put(o);
                return fail(c, "INVALID_VALUE", "other_config", k, NULL);
            }
            json_object_object_add(m, k, json_object_new_string(json_object_get_string(v)));
        }
        if (json_object_object_length(m))
            json_object_object_add(o, "other_config", m);
        else
            json_object_put(m);
    }
    return o;
}

static json_object *vdi_create(struct call *c)
{
    json_object *rec = json_object_array_get_idx(c->params, 1), *f;
    if (!json_object_is_type(rec, json_type_object))
        return fail(c, "FIELD_TYPE_ERROR", "args", NULL);
    const char *sr = str_field(rec, "SR", "");
    if (!sr)
        return fail(c, "FIELD_TYPE_ERROR", "SR", NULL);
    model_lock();
    bool known = model_get("SR", sr) != NULL, ours = !strcmp(sr, storage_sr_ref());
    model_unlock();
    if (!known)
        return fail(c, "HANDLE_INVALID", "SR", sr, NULL);
    if (!ours)
        return fail(c, "SR_OPERATION_NOT_SUPPORTED", sr, NULL);
    long long size = int_field(rec, "virtual_size");
    if (size <= 0 || size > MAX_VDI_SIZE)
        return fail(c, "INVALID_VALUE", "virtual_size", "", NULL);
    size = (size + 511) & ~511ll;
    bool ro = json_object_object_get_ex(rec, "read_only", &f) && json_object_get_boolean(f);
    const char *fmt = format_of(rec, sr);
    if (!fmt)
        return fail(c, "INVALID_VALUE", "sm_config", "image-format must be raw or qcow2", NULL);
    /* the SR directory may not be there yet (STATE_DIR/images before the
     * first image) */
    if (mkdir_p(storage_dir()) < 0) {
        char e[300];
        snprintf(e, sizeof(e), "%.200s: %s", storage_dir(), strerror(errno));
        return fail(c, "INTERNAL_ERROR", e, NULL);
    }
    int64_t room = storage_free_bytes();
    if (room >= 0 && size > room) {
        char a[24], b[24];
        snprintf(a, sizeof(a), "%lld", size);
        snprintf(b, sizeof(b), "%lld", (long long)room);
        return fail(c, "SR_FULL", a, b, NULL);
    }
    json_object *o = overlay_of(c, rec);
    if (!o)
        return NULL;
    const char *label = str_field(rec, "name_label", "");
    char stem[64], path[XENON_PATH_MAX * 2], err[300];
    stem_of(label ? label : "", stem, sizeof(stem));
    int fd = reserve(stem, fmt, path, sizeof(path));
    if (fd < 0) {
        json_object_put(o);
        snprintf(err, sizeof(err), "%.200s: %s", storage_dir(), strerror(errno));
        return fail(c, "INTERNAL_ERROR", err, NULL);
    }
    /* the names first, so the VDI's first record has them */
    char uuid[40], key[64];
    char *id = NULL;
    bool ok = asprintf(&id, "vdi:%s", path) >= 0;
    if (ok) {
        vm_uuid_for_name(id, uuid);
        free(id);
        model_lock();
        ok = obj_meta_put("VDI", uuid, o, err, sizeof(err)) == 0;
        model_unlock();
    } else {
        snprintf(err, sizeof(err), "out of memory");
    }
    json_object_put(o);
    if (ok && !strcmp(fmt, "raw")) {
        ok = ftruncate(fd, (off_t)size) == 0 && fsync(fd) == 0;
        if (!ok)
            snprintf(err, sizeof(err), "%.200s: %s", path, strerror(errno));
        ok = close(fd) == 0 && ok;
    } else {
        close(fd);
        char sz[24];
        snprintf(sz, sizeof(sz), "%lld", size);
        char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", path, sz, NULL };
        bool cancelled = false;
        ok = ok && qemu_img_run(c, argv, 0, 0, err, sizeof(err), &cancelled);
        if (!ok && cancelled)
            snprintf(err, sizeof(err), "cancelled");
    }
    /* the mode from the code, whatever qemu-img made */
    if (ok && chmod(path, ro ? 0400 : 0600) < 0) {
        snprintf(err, sizeof(err), "%.200s: %s", path, strerror(errno));
        ok = false;
    }
    if (!ok) {
        char e2[200];
        unlink(path);
        model_lock();
        obj_meta_put("VDI", uuid, NULL, e2, sizeof(e2));
        model_unlock();
        return fail(c, "INTERNAL_ERROR", err, NULL);
    }
    sync_dir_of(path);
    vm_scan();
    snprintf(key, sizeof(key), "VDI/%s", uuid);
    model_lock();
    const char *ref = model_ref_for(key);
    json_object *res = model_get("VDI", ref) ? json_object_new_string(ref) : NULL;
    if (!res)
        obj_meta_put("VDI", uuid, NULL, err, sizeof(err));
    model_unlock();
    if (!res) {
        unlink(path);
        return fail(c, "INTERNAL_ERROR", "the new image is not a VDI of the SR", NULL);
    }
    return res;
}

static json_object *vdi_destroy(struct call *c)
{
    const char *r = arg_str(c, 1);
    if (!r)
        return NULL;
    char ref[64], path[XENON_PATH_MAX * 2], uuid[40], sr[64];
    snprintf(ref, sizeof(ref), "%s", r);
    vm_def_lock();      /* no VBD.create naming it meanwhile */
    model_lock();
    json_object *rec = model_get("VDI", ref), *f;
    bool used = false;
    if (rec) {
        snprintf(path, sizeof(path), "%s", json_object_object_get_ex(rec, "location", &f)
                                               ? json_object_get_string(f) : "");
        snprintf(uuid, sizeof(uuid), "%s", json_object_object_get_ex(rec, "uuid", &f)
                                               ? json_object_get_string(f) : "");
        snprintf(sr, sizeof(sr), "%s", json_object_object_get_ex(rec, "SR", &f)
                                           ? json_object_get_string(f) : "");
        used = (json_object_object_get_ex(rec, "VBDs", &f) && json_object_array_length(f)) ||
               storage_backs_an_image(path);
    }
    bool ours = rec && !strcmp(sr, storage_sr_ref());
    model_unlock();
    json_object *res = NULL;
    char err[300];
    if (!rec)
        fail(c, "HANDLE_INVALID", "VDI", ref, NULL);
    else if (used)
        fail(c, "VDI_IN_USE", ref, "destroy", NULL);
    else if (!ours)
        fail(c, "SR_OPERATION_NOT_SUPPORTED", sr, NULL);
    else if (unlink(path) < 0 && errno != ENOENT)
        fail(c, "INTERNAL_ERROR", strerror(errno), NULL);
    else {
        model_lock();
        obj_meta_put("VDI", uuid, NULL, err, sizeof(err));
        model_unlock();
        sync_dir_of(path);
        res = void_result();
    }
    vm_def_unlock();
    if (res)
        vm_scan();
    return res;
}

const struct xapi_method vdi_methods[] = {
    { "VDI.create", 2, ROLE_VM_ADMIN, M_ASYNC, vdi_create },
    { "VDI.destroy", 2, ROLE_VM_ADMIN, M_ASYNC, vdi_destroy },
    { NULL, 0, 0, 0, NULL },
};
