/* The domain config of a saved domain (savefile.h): libxl's JSON from the
 * xl header, read with json-c, rewritten as xl.cfg text and parsed by the
 * usual parser, so that a restored or migrated domain is checked exactly
 * as `xl create` checks one. Taken: the keys a Xenon domain is built from
 * (c_info name, uuid, type; b_info max_vcpus, target_memkb, kernel,
 * cmdline, ramdisk), its disks and nics, and its on_* actions. */
#include "savefile.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domain.h"
#include "util.h"

struct cfg_text {
    char *buf;
    FILE *f;
    const char *bad;        /* the first value that cannot be written */
};

/* A string member, or NULL (absent, null, or not a string). */
static const char *member_str(struct json_object *o, const char *key)
{
    struct json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static bool member_int(struct json_object *o, const char *key, long long *out)
{
    struct json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return false;
    *out = json_object_get_int64(v);
    return true;
}

/* Whether s can stand inside a quoted xl.cfg string and, when `spec`, as
 * one value of a comma-separated device spec. */
static bool plain(const char *s, bool spec)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if (*c < 0x20 || *c > 0x7e || *c == '"' || *c == '\\' || (spec && *c == ','))
            return false;
    return true;
}

static void put_str(struct cfg_text *t, const char *key, const char *v)
{
    if (!v || !*v)
        return;
    if (!plain(v, false)) {
        t->bad = t->bad ? t->bad : key;
        return;
    }
    fprintf(t->f, "%s = \"%s\"\n", key, v);
}

/* ",KEY=VALUE" of a device spec (nothing when the value is empty). */
static void spec_kv(struct cfg_text *t, FILE *s, const char *key, const char *v, bool *first)
{
    if (!v || !*v)
        return;
    if (!plain(v, true)) {
        t->bad = t->bad ? t->bad : key;
        return;
    }
    fprintf(s, "%s%s=%s", *first ? "" : ",", key, v);
    *first = false;
}

/* One device's spec, built in memory and appended to the list as a quoted
 * string (its parts were each checked by spec_kv). */
struct spec {
    FILE *f;
    char *text;
    size_t len;
};

static FILE *spec_open(struct cfg_text *t, struct spec *sp, const char *what)
{
    *sp = (struct spec){ 0 };
    sp->f = open_memstream(&sp->text, &sp->len);
    if (!sp->f)
        t->bad = t->bad ? t->bad : what;
    return sp->f;
}

static void spec_close(struct cfg_text *t, struct spec *sp, size_t *count)
{
    fclose(sp->f);
    fprintf(t->f, "%s\"%s\"", (*count)++ ? ", " : "", sp->text);
    free(sp->text);
}

/* One disk of libxl's "disks" as a disk= spec; target last (it may hold
 * commas: xl's spec takes the rest of the string). */
static void disk_spec(struct cfg_text *t, struct json_object *d, size_t *count)
{
    struct spec sp;
    FILE *s = spec_open(t, &sp, "disks");
    if (!s)
        return;
    bool first = true;
    long long rw = 1, cdrom = 0;
    member_int(d, "readwrite", &rw);
    member_int(d, "is_cdrom", &cdrom);
    const char *format = member_str(d, "format");
    spec_kv(t, s, "format", format && strcmp(format, "unknown") ? format : NULL, &first);
    spec_kv(t, s, "vdev", member_str(d, "vdev"), &first);
    spec_kv(t, s, "access", rw ? "rw" : "ro", &first);
    if (cdrom)
        spec_kv(t, s, "devtype", "cdrom", &first);
    const char *backend = member_str(d, "backend");
    spec_kv(t, s, "backendtype", backend && strcmp(backend, "unknown") ? backend : NULL, &first);
    spec_kv(t, s, "script", member_str(d, "script"), &first);
    const char *target = member_str(d, "pdev_path");
    if (target && *target) {
        if (!plain(target, false))
            t->bad = t->bad ? t->bad : "pdev_path";
        else
            fprintf(s, "%starget=%s", first ? "" : ",", target);
    }
    spec_close(t, &sp, count);
}

/* One nic of libxl's "nics" as a vif= spec. */
static void nic_spec(struct cfg_text *t, struct json_object *v, size_t *count)
{
    char num[32];
    struct spec sp;
    FILE *s = spec_open(t, &sp, "nics");
    if (!s)
        return;
    bool first = true;
    long long x;
    if (member_int(v, "devid", &x) && x >= 0) {
        snprintf(num, sizeof(num), "%lld", x);
        spec_kv(t, s, "devid", num, &first);
    }
    spec_kv(t, s, "mac", member_str(v, "mac"), &first);
    spec_kv(t, s, "bridge", member_str(v, "bridge"), &first);
    spec_kv(t, s, "ip", member_str(v, "ip"), &first);
    spec_kv(t, s, "script", member_str(v, "script"), &first);
    spec_kv(t, s, "vifname", member_str(v, "ifname"), &first);
    spec_kv(t, s, "model", member_str(v, "model"), &first);
    spec_kv(t, s, "gatewaydev", member_str(v, "gatewaydev"), &first);
    const char *type = member_str(v, "nictype");
    spec_kv(t, s, "type", type && !strcmp(type, "vif_ioemu") ? "ioemu" :
                          type && !strcmp(type, "vif") ? "vif" : NULL, &first);
    if (member_int(v, "mtu", &x) && x > 0) {
        snprintf(num, sizeof(num), "%lld", x);
        spec_kv(t, s, "mtu", num, &first);
    }
    if (member_int(v, "vlan", &x) && x >= 0) {
        snprintf(num, sizeof(num), "%lld", x);
        spec_kv(t, s, "vlan", num, &first);
    }
    long long bytes, usecs;
    if (member_int(v, "rate_bytes_per_interval", &bytes) &&
        member_int(v, "rate_interval_usecs", &usecs) && bytes > 0 && usecs > 0) {
        /* xl's rate= in bytes per second over the same interval. */
        snprintf(num, sizeof(num), "%lldB/s@%lldus",
                 (long long)((double)bytes * 1e6 / (double)usecs), usecs);
        spec_kv(t, s, "rate", num, &first);
    }
    spec_close(t, &sp, count);
}

