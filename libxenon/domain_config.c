/* Building a domain_config from a parsed xl.cfg, in the order xl reads the
 * keys, with xl's defaults, warnings and errors. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domain_config.h"
#include "util.h"
#include "xl_keys.h"

/* Keys Xenon acts on. Every other key Xen's xl knows (xl_keys.c) is parsed
 * where the model has room for it but gets a warning; a key xl does not
 * know is ignored silently, as xl ignores it. */
static const char *const implemented_keys[] = {
    "name", "type", "builder", "uuid", "memory", "maxmem", "vcpus",
    "maxvcpus", "kernel", "ramdisk", "cmdline", "root", "extra",
    "on_poweroff", "on_reboot", "on_watchdog", "on_crash", "on_soft_reset",
    "max_grant_frames", "nomigrate", "disk", "vif",
};

static const char *const action_names[] = {
    [DC_ACTION_DESTROY] = "destroy",
    [DC_ACTION_RESTART] = "restart",
    [DC_ACTION_RENAME_RESTART] = "rename-restart",
    [DC_ACTION_PRESERVE] = "preserve",
    [DC_ACTION_COREDUMP_DESTROY] = "coredump-destroy",
    [DC_ACTION_COREDUMP_RESTART] = "coredump-restart",
    [DC_ACTION_SOFT_RESET] = "soft-reset",
};

static const char *const tsc_names[] = {
    "default", "always_emulate", "native", "native_paravirt",
};

const char *dc_type_name(enum dc_type t)
{
    return t == DC_TYPE_HVM ? "hvm" : t == DC_TYPE_PVH ? "pvh" : "pv";
}

const char *dc_action_name(enum dc_action a)
{
    if ((unsigned)a < sizeof(action_names) / sizeof(action_names[0]) &&
        action_names[a])
        return action_names[a];
    return "destroy";
}

int dc_action_from_name(const char *s)
{
    for (size_t i = 0; i < sizeof(action_names) / sizeof(action_names[0]);
         i++)
        if (action_names[i] && !strcmp(s, action_names[i]))
            return (int)i;
    return -1;
}

const char *dc_tsc_mode_name(enum dc_tsc_mode m)
{
    return (unsigned)m < 4 ? tsc_names[m] : "default";
}

void domain_config_init(struct domain_config *dc)
{
    memset(dc, 0, sizeof(*dc));
    dc->type = DC_TYPE_PV;
    dc->sched_weight = 256;
    dc->max_grant_frames = dc->max_maptrack_frames = -1;
    dc->disable_migrate = dc->vnc_enable = -1;
    dc->vnc_display = -1;
    dc->on_poweroff = DC_ACTION_DESTROY;
    dc->on_reboot = DC_ACTION_RESTART;
    dc->on_watchdog = DC_ACTION_DESTROY;
    dc->on_crash = DC_ACTION_DESTROY;
    dc->on_soft_reset = DC_ACTION_SOFT_RESET;
}

