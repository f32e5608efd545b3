/* JSON rendering of a domain_config, shaped like libxl's
 * libxl_domain_config JSON (what `xl -N create` and `xl list -l` print):
 * enums as lower-case names, defbools as "True"/"False"/"<default>",
 * CPU maps as lists of CPU numbers, absent strings left out. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain_config.h"

struct out {
    FILE *f;
    int depth;
    bool first;     /* nothing written yet at this depth */
};

static void indent(struct out *o)
{
    fputc('\n', o->f);
    for (int i = 0; i < o->depth; i++)
        fputs("    ", o->f);
}

static void str(struct out *o, const char *s)
{
    fputc('"', o->f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", o->f); break;
        case '\\': fputs("\\\\", o->f); break;
        case '\n': fputs("\\n", o->f); break;
        case '\r': fputs("\\r", o->f); break;
        case '\t': fputs("\\t", o->f); break;
        case '\b': fputs("\\b", o->f); break;
        case '\f': fputs("\\f", o->f); break;
        default:
            if (*p < 0x20)
                fprintf(o->f, "\\u%04x", *p);
            else
                fputc(*p, o->f);
        }
    }
    fputc('"', o->f);
}

/* Start a member (key may be NULL inside arrays). */
static void member(struct out *o, const char *key)
{
    if (!o->first)
        fputc(',', o->f);
    o->first = false;
    indent(o);
    if (key) {
        str(o, key);
        fputs(": ", o->f);
    }
}

static void open_(struct out *o, const char *key, char c)
{
    member(o, key);
    fputc(c, o->f);
    o->depth++;
    o->first = true;
}

static void close_(struct out *o, char c)
{
    bool empty = o->first;

    o->depth--;
    if (!empty)
        indent(o);
    fputc(c, o->f);
    o->first = false;
}

static void kv_str(struct out *o, const char *key, const char *v)
{
    if (!v)
        return;
    member(o, key);
    str(o, v);
}

static void kv_int(struct out *o, const char *key, long long v)
{
    member(o, key);
    fprintf(o->f, "%lld", v);
}

static void kv_defbool(struct out *o, const char *key, int v)
{
    kv_str(o, key, v < 0 ? "<default>" : v ? "True" : "False");
}

static void cpumap(struct out *o, const char *key, const struct xcpumap *m)
{
    open_(o, key, '[');
    for (unsigned long c = 0; c < XCPU_MAX; c++)
        if (xcpumap_test(m, c)) {
            member(o, NULL);
            fprintf(o->f, "%lu", c);
        }
    close_(o, ']');
}

static void strv(struct out *o, const char *key, char *const *v, int n)
{
    if (!v)
        return;
    open_(o, key, '[');
    for (int i = 0; i < n; i++) {
        member(o, NULL);
        if (v[i])
            str(o, v[i]);
        else
            fputs("null", o->f);
    }
    close_(o, ']');
}

static void affinity(struct out *o, const char *key,
                     const struct xcpumap *maps, int n)
{
    if (!maps)
        return;
    open_(o, key, '[');
    for (int i = 0; i < n; i++)
        cpumap(o, NULL, &maps[i]);
    close_(o, ']');
}

static void disk(struct out *o, const struct xdisk *d)
{
    static const char *const spec[] = { "unknown", "xen", "virtio" };

    open_(o, NULL, '{');
    kv_str(o, "backend_domname", d->backend_domname);
    kv_str(o, "pdev_path", d->pdev_path);
    kv_str(o, "vdev", d->vdev);
    kv_str(o, "backend", xdisk_backend_name(d->backend));
    kv_str(o, "format", xdisk_format_name(d->format));
    kv_str(o, "script", d->script);
    kv_int(o, "removable", d->removable);
    kv_int(o, "readwrite", d->readwrite);
    kv_int(o, "is_cdrom", d->is_cdrom);
    member(o, "direct_io_safe");
    fputs(d->direct_io_safe ? "true" : "false", o->f);
    kv_defbool(o, "discard_enable", d->discard_enable);
    kv_str(o, "specification",
           (unsigned)d->specification < 3 ? spec[d->specification] : "unknown");
    kv_defbool(o, "colo_enable", d->colo_enable);
    kv_str(o, "colo_host", d->colo_host);
    if (d->colo_port)
        kv_int(o, "colo_port", d->colo_port);
    kv_str(o, "colo_export", d->colo_export);
    kv_str(o, "active_disk", d->active_disk);
    kv_str(o, "hidden_disk", d->hidden_disk);
    kv_defbool(o, "trusted", d->trusted);
    {
        int num = xdisk_vdev_number(d->vdev);

        if (num >= 0)   /* Xenon extra: the device number of vdev */
            kv_int(o, "vdev_number", num);
    }
    close_(o, '}');
}

