/* VM records from libxenon (vm_scan.h). */
#include "vm_scan.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <sys/inotify.h>
#include <gnutls/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "domain_config.h"
#include "guest_metrics.h"
#include "host_info.h"
#include "host_net.h"
#include "log.h"
#include "model.h"
#include "messages.h"
#include "storage.h"
#include "vm_devices.h"
#include "vm_meta.h"
#include "vm_migrate.h"
#include "vm_suspend.h"

struct xenon_paths vm_paths;
static char vm_dir[XENON_PATH_MAX];
static pthread_mutex_t scan_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t req_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t req_cv = PTHREAD_COND_INITIALIZER;
static bool requested;
#define GM_SIG_MAX 4096
static json_object *signatures;     /* VM ref -> what its records were made of */
static bool first_scan_done;         /* locked (the model's lock) */

void vm_scan_config(const char *dir, const struct xenon_paths *p)
{
    snprintf(vm_dir, sizeof(vm_dir), "%s", dir);
    vm_paths = *p;
}

const char *vm_scan_dir(void)
{
    return vm_dir;
}

void vm_ref_key(const char *uuid, char *out, size_t n)
{
    snprintf(out, n, "VM/%s", uuid);
}

json_object *vm_scan_new_vm(const char *uuid)
{
    vm_scan();
    char key[300];
    vm_ref_key(uuid, key, sizeof(key));
    model_lock();
    json_object *res = json_object_new_string(model_ref_for(key));
    bool listed = model_get("VM", json_object_get_string(res)) != NULL;
    model_unlock();
    if (listed)
        return res;
    json_object_put(res);
    return NULL;
}

bool vm_uuid_ok(const char *u)
{
    if (!u || strlen(u) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        char ch = u[i];
        if (dash ? ch != '-' : !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
            return false;
    }
    return true;
}

void vm_uuid_for_name(const char *name, char *out)
{
    model_uuid_for(name, out);
}

/* One VM definition, as read from its file. */
struct vmdef {
    char name[256], uuid[37], path[XENON_PATH_MAX + 300];
    int64_t max_kb, target_kb;
    int max_vcpus, vcpus;
    char kernel[XENON_PATH_MAX], cmdline[1024];
    char on_poweroff[24], on_reboot[24], on_crash[24];
    /* its devices (vm_devices_from_config) and the XAPI fields kept in
     * the file (vm_meta_read): owned by the cache entry */
    json_object *extra;
};

/* Parse one definition file into x. 0, or -1 when it is not a VM. */
static int parse_def(const char *path, struct vmdef *x, FILE *quiet)
{
    size_t len;
    char *data = vm_def_text(path, &len);
    if (!data)
        return -1;
    struct domain_config dc;
    domain_config_init(&dc);
    int rc = -1;
    if (domain_config_parse(path, data, len, NULL, 0, quiet, &dc) == 0 && dc.name) {
        memset(x, 0, sizeof(*x));
        snprintf(x->name, sizeof(x->name), "%s", dc.name);
        snprintf(x->path, sizeof(x->path), "%s", path);
        if (dc.uuid_given) {
            const uint8_t *u = dc.uuid;
            sprintf(x->uuid, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                    u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10],
                    u[11], u[12], u[13], u[14], u[15]);
        } else {
            vm_uuid_for_name(dc.name, x->uuid);
        }
        x->max_kb = dc.max_memkb;
        x->target_kb = dc.target_memkb;
        x->max_vcpus = dc.max_vcpus;
        x->vcpus = dc.avail_vcpus;
        snprintf(x->kernel, sizeof(x->kernel), "%s", dc.kernel ? dc.kernel : "");
        snprintf(x->cmdline, sizeof(x->cmdline), "%s", dc.cmdline ? dc.cmdline : "");
        snprintf(x->on_poweroff, sizeof(x->on_poweroff), "%s", dc_action_name(dc.on_poweroff));
        snprintf(x->on_reboot, sizeof(x->on_reboot), "%s", dc_action_name(dc.on_reboot));
        snprintf(x->on_crash, sizeof(x->on_crash), "%s", dc_action_name(dc.on_crash));
        x->extra = vm_meta_read(path, data, len);
        json_object_object_add(x->extra, "devices", vm_devices_from_config(&dc));
        /* its text, made once per change of the file: part of the VM's
         * signature at every scan */
        json_object_object_add(x->extra, "signature", json_object_new_string(
            json_object_to_json_string_ext(x->extra, JSON_C_TO_STRING_PLAIN)));
        rc = 0;
    }
    domain_config_dispose(&dc);
    free(data);
    return rc;
}