static void free_strv(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void domain_config_absolute_paths(struct domain_config *dc)
{
    char *k = path_absolute(dc->kernel), *r = path_absolute(dc->ramdisk);
    free(dc->kernel);
    free(dc->ramdisk);
    dc->kernel = k;
    dc->ramdisk = r;
}

void domain_config_dispose(struct domain_config *dc)
{
    free(dc->source);
    free(dc->name);
    free(dc->ssid_label);
    free(dc->exec_ssid_label);
    free(dc->pool_name);
    free(dc->vcpu_hard_affinity);
    free(dc->vcpu_soft_affinity);
    free(dc->kernel);
    free(dc->ramdisk);
    free(dc->cmdline);
    free(dc->bootloader);
    free_strv(dc->bootloader_args, dc->num_bootloader_args);
    free(dc->vnc_listen);
    free(dc->vnc_passwd);
    free_strv(dc->serial, dc->num_serial);
    for (int i = 0; i < dc->num_disks; i++)
        xdisk_dispose(&dc->disks[i]);
    free(dc->disks);
    for (int i = 0; i < dc->num_nics; i++)
        xvif_dispose(&dc->nics[i]);
    free(dc->nics);
    free_strv(dc->unsupported, dc->num_unsupported);
    domain_config_init(dc);
}

/* ---- helpers ---- */

#define ERR(...) do { if (errs) fprintf(errs, __VA_ARGS__); } while (0)

/* xlu_cfg_replace_string: copy the string value if present. */
static int replace_string(const struct xcfg *cfg, const char *key,
                          char **slot)
{
    const char *s;
    int e = xcfg_get_string(cfg, key, &s, 0);

    if (e)
        return e;
    free(*slot);
    *slot = strdup(s);
    return *slot ? 0 : ENOMEM;
}

/* xl's defbool: a number, nonzero is true. */
static void get_defbool(const struct xcfg *cfg, const char *key, int *out)
{
    long l;

    if (!xcfg_get_long(cfg, key, &l, 0))
        *out = !!l;
}

/* "hvm"/"pv"/"pvh" as xl: the value may be any prefix of a name
 * (so "" and "h" mean hvm, "p" means pv). */
static bool prefix_of(const char *s, const char *name)
{
    return !strncmp(s, name, strlen(s));
}

static int parse_uuid(const char *s, uint8_t out[16])
{
    int n = 0;

    for (const char *p = s; *p && n < 32; p++) {
        int v;

        if (*p == '-' && (n == 8 || n == 12 || n == 16 || n == 20))
            continue;
        if (*p >= '0' && *p <= '9')
            v = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            v = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            v = *p - 'A' + 10;
        else
            return -1;
        if (n % 2)
            out[n / 2] |= (uint8_t)v;
        else
            out[n / 2] = (uint8_t)(v << 4);
        n++;
        if (n == 32 && p[1])
            return -1;
    }
    return n == 32 && strlen(s) == 36 ? 0 : -1;
}

static void generate_uuid(uint8_t out[16])
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t r = fd >= 0 ? read(fd, out, 16) : -1;

    if (fd >= 0)
        close(fd);
    if (r != 16) {          /* not random, but unique enough per process */
        for (int i = 0; i < 16; i++)
            out[i] = (uint8_t)((uintptr_t)out >> (i % 8) ^ (unsigned)getpid() ^
                               (unsigned)i * 77u);
    }
    out[6] = (uint8_t)((out[6] & 0x0f) | 0x40);    /* version 4 */
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
}

/* `memory` / `maxmem` (MiB) into *kb; untouched when absent (or not a
 * number: xl warns and goes on). A size whose KiB do not fit an int64 (xl
 * would overflow) or a negative one is an error naming file and line. */
static int parse_mem_kb(const struct xcfg *cfg, FILE *errs, const char *key,
                        int64_t *kb)
{
    long l;
    if (xcfg_get_long(cfg, key, &l, 0))
        return 0;
    if (l < 0 || l > INT64_MAX / 1024) {
        ERR("%s:%d: %s = %ld: not a size in MiB from 0 to %lld\n", cfg->source,
            xcfg_find(cfg, key)->line, key, l, (long long)(INT64_MAX / 1024));
        return -1;
    }
    *kb = (int64_t)l * 1024;
    return 0;
}

static int parse_action(const struct xcfg *cfg, FILE *errs, const char *key,
                        const char *dflt, enum dc_action *out)
{
    const char *s;
    int a;

    if (xcfg_get_string(cfg, key, &s, 0))
        s = dflt;
    a = dc_action_from_name(s);
    if (a < 0) {
        ERR("Unknown %s action \"%s\" specified\n", key, s);
        return -1;
    }
    *out = (enum dc_action)a;
    return 0;
}

/* cpus= / cpus_soft=: one string for all vCPUs or a list per vCPU. */
static int parse_affinity(const struct xcfg *cfg, FILE *errs,
                          const char *key, int max_vcpus,
                          struct xcpumap **maps_r, int *num_r)
{
    const struct xcfg_value *list = NULL;
    const char *str = NULL;
    struct xcpumap *maps;
    int n = 0;

