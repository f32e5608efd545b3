/* Domain lifecycle: create, list, destroy, shut down domains made from a
 * domain_config. State lives in xenstore (/local/domain/N, /vm/UUID,
 * /libxl/N) and in one state file per domain under the state directory, so
 * that a killed xl or monitor loses nothing.
 *
 * One monitor process per host (per state directory: started by the first
 * create that finds none, detached, gone a second after the last domain)
 * runs every domain's xenon-vmm, reaps it and applies on_poweroff/
 * on_reboot/on_crash/on_watchdog; a domain's log is LOG_DIR/xl-NAME.log. */
#ifndef XENON_DOMAIN_H
#define XENON_DOMAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "domain_config.h"

#define XENON_PATH_MAX 512

/* Where things live. Defaults, each overridden by an environment variable:
 *   state_dir  /var/lib/xenon      XENON_STATE_DIR
 *   run_dir    /run/xenon          XENON_RUN_DIR   (console sockets)
 *   log_dir    /var/log/xenon      XENON_LOG_DIR   (console/ below it)
 *   xs_path    /run/xenon/xenstored/socket   XENSTORED_PATH
 *   vmm        xenon-vmm next to the running program, else in PATH
 *                                  XENON_VMM */
struct xenon_paths {
    char state_dir[XENON_PATH_MAX], run_dir[XENON_PATH_MAX],
         log_dir[XENON_PATH_MAX], xs_path[XENON_PATH_MAX], vmm[XENON_PATH_MAX];
};
void xenon_paths_init(struct xenon_paths *p);

/* Make the state, run and log directories that are missing, with their
 * own modes whatever the umask (as `xl create` does before a domain), so
 * that a daemon can watch them before the first domain exists. 0, or -1
 * with the reason on err. */
int xenon_paths_make(const struct xenon_paths *p, FILE *err);

/* Where a domain's hypervisor log is: LOG_DIR/console/hypervisor-NAME.log,
 * what Xen would print on its own console for it (the debug port,
 * console_io writes, the UART). `xl dmesg` shows it. */
void xenon_hypervisor_log_path(const struct xenon_paths *p, const char *name,
                               char *out, size_t n);

/* What `xl list` shows about one domain. */
struct xenon_dominfo {
    unsigned domid;
    char name[256];
    char uuid[37];
    uint64_t target_kb, max_kb;
    unsigned vcpus;
    pid_t vmm_pid, monitor_pid;
    bool running;          /* the VMM process is alive */
    bool blocked;          /* ... and no vCPU thread is on a CPU */
    bool paused;           /* ... and paused (xenon_domain_pause, create -p),
                            * as its VMM reports */
    int shutdown_reason;   /* -1 unless preserved after a shutdown */
    double cpu_time;       /* seconds of CPU used by the VMM */
    double start_time;     /* unix time of creation */
    char console[XENON_PATH_MAX];
};

/* Create and start a domain. dc->kernel is used as given (xl makes it
 * absolute). `config_json` (may be NULL) is kept for `xl list -l`. On
 * success *domid is set and a monitor runs the domain; on failure an error
 * line went to `err` and nothing is left behind. Returns 0 or -1.
 * `monitor` (may be NULL) is set to 0: the host monitor is nobody's child
 * (XENON_CREATE_FOREGROUND: wait with xenon_monitor_wait). */
#define XENON_CREATE_FOREGROUND 1u
/* Build the domain but leave it paused (xl create -p); xl unpause runs it. */
#define XENON_CREATE_PAUSED 2u
/* The domain is a migration's incoming copy (xenon_domain_receive): on
 * the host its source runs on, its disks served by a qemu-nbd are served
 * by the source's, taken over, rather than opened a second time. */
#define XENON_CREATE_INCOMING 4u
int xenon_domain_create(const struct xenon_paths *p, struct domain_config *dc,
                        const char *config_json, unsigned flags,
                        unsigned *domid, pid_t *monitor, FILE *err);

/* The same, but the domain stays held (built, its xenstore nodes and
 * devices in place, no guest code run) and *go_out gets the handed-over
 * control connection: the caller sends requests there (RESTORE), then GO
 * (vmmctl_send_go), closes it and lets the domain go
 * (xenon_domain_let_go: until then a domain whose creator died is taken
 * for abandoned); closing it without GO destroys the domain (the caller
 * then also calls xenon_domain_destroy). *monitor is set to 0. */