static void nic(struct out *o, const struct xvif *v)
{
    static const char *const types[] = { "unknown", "vif_ioemu", "vif" };

    open_(o, NULL, '{');
    kv_str(o, "backend_domname", v->backend_domname);
    kv_int(o, "devid", v->devid);
    if (v->mtu)
        kv_int(o, "mtu", v->mtu);
    kv_str(o, "model", v->model);
    if (v->mac_set) {
        char mac[18];

        snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
                 v->mac[0], v->mac[1], v->mac[2], v->mac[3], v->mac[4],
                 v->mac[5]);
        kv_str(o, "mac", mac);
    }
    kv_str(o, "ip", v->ip);
    kv_str(o, "bridge", v->bridge);
    kv_str(o, "ifname", v->ifname);
    kv_str(o, "script", v->script);
    kv_str(o, "nictype", (unsigned)v->type < 3 ? types[v->type] : "unknown");
    if (v->rate_interval_usecs) {
        kv_int(o, "rate_bytes_per_interval",
               (long long)v->rate_bytes_per_interval);
        kv_int(o, "rate_interval_usecs", v->rate_interval_usecs);
    }
    kv_str(o, "gatewaydev", v->gatewaydev);
    if (v->vlan >= 0)
        kv_int(o, "vlan", v->vlan);
    kv_defbool(o, "trusted", v->trusted);
    close_(o, '}');
}

char *domain_config_to_json(const struct domain_config *dc)
{
    char *buf = NULL, uuid[37];
    size_t sz = 0;
    struct out o = { .first = true };
    const uint8_t *u = dc->uuid;

    o.f = open_memstream(&buf, &sz);
    if (!o.f)
        return NULL;
    snprintf(uuid, sizeof(uuid),
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
             u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
             u[15]);

    fputc('{', o.f);
    o.depth = 1;

    open_(&o, "c_info", '{');
    kv_str(&o, "type", dc_type_name(dc->type));
    kv_str(&o, "name", dc->name);
    kv_str(&o, "ssid_label", dc->ssid_label);
    kv_str(&o, "uuid", uuid);
    kv_str(&o, "pool_name", dc->pool_name);
    close_(&o, '}');

    open_(&o, "b_info", '{');
    kv_int(&o, "max_vcpus", dc->max_vcpus);
    {
        struct xcpumap avail;

        xcpumap_clear(&avail);
        for (int i = 0; i < dc->avail_vcpus; i++)
            xcpumap_set(&avail, (unsigned long)i);
        cpumap(&o, "avail_vcpus", &avail);
    }
    affinity(&o, "vcpu_hard_affinity", dc->vcpu_hard_affinity,
             dc->num_vcpu_hard_affinity);
    affinity(&o, "vcpu_soft_affinity", dc->vcpu_soft_affinity,
             dc->num_vcpu_soft_affinity);
    kv_int(&o, "max_memkb", dc->max_memkb);
    kv_int(&o, "target_memkb", dc->target_memkb);
    kv_str(&o, "exec_ssid_label", dc->exec_ssid_label);
    kv_str(&o, "tsc_mode", dc_tsc_mode_name(dc->tsc_mode));
    kv_int(&o, "max_grant_frames", dc->max_grant_frames);
    kv_int(&o, "max_maptrack_frames", dc->max_maptrack_frames);
    kv_defbool(&o, "disable_migrate", dc->disable_migrate);
    open_(&o, "sched_params", '{');
    kv_int(&o, "weight", dc->sched_weight);
    kv_int(&o, "cap", dc->sched_cap);
    close_(&o, '}');
    kv_str(&o, "kernel", dc->kernel);
    kv_str(&o, "cmdline", dc->cmdline);
    kv_str(&o, "ramdisk", dc->ramdisk);
    kv_str(&o, "bootloader", dc->bootloader);
    strv(&o, "bootloader_args", dc->bootloader_args, dc->num_bootloader_args);
    if (dc->vnc_enable >= 0 || dc->vnc_listen || dc->vnc_display >= 0) {
        open_(&o, "vnc", '{');
        kv_defbool(&o, "enable", dc->vnc_enable);
        kv_str(&o, "listen", dc->vnc_listen);
        kv_str(&o, "passwd", dc->vnc_passwd);
        if (dc->vnc_display >= 0)
            kv_int(&o, "display", dc->vnc_display);
        close_(&o, '}');
    }
    strv(&o, "serial_list", dc->serial, dc->num_serial);
    close_(&o, '}');

    open_(&o, "disks", '[');
    for (int i = 0; i < dc->num_disks; i++)
        disk(&o, &dc->disks[i]);
    close_(&o, ']');
    open_(&o, "nics", '[');
    for (int i = 0; i < dc->num_nics; i++)
        nic(&o, &dc->nics[i]);
    close_(&o, ']');

    kv_str(&o, "on_poweroff", dc_action_name(dc->on_poweroff));
    kv_str(&o, "on_reboot", dc_action_name(dc->on_reboot));
    kv_str(&o, "on_watchdog", dc_action_name(dc->on_watchdog));
    kv_str(&o, "on_crash", dc_action_name(dc->on_crash));
    kv_str(&o, "on_soft_reset", dc_action_name(dc->on_soft_reset));
    strv(&o, "xenon_unsupported_keys", dc->unsupported, dc->num_unsupported);

    o.depth = 0;
    fputs("\n}\n", o.f);
    fclose(o.f);
    return buf;
}
