/* The host and host_metrics classes: what Xen Orchestra reads of a host
 * (software_version, cpu_info, bios_strings, metrics, other_config's
 * boot_time...), from the running system. */
#include "host_info.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "dispatch.h"
#include "model.h"

static char the_host[48], the_pool[48], the_metrics[48];

const char *host_ref(void) { return the_host; }
const char *pool_ref(void) { return the_pool; }
const char *host_metrics_ref(void) { return the_metrics; }

static json_object *str(const char *s) { return json_object_new_string(s); }

static void kv(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, str(v));
}

/* The fields of /proc/cpuinfo's first CPU that cpu_info publishes, under
 * XAPI's names: one read of the file per record (the flags line is longer
 * than any fixed line buffer, hence getline). */
static const struct { const char *proc, *xapi; } cpu_fields[] = {
    { "vendor_id", "vendor" }, { "model name", "modelname" },
    { "cpu family", "family" }, { "model", "model" }, { "stepping", "stepping" },
    { "cpu MHz", "speed" }, { "flags", "flags" },
};
#define NR_CPU_FIELDS (sizeof(cpu_fields) / sizeof(cpu_fields[0]))

static void read_cpu_fields(char *vals[NR_CPU_FIELDS])
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    char *line = NULL;
    size_t cap = 0;
    /* The first CPU's block ends at its first empty line. */
    while (f && getline(&line, &cap, f) > 0 && line[0] != '\n') {
        char *c = strchr(line, ':');
        if (!c)
            continue;
        size_t kl = strcspn(line, "\t:");
        for (size_t i = 0; i < NR_CPU_FIELDS; i++) {
            if (!vals[i] && strlen(cpu_fields[i].proc) == kl &&
                !strncmp(line, cpu_fields[i].proc, kl)) {
                c += 1 + (c[1] == ' ');
                c[strcspn(c, "\n")] = 0;
                vals[i] = strdup(c);
                break;
            }
        }
    }
    free(line);
    if (f)
        fclose(f);
}

static json_object *cpu_info(void)
{
    json_object *o = json_object_new_object();
    char v[32];
    snprintf(v, sizeof(v), "%ld", sysconf(_SC_NPROCESSORS_ONLN));
    kv(o, "cpu_count", v);
    kv(o, "socket_count", "1");
    char *vals[NR_CPU_FIELDS] = { 0 };
    read_cpu_fields(vals);
    for (size_t i = 0; i < NR_CPU_FIELDS; i++) {
        kv(o, cpu_fields[i].xapi, vals[i] ? vals[i] : "");
        free(vals[i]);
    }
    kv(o, "features", "");
    return o;
}

/* The host's identity, as XAPI keeps it in its inventory: here the
 * machine's (/etc/machine-id, else the host name), so the host, pool
 * and host_metrics keep their uuids and references across restarts. */
static char machine_id[128];
static pthread_once_t machine_id_once = PTHREAD_ONCE_INIT;

static void read_machine_id(void)
{
    FILE *f = fopen("/etc/machine-id", "re");
    if (f) {
        if (!fgets(machine_id, sizeof(machine_id), f))
            machine_id[0] = 0;
        fclose(f);
        machine_id[strcspn(machine_id, "\n")] = 0;
    }
    if (!machine_id[0]) {
        struct utsname u;
        uname(&u);
        snprintf(machine_id, sizeof(machine_id), "%.100s", u.nodename);
    }
}

void host_derived_uuid(const char *what, char *out)
{
    pthread_once(&machine_id_once, read_machine_id);    /* read once */
    char name[200];
    snprintf(name, sizeof(name), "%s:%s", what, machine_id);
    model_uuid_for(name, out);
}

