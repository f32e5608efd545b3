/* Domains nobody is left to run or clean up (a killed xl create, a power
 * cut that took the VMMs, the monitors and xenstored): found by the first
 * toolstack operation that looks (xl list, xl create, the boot service),
 * and settled once, under the reaping lock (domain_internal.h). A domain
 * whose VMM had run and died with no shutdown recorded crashed, as Xen
 * sees it, so its recorded on_crash applies (as libxl's xl does in
 * handle_domain_death). */
#include "domain_internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <xen/sched.h>

#include "xs_client.h"

/* LOG_DIR/xl-NAME.log for appending (the log the monitor would have
 * written), or NULL. The name comes from a state file: one that could
 * leave the log directory is not used. */
static FILE *open_log(const struct xenon_paths *p, const char *name)
{
    if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
        return NULL;
    char path[XENON_PATH_MAX + 300];
    log_path(p, name, path, sizeof(path));
    return fopen(path, "ae");
}

/* A line as the monitor logs them (mlog), to f if it is open. */
static void __attribute__((format(printf, 2, 3))) rlog(FILE *f, const char *fmt, ...)
{
    if (!f)
        return;
    va_list ap;
    va_start(ap, fmt);
    mlogv(f, fmt, ap);
    va_end(ap);
}

/* Keep the dead domain listed as crashed (state `c`) until xl destroy, as
 * the monitor keeps one that crashed with on_crash="preserve". */
static void preserve_crashed(const struct xenon_paths *p, unsigned domid,
                             struct dstate *s)
{
    state_set_vmm(s, 0);
    s->mon_pid = s->creator_pid = 0;
    s->mon_start = s->creator_start = 0;
    s->shutdown_reason = SHUTDOWN_crash;
    state_write(p, domid, s);
    if (s->console[0])
        unlink(s->console);
}

/* xl's rename-restart: the dead domain is kept under its name with the
 * time appended ("-20261201T1930Z", UTC, as xl's preserve_domain). */
static void rename_crashed(const struct xenon_paths *p, struct xs_client *xs,
                           unsigned domid, struct dstate *s, FILE *log)
{
    char suffix[24] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm))
        strftime(suffix, sizeof(suffix), "-%Y%m%dT%H%MZ", &tm);
    char name[sizeof(s->name)];
    snprintf(name, sizeof(name), "%.*s%s", (int)(sizeof(name) - sizeof(suffix)),
             s->name, suffix);
    rlog(log, "Preserving domain %u %s with suffix%s", domid, s->name, suffix);
    /* And, as libxl_domain_preserve, a uuid of its own (a random one,
     * version 4) with its own /vm node: the new domain keeps the old uuid
     * (recorded with the config), and destroying either leaves the
     * other's nodes alone. */
    uint8_t u[16];
    char uuid[37] = "";
    if (getrandom(u, sizeof(u), 0) == (ssize_t)sizeof(u)) {
        u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
        u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
        uuid_string(u, uuid);
    }
    if (xs) {
        xs_printf(xs, name, "/local/domain/%u/name", domid);
        if (uuid[0] && s->uuid[0]) {
            /* The old uuid's node goes; the new domain writes its own. */
            char old_vm[64];
            snprintf(old_vm, sizeof(old_vm), "/vm/%s", s->uuid);
            xs_rm(xs, old_vm);
        }
        if (uuid[0]) {
            char vm[64];
            snprintf(vm, sizeof(vm), "/vm/%s", uuid);
            xs_printf(xs, name, "%s/name", vm);
            xs_printf(xs, vm, "/local/domain/%u/vm", domid);
        }
    }
    if (uuid[0])
        snprintf(s->uuid, sizeof(s->uuid), "%s", uuid);
    state_name_drop(p, s->name, domid);
    snprintf(s->name, sizeof(s->name), "%s", name);
    preserve_crashed(p, domid, s);
    state_name_set(p, name, domid);
}

