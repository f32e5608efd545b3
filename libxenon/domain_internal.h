/* What libxenon's domain files share among themselves; not part of the
 * library's interface (that is domain.h). One section per file:
 *
 *   paths.c           where things live; directories and log names
 *   state.c           the state file of a domain, the creation lock
 *   xs_layout.c       a domain's xenstore nodes, written, read, removed
 *   domain_create.c   xenon_domain_create (reserve, publish, go)
 *   vmm.c             starting xenon-vmm, pause and unpause
 *   monitor.c         the host monitor process, its clients, its log
 *   domain_destroy.c  teardown and xenon_domain_destroy
 *   domain_reap.c     abandoned domains settled (on_crash after a power cut)
 *   domain_query.c    list, lookup, exists
 *   domain_control.c  control/shutdown and memory/target requests
 *   vbd.c             disks: vbds as libxl makes them (device.h)
 *   vif.c             network interfaces: vifs, taps and hotplug scripts */
#ifndef XENON_DOMAIN_INTERNAL_H
#define XENON_DOMAIN_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "domain.h"
#include "xenon/contract.h"

struct xs_client;

/* The VMM's special pages and ports, as the contract fixes them. */
#define STORE_GFN ((unsigned long)XENON_XENSTORE_GFN)
#define CONSOLE_GFN ((unsigned long)XENON_CONSOLE_GFN)
#define STORE_PORT XENON_PORT_XENSTORE
#define CONSOLE_PORT XENON_PORT_CONSOLE
#define MAX_DOMID 0x7fef            /* DOMID_FIRST_RESERVED - 1 */

/* --- paths.c -------------------------------------------------------------- */

/* Make the state, run/console, log and log/console directories. */
int ensure_dirs(const struct xenon_paths *p, FILE *err);
/* LOG_DIR/xl-NAME.log */
void log_path(const struct xenon_paths *p, const char *name, char *out,
              size_t n);

/* --- state.c -------------------------------------------------------------- */

/* One domain's state file. Pids are only trusted with their start times. */
struct dstate {
    char name[256], uuid[37], console[XENON_PATH_MAX];
    pid_t vmm_pid, mon_pid;
    unsigned long long vmm_start, mon_start;
    /* The boot the VMM's pid and start time belong to (state_set_vmm);
     * empty in files written before it was recorded. */
    char vmm_boot[37];
    /* The process that reserved the domain (xl create, or the monitor for a
     * restart): while it lives, a domain with no VMM or monitor yet is
     * being created, not abandoned. */
    pid_t creator_pid;
    unsigned long long creator_start;
    double created;
    unsigned vcpus;
    uint64_t target_kb, max_kb;
    int shutdown_reason;
};

/* STATE_DIR/domain-N followed by `suffix` ("", ".json"). */
void state_path(const struct xenon_paths *p, unsigned domid,
                const char *suffix, char *out, size_t n);
/* Replace the state file atomically. 0 or -1 (errno). */
int state_write(const struct xenon_paths *p, unsigned domid,
                const struct dstate *s);
/* 0, or -1 when there is no state file (*s then zeroed). */
int state_read(const struct xenon_paths *p, unsigned domid, struct dstate *s);
/* Remove the state file and its .json, .tmp and .cfg, the state file last. */
void state_remove(const struct xenon_paths *p, unsigned domid);
/* Domain ids with a state file (malloc'd array). 0 or -1. */
int state_ids(const struct xenon_paths *p, unsigned **ids, int *n);
/* The 36-character text form of a uuid. */
void uuid_string(const uint8_t u[16], char out[37]);
/* STATE_DIR/lock taken exclusively: its descriptor, or -1. */
int lock_state(const struct xenon_paths *p);
/* RUN_DIR/console/N.sock: the only console path libxenon unlinks. -1 when
 * it does not fit. */
int state_console_path(const struct xenon_paths *p, unsigned domid, char *out,
                       size_t n);
/* A uuid's text form, exactly. */
bool uuid_valid(const char *u);
/* The monitor names itself so (prctl), so that no other process of ours
 * that happens to have its pid and start time is taken for it. */