/* What the last scan parsed, by path: a file is parsed again only when
 * its inode, size or modification time changed. */
struct cached {
    struct vmdef def;
    bool ok;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};
static struct cached *cache;
static json_object *cache_index;    /* path -> index into cache */

static int read_defs(struct vmdef **out)
{
    *out = NULL;
    DIR *d = vm_dir[0] ? opendir(vm_dir) : NULL;
    int n = 0, cap = 0;
    struct cached *v = NULL;
    json_object *index = json_object_new_object();
    FILE *quiet = fopen("/dev/null", "we");
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".cfg") || e->d_name[0] == '.')
            continue;
        char path[sizeof(v->def.path)];
        snprintf(path, sizeof(path), "%s/%s", vm_dir, e->d_name);
        struct stat st;
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            struct cached *nv = realloc(v, (size_t)cap * sizeof(*v));
            if (!nv)
                break;
            v = nv;
        }
        struct cached *x = &v[n];
        json_object *i;
        struct cached *old = cache_index && json_object_object_get_ex(cache_index, path, &i)
                                 ? &cache[json_object_get_int(i)] : NULL;
        if (old && old->ino == st.st_ino && old->size == st.st_size &&
            old->mtime.tv_sec == st.st_mtim.tv_sec && old->mtime.tv_nsec == st.st_mtim.tv_nsec) {
            *x = *old;
            json_object_get(x->def.extra);
        } else {
            x->def.extra = NULL;
            x->ok = parse_def(path, &x->def, quiet ? quiet : stderr) == 0;
            x->ino = st.st_ino;
            x->size = st.st_size;
            x->mtime = st.st_mtim;
        }
        json_object_object_add(index, path, json_object_new_int(n));
        n++;
    }
    if (quiet)
        fclose(quiet);
    if (d)
        closedir(d);
    for (int j = 0; cache && j < (int)json_object_object_length(cache_index); j++)
        json_object_put(cache[j].def.extra);
    free(cache);
    json_object_put(cache_index);
    cache = v;
    cache_index = index;
    struct vmdef *defs = calloc((size_t)n + 1, sizeof(*defs));
    int k = 0;
    for (int j = 0; defs && j < n; j++)
        if (v[j].ok)
            defs[k++] = v[j].def;
    *out = defs;
    return defs ? k : 0;
}

static void kv(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v));
}

static void i64(json_object *o, const char *k, int64_t v)
{
    json_object_object_add(o, k, json_object_new_int64(v));
}

static const char *xapi_action(const char *xl)
{
    if (!strcmp(xl, "restart") || !strcmp(xl, "rename-restart"))
        return "restart";
    if (!strcmp(xl, "preserve"))
        return "preserve";
    return "destroy";
}

static void timestr(double t, char *out, size_t n)
{
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, n, "%Y%m%dT%H:%M:%SZ", &tm);
}

/* locked: put the records of one VM. name: its key; def / dom may be NULL
 * (not both); dom0: the control domain. */