static json_object *metrics_record(void)
{
    struct sysinfo si;
    sysinfo(&si);
    json_object *m = json_object_new_object();
    char uuid[40];
    host_derived_uuid("host_metrics", uuid);
    kv(m, "uuid", uuid);
    json_object_object_add(m, "memory_total",
                           json_object_new_int64((int64_t)si.totalram * si.mem_unit));
    json_object_object_add(m, "memory_free",
                           json_object_new_int64((int64_t)si.freeram * si.mem_unit));
    json_object_object_add(m, "live", json_object_new_boolean(1));
    kv(m, "last_updated", "19700101T00:00:00Z");
    json_object_object_add(m, "other_config", json_object_new_object());
    return m;
}

static json_object *host_record(void)
{
    struct utsname u;
    uname(&u);
    char uuid[40], v[64];
    host_derived_uuid("host", uuid);
    json_object *h = json_object_new_object();
    kv(h, "uuid", uuid);
    kv(h, "name_label", u.nodename);
    kv(h, "name_description", "Xenon host");
    kv(h, "hostname", u.nodename);
    kv(h, "address", "127.0.0.1");
    json_object_object_add(h, "enabled", json_object_new_boolean(1));
    json_object_object_add(h, "API_version_major", json_object_new_int64(2));
    json_object_object_add(h, "API_version_minor", json_object_new_int64(21));
    kv(h, "API_version_vendor", "Xenon");
    json_object_object_add(h, "API_version_vendor_implementation", json_object_new_object());
    json_object *sv = json_object_new_object();
    kv(sv, "product_version", "8.2.1");
    kv(sv, "product_version_text", "8.2");
    kv(sv, "product_version_text_short", "8.2");
    kv(sv, "product_brand", "Xenon");
    kv(sv, "platform_name", "Xenon");
    kv(sv, "platform_version", "3.2.1");
    kv(sv, "build_number", "xenon-0.1.0");
    kv(sv, "xapi", "1.20");
    kv(sv, "xen", "4.17.0");
    kv(sv, "linux", u.release);
    kv(sv, "hostname", u.nodename);
    kv(sv, "date", "2026-12-01");
    json_object_object_add(h, "software_version", sv);
    json_object_object_add(h, "license_params", json_object_new_object());
    json_object_object_add(h, "license_server", json_object_new_object());
    kv(h, "edition", "free");
    json_object *chip = json_object_new_object();
    kv(chip, "iommu", "false");
    json_object_object_add(h, "chipset_info", chip);
    json_object *caps = json_object_new_array();
    json_object_array_add(caps, str("xen-3.0-x86_64"));
    json_object_array_add(caps, str("hvm-3.0-x86_64"));
    json_object_object_add(h, "capabilities", caps);
    json_object_object_add(h, "cpu_info", cpu_info());
    json_object_object_add(h, "bios_strings", json_object_new_object());
    json_object_object_add(h, "cpu_configuration", json_object_new_object());
    kv(h, "metrics", the_metrics);
    json_object *oc = json_object_new_object();
    struct sysinfo si;
    sysinfo(&si);
    snprintf(v, sizeof(v), "%lld", (long long)(time(NULL) - si.uptime));
    kv(oc, "boot_time", v);
    kv(oc, "agent_start_time", v);
    json_object_object_add(h, "other_config", oc);
    static const char *const lists[] = {
        "PIFs", "PCIs", "PGPUs", "PUSBs", "PBDs", "host_CPUs", "resident_VMs",
        "supported_bootloaders", "tags", "allowed_operations", "crashdumps",
        "patches", "updates", "features", "certificates", "editions",
        "pending_guidances", "updates_requiring_reboot", NULL,
    };
    for (int i = 0; lists[i]; i++)
        json_object_object_add(h, lists[i], json_object_new_array());
    static const char *const maps[] = {
        "current_operations", "logging", "blobs", "guest_VCPUs_params",
        "external_auth_configuration", "power_on_config", NULL,
    };
    for (int i = 0; maps[i]; i++)
        json_object_object_add(h, maps[i], json_object_new_object());
    static const char *const nulls[] = {
        "crash_dump_sr", "suspend_image_sr", "local_cache_sr", "control_domain", NULL,
    };
    for (int i = 0; nulls[i]; i++)
        kv(h, nulls[i], REF_NULL);
    kv(h, "sched_policy", "credit");
    kv(h, "power_on_mode", "");
    kv(h, "external_auth_type", "");
    kv(h, "external_auth_service_name", "");
    kv(h, "iscsi_iqn", "");
    kv(h, "display", "disabled");
    json_object_object_add(h, "memory_overhead", json_object_new_int64(0));
    json_object_object_add(h, "ssl_legacy", json_object_new_boolean(0));
    json_object_object_add(h, "multipathing", json_object_new_boolean(0));
    json_object_object_add(h, "tls_verification_enabled", json_object_new_boolean(0));
    return h;
}

