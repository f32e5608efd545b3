/* Guest-supplied metrics (guest_metrics.h). */
#include "guest_metrics.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Node (below /local/domain/N/) -> key in a field's map. */
static const struct { const char *node, *field, *key; } nodes[] = {
    { "attr/PVAddons/MajorVersion", "PV_drivers_version", "major" },
    { "attr/PVAddons/MinorVersion", "PV_drivers_version", "minor" },
    { "attr/PVAddons/MicroVersion", "PV_drivers_version", "micro" },
    { "attr/PVAddons/BuildVersion", "PV_drivers_version", "build" },
    { "data/os_name", "os_version", "name" },
    { "data/os_uname", "os_version", "uname" },
    { "data/os_distro", "os_version", "distro" },
    { "data/os_majorver", "os_version", "major" },
    { "data/os_minorver", "os_version", "minor" },
    { "data/meminfo_free", "memory", "free" },
    { "data/meminfo_total", "memory", "total" },
};
#define NNODES (sizeof(nodes) / sizeof(nodes[0]))

/* A guest's string, cut to GM_VALUE_MAX and to valid UTF-8-agnostic
 * printable bytes: control characters become '?'. */
static json_object *clean(const char *v)
{
    char b[GM_VALUE_MAX + 1];
    size_t n = strnlen(v, GM_VALUE_MAX);
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)v[i] < 0x20 || v[i] == 0x7f ? '?' : v[i];
    b[n] = 0;
    return json_object_new_string(b);
}

static json_object *field(json_object *rec, const char *name)
{
    json_object *f;
    if (!json_object_object_get_ex(rec, name, &f)) {
        f = json_object_new_object();
        json_object_object_add(rec, name, f);
    }
    return f;
}

static void networks(struct xs_client *xs, unsigned domid, json_object *rec, int *found)
{
    char path[128];
    snprintf(path, sizeof(path), "/local/domain/%u/attr/vif", domid);
    char **vifs;
    int nv;
    if (xs_directory(xs, path, &vifs, &nv) < 0)
        return;
    for (int i = 0; i < nv && i < GM_VIFS; i++) {
        char *end;
        unsigned long devid = strtoul(vifs[i], &end, 10);
        if (*end || end == vifs[i] || devid > 65535)
            continue;
        static const char *const fams[] = { "ipv4", "ipv6" };
        for (int f = 0; f < 2; f++) {
            snprintf(path, sizeof(path), "/local/domain/%u/attr/vif/%lu/%s", domid, devid, fams[f]);
            char **ads;
            int na;
            if (xs_directory(xs, path, &ads, &na) < 0)
                continue;
            for (int k = 0; k < na && k < GM_ADDRS; k++) {
                unsigned long idx = strtoul(ads[k], &end, 10);
                if (*end || end == ads[k] || idx >= GM_ADDRS)
                    continue;
                char p2[160], key[48];
                snprintf(p2, sizeof(p2), "%s/%lu", path, idx);
                char *v = NULL;
                if (xs_read(xs, p2, &v) == 0 && v) {
                    snprintf(key, sizeof(key), "%lu/%s/%lu", devid, fams[f], idx);
                    json_object_object_add(field(rec, "networks"), key, clean(v));
                    (*found)++;
                }
                free(v);
            }
            xs_free_list(ads, na);
        }
    }
    xs_free_list(vifs, nv);
}

json_object *guest_metrics_read(struct xs_client *xs, unsigned domid)
{
    char paths[NNODES][96];
    const char *pp[NNODES];
    char *vals[NNODES] = { 0 };
    for (size_t i = 0; i < NNODES; i++) {
        snprintf(paths[i], sizeof(paths[i]), "/local/domain/%u/%s", domid, nodes[i].node);
        pp[i] = paths[i];
    }
    if (xs_read_many(xs, pp, (int)NNODES, vals) < 0) {
        for (size_t i = 0; i < NNODES; i++)
            free(vals[i]);
        return NULL;
    }
    json_object *rec = json_object_new_object();
    field(rec, "PV_drivers_version");
    field(rec, "os_version");
    field(rec, "memory");
    field(rec, "networks");
    int found = 0;
    for (size_t i = 0; i < NNODES; i++) {
        if (vals[i]) {
            json_object_object_add(field(rec, nodes[i].field), nodes[i].key, clean(vals[i]));
            found++;
            free(vals[i]);
        }
    }
    networks(xs, domid, rec, &found);
    if (!found) {
        json_object_put(rec);
        return NULL;
    }
    json_object *pv = field(rec, "PV_drivers_version");
    bool drivers = json_object_object_length(pv) > 0;
    json_object_object_add(rec, "PV_drivers_detected", json_object_new_boolean(drivers));
    json_object_object_add(rec, "PV_drivers_up_to_date", json_object_new_boolean(drivers));
    json_object_object_add(rec, "disks", json_object_new_object());
    json_object_object_add(rec, "other", json_object_new_object());
    json_object_object_add(rec, "other_config", json_object_new_object());
    json_object_object_add(rec, "live", json_object_new_boolean(1));
    json_object_object_add(rec, "can_use_hotplug_vbd", json_object_new_string("unspecified"));
    json_object_object_add(rec, "can_use_hotplug_vif", json_object_new_string("unspecified"));
    json_object_object_add(rec, "last_updated", json_object_new_string("19700101T00:00:00Z"));
    return rec;
}
