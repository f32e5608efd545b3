/* The domain configuration model: what `xl create` builds from an xl.cfg
 * file, with xl's defaults and checks. Shaped after libxl's
 * libxl_domain_config (c_info: creation, b_info: build, devices, actions)
 * so the JSON rendering looks like libxl's. */
#ifndef XENON_DOMAIN_CONFIG_H
#define XENON_DOMAIN_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cfg.h"
#include "cpu_spec.h"
#include "disk_spec.h"
#include "vif_spec.h"

enum dc_type { DC_TYPE_PV, DC_TYPE_PVH, DC_TYPE_HVM };

/* Values as libxl_action_on_shutdown. */
enum dc_action {
    DC_ACTION_DESTROY = 1, DC_ACTION_RESTART, DC_ACTION_RENAME_RESTART,
    DC_ACTION_PRESERVE, DC_ACTION_COREDUMP_DESTROY,
    DC_ACTION_COREDUMP_RESTART, DC_ACTION_SOFT_RESET,
};

/* Values as libxl_tsc_mode. */
enum dc_tsc_mode {
    DC_TSC_DEFAULT, DC_TSC_ALWAYS_EMULATE, DC_TSC_NATIVE,
    DC_TSC_NATIVE_PARAVIRT,
};

struct domain_config {
    /* c_info */
    enum dc_type type;
    char *name;
    uint8_t uuid[16];
    bool uuid_given;            /* false: generated */
    char *ssid_label;           /* seclabel / init_seclabel */
    char *exec_ssid_label;
    char *pool_name;

    /* b_info */
    int64_t max_memkb, target_memkb;
    int max_vcpus, avail_vcpus;  /* vcpus= is avail_vcpus */
    int num_vcpu_hard_affinity, num_vcpu_soft_affinity;
    struct xcpumap *vcpu_hard_affinity, *vcpu_soft_affinity;
    int sched_weight, sched_cap;
    char *kernel, *ramdisk, *cmdline, *bootloader;
    char **bootloader_args;
    int num_bootloader_args;
    int max_grant_frames, max_maptrack_frames;   /* -1: default */
    enum dc_tsc_mode tsc_mode;
    int disable_migrate;        /* -1 default, 0, 1 (nomigrate) */
    int vnc_enable;             /* -1 default, 0, 1 */
    char *vnc_listen, *vnc_passwd;
    int vnc_display;            /* -1: none */
    char **serial;              /* serial = "pty" or a list */
    int num_serial;

    /* devices */
    struct xdisk *disks;
    int num_disks;
    struct xvif *nics;
    int num_nics;

    /* actions */
    enum dc_action on_poweroff, on_reboot, on_watchdog, on_crash,
                   on_soft_reset;

    /* keys present in the file that Xenon does not act on */
    char **unsupported;
    int num_unsupported;

    /* The text domain_config_parse read (the file with the overrides
     * appended), kept so that the toolstack can record it and start the
     * domain again from it (on_crash after a power cut). NULL otherwise. */
    char *source;
    size_t source_len;
};

void domain_config_init(struct domain_config *dc);
void domain_config_dispose(struct domain_config *dc);
/* kernel and ramdisk made absolute (path_absolute): a config's paths are
 * relative to where xl ran, the VMM runs elsewhere. */
void domain_config_absolute_paths(struct domain_config *dc);

/* Build dc from a parsed file, printing xl's warnings and errors to `errs`
 * (and one warning per unsupported key). 0, or -1 when xl would refuse
 * the configuration. dc must be domain_config_dispose'd either way. */
int domain_config_from_xcfg(const struct xcfg *cfg, FILE *errs,
                            struct domain_config *dc);

/* Parse `data` (plus `xl create` KEY=VALUE overrides, may be 0) named
 * `source` and build dc. Prints "Failed to parse config: ..." as xl does
 * when the text does not parse. */
int domain_config_parse(const char *source, const char *data, size_t len,
                        const char *const *overrides, int noverrides,
                        FILE *errs, struct domain_config *dc);

const char *dc_type_name(enum dc_type t);
const char *dc_action_name(enum dc_action a);
/* Name to action as xl: exact names only. -1 if unknown. */
int dc_action_from_name(const char *s);
const char *dc_tsc_mode_name(enum dc_tsc_mode m);

/* libxl-style JSON of the whole config (malloc'd, NULL on ENOMEM). */
char *domain_config_to_json(const struct domain_config *dc);

#endif
