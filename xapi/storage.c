/* SR, PBD and VDI records from the image directory (storage.h). */
#include "storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host_info.h"
#include "log.h"
#include "model.h"
#include "vm_scan.h"

extern char **environ;

static char sr_dir[4096];
static pthread_mutex_t scan_lock = PTHREAD_MUTEX_INITIALIZER;
/* path -> {"sig", "format", "virtual_size", "physical"}: the last scan's
 * images (only touched by storage_scan, under scan_lock; the result is
 * swapped into `images` under the model lock). */
static json_object *scanned;
static json_object *images;             /* locked: the same, as last put */
static json_object *external_paths;     /* locked: VDI ref -> path, outside the SR */
static json_object *suspend_refs;       /* locked: those of them that are suspend images */
/* Outside the SR, the qcow2 disks (as their VBDs say, never the file's
 * first bytes: a raw disk's guest may write a qcow2 header):
 * external_qcow2 (locked) path -> NULL, their qemu-img sizes from the
 * last scan in ext_scanned (scan_lock: path -> {"sig", "virtual_size"})
 * and, as last put, ext_sizes (locked). */
static json_object *external_qcow2, *ext_scanned, *ext_sizes;
static int64_t fs_size, fs_used;        /* locked: the SR's file system */

void storage_config(const char *dir)
{
    snprintf(sr_dir, sizeof(sr_dir), "%s", dir);
    /* the directory is the SR: made when missing (0755: images are the
     * host's, VDIs readable by whoever may read the directory) */
    if (mkdir(sr_dir, 0755) == 0)
        chmod(sr_dir, 0755);
}

const char *storage_dir(void)
{
    return sr_dir;
}