static void put_vm(const char *name, const struct vmdef *def, const struct xenon_dominfo *dom,
                   bool dom0, json_object *gm, json_object *rdevs, json_object *seen,
                   json_object *resident, json_object *rel)
{
    const char *uuid = dom0 ? "00000000-0000-0000-0000-000000000000"
                            : def ? def->uuid : dom->uuid;
    /* References from the uuid (vm_ref_key), the same after a restart */
    char key[300];
    vm_ref_key(uuid, key, sizeof(key));
    const char *ref = model_ref_for(key);
    if (json_object_object_get_ex(seen, ref, NULL)) {
        /* a second VM of that uuid (a definition copied by hand): keyed
         * by its name, unique among VMs */
        snprintf(key, sizeof(key), "VM/name:%s", name);
        ref = model_ref_for(key);
    }
    char sub[340], mref[48], cref[48];
    snprintf(sub, sizeof(sub), "VM_metrics/%s", key + 3);
    snprintf(mref, sizeof(mref), "%s", model_ref_for(sub));
    snprintf(sub, sizeof(sub), "console/%s", key + 3);
    snprintf(cref, sizeof(cref), "%s", model_ref_for(sub));
    json_object_object_add(seen, ref, NULL);
    json_object_object_add(seen, mref, NULL);
    json_object_object_add(seen, cref, NULL);
    char gref[48];
    snprintf(sub, sizeof(sub), "VM_guest_metrics/%s", key + 3);
    snprintf(gref, sizeof(gref), "%s", model_ref_for(sub));

    const char *power = "Halted";
    if (dom0 || (dom && dom->running))
        power = dom && dom->paused ? "Paused" : "Running";
    else if (def && vm_suspend_image_exists(def->uuid))
        power = "Suspended";    /* the image is the VM (vm_suspend.h) */
    bool live = strcmp(power, "Halted") && strcmp(power, "Suspended");
    int64_t max_kb = dom && live ? (int64_t)dom->max_kb : def ? def->max_kb : 0;
    int64_t target_kb = dom && live ? (int64_t)dom->target_kb : def ? def->target_kb : 0;
    int vcpus = dom && live ? (int)dom->vcpus : def ? def->vcpus : 1;
    int max_vcpus = def ? def->max_vcpus : vcpus;
    if (max_vcpus < vcpus)
        max_vcpus = vcpus;
    if (dom0) {
        struct sysinfo si;
        sysinfo(&si);
        max_kb = target_kb = (int64_t)(si.totalram * si.mem_unit / 1024);
        vcpus = max_vcpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    }

    /* Everything the records below are made of: when it is what it was
     * at the last scan (and the records are still there), they are too,
     * and building them again to compare would cost a thousand VMs'
     * worth of work every second. */
    const char *gms = gm ? json_object_to_json_string_ext(gm, JSON_C_TO_STRING_PLAIN) : "";
    bool cacheable = strlen(gms) < GM_SIG_MAX;   /* else always rebuilt */
    if (!cacheable)
        gms = "";
    char *sig = NULL;
    size_t siglen;
    FILE *sf = open_memstream(&sig, &siglen);
    if (!sf)
        abort();
    fprintf(sf, "%s|%s|%s|%d|%lld|%lld|%d|%d|%.3f|%s|%s|%s|%s|%s|%s|%s|%s|%s|",
            uuid, name, power, live ? (dom0 ? 0 : (int)dom->domid) : -1,
            (long long)max_kb, (long long)target_kb, vcpus, max_vcpus,
            dom && live ? dom->start_time : 0.0, def ? def->path : "",
            def ? def->kernel : "", def ? def->cmdline : "", def ? def->on_poweroff : "",
            def ? def->on_reboot : "", def ? def->on_crash : "", ref, host_ref(), gms);
    json_object *dsig;
    fputs(def && def->extra && json_object_object_get_ex(def->extra, "signature", &dsig)
              ? json_object_get_string(dsig) : "", sf);
    fputs(rdevs ? json_object_to_json_string_ext(rdevs, JSON_C_TO_STRING_PLAIN) : "", sf);
    fputs(rel ? json_object_to_json_string_ext(rel, JSON_C_TO_STRING_PLAIN) : "", sf);
    fclose(sf);
    json_object *was;
    if (!signatures)
        signatures = json_object_new_object();
    if (cacheable && json_object_object_get_ex(signatures, ref, &was) &&
        !strcmp(json_object_get_string(was), sig) && model_get("VM", ref) &&
        model_get("VM_metrics", mref) && (!live || dom0 || model_get("console", cref)) &&
        (!gm || !live || model_get("VM_guest_metrics", gref))) {
        if (live)
            json_object_array_add(resident, json_object_new_string(ref));
        if (!live || dom0)
            json_object_object_del(seen, cref);
        if (gm && live)
            json_object_object_add(seen, gref, NULL);
        vm_devices_keep(ref, seen);
        json_object_put(gm);
        free(sig);
        return;
    }
    json_object_object_add(signatures, ref, json_object_new_string(sig));
    free(sig);

    json_object *vm = json_object_new_object();
    kv(vm, "uuid", uuid);
    kv(vm, "name_label", name);
    kv(vm, "name_description", dom0 ? "The control domain" : vm_meta_description(def ? def->extra : NULL));
    kv(vm, "power_state", power);
    i64(vm, "domid", live ? (dom0 ? 0 : (int64_t)dom->domid) : -1);
    kv(vm, "domain_type", dom0 ? "pv" : "pvh");
    kv(vm, "HVM_boot_policy", "");
    json_object_object_add(vm, "HVM_boot_params", json_object_new_object());
    json_object *meta = def ? def->extra : NULL;
    bool tmpl = vm_meta_flag(meta, "is_a_template"), snap = vm_meta_flag(meta, "is_a_snapshot");
    json_object_object_add(vm, "is_a_template", json_object_new_boolean(tmpl));
    json_object_object_add(vm, "is_default_template", json_object_new_boolean(0));
    json_object_object_add(vm, "is_a_snapshot", json_object_new_boolean(snap));
    json_object_object_add(vm, "is_control_domain", json_object_new_boolean(dom0));
    kv(vm, "resident_on", live ? host_ref() : REF_NULL);
    kv(vm, "scheduled_to_be_resident_on", REF_NULL);
    kv(vm, "affinity", REF_NULL);
    i64(vm, "memory_overhead", 0);
    i64(vm, "memory_target", target_kb * 1024);
    i64(vm, "memory_static_max", max_kb * 1024);
    i64(vm, "memory_dynamic_max", max_kb * 1024);
    i64(vm, "memory_dynamic_min", target_kb * 1024);
    i64(vm, "memory_static_min", target_kb * 1024);
    i64(vm, "VCPUs_max", max_vcpus);
    i64(vm, "VCPUs_at_startup", vcpus);
    json_object_object_add(vm, "VCPUs_params", json_object_new_object());
    kv(vm, "actions_after_shutdown", def ? xapi_action(def->on_poweroff) : "destroy");
    kv(vm, "actions_after_reboot", def ? xapi_action(def->on_reboot) : "restart");
    kv(vm, "actions_after_crash", def ? xapi_action(def->on_crash) : "destroy");
    kv(vm, "actions_after_softreboot", "soft_reboot");
    kv(vm, "PV_kernel", def ? def->kernel : "");
    kv(vm, "PV_args", def ? def->cmdline : "");
    kv(vm, "PV_ramdisk", "");
    kv(vm, "PV_bootloader", "");
    kv(vm, "PV_bootloader_args", "");
    kv(vm, "PV_legacy_args", "");
    kv(vm, "metrics", mref);
    kv(vm, "guest_metrics", gm && live ? gref : REF_NULL);
    json_object *oc = json_object_new_object();
    vm_meta_merge_map(def ? def->extra : NULL, "other_config", oc);
    if (def)
        kv(oc, "xenon_config_file", def->path);
    json_object_object_add(vm, "other_config", oc);
    json_object *plat = json_object_new_object();
    json_object_object_add(vm, "platform", plat);
    json_object_object_add(vm, "blocked_operations", json_object_new_object());
    json_object_object_add(vm, "current_operations", json_object_new_object());
    json_object *ops = json_object_new_array();
    static const char *const halted_ops[] = { "start", "start_on", "clone", "copy",
                                              "snapshot", NULL };
    static const char *const template_ops[] = { "clone", "copy", "provision", NULL };
    static const char *const snapshot_ops[] = { "clone", "copy", "revert", NULL };
    static const char *const running_ops[] = { "clean_shutdown", "hard_shutdown", "clean_reboot",
                                               "hard_reboot", "pause", "suspend",
                                               "pool_migrate", "snapshot", "checkpoint",
                                               NULL };
    static const char *const paused_ops[] = { "unpause", "hard_shutdown", "snapshot", NULL };
    static const char *const suspended_ops[] = { "resume", "resume_on", "hard_shutdown", NULL };
    const char *const *list = dom0 ? (const char *const[]){ NULL }
                              : !strcmp(power, "Suspended")
                                  ? (snap ? (const char *const[]){ "revert", NULL }  /* checkpoint */
                                          : suspended_ops)
                              : !live ? (!def ? (const char *const[]){ NULL }
                                         : snap ? snapshot_ops : tmpl ? template_ops
                                                : halted_ops)
                              : !strcmp(power, "Paused") ? paused_ops : running_ops;
    for (int i = 0; list[i]; i++)
        json_object_array_add(ops, json_object_new_string(list[i]));
    json_object_object_add(vm, "allowed_operations", ops);
    json_object *cons = json_object_new_array();
    if (live && !dom0)
        json_object_array_add(cons, json_object_new_string(cref));
    json_object_object_add(vm, "consoles", cons);
    static const char *const lists[] = {
        "VBDs", "VIFs", "VGPUs", "VUSBs", "VTPMs", "crash_dumps", "attached_PCIs",
        "children", "tags", "pending_guidances", NULL,
    };
    json_object *snaps;
    json_object_object_add(vm, "snapshots",
                           rel && json_object_object_get_ex(rel, "snapshots", &snaps)
                               ? json_object_get(snaps) : json_object_new_array());
    for (int i = 0; lists[i]; i++)
        json_object_object_add(vm, lists[i], json_object_new_array());
    static const char *const maps[] = {
        "xenstore_data", "bios_strings", NULL,
    };
    for (int i = 0; maps[i]; i++)
        json_object_object_add(vm, maps[i], json_object_new_object());
    json_object *xd;
    json_object_object_get_ex(vm, "xenstore_data", &xd);
    vm_meta_merge_map(def ? def->extra : NULL, "xenstore_data", xd);
    json_object_object_add(vm, "tags", vm_meta_tags(def ? def->extra : NULL));
    json_object *cfgdevs = NULL;
    if (def && def->extra)
        json_object_object_get_ex(def->extra, "devices", &cfgdevs);
    if (!dom0)
        vm_devices_put(ref, uuid, vm, cfgdevs, live ? rdevs : NULL, seen);
    json_object_object_add(vm, "NVRAM", json_object_new_object());
    static const char *const nulls[] = {
        "parent", "appliance", "suspend_VDI", "suspend_SR",
        "protection_policy", "snapshot_schedule", NULL,
    };
    for (int i = 0; nulls[i]; i++)
        kv(vm, nulls[i], REF_NULL);
    json_object *of;
    kv(vm, "snapshot_of", rel && json_object_object_get_ex(rel, "snapshot_of", &of)
                              ? json_object_get_string(of) : REF_NULL);
    char img[XENON_PATH_MAX + 64];
    if (!strcmp(power, "Suspended") && vm_suspend_image_path(uuid, img, sizeof(img)))
        kv(vm, "suspend_VDI", storage_suspend_vdi_ref(img));
    kv(vm, "PCI_bus", "");
    kv(vm, "ha_restart_priority", "");
    kv(vm, "recommendations", "");
    kv(vm, "snapshot_time", snap ? vm_meta_string(meta, "snapshot_time") : "19700101T00:00:00Z");
    kv(vm, "transportable_snapshot_id", "");
    kv(vm, "generation_id", "");
    kv(vm, "reference_label", "");
    kv(vm, "last_booted_record", "");
    json_object_object_add(vm, "snapshot_info", json_object_new_object());
    kv(vm, "snapshot_metadata", "");
    i64(vm, "user_version", 1);
    i64(vm, "version", 0);
    i64(vm, "order", 0);
    i64(vm, "start_delay", 0);
    i64(vm, "shutdown_delay", 0);
    i64(vm, "hardware_platform_version", 0);
    json_object_object_add(vm, "has_vendor_device", json_object_new_boolean(0));
    json_object_object_add(vm, "requires_reboot", json_object_new_boolean(0));
    json_object_object_add(vm, "is_snapshot_from_vmpp", json_object_new_boolean(0));
    json_object_object_add(vm, "is_vmss_snapshot", json_object_new_boolean(0));
    json_object_object_add(vm, "ha_always_run", json_object_new_boolean(0));
    json_object *old = model_get("VM", ref);
    if (old || first_scan_done)
        message_vm_change(old, vm);
    model_put("VM", ref, vm);
    if (live)
        json_object_array_add(resident, json_object_new_string(ref));

    /* VM_metrics: what the domain uses now (its last values when halted). */
    json_object *m = json_object_new_object();
    char u[40], t[32];
    snprintf(sub, sizeof(sub), "VM_metrics:%s", key + 3);
    model_uuid_for(sub, u);
    kv(m, "uuid", u);
    i64(m, "memory_actual", live ? target_kb * 1024 : 0);
    i64(m, "VCPUs_number", live ? vcpus : 0);
    json_object_object_add(m, "VCPUs_utilisation", json_object_new_object());
    json_object_object_add(m, "VCPUs_CPU", json_object_new_object());
    json_object_object_add(m, "VCPUs_params", json_object_new_object());
    json_object_object_add(m, "VCPUs_flags", json_object_new_object());
    json_object_object_add(m, "state", json_object_new_array());
    timestr(dom && live ? dom->start_time : 0, t, sizeof(t));
    kv(m, "start_time", t);
    kv(m, "install_time", "19700101T00:00:00Z");
    kv(m, "last_updated", "19700101T00:00:00Z");
    json_object_object_add(m, "other_config", json_object_new_object());
    json_object_object_add(m, "hvm", json_object_new_boolean(0));
    json_object_object_add(m, "nested_virt", json_object_new_boolean(0));
    json_object_object_add(m, "nomigrate", json_object_new_boolean(0));
    kv(m, "current_domain_type", live ? (dom0 ? "pv" : "pvh") : "unspecified");
    model_put("VM_metrics", mref, m);

    /* VM_guest_metrics: what the guest wrote of itself. */
    if (gm && live) {
        snprintf(sub, sizeof(sub), "VM_guest_metrics:%s", key + 3);
        model_uuid_for(sub, u);
        kv(gm, "uuid", u);
        model_put("VM_guest_metrics", gref, gm);
        json_object_object_add(seen, gref, NULL);
    } else {
        json_object_put(gm);
    }

    /* console: the PV text console of a live guest. */
    if (live && !dom0) {
        json_object *c = json_object_new_object();
        snprintf(sub, sizeof(sub), "console:%s", key + 3);
        model_uuid_for(sub, u);
        kv(c, "uuid", u);
        kv(c, "protocol", "vt100");
        char loc[128];
        snprintf(loc, sizeof(loc), "/console?ref=%s", cref);
        kv(c, "location", loc);
        kv(c, "VM", ref);
        json_object_object_add(c, "other_config", json_object_new_object());
        model_put("console", cref, c);
    } else {
        json_object_object_del(seen, cref);
    }
}