static enum reap_result crashed(const struct xenon_paths *p, struct xs_client *xs,
                                unsigned domid, struct dstate *s, char **restart)
{
    FILE *log = open_log(p, s->name);
    rlog(log, "Domain %u (%s): its VMM and monitor are gone and no shutdown was "
              "recorded (a power cut?): the domain crashed", domid, s->name);
    size_t len = 0;
    char *src = read_source(p, domid, &len);
    struct domain_config dc;
    domain_config_init(&dc);
    enum dc_action act = DC_ACTION_DESTROY;
    if (src && domain_config_parse("recorded config", src, len, NULL, 0, NULL, &dc) == 0)
        act = dc.on_crash;
    else
        rlog(log, "domain %u: no usable recorded config: destroying it", domid);
    domain_config_dispose(&dc);
    rlog(log, "Action for shutdown reason code %d is %s", SHUTDOWN_crash,
         dc_action_name(act));
    if (act == DC_ACTION_COREDUMP_DESTROY || act == DC_ACTION_COREDUMP_RESTART) {
        /* Nothing is left to dump: the domain's memory went with its VMM. */
        rlog(log, "core dumps are not implemented in Xenon yet: no core dump of "
                  "domain %u is produced", domid);
        act = act == DC_ACTION_COREDUMP_DESTROY ? DC_ACTION_DESTROY : DC_ACTION_RESTART;
    }
    enum reap_result r;
    switch (act) {
    case DC_ACTION_PRESERVE:
        preserve_crashed(p, domid, s);
        rlog(log, "domain %u preserved: `xl destroy %u` removes it", domid, domid);
        r = REAP_KEPT;
        break;
    case DC_ACTION_RENAME_RESTART:
        rename_crashed(p, xs, domid, s, log);
        r = REAP_RENAMED;
        break;
    case DC_ACTION_RESTART:
        rlog(log, "Domain %u needs to be cleaned up: destroying the domain", domid);
        teardown(p, xs, domid);
        r = REAP_GONE;
        break;
    default:
        if (act != DC_ACTION_DESTROY)
            rlog(log, "action %s is not implemented in Xenon yet: domain %u destroyed",
                 dc_action_name(act), domid);
        teardown(p, xs, domid);
        r = REAP_GONE;
        break;
    }
    if (act == DC_ACTION_RESTART || act == DC_ACTION_RENAME_RESTART) {
        if (restart && src) {
            rlog(log, "Done. Rebooting now");
            *restart = src;
            src = NULL;
        } else {
            rlog(log, "domain %u: the xl create that found it starts the new domain",
                 domid);
        }
    }
    free(src);
    if (log)
        fclose(log);
    return r;
}

enum reap_result settle_abandoned(const struct xenon_paths *p, struct xs_client *xs,
                                  unsigned domid, char **restart)
{
    if (restart)
        *restart = NULL;
    int reaping = lock_reaping(p);
    struct dstate s;
    enum reap_result r = REAP_NONE;
    /* Checked again under the lock: whoever took it first has settled the
     * domain (its state file is gone, or records the crash), so each
     * abandoned domain is acted on once however many look at once. */
    if (state_read(p, domid, &s) == 0 && state_abandoned(p, &s, domid)) {
        if (s.vmm_start) {
            r = crashed(p, xs, domid, &s, restart);
        } else {
            /* A creation that never ran a VMM (xl create killed early). */
            teardown(p, xs, domid);
            r = REAP_GONE;
        }
    }
    if (reaping >= 0)
        close(reaping);
    return r;
}

bool reap_if_abandoned(const struct xenon_paths *p, struct xs_client *xs,
                       unsigned domid)
{
    enum reap_result r = settle_abandoned(p, xs, domid, NULL);
    return r == REAP_GONE || r == REAP_RENAMED;
}

int restart_recorded(const struct xenon_paths *p, char *source)
{
    struct domain_config dc;
    domain_config_init(&dc);
    size_t len = strlen(source);
    int rc = domain_config_parse("recorded config", source, len, NULL, 0, NULL, &dc);
    free(source);
    FILE *log = rc == 0 ? open_log(p, dc.name) : NULL;
    char *json = rc == 0 ? domain_config_to_json(&dc) : NULL;
    unsigned nd = 0;
    if (json)
        rc = xenon_domain_create(p, &dc, json, 0, &nd, NULL, log ? log : stderr);
    else
        rc = -1;
    if (rc == 0)
        rlog(log, "domain %s restarted as domain %u", dc.name, nd);
    else
        rlog(log, "domain %s: restart failed", dc.name ? dc.name : "?");
    free(json);
    domain_config_dispose(&dc);
    if (log)
        fclose(log);
    return rc;
}