    if (xcfg_get_list(cfg, key, &list, &n, 1) &&
        xcfg_get_string(cfg, key, &str, 0))
        return 0;
    if (str || n > max_vcpus)
        n = max_vcpus;
    maps = calloc(n > 0 ? (size_t)n : 1, sizeof(*maps));
    if (!maps)
        return -1;
    *maps_r = maps;
    *num_r = n;
    if (str) {
        if (n < 1)
            return 0;
        if (xcpu_parse_range(errs, str, &maps[0]))
            return -1;
        for (int i = 1; i < n; i++)
            maps[i] = maps[0];
        return 0;
    }
    for (int j = 0; j < n; j++) {
        const char *item = xcfg_list_item(list, j);

        if (!item) {        /* xl stops at the first non-string item */
            *num_r = j;
            break;
        }
        if (xcpu_parse_range(errs, item, &maps[j]))
            return -1;
    }
    return 0;
}

/* Whitespace-separated words (deprecated string bootloader_args). */
static int split_words(const char *s, char ***out, int *n)
{
    char *buf = strdup(s), *save = NULL;
    char **v = NULL;
    int k = 0;

    if (!buf)
        return -1;
    for (char *t = strtok_r(buf, " \t\n", &save); t;
         t = strtok_r(NULL, " \t\n", &save)) {
        char **nv = realloc(v, sizeof(*v) * (size_t)(k + 2));

        if (!nv)
            goto fail;
        v = nv;
        if (!(v[k] = strdup(t)))
            goto fail;
        v[++k] = NULL;
    }
    free(buf);
    *out = v;
    *n = k;
    return 0;
fail:
    free(buf);
    free_strv(v, k);
    return -1;
}

static int parse_cmdline(const struct xcfg *cfg, FILE *errs, char **out)
{
    const char *buf = NULL, *root = NULL, *extra = NULL;
    char *c = NULL;

    xcfg_get_string(cfg, "cmdline", &buf, 0);
    xcfg_get_string(cfg, "root", &root, 0);
    xcfg_get_string(cfg, "extra", &extra, 0);
    if (buf) {
        c = strdup(buf);
        if (root || extra)
            ERR("Warning: ignoring root= and extra= in favour of cmdline=\n");
    } else if (root && extra) {
        if (asprintf(&c, "root=%s %s", root, extra) < 0)
            c = NULL;
    } else if (root) {
        if (asprintf(&c, "root=%s", root) < 0)
            c = NULL;
    } else if (extra) {
        c = strdup(extra);
    }
    if ((buf || root || extra) && !c) {
        ERR("Failed to allocate memory for cmdline\n");
        return -1;
    }
    *out = c;
    return 0;
}

static bool is_implemented(const char *key)
{
    for (size_t i = 0;
         i < sizeof(implemented_keys) / sizeof(implemented_keys[0]); i++)
        if (!strcmp(key, implemented_keys[i]))
            return true;
    return false;
}

/* What Xenon does instead of an on_* action it lacks, or NULL when it has
 * the action. */
static const char *action_fallback(const char *value)
{
    if (!strcmp(value, "rename-restart") || !strcmp(value, "soft-reset"))
        return "the domain is destroyed instead";
    if (!strcmp(value, "coredump-destroy"))
        return "no core is dumped; the domain is destroyed";
    if (!strcmp(value, "coredump-restart"))
        return "no core is dumped; the domain is restarted";
    return NULL;
}

/* One warning per key xl knows and Xenon does not act on (and per on_*
 * action Xenon lacks), in file order, at the key's first line; the keys go
 * to dc->unsupported. The same words for every one of them. */
static int note_unsupported(const struct xcfg *cfg, FILE *errs,
                            struct domain_config *dc)
{
    const struct xcfg_setting **v;
    int n = 0;