#define MONITOR_COMM "xenon-monitor"
/* Name `pid` as the domain's VMM in s: its pid, start time and boot. */
void state_set_vmm(struct dstate *s, pid_t pid);
/* Whether the pids of the state file are, now, that domain's VMM or
 * monitor: libxenon signals a pid from a state file only then. The VMM is
 * the process of our uid with the recorded pid and start time in the
 * recorded boot (its command line may be a standby's, vmm_standby.h);
 * a file with no boot recorded falls back to the command line of old,
 * which named the domid and this xenstored. */
bool state_vmm_ours(const struct xenon_paths *p, const struct dstate *s,
                    unsigned domid);
bool state_monitor_ours(const struct dstate *s);
/* No VMM, monitor or creator alive and not preserved: nobody will run or
 * clean up this domain (a killed xl create, a power cut). */
bool state_abandoned(const struct xenon_paths *p, const struct dstate *s,
                     unsigned domid);
/* The domid given last (0: none yet), and recording it, under the lock. */
unsigned state_last_domid(const struct xenon_paths *p);
void state_set_last_domid(const struct xenon_paths *p, unsigned domid);
/* The reaping lock (a flock on STATE_DIR itself): held while a monitor
 * names itself in its state file, and while an abandoned domain is checked
 * and cleaned away, so neither happens half-way through the other. Taken
 * after the state lock where both are held. Its descriptor, or -1. */
int lock_reaping(const struct xenon_paths *p);
/* Keep the config JSON (for xl list -l) beside the state file. */
void write_json(const struct xenon_paths *p, unsigned domid, const char *json);
/* Record the config text dc was parsed from (STATE_DIR/domain-N.cfg, with
 * the resolved kernel and ramdisk), or remove the record when dc has none:
 * what the domain is started again from when found crashed. */
void write_source(const struct xenon_paths *p, unsigned domid,
                  const struct domain_config *dc);
/* That record (malloc'd, *len bytes), or NULL. */
char *read_source(const struct xenon_paths *p, unsigned domid, size_t *len);
/* The name index (STATE_DIR/name-KEY): the domid that holds `name` (its
 * state file agreeing), else 0; set (under the state lock, once the state
 * file is written) and dropped (if it still names domid). Whether the
 * index answers for the name exactly (else it is a hint: look the long
 * way too). */
unsigned state_name_get(const struct xenon_paths *p, const char *name);
void state_name_set(const struct xenon_paths *p, const char *name, unsigned domid);
void state_name_drop(const struct xenon_paths *p, const char *name, unsigned domid);
bool state_name_exact(const char *name);
/* The domain has been let go (GO sent): its state file names its creator
 * no more (xl list hides a creation whose creator died before). */
void creation_done(const struct xenon_paths *p, unsigned domid);

/* --- xs_layout.c ---------------------------------------------------------- */

