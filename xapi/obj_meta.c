/* The client-set names and maps of VDIs, SRs, networks, VBDs and VIFs
 * (obj_meta.h). */
#include "obj_meta.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "model.h"
#include "util.h"

#define META_FILE_MAX (2u << 20)

static char meta_dir[4096];
static json_object *metas;      /* locked: "<class>/<uuid>" -> overlay */

static const char *const classes[] = { "VDI", "SR", "network", "VBD", "VIF", NULL };

bool obj_meta_class(const char *cls)
{
    for (int i = 0; classes[i]; i++)
        if (!strcmp(classes[i], cls))
            return true;
    return false;
}

bool obj_meta_named(const char *cls)
{
    return obj_meta_class(cls) && strcmp(cls, "VBD") && strcmp(cls, "VIF");
}

/* An overlay as a file holds it: only the fields it may have, of their
 * types (a hostile or damaged file is read as far as it is sound). */
static json_object *sanitise(json_object *in)
{
    json_object *o = json_object_new_object(), *f;
    if (!json_object_is_type(in, json_type_object))
        return o;
    static const char *const names[] = { "name_label", "name_description", NULL };
    for (int i = 0; names[i]; i++)
        if (json_object_object_get_ex(in, names[i], &f) && json_object_is_type(f, json_type_string))
            json_object_object_add(o, names[i], json_object_new_string(json_object_get_string(f)));
    if (json_object_object_get_ex(in, "other_config", &f) && json_object_is_type(f, json_type_object)) {
        json_object *m = json_object_new_object();
        json_object_object_foreach(f, k, v) {
            if (json_object_is_type(v, json_type_string) && strncmp(k, "xenon_", 6))
                json_object_object_add(m, k, json_object_new_string(json_object_get_string(v)));
        }
        json_object_object_add(o, "other_config", m);
    }
    return o;
}

static void load_one(const char *name)
{
    const char *dash = strchr(name, '-');
    size_t n = strlen(name);
    if (!dash || n < 6 || strcmp(name + n - 5, ".json"))
        return;
    char cls[16], uuid[40];
    if ((size_t)(dash - name) >= sizeof(cls) || n - 5 - (size_t)(dash + 1 - name) != 36)
        return;
    snprintf(cls, sizeof(cls), "%.*s", (int)(dash - name), name);
    snprintf(uuid, sizeof(uuid), "%.36s", dash + 1);
    if (!obj_meta_class(cls))
        return;
    char path[sizeof(meta_dir) + 300];
    snprintf(path, sizeof(path), "%s/%s", meta_dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > META_FILE_MAX) {
        if (fd >= 0)
            close(fd);
        log_limited(LOG_WARN, "%s: not read (not a regular file of at most 2 MiB)", path);
        return;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    ssize_t r = buf ? read(fd, buf, (size_t)st.st_size) : -1;
    close(fd);
    if (r != st.st_size) {
        free(buf);
        return;
    }
    buf[r] = 0;
    json_object *j = json_tokener_parse(buf);
    free(buf);
    if (!j)
        log_limited(LOG_WARN, "%s: not JSON; ignored", path);
    char key[64];
    snprintf(key, sizeof(key), "%s/%s", cls, uuid);
    if (j)
        json_object_object_add(metas, key, sanitise(j));
    json_object_put(j);
}

static void apply_hook(const char *cls, json_object *rec)
{
    if (obj_meta_class(cls))
        obj_meta_apply(cls, rec);
}

void obj_meta_config(const char *dir)
{
    snprintf(meta_dir, sizeof(meta_dir), "%s", dir);
    /* its parent (the state directory) may not be there yet */
    if (mkdir_p(meta_dir) < 0 || chmod(meta_dir, 0700) < 0)
        log_limited(LOG_WARN, "%s: %s", meta_dir, strerror(errno));
    model_lock();
    json_object_put(metas);
    metas = json_object_new_object();
    DIR *d = opendir(meta_dir);
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.')
            load_one(e->d_name);
    if (d)
        closedir(d);
    model_set_overlay(apply_hook);
    model_unlock();
}

static json_object *find(const char *cls, const char *uuid)
{
    char key[96];
    snprintf(key, sizeof(key), "%s/%s", cls, uuid);
    json_object *o;
    return metas && json_object_object_get_ex(metas, key, &o) ? o : NULL;
}

void obj_meta_apply(const char *cls, json_object *rec)
{
    json_object *u, *o, *f, *oc;
    if (!json_object_object_get_ex(rec, "uuid", &u))
        return;
    o = find(cls, json_object_get_string(u));
    if (o && obj_meta_named(cls)) {
        if (json_object_object_get_ex(o, "name_label", &f))
            json_object_object_add(rec, "name_label", json_object_get(f));
        if (json_object_object_get_ex(o, "name_description", &f))
            json_object_object_add(rec, "name_description", json_object_get(f));
    }
    /* the record's own (xenon_*) keys, then the client's: a record stored
     * again (a setter's) loses the keys removed since */
    json_object *m = json_object_new_object();
    if (json_object_object_get_ex(rec, "other_config", &oc)) {
        json_object_object_foreach(oc, k, v) {
            if (!strncmp(k, "xenon_", 6))
                json_object_object_add(m, k, json_object_get(v));
        }
    }
    if (o && json_object_object_get_ex(o, "other_config", &f)) {
        json_object_object_foreach(f, k, v) {
            json_object_object_add(m, k, json_object_get(v));
        }
    }
    json_object_object_add(rec, "other_config", m);
}

json_object *obj_meta_get(const char *cls, const char *uuid)
{
    json_object *o = find(cls, uuid);
    return o ? model_copy(o) : json_object_new_object();
}

int obj_meta_put(const char *cls, const char *uuid, json_object *o, char *err, size_t errn)
{
    char key[96], path[sizeof(meta_dir) + 128], tmp[sizeof(path) + 8];
    snprintf(key, sizeof(key), "%s/%s", cls, uuid);
    snprintf(path, sizeof(path), "%s/%s-%s.json", meta_dir, cls, uuid);
    snprintf(tmp, sizeof(tmp), "%s/.%s-%s.tmp", meta_dir, cls, uuid);
    if (!o || json_object_object_length(o) == 0) {
        if (unlink(path) < 0 && errno != ENOENT) {
            snprintf(err, errn, "%.200s: %s", path, strerror(errno));
            return -1;
        }
        json_object_object_del(metas, key);
        return 0;
    }
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    size_t n = strlen(text);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    bool ok = fd >= 0 && write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
    if (fd >= 0)
        ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) < 0) {
        snprintf(err, errn, "%.200s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    (void)dir_fsync(meta_dir);
    json_object_object_add(metas, key, sanitise(o));
    return 0;
}