/* The index of the domain called name+suffix, or -1. */
static int named(const struct xenon_dominfo *doms, int n, const char *name, const char *suffix)
{
    size_t l = strlen(name);
    for (int i = 0; i < n; i++)
        if (!strncmp(doms[i].name, name, l) && !strcmp(doms[i].name + l, suffix))
            return i;
    return -1;
}

/* A domain that is the other copy of a VM in a migration on this host
 * (NAME--incoming, NAME--migratedaway, as xl migrate names them) is no
 * VM of its own: the VM is NAME's. */
static bool migration_copy(const char *dom, const struct vmdef *defs, int ndefs)
{
    static const char *const suffixes[] = { "--incoming", "--migratedaway", NULL };
    size_t l = strlen(dom);
    for (int s = 0; suffixes[s]; s++) {
        size_t sl = strlen(suffixes[s]);
        if (l <= sl || strcmp(dom + l - sl, suffixes[s]))
            continue;
        char base[256];
        snprintf(base, sizeof(base), "%.*s", (int)(l - sl), dom);
        if (vm_scan_is_migrating(base))
            return true;
        for (int i = 0; i < ndefs; i++)
            if (!strcmp(defs[i].name, base))
                return true;
    }
    return false;
}

/* locked: each definition's snapshot relations, {"snapshot_of": ref,
 * "snapshots": [refs]}: a snapshot names its VM by uuid (vm_meta.h);
 * the references are those of the definitions holding those uuids. An
 * array of ndefs (malloc'd; entries new), or NULL. */