int xenon_domain_create_held(const struct xenon_paths *p, struct domain_config *dc,
                             const char *config_json, unsigned flags,
                             unsigned *domid, pid_t *monitor, int *go_out,
                             FILE *err);
void xenon_domain_let_go(const struct xenon_paths *p, unsigned domid);

/* Save a domain as `xl save` does (docs/savefile.md): ask a guest with
 * PV control to suspend, else pause it; write FILE (mode 0600): xl's
 * header with the domain's config, libxl's stream around the VMM's libxc
 * image and its EMULATOR_CONTEXT. Then the domain is destroyed, unless
 * XENON_SAVE_CHECKPOINT (xl save -c: it runs on; with
 * XENON_SAVE_LEAVE_PAUSED it stays paused). 0, or -1 (err printed; a
 * partly written file is removed and the domain runs on). */
#define XENON_SAVE_CHECKPOINT 1u
#define XENON_SAVE_LEAVE_PAUSED 2u
/* Live (xl migrate): the memory is sent in rounds while the domain runs
 * (contract.h, XENON_SAVE_F_LIVE); it is stopped for the last round and
 * the vCPUs' state only. */
#define XENON_SAVE_LIVE 4u
#define XENON_SAVE_STATS_ROUNDS 16
struct xenon_save_stats {
    uint64_t bytes, pages_data, pages_zero, stopped_ns;
    bool suspended;                 /* the guest suspended itself */
    bool live;
    uint64_t live_bytes;            /* of bytes, sent while it ran */
    uint64_t stop_mono_ns;          /* CLOCK_MONOTONIC when its vCPUs
                                       stopped (0: unknown) */
    unsigned rounds;                /* PAGE_DATA rounds, the last one
                                       sent with the domain stopped */
    uint64_t round_pages[XENON_SAVE_STATS_ROUNDS];
    uint64_t round_us[XENON_SAVE_STATS_ROUNDS];
};
int xenon_domain_save(const struct xenon_paths *p, unsigned domid, const char *file,
                      unsigned flags, struct xenon_save_stats *stats, FILE *err);

/* Restore a domain from FILE as `xl restore` does: the file is read
 * through and checked first (a bad one is refused with a message naming
 * the record and the problem, and nothing is created); then the domain
 * is created from the file's config (or dc_override), its state
 * restored, and run (XENON_CREATE_PAUSED: left paused). 0 and *domid, or
 * -1 (err printed; nothing left behind). */
int xenon_domain_restore(const struct xenon_paths *p, const char *file,
                         struct domain_config *dc_override, unsigned flags,
                         unsigned *domid, pid_t *monitor, FILE *err);

/* The same onto a descriptor (xl migrate's channel), with the domain
 * left as flags say: with XENON_SAVE_CHECKPOINT | XENON_SAVE_LEAVE_PAUSED
 * it stays stopped (suspended, stats->suspended, or paused) until
 * xenon_domain_save_resume or xenon_domain_destroy. The descriptor is
 * left open. json: the config to write into xl's header (xl migrate -C),
 * or NULL for the domain's own. */
int xenon_domain_save_fd(const struct xenon_paths *p, unsigned domid, int fd,
                         const char *json, unsigned flags, struct xenon_save_stats *stats,
                         FILE *err);
/* Run a domain a save left stopped (a suspended one's suspend returns 1,
 * as after xl save -c). 0 or -1 (err printed). */
int xenon_domain_save_resume(const struct xenon_paths *p, unsigned domid, bool suspended,
                             FILE *err);

/* xl migrate-receive: read the stream xl save writes from in_fd, in one
 * pass up to libxl's END and not a byte beyond (the handshake goes on
 * there): the domain is created held, its name with `suffix` appended
 * (NAME--incoming; not with dc_override), when libxc's image begins, and
 * its VMM reads and checks the image from in_fd as it comes (a live
 * migration's rounds land while the source runs). 0 with r filled (the domain exists, not
 * yet running), or -1 (err printed, nothing left). Then exactly one of
 * _go (run it) or _abort (destroy it). */
struct xenon_received {
    unsigned domid;
    pid_t monitor;
    int go;                         /* the held domain's control connection */
};
int xenon_domain_receive(const struct xenon_paths *p, int in_fd, const char *suffix, struct domain_config *dc_override,
                         struct xenon_received *r, FILE *err);
int xenon_domain_receive_go(const struct xenon_paths *p, struct xenon_received *r,
                            FILE *err);
void xenon_domain_receive_abort(const struct xenon_paths *p, struct xenon_received *r,
                                FILE *err);