    for (const struct xcfg_setting *s = cfg->settings; s; s = s->next)
        n++;
    v = calloc(n ? (size_t)n : 1, sizeof(*v));
    if (!v)
        return -1;
    n = 0;
    for (const struct xcfg_setting *s = cfg->settings; s; s = s->next)
        v[n++] = s;
    for (int i = n - 1; i >= 0; i--) {      /* oldest first */
        const struct xcfg_setting *s = v[i];
        const char *value, *instead;
        bool seen = false;
        char **nu;

        if (is_implemented(s->name)) {
            /* The value in force is the last one, as xl reads it. */
            if (!strncmp(s->name, "on_", 3) &&
                !xcfg_get_string(cfg, s->name, &value, 1) &&
                (instead = action_fallback(value)) && s == xcfg_find(cfg, s->name))
                ERR("%s:%d: warning: `%s=\"%s\"' is not implemented in Xenon "
                    "yet: %s\n", cfg->source, s->line, s->name, value, instead);
            continue;
        }
        if (!xl_knows_key(s->name))
            continue;
        for (int j = 0; j < dc->num_unsupported; j++)
            if (!strcmp(dc->unsupported[j], s->name))
                seen = true;
        if (seen)
            continue;
        nu = realloc(dc->unsupported,
                     sizeof(*nu) * (size_t)(dc->num_unsupported + 1));
        if (!nu)
            goto fail;
        dc->unsupported = nu;
        if (!(nu[dc->num_unsupported] = strdup(s->name)))
            goto fail;
        dc->num_unsupported++;
        ERR("%s:%d: warning: `%s' is not implemented in Xenon yet and is "
            "ignored\n", cfg->source, s->line, s->name);
    }
    free(v);
    return 0;
fail:
    free(v);
    return -1;
}

/* ---- the build ---- */

int domain_config_from_xcfg(const struct xcfg *cfg, FILE *errs,
                            struct domain_config *dc)
{
    const char *buf;
    const struct xcfg_value *list;
    long l, vcpus = 0;
    int e, n;
    bool type_set = false;

    if (!xcfg_get_string(cfg, "init_seclabel", &buf, 0))
        replace_string(cfg, "init_seclabel", &dc->ssid_label);
    if (!xcfg_get_string(cfg, "seclabel", &buf, 0))
        replace_string(cfg, "seclabel", dc->ssid_label ?
                       &dc->exec_ssid_label : &dc->ssid_label);

    if (!xcfg_get_string(cfg, "type", &buf, 0)) {
        if (prefix_of(buf, "hvm"))
            dc->type = DC_TYPE_HVM;
        else if (prefix_of(buf, "pv"))
            dc->type = DC_TYPE_PV;
        else if (prefix_of(buf, "pvh"))
            dc->type = DC_TYPE_PVH;
        else {
            ERR("Invalid domain type %s.\n", buf);
            return -1;
        }
        type_set = true;
    }
    if (!xcfg_get_string(cfg, "builder", &buf, 0)) {     /* deprecated */
        enum dc_type bt;

        if (prefix_of(buf, "hvm"))
            bt = DC_TYPE_HVM;
        else if (prefix_of(buf, "generic"))
            bt = DC_TYPE_PV;
        else {
            ERR("Invalid domain type %s.\n", buf);
            return -1;
        }
        if (type_set && dc->type != bt) {
            ERR("Contradicting \"builder\" and \"type\" options specified.\n");
            return -1;
        }
        dc->type = bt;
    }

    if (replace_string(cfg, "name", &dc->name)) {
        ERR("Domain name must be specified.\n");
        return -1;
    }
    if (!xcfg_get_string(cfg, "uuid", &buf, 0)) {
        if (parse_uuid(buf, dc->uuid)) {
            ERR("Failed to parse UUID: %s\n", buf);
            return -1;
        }
        dc->uuid_given = true;
    } else {
        generate_uuid(dc->uuid);
    }
    if (!xcfg_get_string(cfg, "pool", &buf, 0))
        replace_string(cfg, "pool", &dc->pool_name);

    if (!xcfg_get_long(cfg, "cpu_weight", &l, 0))
        dc->sched_weight = (int)l;
    if (!xcfg_get_long(cfg, "cap", &l, 0))
        dc->sched_cap = (int)l;