static json_object **snapshot_relations(const struct vmdef *defs, int ndefs)
{
    json_object **rels = calloc((size_t)ndefs + 1, sizeof(*rels));
    json_object *by_uuid = json_object_new_object();
    for (int i = 0; rels && i < ndefs; i++) {
        rels[i] = json_object_new_object();
        json_object_object_add(rels[i], "snapshots", json_object_new_array());
        json_object_object_add(by_uuid, defs[i].uuid, json_object_new_int(i));
    }
    for (int i = 0; rels && i < ndefs; i++) {
        const char *of = vm_meta_flag(defs[i].extra, "is_a_snapshot")
                             ? vm_meta_string(defs[i].extra, "snapshot_of") : "";
        json_object *k, *list;
        char key[300];
        if (!*of || !json_object_object_get_ex(by_uuid, of, &k))
            continue;
        int p = json_object_get_int(k);
        vm_ref_key(defs[p].uuid, key, sizeof(key));
        json_object_object_add(rels[i], "snapshot_of", json_object_new_string(model_ref_for(key)));
        vm_ref_key(defs[i].uuid, key, sizeof(key));
        json_object_object_get_ex(rels[p], "snapshots", &list);
        json_object_array_add(list, json_object_new_string(model_ref_for(key)));
    }
    json_object_put(by_uuid);
    return rels;
}