static bool is_qcow2(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    unsigned char m[4];
    bool q = fd >= 0 && pread(fd, m, 4, 0) == 4 && !memcmp(m, "QFI\xfb", 4);
    if (fd >= 0)
        close(fd);
    return q;
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* qemu-img's view of a qcow2 image: its virtual size, or -1. The image is
 * opened shared (-U: a running VM may hold it) and as qcow2 (-f: no
 * probing of a hostile file's format). */
static int64_t qemu_img_virtual_size(const char *path, char *backing, size_t bn)
{
    backing[0] = 0;
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *argv[] = { "qemu-img", "info", "-U", "-f", "qcow2", "--output=json", (char *)path, NULL };
    pid_t pid;
    int rc = posix_spawnp(&pid, "qemu-img", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    char out[65536];
    size_t n = 0;
    for (ssize_t r; rc == 0 && n < sizeof(out) - 1 &&
                    (r = read(pfd[0], out + n, sizeof(out) - 1 - n)) != 0;)
        if (r > 0)
            n += (size_t)r;
        else if (errno != EINTR)
            break;
    out[n] = 0;
    close(pfd[0]);
    int st = 1;
    if (rc == 0)
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
    if (rc != 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    json_object *j = json_tokener_parse(out), *v;
    int64_t size = j && json_object_object_get_ex(j, "virtual-size", &v)
                       ? json_object_get_int64(v) : -1;
    if (j && (json_object_object_get_ex(j, "full-backing-filename", &v) ||
              json_object_object_get_ex(j, "backing-filename", &v)))
        snprintf(backing, bn, "%s", json_object_get_string(v));
    json_object_put(j);
    return size;
}

/* What tells a scan that a file is as it was: inode, size, mtime. */
static void file_sig(const struct stat *st, char *sig, size_t len)
{
    snprintf(sig, len, "%llu/%lld/%lld.%09ld", (unsigned long long)st->st_ino,
             (long long)st->st_size, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
}

/* Carries path's entry from the last scan into now when its sig still
 * matches, so an unchanged image is not probed again. */
static bool keep_if_unchanged(json_object *last, json_object *now, const char *path,
                              const char *sig)
{
    json_object *old, *f;
    if (!last || !json_object_object_get_ex(last, path, &old) ||
        !json_object_object_get_ex(old, "sig", &f) || strcmp(json_object_get_string(f), sig))
        return false;
    json_object_object_add(now, path, json_object_get(old));
    return true;
}

void storage_scan(void)
{
    pthread_mutex_lock(&scan_lock);
    json_object *now = json_object_new_object();
    DIR *d = sr_dir[0] ? opendir(sr_dir) : NULL;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char path[sizeof(sr_dir) + 256];
        snprintf(path, sizeof(path), "%s/%s", sr_dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        char sig[96];
        file_sig(&st, sig, sizeof(sig));
        if (keep_if_unchanged(scanned, now, path, sig))
            continue;
        bool q = is_qcow2(path);
        if (!q && !has_suffix(e->d_name, ".raw") && !has_suffix(e->d_name, ".img") &&
            !has_suffix(e->d_name, ".iso"))
            continue;
        char backing[4096] = "";
        int64_t vsize = q ? qemu_img_virtual_size(path, backing, sizeof(backing))
                          : (int64_t)st.st_size;
        if (vsize < 0) {
            log_limited(LOG_WARN, "%s: qemu-img cannot read it; not listed as a VDI", path);
            continue;
        }
        json_object *img = json_object_new_object();
        json_object_object_add(img, "sig", json_object_new_string(sig));
        json_object_object_add(img, "format", json_object_new_string(q ? "qcow2" : "raw"));
        json_object_object_add(img, "virtual_size", json_object_new_int64(vsize));
        if (backing[0])
            json_object_object_add(img, "backing", json_object_new_string(backing));
        json_object_object_add(img, "physical", json_object_new_int64((int64_t)st.st_blocks * 512));
        json_object_object_add(img, "read_only", json_object_new_boolean(!(st.st_mode & 0222)));
        json_object_object_add(now, path, img);
    }
    if (d)
        closedir(d);
    json_object_put(scanned);
    scanned = now;
    /* the qcow2 disks outside the SR that the last scan's VBDs named */
    model_lock();
    json_object *ext = json_object_new_array();
    if (external_qcow2) {
        json_object_object_foreach(external_qcow2, ep, unused) {
            (void)unused;
            json_object_array_add(ext, json_object_new_string(ep));
        }
    }
    model_unlock();
    json_object *ext_now = json_object_new_object();
    for (size_t i = 0; i < json_object_array_length(ext); i++) {
        const char *path = json_object_get_string(json_object_array_get_idx(ext, i));
        struct stat st;
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        char sig[96];
        file_sig(&st, sig, sizeof(sig));
        if (keep_if_unchanged(ext_scanned, ext_now, path, sig))
            continue;
        char backing[4096];
        int64_t vsize = qemu_img_virtual_size(path, backing, sizeof(backing));
        if (vsize < 0)
            log_limited(LOG_WARN, "%s: qemu-img cannot read it as qcow2", path);
        json_object *e = json_object_new_object();
        json_object_object_add(e, "sig", json_object_new_string(sig));
        json_object_object_add(e, "virtual_size", json_object_new_int64(vsize));
        json_object_object_add(ext_now, path, e);
    }
    json_object_put(ext);
    json_object_put(ext_scanned);
    ext_scanned = ext_now;
    struct statvfs vfs;
    bool have_fs = sr_dir[0] && statvfs(sr_dir, &vfs) == 0;
    model_lock();
    json_object_put(images);
    images = json_object_get(now);
    json_object_put(ext_sizes);
    ext_sizes = json_object_get(ext_now);
    if (have_fs) {
        fs_size = (int64_t)vfs.f_blocks * (int64_t)vfs.f_frsize;
        fs_used = fs_size - (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
    }
    model_unlock();
    pthread_mutex_unlock(&scan_lock);
}

static void kv(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v));
}

static void i64(json_object *o, const char *k, int64_t v)
{
    json_object_object_add(o, k, json_object_new_int64(v));
}

static const char *ref_of(const char *cls, const char *uuid)
{
    char key[96];
    snprintf(key, sizeof(key), "%s/%s", cls, uuid);
    return model_ref_for(key);
}

static void uuid_of(const char *what, const char *id, char *out)
{
    size_t n = strlen(what) + strlen(id) + 2;
    char *s = malloc(n);
    if (!s)
        abort();
    snprintf(s, n, "%s:%s", what, id);
    vm_uuid_for_name(s, out);
    free(s);
}

static bool in_sr(const char *path)
{
    size_t n = strlen(sr_dir);
    return n && !strncmp(path, sr_dir, n) && path[n] == '/' && !strchr(path + n + 1, '/');
}

const char *storage_sr_ref(void)
{
    char u[40];
    uuid_of("sr", sr_dir, u);
    return ref_of("SR", u);
}

int64_t storage_free_bytes(void)
{
    struct statvfs vfs;
    if (!sr_dir[0] || statvfs(sr_dir, &vfs) < 0)
        return -1;
    return (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
}

bool storage_backs_an_image(const char *path)
{
    json_object *b;
    json_object_object_foreach(images, k, img) {
        (void)k;
        if (json_object_object_get_ex(img, "backing", &b) &&
            !strcmp(json_object_get_string(b), path))
            return true;
    }
    return false;
}

const char *storage_vdi_ref_as(const char *path, bool qcow2)
{
    const char *ref = storage_vdi_ref(path);
    if (!external_paths || !json_object_object_get_ex(external_paths, ref, NULL))
        return ref;         /* in the SR: its own scan knows the format */
    if (!external_qcow2)
        external_qcow2 = json_object_new_object();
    if (qcow2)
        json_object_object_add(external_qcow2, path, NULL);
    else
        json_object_object_del(external_qcow2, path);
    return ref;
}

const char *storage_vdi_ref(const char *path)
{
    char uuid[40];
    uuid_of("vdi", path, uuid);
    const char *ref = ref_of("VDI", uuid);
    if (!in_sr(path) || !images || !json_object_object_get_ex(images, path, NULL)) {
        if (!external_paths)
            external_paths = json_object_new_object();
        json_object_object_add(external_paths, ref, json_object_new_string(path));
    }
    return ref;
}

const char *storage_suspend_vdi_ref(const char *path)
{
    const char *ref = storage_vdi_ref(path);
    if (!suspend_refs)
        suspend_refs = json_object_new_object();
    json_object_object_add(suspend_refs, ref, NULL);
    return ref;
}

static json_object *sr_record(const char *uuid, const char *name, const char *desc,
                              const char *type, json_object *vdis, const char *pbd,
                              int64_t size, int64_t used, int64_t alloc, const char *path)
{
    json_object *r = json_object_new_object();
    kv(r, "uuid", uuid);
    kv(r, "name_label", name);
    kv(r, "name_description", desc);
    kv(r, "type", type);
    kv(r, "content_type", "user");
    json_object_object_add(r, "shared", json_object_new_boolean(0));
    json_object_object_add(r, "local_cache_enabled", json_object_new_boolean(0));
    json_object_object_add(r, "is_tools_sr", json_object_new_boolean(0));
    json_object_object_add(r, "clustered", json_object_new_boolean(0));
    i64(r, "physical_size", size);
    i64(r, "physical_utilisation", used);
    i64(r, "virtual_allocation", alloc);
    json_object_object_add(r, "VDIs", vdis);
    json_object *pbds = json_object_new_array();
    json_object_array_add(pbds, json_object_new_string(pbd));
    json_object_object_add(r, "PBDs", pbds);
    json_object *oc = json_object_new_object();
    if (path)
        kv(oc, "xenon_path", path);
    json_object_object_add(r, "other_config", oc);
    json_object_object_add(r, "sm_config", json_object_new_object());
    json_object_object_add(r, "blobs", json_object_new_object());
    json_object_object_add(r, "tags", json_object_new_array());
    json_object *ops = json_object_new_array();
    json_object_array_add(ops, json_object_new_string("scan"));
    json_object_object_add(r, "allowed_operations", ops);
    json_object_object_add(r, "current_operations", json_object_new_object());
    kv(r, "introduced_by", REF_NULL);
    return r;
}

static json_object *pbd_record(const char *uuid, const char *sr, const char *path)
{
    json_object *r = json_object_new_object();
    kv(r, "uuid", uuid);
    kv(r, "host", host_ref());
    kv(r, "SR", sr);
    json_object *dc = json_object_new_object();
    if (path)
        kv(dc, "location", path);
    json_object_object_add(r, "device_config", dc);
    json_object_object_add(r, "currently_attached", json_object_new_boolean(1));
    json_object_object_add(r, "other_config", json_object_new_object());
    return r;
}

static json_object *vdi_record(const char *uuid, const char *path, const char *sr,
                               json_object *img, json_object *vbds)
{
    json_object *r = json_object_new_object(), *f;
    const char *base = strrchr(path, '/');
    kv(r, "uuid", uuid);
    kv(r, "name_label", base ? base + 1 : path);
    kv(r, "name_description", "");
    kv(r, "SR", sr);
    json_object_object_add(r, "VBDs", vbds);
    json_object_object_add(r, "crash_dumps", json_object_new_array());
    i64(r, "virtual_size", img && json_object_object_get_ex(img, "virtual_size", &f)
                               ? json_object_get_int64(f) : 0);
    i64(r, "physical_utilisation", img && json_object_object_get_ex(img, "physical", &f)
                                       ? json_object_get_int64(f) : 0);
    kv(r, "type", "user");
    json_object_object_add(r, "sharable", json_object_new_boolean(0));
    json_object_object_add(r, "read_only", json_object_new_boolean(
        img && json_object_object_get_ex(img, "read_only", &f) && json_object_get_boolean(f)));
    json_object_object_add(r, "managed", json_object_new_boolean(1));
    json_object_object_add(r, "missing", json_object_new_boolean(img == NULL));
    kv(r, "parent", REF_NULL);
    kv(r, "location", path);
    json_object *oc = json_object_new_object();
    json_object_object_add(r, "other_config", oc);
    json_object *sm = json_object_new_object();
    kv(sm, "image-format", img && json_object_object_get_ex(img, "format", &f)
                               ? json_object_get_string(f) : "raw");
    json_object_object_add(r, "sm_config", sm);
    json_object_object_add(r, "xenstore_data", json_object_new_object());
    json_object_object_add(r, "storage_lock", json_object_new_boolean(0));
    json_object_object_add(r, "is_a_snapshot", json_object_new_boolean(0));
    kv(r, "snapshot_of", REF_NULL);
    json_object_object_add(r, "snapshots", json_object_new_array());
    kv(r, "snapshot_time", "19700101T00:00:00Z");
    json_object_object_add(r, "tags", json_object_new_array());
    json_object_object_add(r, "allow_caching", json_object_new_boolean(0));
    kv(r, "on_boot", "persist");
    kv(r, "metadata_of_pool", REF_NULL);
    json_object_object_add(r, "metadata_latest", json_object_new_boolean(0));
    json_object_object_add(r, "is_tools_iso", json_object_new_boolean(0));
    json_object_object_add(r, "cbt_enabled", json_object_new_boolean(0));
    json_object_object_add(r, "allowed_operations", json_object_new_array());
    json_object_object_add(r, "current_operations", json_object_new_object());
    return r;
}

/* locked: VDI ref -> [VBD refs], from the VBD records. */
static json_object *vbds_by_vdi(void)
{
    json_object *m = json_object_new_object(), *all = model_class("VBD");
    if (!all)
        return m;
    json_object_object_foreach(all, ref, rec) {
        json_object *v, *list;
        if (!json_object_object_get_ex(rec, "VDI", &v))
            continue;
        const char *vdi = json_object_get_string(v);
        if (!json_object_object_get_ex(m, vdi, &list)) {
            list = json_object_new_array();
            json_object_object_add(m, vdi, list);
        }
        json_object_array_add(list, json_object_new_string(ref));
    }
    return m;
}

static json_object *take_vbds(json_object *by_vdi, const char *vdi)
{
    json_object *l;
    return json_object_object_get_ex(by_vdi, vdi, &l) ? json_object_get(l)
                                                       : json_object_new_array();
}

/* locked: set `field` of a record to v (consumed) when it differs. */
static void set_field(const char *cls, const char *ref, const char *field, json_object *v)
{
    json_object *r = model_get(cls, ref), *cur;
    if (r && (!json_object_object_get_ex(r, field, &cur) || !json_object_equal(cur, v))) {
        json_object *n = model_copy(r);
        json_object_object_add(n, field, v);
        model_put(cls, ref, n);
    } else {
        json_object_put(v);
    }
}

void storage_put(void)
{
    json_object *seen_sr = json_object_new_object(), *seen_vdi = json_object_new_object(),
                *seen_pbd = json_object_new_object(), *host_pbds = json_object_new_array();
    json_object *by_vdi = vbds_by_vdi();
    char sr_uuid[40], pbd_uuid[40], u[40];

    /* the image directory */
    uuid_of("sr", sr_dir, sr_uuid);
    uuid_of("pbd", sr_uuid, pbd_uuid);
    const char *sr = ref_of("SR", sr_uuid);
    char srref[48], pbdref[48];
    snprintf(srref, sizeof(srref), "%s", sr);
    snprintf(pbdref, sizeof(pbdref), "%s", ref_of("PBD", pbd_uuid));
    json_object *vdis = json_object_new_array();
    int64_t alloc = 0;
    if (images) {
        json_object_object_foreach(images, path, img) {
            uuid_of("vdi", path, u);
            const char *ref = ref_of("VDI", u);
            json_object_array_add(vdis, json_object_new_string(ref));
            json_object *f;
            if (json_object_object_get_ex(img, "virtual_size", &f))
                alloc += json_object_get_int64(f);
            model_put("VDI", ref, vdi_record(u, path, srref, img, take_vbds(by_vdi, ref)));
            json_object_object_add(seen_vdi, ref, NULL);
            if (external_paths)
                json_object_object_del(external_paths, ref);
        }
    }
    model_put("SR", srref, sr_record(sr_uuid, "Local images", sr_dir, "file", vdis, pbdref,
                                     fs_size, fs_used, alloc, sr_dir));
    model_put("PBD", pbdref, pbd_record(pbd_uuid, srref, sr_dir));
    json_object_object_add(seen_sr, srref, NULL);
    json_object_object_add(seen_pbd, pbdref, NULL);
    json_object_array_add(host_pbds, json_object_new_string(pbdref));
    set_field("pool", pool_ref(), "default_SR", json_object_new_string(srref));

    /* disks VMs use from elsewhere, while a VBD names them */
    uuid_of("sr", "external", sr_uuid);
    uuid_of("pbd", sr_uuid, pbd_uuid);
    snprintf(srref, sizeof(srref), "%s", ref_of("SR", sr_uuid));
    snprintf(pbdref, sizeof(pbdref), "%s", ref_of("PBD", pbd_uuid));
    vdis = json_object_new_array();
    json_object *gone = json_object_new_array();
    if (external_paths) {
        json_object_object_foreach(external_paths, ref, p) {
            json_object *l = NULL;
            const char *path = json_object_get_string(p);
            struct stat st;
            bool susp = suspend_refs && json_object_object_get_ex(suspend_refs, ref, NULL);
            if (susp && stat(path, &st) < 0) {      /* resumed or discarded */
                json_object_object_del(suspend_refs, ref);
                susp = false;
            }
            if (!json_object_object_get_ex(by_vdi, ref, &l) && !susp) {
                json_object_array_add(gone, json_object_new_string(ref));
                continue;
            }
            json_object *img = NULL, *e, *f;
            if (stat(path, &st) == 0) {
                int64_t vsize = S_ISREG(st.st_mode) ? (int64_t)st.st_size : 0;
                if (external_qcow2 && json_object_object_get_ex(external_qcow2, path, NULL)) {
                    /* a qcow2's size is what it holds, not the file's */
                    if (ext_sizes && json_object_object_get_ex(ext_sizes, path, &e) &&
                        json_object_object_get_ex(e, "virtual_size", &f))
                        vsize = json_object_get_int64(f) >= 0 ? json_object_get_int64(f) : 0;
                    else
                        vm_scan_request();  /* first seen: qemu-img asked next scan */
                }
                img = json_object_new_object();
                json_object_object_add(img, "virtual_size", json_object_new_int64(vsize));
                json_object_object_add(img, "physical",
                                       json_object_new_int64((int64_t)st.st_blocks * 512));
            }
            uuid_of("vdi", path, u);
            json_object_array_add(vdis, json_object_new_string(ref));
            json_object *rec = vdi_record(u, path, srref, img,
                                          l ? json_object_get(l) : json_object_new_array());
            if (susp)
                kv(rec, "type", "suspend");
            model_put("VDI", ref, rec);
            json_object_put(img);
            json_object_object_add(seen_vdi, ref, NULL);
        }
    }
    for (size_t i = 0; i < json_object_array_length(gone); i++) {
        const char *ref = json_object_get_string(json_object_array_get_idx(gone, i));
        json_object *p;
        if (external_qcow2 && json_object_object_get_ex(external_paths, ref, &p))
            json_object_object_del(external_qcow2, json_object_get_string(p));
        json_object_object_del(external_paths, ref);
    }
    json_object_put(gone);
    model_put("SR", srref, sr_record(sr_uuid, "Disks outside the image directory",
                                     "disk images and devices that VM definitions name",
                                     "udev", vdis, pbdref, 0, 0, 0, NULL));
    model_put("PBD", pbdref, pbd_record(pbd_uuid, srref, NULL));
    json_object_object_add(seen_sr, srref, NULL);
    json_object_object_add(seen_pbd, pbdref, NULL);
    json_object_array_add(host_pbds, json_object_new_string(pbdref));

    model_drop_unseen("VDI", seen_vdi);
    model_drop_unseen("SR", seen_sr);
    model_drop_unseen("PBD", seen_pbd);
    set_field("host", host_ref(), "PBDs", host_pbds);
    json_object_put(by_vdi);
    json_object_put(seen_sr);
    json_object_put(seen_vdi);
    json_object_put(seen_pbd);
}