    dc->target_memkb = dc->max_memkb = -1;
    if (parse_mem_kb(cfg, errs, "memory", &dc->target_memkb) ||
        parse_mem_kb(cfg, errs, "maxmem", &dc->max_memkb))
        return -1;
    if (!xcfg_get_long(cfg, "vcpus", &l, 0)) {
        if (l < 1 || l > 4096) {
            ERR("xl: invalid number of vcpus %ld\n", l);
            return -1;
        }
        vcpus = l;
    }
    if (!xcfg_get_long(cfg, "maxvcpus", &l, 0)) {
        if (l < 0 || l > 4096) {
            ERR("xl: invalid number of maxvcpus %ld\n", l);
            return -1;
        }
        dc->max_vcpus = (int)l;
    }
    /* maxmem defaults to memory, maxvcpus to vcpus (xl); libxl then
     * defaults memory to 32 MiB and vcpus to 1 */
    if (dc->max_memkb == -1)
        dc->max_memkb = dc->target_memkb;
    if (dc->max_vcpus == 0)
        dc->max_vcpus = (int)vcpus;
    if (dc->max_vcpus < vcpus) {
        ERR("xl: maxvcpus < vcpus\n");
        return -1;
    }
    if (dc->max_memkb == -1)
        dc->max_memkb = 32 * 1024;
    if (dc->target_memkb == -1)
        dc->target_memkb = dc->max_memkb;
    dc->avail_vcpus = vcpus ? (int)vcpus : 1;
    if (dc->max_vcpus == 0)
        dc->max_vcpus = 1;

    if (parse_affinity(cfg, errs, "cpus", dc->max_vcpus,
                       &dc->vcpu_hard_affinity, &dc->num_vcpu_hard_affinity) ||
        parse_affinity(cfg, errs, "cpus_soft", dc->max_vcpus,
                       &dc->vcpu_soft_affinity, &dc->num_vcpu_soft_affinity))
        return -1;

    e = xcfg_get_bounded_long(cfg, "max_grant_frames", 0, INT_MAX, &l, 1);
    if (!e)
        dc->max_grant_frames = (int)l;
    else if (e != ESRCH)
        return -1;          /* xl exits without a word here */
    e = xcfg_get_bounded_long(cfg, "max_maptrack_frames", 0, INT_MAX, &l, 1);
    if (!e)
        dc->max_maptrack_frames = (int)l;
    else if (e != ESRCH)
        return -1;

    if (parse_action(cfg, errs, "on_poweroff", "destroy", &dc->on_poweroff) ||
        parse_action(cfg, errs, "on_reboot", "restart", &dc->on_reboot) ||
        parse_action(cfg, errs, "on_watchdog", "destroy", &dc->on_watchdog) ||
        parse_action(cfg, errs, "on_crash", "destroy", &dc->on_crash) ||
        parse_action(cfg, errs, "on_soft_reset", "soft-reset",
                     &dc->on_soft_reset))
        return -1;

    get_defbool(cfg, "nomigrate", &dc->disable_migrate);
    if (!xcfg_get_long(cfg, "tsc_mode", &l, 1)) {
        ERR("WARNING: specifying \"tsc_mode\" as an integer is deprecated. "
            "Please use the named parameter variant. e.g. tsc_mode=\"default\"\n");
        if (l < 0 || l > 3) {
            ERR("ERROR: invalid value %ld for \"tsc_mode\"\n", l);
            return -1;
        }
        dc->tsc_mode = (enum dc_tsc_mode)l;
    } else if (!xcfg_get_string(cfg, "tsc_mode", &buf, 0)) {
        bool ok = false;

        ERR("got a tsc mode string: \"%s\"\n", buf);
        for (int i = 0; i < 4; i++)
            if (!strcasecmp(buf, tsc_names[i])) {
                dc->tsc_mode = (enum dc_tsc_mode)i;
                ok = true;
            }
        if (!ok) {
            ERR("ERROR: invalid value \"%s\" for \"tsc_mode\"\n", buf);
            return -1;
        }
    }