void vm_scan(void)
{
    pthread_mutex_lock(&scan_lock);
    struct vmdef *defs;
    int ndefs = read_defs(&defs);
    struct xenon_dominfo *doms = NULL;
    int ndoms = 0;
    FILE *quiet = fopen("/dev/null", "we");
    int rc = xenon_domain_list(&vm_paths, &doms, &ndoms, quiet ? quiet : stderr);
    if (quiet)
        fclose(quiet);
    if (rc < 0) {
        /* xenstored unreachable: what we showed stays until it is back. */
        log_limited(LOG_WARN, "cannot list domains (is xenstored running at %s?)",
                    vm_paths.xs_path);
        free(defs);
        pthread_mutex_unlock(&scan_lock);
        return;
    }
    /* The guests' own metrics, read before the lock is taken. */
    json_object **gms = calloc((size_t)ndoms + 1, sizeof(*gms));
    json_object **rdevs = calloc((size_t)ndoms + 1, sizeof(*rdevs));
    struct xs_client *xs = gms && rdevs ? xs_open(vm_paths.xs_path) : NULL;
    for (int i = 0; xs && i < ndoms; i++) {
        if (doms[i].running && doms[i].domid != 0) {
            gms[i] = guest_metrics_read(xs, doms[i].domid);
            rdevs[i] = vm_devices_running(xs, doms[i].domid);
        }
    }
    if (xs)
        xs_close(xs);
    storage_scan();
    host_net_scan();
    if (!gms || !rdevs) {
        free(gms);
        free(rdevs);
        free(defs);
        free(doms);
        pthread_mutex_unlock(&scan_lock);
        return;
    }
    json_object *seen = json_object_new_object(), *resident = json_object_new_array();
    model_lock();
    put_vm("Domain-0", NULL, NULL, true, NULL, NULL, seen, resident, NULL);
    json_object **rels = snapshot_relations(defs, ndefs);
    for (int i = 0; i < ndefs; i++) {
        int k = named(doms, ndoms, defs[i].name, "");
        struct xenon_dominfo moved;
        bool moving = vm_scan_is_migrating(defs[i].name);
        if (moving) {
            /* VM.pool_migrate: Running, on whichever copy holds the name
             * (or, between the renames, the old one) */
            if (k < 0)
                k = named(doms, ndoms, defs[i].name, "--migratedaway");
            if (k >= 0) {
                moved = doms[k];
                moved.paused = false;
            }
        }
        put_vm(defs[i].name, &defs[i], k < 0 ? NULL : moving ? &moved : &doms[k], false,
               k >= 0 ? gms[k] : NULL, k >= 0 ? rdevs[k] : NULL, seen, resident,
               rels ? rels[i] : NULL);
        if (k >= 0) {
            doms[k].name[0] = 0;        /* taken */
            gms[k] = NULL;
        }
    }
    for (int i = 0; i < ndoms; i++) {
        if (doms[i].name[0] && doms[i].domid != 0 && !migration_copy(doms[i].name, defs, ndefs)) {
            put_vm(doms[i].name, NULL, &doms[i], false, gms[i], rdevs[i], seen, resident, NULL);
            gms[i] = NULL;
        }
    }
    for (int i = 0; rels && i < ndefs; i++)
        json_object_put(rels[i]);
    free(rels);
    model_drop_unseen("VM", seen);
    model_drop_unseen("VM_guest_metrics", seen);
    model_drop_unseen("VM_metrics", seen);
    model_drop_unseen("console", seen);
    model_drop_unseen("VBD", seen);
    model_drop_unseen("VIF", seen);
    storage_put();
    host_net_put();
    host_info_refresh(resident);
    /* From now on a VM that appears running was started (messages.h);
     * before, it was running when the daemon came up. */
    first_scan_done = true;
    model_unlock();
    json_object_put(seen);
    json_object_put(resident);
    for (int i = 0; i < ndoms; i++) {
        json_object_put(gms[i]);
        json_object_put(rdevs[i]);
    }
    free(gms);
    free(rdevs);
    free(defs);
    free(doms);
    pthread_mutex_unlock(&scan_lock);
}