static void device_list(struct cfg_text *t, struct json_object *root, const char *key,
                        const char *cfg_key)
{
    struct json_object *arr;
    if (!json_object_object_get_ex(root, key, &arr) || !json_object_is_type(arr, json_type_array) ||
        !json_object_array_length(arr))
        return;
    fprintf(t->f, "%s = [ ", cfg_key);
    size_t count = 0;
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        struct json_object *d = json_object_array_get_idx(arr, i);
        if (!json_object_is_type(d, json_type_object)) {
            t->bad = t->bad ? t->bad : key;
            continue;
        }
        if (!strcmp(key, "disks"))
            disk_spec(t, d, &count);
        else
            nic_spec(t, d, &count);
    }
    fputs(" ]\n", t->f);
}

int savefile_config_from_json(const char *json, struct domain_config *dc, FILE *err)
{
    struct json_tokener *tok = json_tokener_new();
    if (!tok) {
        fprintf(err, "xl header: out of memory\n");
        return -1;
    }
    struct json_object *root = json_tokener_parse_ex(tok, json, (int)strlen(json));
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (!root || jerr != json_tokener_success || !json_object_is_type(root, json_type_object)) {
        fprintf(err, "xl header: the domain config is not JSON (%s)\n",
                json_tokener_error_desc(jerr));
        json_object_put(root);
        return -1;
    }
    struct json_object *c_info = NULL, *b_info = NULL;
    json_object_object_get_ex(root, "c_info", &c_info);
    json_object_object_get_ex(root, "b_info", &b_info);

    struct cfg_text t = { 0 };
    size_t size = 0;
    t.f = open_memstream(&t.buf, &size);
    if (!t.f) {
        json_object_put(root);
        fprintf(err, "xl header: out of memory\n");
        return -1;
    }
    put_str(&t, "name", member_str(c_info, "name"));
    put_str(&t, "uuid", member_str(c_info, "uuid"));
    put_str(&t, "type", member_str(c_info, "type"));
    put_str(&t, "kernel", member_str(b_info, "kernel"));
    put_str(&t, "cmdline", member_str(b_info, "cmdline"));
    put_str(&t, "ramdisk", member_str(b_info, "ramdisk"));
    long long v;
    if (member_int(b_info, "max_vcpus", &v))
        fprintf(t.f, "vcpus = %lld\n", v);
    if (member_int(b_info, "target_memkb", &v))
        fprintf(t.f, "memory = %lld\n", v / 1024);
    static const char *const actions[] = { "on_poweroff", "on_reboot", "on_watchdog",
                                           "on_crash", "on_soft_reset" };
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        /* libxl's names (restart_rename, coredump_destroy) or xl's. */
        const char *a = member_str(root, actions[i]);
        char name[32];
        if (a && !strcmp(a, "restart_rename"))
            a = "rename-restart";
        /* on_soft_reset's only value is the default (xl warns on it). */
        if (a && i == 4 && (!strcmp(a, "soft_reset") || !strcmp(a, "soft-reset")))
            a = NULL;
        if (a && strlen(a) < sizeof(name)) {
            snprintf(name, sizeof(name), "%s", a);
            for (char *c = name; *c; c++)
                if (*c == '_')
                    *c = '-';
            a = name;
        }
        put_str(&t, actions[i], a);
    }
    device_list(&t, root, "disks", "disk");
    device_list(&t, root, "nics", "vif");
    fclose(t.f);
    json_object_put(root);
    if (t.bad) {
        fprintf(err, "xl header: the saved domain config's \"%s\" holds characters "
                "we cannot pass on\n", t.bad);
        free(t.buf);
        return -1;
    }
    domain_config_init(dc);
    int rc = domain_config_parse("saved domain config", t.buf, size, NULL, 0, err, dc);
    free(t.buf);
    if (rc < 0) {
        domain_config_dispose(dc);
        fprintf(err, "xl header: the saved domain config is not one we can build\n");
        return -1;
    }
    /* xl keeps kernel and ramdisk as written, relative to where it ran
     * (as xl does), and so does the restore. */
    domain_config_absolute_paths(dc);
    return 0;
}