    replace_string(cfg, "kernel", &dc->kernel);
    replace_string(cfg, "ramdisk", &dc->ramdisk);
    if (parse_cmdline(cfg, errs, &dc->cmdline))
        return -1;
    replace_string(cfg, "bootloader", &dc->bootloader);
    switch (xcfg_get_list_as_string_list(cfg, "bootloader_args",
                                         &dc->bootloader_args,
                                         &dc->num_bootloader_args, 1)) {
    case 0:
    case ESRCH:
        break;
    case EINVAL:
        if (!xcfg_get_string(cfg, "bootloader_args", &buf, 0)) {
            ERR("WARNING: Specifying \"bootloader_args\" as a string is "
                "deprecated. Please use a list of arguments.\n");
            if (split_words(buf, &dc->bootloader_args,
                            &dc->num_bootloader_args))
                return -1;
        }
        break;
    default:
        ERR("xl: Unable to parse bootloader_args.\n");
        return -1;
    }

    /* vnc (top-level form) and serial */
    get_defbool(cfg, "vnc", &dc->vnc_enable);
    replace_string(cfg, "vnclisten", &dc->vnc_listen);
    replace_string(cfg, "vncpasswd", &dc->vnc_passwd);
    if (!xcfg_get_long(cfg, "vncdisplay", &l, 0))
        dc->vnc_display = (int)l;
    switch (xcfg_get_list_as_string_list(cfg, "serial", &dc->serial,
                                         &dc->num_serial, 1)) {
    case 0:
    case ESRCH:
        break;
    case EINVAL:
        if (!xcfg_get_string(cfg, "serial", &buf, 0)) {
            dc->serial = calloc(2, sizeof(*dc->serial));
            if (dc->serial && (dc->serial[0] = strdup(buf))) {
                dc->num_serial = 1;
                break;
            }
        }
        /* fall through */
    default:
        ERR("xl: Unable to parse serial.\n");
        return -1;
    }

    if (!xcfg_get_list(cfg, "disk", &list, &n, 0)) {
        dc->disks = calloc(n ? (size_t)n : 1, sizeof(*dc->disks));
        if (!dc->disks)
            return -1;
        for (int i = 0; i < n; i++) {
            const char *spec = xcfg_list_item(list, i);

            if (!spec)      /* xl stops at the first non-string item */
                break;
            xdisk_init(&dc->disks[i]);
            dc->num_disks++;
            if (xdisk_parse(errs, cfg->source, 1, &spec, &dc->disks[i]))
                return -1;
        }
    }
    if (!xcfg_get_list(cfg, "vif", &list, &n, 0)) {
        dc->nics = calloc(n ? (size_t)n : 1, sizeof(*dc->nics));
        if (!dc->nics)
            return -1;
        for (int i = 0; i < n; i++) {
            const char *spec = xcfg_list_item(list, i);

            if (!spec)
                break;
            xvif_init(&dc->nics[i]);
            dc->nics[i].devid = i;      /* xl numbers them; devid= wins */
            dc->num_nics++;
            if (xvif_parse(errs, cfg->source, spec, &dc->nics[i], false,
                           NULL))
                return -1;
        }
    }

    return note_unsupported(cfg, errs, dc);
}

int domain_config_parse(const char *source, const char *data, size_t len,
                        const char *const *overrides, int noverrides,
                        FILE *errs, struct domain_config *dc)
{
    size_t full_len;
    char *full = xcfg_append_overrides(data, len, overrides, noverrides,
                                       &full_len);
    struct xcfg *cfg;
    int e, rc;

    if (!full)
        return -1;
    cfg = xcfg_new(source, errs);
    if (!cfg) {
        free(full);
        return -1;
    }
    e = xcfg_read_data(cfg, full, full_len);
    if (e) {
        free(full);
        if (errs)
            fprintf(errs, "Failed to parse config: %s\n", strerror(e));
        xcfg_free(cfg);
        return -1;
    }
    rc = domain_config_from_xcfg(cfg, errs, dc);
    xcfg_free(cfg);
    free(dc->source);
    dc->source = full;
    dc->source_len = full_len;
    return rc;
}