void vm_scan_request(void)
{
    pthread_mutex_lock(&req_lock);
    requested = true;
    pthread_cond_signal(&req_cv);
    pthread_mutex_unlock(&req_lock);
}

/* Watch-driven scans start at most this often: guests write their own
 * nodes under /local/domain (which the watch covers), and a guest that
 * writes without pause must not make the daemon rescan every domain
 * without pause. */
#define SCAN_MIN_INTERVAL_NS 100000000ull

static unsigned rescan_interval_s = 1;

void vm_scan_interval(unsigned seconds)
{
    rescan_interval_s = seconds;
}

static void *scan_thread(void *arg)
{
    uint64_t last = 0;
    for (;;) {
        pthread_mutex_lock(&req_lock);
        if (!requested && rescan_interval_s) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += rescan_interval_s;
            pthread_cond_timedwait(&req_cv, &req_lock, &ts);
        }
        while (!requested && !rescan_interval_s)
            pthread_cond_wait(&req_cv, &req_lock);
        bool was = requested;
        requested = false;
        pthread_mutex_unlock(&req_lock);
        if (was) {
            /* let a burst of watch events settle, and keep the pace */
            uint64_t now = model_now_ns(), wait = 20000000ull;
            if (last && now - last < SCAN_MIN_INTERVAL_NS &&
                SCAN_MIN_INTERVAL_NS - (now - last) > wait)
                wait = SCAN_MIN_INTERVAL_NS - (now - last);
            usleep((useconds_t)(wait / 1000));
        }
        last = model_now_ns();
        vm_scan();
    }
    return NULL;
}