/* Give a domain another name, as libxl_domain_rename: its xenstore name,
 * its /vm node's, its state and name index and its recorded config.
 * `expect` (or NULL): only if it is called so now. Refused (-1, err
 * printed) when another domain holds `name`. */
int xenon_domain_rename(const struct xenon_paths *p, unsigned domid, const char *expect,
                        const char *name, FILE *err);
/* Detach a domain from its /vm node without removing it (the copy left
 * behind by a migration on one host shares the uuid with the new one):
 * its destroy then leaves /vm/UUID to the other. */
void xenon_domain_forget_vm(const struct xenon_paths *p, unsigned domid);

/* Wait until no domain is called `name` (xl create -F: the domain, and
 * what it restarted as, is gone for good). */
void xenon_monitor_wait(const struct xenon_paths *p, const char *name);

/* All guest domains, sorted by domid (malloc'd array). 0 or -1 (err
 * printed). */
int xenon_domain_list(const struct xenon_paths *p, struct xenon_dominfo **out,
                      int *n, FILE *err);

/* A domain by name or number: 0 and *domid, -1 when there is no such
 * domain, -2 when xenstored cannot be reached (err printed). */
int xenon_domain_lookup(const struct xenon_paths *p, const char *spec,
                        unsigned *domid, FILE *err);

/* The index in v[0..n) of the domain `spec` names (by number or name, as
 * xenon_domain_lookup), or -1. */
int xenon_dominfo_find(const struct xenon_dominfo *v, int n, const char *spec);

/* Kill the domain's monitor and VMM, release it in xenstored, remove its
 * xenstore nodes, state file and console socket. 0, -1 on error, 1 when the
 * domain had already gone (e.g. restarted under a new domid meanwhile). */
int xenon_domain_destroy(const struct xenon_paths *p, unsigned domid, FILE *err);

/* Pause every vCPU of a running domain, as Xen's XEN_DOMCTL_pausedomain
 * (over the VMM's control channel): when 0 is returned, no guest code runs;
 * the console and backends keep serving. Pausing a paused domain is a
 * no-op. 0, or -1 (err printed: not running, or not stopped within a few
 * seconds). */
int xenon_domain_pause(const struct xenon_paths *p, unsigned domid, FILE *err);

/* Let a paused domain run again. 0 or -1 (err printed). */
int xenon_domain_unpause(const struct xenon_paths *p, unsigned domid, FILE *err);

/* Write control/shutdown (e.g. "poweroff", "reboot"). 0 or -1. */
int xenon_domain_request(const struct xenon_paths *p, unsigned domid,
                         const char *what, FILE *err);

/* Whether the guest can be asked to power off (reboot) through
 * control/shutdown, for xl's -F fallback. libxl asks this only of HVM
 * domains (HVM_PARAM_CALLBACK_IRQ set: PV drivers up) and takes a PVH one
 * for able; every Xenon domain is PVH, so Xenon asks it of them when -F
 * is given: able if the guest announced control/feature-poweroff
 * (feature-reboot) = 1, as Linux and our PV test guest do, or set the
 * callback parameter. 1, 0, or -1 (err printed). */
int xenon_domain_pvcontrol(const struct xenon_paths *p, unsigned domid, bool reboot,
                           FILE *err);

/* Make the VMM end the domain itself with Xen's SHUTDOWN_* reason, as Xen
 * does on an ACPI power or reset button for a guest without PV control
 * (Xenon has no ACPI: the domain goes down at once with that reason, and
 * its monitor applies on_poweroff / on_reboot). 0 or -1 (err printed). */
int xenon_domain_shutdown_now(const struct xenon_paths *p, unsigned domid,
                              unsigned reason, FILE *err);

/* Write memory/target in KiB. 0 or -1. */
int xenon_domain_set_target(const struct xenon_paths *p, unsigned domid,
                            uint64_t kb, FILE *err);

/* One vCPU as `xl vcpu-list` shows it. The VMM runs vCPU i on the i-th
 * thread it creates (vmm/platform/vcpu.c), so threads are matched by creation
 * order (thread id order, barring pid wrap-around). */
struct xenon_vcpuinfo {
    unsigned vcpuid;
    int cpu;               /* host CPU it last ran on */
    bool running, blocked;
    double cpu_time;
    char affinity[128];    /* "all" or a list like "0-3,5" */
};

/* The vCPUs of a running domain (malloc'd array). 0, or -1 when the VMM is
 * not running. */