/* A connection to xenstored; NULL with a message on err (may be NULL). */
struct xs_client *xs_connect(const struct xenon_paths *p, FILE *err);
/* xs_write / xs_read with a printf-formatted path. */
int xs_printf(struct xs_client *xs, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
char *xs_readf(struct xs_client *xs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Domain ids with a home under /local/domain (dom0 excluded). 0 or -errno. */
int xs_domids(struct xs_client *xs, unsigned **ids, int *n);
/* Write the domain's nodes as libxl does (inside the caller's transaction). */
int write_nodes(struct xs_client *xs, const struct domain_config *dc,
                unsigned domid, const char *uuid, double created);
/* Remove /local/domain/N, /libxl/N and `vm` (may be NULL), then
 * XS_RELEASE N: one batch, one journal sync. */
void rm_nodes_release(struct xs_client *xs, unsigned domid, const char *vm);
/* Node j of domain i at v[i*k + j] for nodes[0..k), in one pipelined batch;
 * free with xs_free_list(v, n*k). NULL when the batch failed. */
char **read_domain_nodes(struct xs_client *xs, const unsigned *ids, int n,
                         const char *const *nodes, int k);
/* read_domain_nodes of "name" alone. */
char **read_names(struct xs_client *xs, const unsigned *ids, int n);

/* --- domain_create.c ------------------------------------------------------ */

/* Reserve a domid other than `avoid` and publish the domain in xenstore (a
 * restart, run by the monitor). 0 and *domid_out, or -1 (err printed). */
int domain_setup(const struct xenon_paths *p, struct xs_client *xs,
                 const struct domain_config *dc, const char *json,
                 unsigned avoid, unsigned *domid_out, FILE *err);

/* --- vmm.c ---------------------------------------------------------------- */

/* Start xenon-vmm and wait until it reports the domain built on its
 * control connection. 0 and *pid_out, or -1. */
int vmm_start(const struct xenon_paths *p, const struct domain_config *dc,
              unsigned domid, const char *console, bool paused,
              int go_fd, pid_t *pid_out);
/* Start xenon-vmm and return at once: it reports BUILT on ready_fd and,
 * with go_fd >= 0, holds the domain until GO there (both stay open here);
 * its stdout and stderr are logfd (-1: ours). With sb holding a standby
 * VMM (vmm_standby.h), that one is given the domain (sb is emptied
 * whatever happens); a new process is started when there is none or the
 * hand-over fails. 0 and *pid_out, or -1. */
struct vmm_standby;
int vmm_spawn(const struct xenon_paths *p, const struct domain_config *dc,
              unsigned domid, const char *console, bool paused, int ready_fd,
              int go_fd, int logfd, struct vmm_standby *sb, pid_t *pid_out);

/* --- monitor.c ------------------------------------------------------------ */

/* A timestamped line on stderr (the monitor's log). */
void mlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same line to f, flushed (domain_reap.c writes the log of a domain
 * whose monitor is gone with it). */
void mlogv(FILE *f, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* The host monitor's requests, on RUN_DIR/monitor.sock (SOCK_SEQPACKET,
 * one struct mon_req each, answered by one struct mon_rep). MON_START
 * carries two descriptors (SCM_RIGHTS): the control connections on which
 * the VMM reports BUILT and waits for GO. */
enum { MON_START = 1, MON_DESTROY = 2 };
#define MON_START_PAUSED 1u
struct mon_req {
    uint32_t op, domid, flags;
};
struct mon_rep {
    int32_t rc;         /* 0, -errno, or (MON_DESTROY) 1: not a domain of ours */
    int32_t pid;        /* MON_START: the VMM */
};
/* RUN_DIR/monitor.sock; -1 when it does not fit. */
int monitor_socket_path(const struct xenon_paths *p, char *out, size_t n);
/* A connection to the monitor; with `start`, one is started when none
 * serves. -1 (errno) otherwise. */
int monitor_open(const struct xenon_paths *p, bool start);
/* One request and its answer. 0, or -errno (-ECONNRESET: unanswered). */
int monitor_call(int fd, const struct mon_req *rq, const int *fds, int nfds,
                 struct mon_rep *rep, int timeout_ms);
/* MON_START of a reserved and published domain (a monitor is started if
 * none serves). 0, or -1 (err printed). */
int monitor_start_domain(const struct xenon_paths *p, unsigned domid, bool paused,
                         int ready_fd, int go_fd, FILE *err);
/* MON_START in two halves, so that the VMM builds the domain while the
 * caller does other work: send (a monitor is started if none serves) ->
 * the connection, or -1; then wait for the answer (with fd -1, or when a
 * monitor that exited as we came left it unanswered, the request is made
 * again by monitor_start_domain). 0, or -1 (err printed). Only wait with
 * the state lock released: a monitor restarting a domain takes it. */
int monitor_start_send(const struct xenon_paths *p, unsigned domid, bool paused,
                       int ready_fd, int go_fd);
int monitor_start_wait(const struct xenon_paths *p, int fd, unsigned domid, bool paused,
                       int ready_fd, int go_fd, FILE *err);
/* MON_DESTROY: 0 once the monitor has stopped and torn down the domain,
 * 1 when no monitor runs it, -errno when it did not answer in time. */
int monitor_destroy_domain(const struct xenon_paths *p, unsigned domid, int timeout_ms);

/* --- domain_destroy.c ----------------------------------------------------- */

/* Remove what a domain left in xenstore (xs may be NULL) and on disk. Safe
 * to repeat. */
void teardown(const struct xenon_paths *p, struct xs_client *xs, unsigned domid);

/* --- domain_reap.c -------------------------------------------------------- */

/* What settle_abandoned did with a domain. */
enum reap_result {
    REAP_NONE,          /* not abandoned: left alone */
    REAP_GONE,          /* cleaned away (destroy), or to be started anew */
    REAP_KEPT,          /* kept as crashed (preserve), holding its name */
    REAP_RENAMED,       /* kept as crashed under a new name (rename-restart) */
};

/* A domain found abandoned (state_abandoned, checked again under the
 * reaping lock) whose VMM had run died with no shutdown recorded: a crash,
 * so its recorded on_crash applies, once (Xen, libxl): destroy and
 * coredump-destroy clean it away as a destroy would; preserve keeps it
 * listed as crashed until `xl destroy`; rename-restart renames it so
 * (and keeps it) and, like restart and coredump-restart, it is started
 * again from its recorded config under its name and a new domid. A
 * creation that never ran a VMM is cleaned away. The start is not done
 * here: with *restart non-NULL, the recorded config text is handed back
 * there (malloc'd; the caller passes it to restart_recorded once it holds
 * no lock and no xenstore connection), otherwise the domain is cleaned
 * away instead (the caller, `xl create` of that very name, is the start). */
enum reap_result settle_abandoned(const struct xenon_paths *p, struct xs_client *xs,
                                  unsigned domid, char **restart);
/* Start a domain from a recorded config text (from settle_abandoned, which
 * it frees). 0, or -1 with the reason in the domain's xl log. */
int restart_recorded(const struct xenon_paths *p, char *source);
/* settle_abandoned without a restart here: true if the domain is gone (or
 * renamed) and so no longer holds its name. */
bool reap_if_abandoned(const struct xenon_paths *p, struct xs_client *xs,
                       unsigned domid);

/* --- vbd.c ---------------------------------------------------------------- */

struct xdisk;
/* Make the disk a vbd of domain `domid`: its nodes, DEVICE_ATTACH over the
 * control connection ctl_fd with the opened image, and the wait for the
 * backend's InitWait. 0, or -1 with the device removed again (err
 * printed). */
int vbd_add(const struct xenon_paths *p, struct xs_client *xs, int ctl_fd, unsigned domid,
            const struct xdisk *d, FILE *err);
/* Every disk of the config, in order. `incoming`: the domain is a
 * migration's incoming copy, which on the source's host takes over the
 * source's NBD servers (vbd_nbd.h) instead of opening the images again. */
int vbd_add_all(const struct xenon_paths *p, struct xs_client *xs, int ctl_fd, unsigned domid,
                const struct domain_config *dc, bool incoming, FILE *err);

/* --- vif.c ---------------------------------------------------------------- */

struct xvif;
/* Make the nic vif `devid` of domain `domid`: its tap vif<domid>.<devid>
 * (or vifname=), its nodes, DEVICE_ATTACH with the tap, the wait for the
 * backend's InitWait, then the hotplug script online (hotplug-status
 * connected, the frontend's mtu). Picks libxl's random MAC when none is
 * set (kept in v). 0, or -1 with the device removed again (err printed). */
int vif_add(struct xs_client *xs, int ctl_fd, unsigned domid, struct xvif *v,
            int devid, FILE *err);
/* Every nic of the config, in order (devid: as given, else its index). */
int vif_add_all(struct xs_client *xs, int ctl_fd, unsigned domid,
                struct domain_config *dc, FILE *err);
/* Run each vif's hotplug script offline (teardown, before its nodes go). */
void vif_offline_all(struct xs_client *xs, unsigned domid);

#endif