/* The VM and image directories by inotify: a definition written, renamed
 * into place or removed (and an image added or changed) asks for a scan
 * at once. IN_CLOSE_WRITE rather than IN_MODIFY: one scan per file
 * written, not one per write(). */
static void *inotify_thread(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_msg(LOG_WARN, "inotify: %s; definitions are seen by the periodic scan only",
                    n < 0 ? strerror(errno) : "end of file");
            return NULL;
        }
        vm_scan_request();
    }
}

static int watch_dirs(void)
{
    int fd = inotify_init1(IN_CLOEXEC);
    if (fd < 0)
        return -1;
    const uint32_t mask = IN_CREATE | IN_DELETE | IN_CLOSE_WRITE | IN_MOVED_TO |
                          IN_MOVED_FROM | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
    const char *dirs[] = { vm_dir, storage_dir() };
    for (size_t i = 0; i < 2; i++)
        if (dirs[i][0] && inotify_add_watch(fd, dirs[i], mask) < 0)
            log_msg(LOG_WARN, "inotify: cannot watch %s: %s", dirs[i], strerror(errno));
    /* The domains' state files: libxenon touches one after a pause or an
     * unpause (in no xenstore node) and renames a new one into place when
     * what it says changes. */
    if (inotify_add_watch(fd, vm_paths.state_dir, IN_ATTRIB | IN_MOVED_TO) < 0)
        log_msg(LOG_WARN, "inotify: cannot watch %s: %s; pause is seen by the periodic "
                "scan only", vm_paths.state_dir, strerror(errno));
    pthread_t t;
    if (pthread_create(&t, NULL, inotify_thread, (void *)(intptr_t)fd)) {
        close(fd);
        return -1;
    }
    return 0;
}

int vm_scan_start(void)
{
    pthread_t t;
    if (watch_dirs() < 0)
        log_msg(LOG_WARN, "inotify unavailable: definitions are seen by the periodic scan only");
    return pthread_create(&t, NULL, scan_thread, NULL) ? -1 : 0;
}