int xenon_domain_vcpus(pid_t vmm_pid, struct xenon_vcpuinfo **out, int *n);

/* The same, corrected by what the domain's VMM reports on its control
 * channel (vCPUs that are down show offline, paused ones neither running
 * nor blocked, times are the VMM's); the threads' view alone when the VMM
 * does not answer. 0 or -1. */
int xenon_domain_vcpus_of(const struct xenon_paths *p, unsigned domid, pid_t vmm_pid,
                          struct xenon_vcpuinfo **out, int *n);

/* The saved config JSON of a domain (malloc'd) or NULL. */
char *xenon_domain_config_json(const struct xenon_paths *p, unsigned domid);

/* Domain-0's config JSON as `xl list -l 0` shows it (malloc'd, or NULL):
 * the stub Xen's xen-init-dom0 stores (type pv), with the host's name for
 * it, its CPUs and memory. */
char *xenon_dom0_config_json(void);

/* The reason code (SHUTDOWN_*) of a domain kept shut down (preserved), or
 * -1 while it runs or when there is no such domain. */
int xenon_domain_shutdown_reason(const struct xenon_paths *p, unsigned domid);

/* True while the domain exists (its state file or xenstore home). */
bool xenon_domain_exists(const struct xenon_paths *p, unsigned domid);

/* One domain's name and uuid (uuid may be NULL; 37 bytes otherwise),
 * from its state file: no listing of every domain. 0, or -1 when it has
 * none. */
int xenon_domain_identity(const struct xenon_paths *p, unsigned domid, char *name,
                          size_t name_len, char *uuid);

/* --- virtual block devices at run time (vbd.c) ---------------------------- */

struct xdisk;
/* xl block-attach: the disk made a vbd of the running domain (as libxl's
 * libxl_device_disk_add). 0, or -1 (err printed). */
int xenon_block_attach(const struct xenon_paths *p, unsigned domid,
                       const struct xdisk *d, FILE *err);
/* xl block-detach: the vbd `vdev` (a name or number) closed and removed as
 * libxl removes it. 0, or -1 (err printed). */
/* xl cd-insert / cd-eject (d: a cdrom spec, EMPTY for an eject). As
 * libxl_cdrom_insert, which changes the medium through the device model
 * (QMP) and so refuses any domain but HVM: Xenon's domains are PV and PVH
 * and have none, so this is refused with libxl's message. -1. */
int xenon_cdrom_insert(const struct xenon_paths *p, unsigned domid, const struct xdisk *d,
                       FILE *err);
int xenon_block_detach(const struct xenon_paths *p, unsigned domid, const char *vdev,
                       FILE *err);
/* Write back what the servers of the domain's writable qcow2 (qemu-nbd)
 * disks cache, onto their image files (NBD_CMD_FLUSH as a second client):
 * with the domain paused, its images then read as of this moment, as a
 * raw disk's does (only requests still in flight at the pause may land
 * later). 0, or -1 (err printed). */
int xenon_domain_flush_disks(const struct xenon_paths *p, unsigned domid, FILE *err);
/* What xl block-list shows of each vbd (libxl_diskinfo). */
struct xenon_vbdinfo {
    unsigned devid, frontend_id;
    int backend_id, state, evtch, rref;     /* -1: not there */
    char backend[160];
};
int xenon_block_list(const struct xenon_paths *p, unsigned domid,
                     struct xenon_vbdinfo **out, int *n, FILE *err);

/* --- network interfaces at run time (vif.c) ----------------------------- */

struct xvif;
/* xl network-attach: the nic made a vif of the running domain (as libxl's
 * libxl_device_nic_add; devid -1: one past the highest in use). 0, or -1
 * (err printed). */
int xenon_network_attach(const struct xenon_paths *p, unsigned domid, struct xvif *v,
                         FILE *err);
/* xl network-detach: the vif named by devid or MAC, taken out of its
 * bridge, closed and removed as libxl removes it. 0, or -1 (err printed). */
int xenon_network_detach(const struct xenon_paths *p, unsigned domid, const char *which,
                         FILE *err);
/* What xl network-list shows of each vif (libxl_nicinfo). */
struct xenon_nicinfo {
    unsigned devid;
    int backend_id, state, evtch, rref_tx, rref_rx;     /* -1: not there */
    char mac[18];
    char backend[160];
};
int xenon_network_list(const struct xenon_paths *p, unsigned domid,
                       struct xenon_nicinfo **out, int *n, FILE *err);

#endif