static json_object *pool_record(void)
{
    char uuid[40];
    host_derived_uuid("pool", uuid);
    json_object *p = json_object_new_object();
    kv(p, "uuid", uuid);
    kv(p, "name_label", "");
    kv(p, "name_description", "");
    kv(p, "master", the_host);
    static const char *const nulls[] = {
        "default_SR", "suspend_image_SR", "crash_dump_SR", NULL,
    };
    for (int i = 0; nulls[i]; i++)
        kv(p, nulls[i], REF_NULL);
    static const char *const maps[] = {
        "other_config", "cpu_info", "gui_config", "health_check_config", "blobs",
        "current_operations", "guest_agent_config", NULL,
    };
    for (int i = 0; maps[i]; i++)
        json_object_object_add(p, maps[i], json_object_new_object());
    json_object *r = json_object_new_object();
    kv(r, "restrict_zstd_export", "false");
    kv(r, "restrict_vtpm", "false");
    json_object_object_add(p, "restrictions", r);
    static const char *const lists[] = {
        "ha_statefiles", "tags", "allowed_operations", "metadata_VDIs", NULL,
    };
    for (int i = 0; lists[i]; i++)
        json_object_object_add(p, lists[i], json_object_new_array());
    json_object_object_add(p, "ha_enabled", json_object_new_boolean(0));
    json_object_object_add(p, "ha_host_failures_to_tolerate", json_object_new_int64(0));
    json_object_object_add(p, "ha_plan_exists_for", json_object_new_int64(0));
    json_object_object_add(p, "ha_allow_overcommit", json_object_new_boolean(0));
    json_object_object_add(p, "ha_overcommitted", json_object_new_boolean(0));
    json_object_object_add(p, "migration_compression", json_object_new_boolean(0));
    json_object_object_add(p, "redo_log_enabled", json_object_new_boolean(0));
    json_object_object_add(p, "policy_no_vendor_device", json_object_new_boolean(0));
    kv(p, "vswitch_controller", "");
    return p;
}

void host_info_init(void)
{
    char u[40], key[64];
    const char *cls[] = { "host", "pool", "host_metrics" };
    char *refs[] = { the_host, the_pool, the_metrics };
    model_lock();
    for (int i = 0; i < 3; i++) {
        host_derived_uuid(cls[i], u);
        snprintf(key, sizeof(key), "%s/%s", cls[i], u);
        snprintf(refs[i], 48, "%s", model_ref_for(key));
    }
    model_unlock();
    json_object *h = host_record(), *m = metrics_record(), *p = pool_record();
    model_lock();
    model_put("host", the_host, h);
    model_put("host_metrics", the_metrics, m);
    model_put("pool", the_pool, p);
    host_cpus_init();
    roles_init();
    model_unlock();
}

/* Called with the model lock held: metrics_record takes it itself, so it
 * is built from the old record's uuid here. */
void host_info_refresh(json_object *resident_vms)
{
    json_object *h = model_get("host", the_host);
    json_object *cur;
    if (h && (!json_object_object_get_ex(h, "resident_VMs", &cur) ||
              !json_object_equal(cur, resident_vms))) {
        json_object *n = model_copy(h);
        json_object_object_add(n, "resident_VMs", model_copy(resident_vms));
        model_put("host", the_host, n);
    }
}

const struct xapi_method host_methods[] = {
    { NULL, 0, 0, 0, NULL },
};
