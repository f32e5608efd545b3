/* Starting xenon-vmm for a domain and talking to it: the control
 * connections of its start (built, go), and pause and unpause. */
#include "domain_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "vmm_control.h"
#include "vmm_standby.h"
#include "xs_client.h"

#define START_TIMEOUT_MS 30000

/* The command line of the domain's VMM but for its control connections:
 * a->argv[0 .. a->n), NULL after it, the text it points to in *a. */
struct vmm_args {
    const char *argv[48];
    int n;
    char domid_s[16], mem_s[32], vcpus_s[16], gnt_s[16], uuid[37];
    char clog[XENON_PATH_MAX + 300], hlog[XENON_PATH_MAX + 300];
    char logsize_s[24], logfiles_s[16], ctl_path[XENON_PATH_MAX + 32];
};

static int vmm_args_make(struct vmm_args *a, const struct xenon_paths *p,
                         const struct domain_config *dc, unsigned domid,
                         const char *console, bool paused, bool hold)
{
    uuid_string(dc->uuid, a->uuid);
    snprintf(a->domid_s, sizeof(a->domid_s), "%u", domid);
    /* RAM is `memory`: without ballooning, maxmem cannot be reached. */
    snprintf(a->mem_s, sizeof(a->mem_s), "%lld", (long long)(dc->target_memkb / 1024));
    snprintf(a->vcpus_s, sizeof(a->vcpus_s), "%d", dc->avail_vcpus);
    snprintf(a->gnt_s, sizeof(a->gnt_s), "%d", dc->max_grant_frames);
    snprintf(a->clog, sizeof(a->clog), "%s/console/guest-%s.log", p->log_dir, dc->name);
    /* What Xen would print on its own console for this domain: the debug
     * port, console_io writes and the UART (Linux's earlyprintk=xen). */
    xenon_hypervisor_log_path(p, dc->name, a->hlog, sizeof(a->hlog));
    /* Room for every option below at once: 36 entries with the NULL (a
     * ramdisk, a cmdline, grant frames, log caps, -p, --hold), the two
     * control connections' four that vmm_spawn adds, and some to spare. */
    const char **argv = a->argv;
    int n = 0;
    argv[n++] = p->vmm;
    argv[n++] = "--kernel";
    argv[n++] = dc->kernel ? dc->kernel : "";
    if (dc->ramdisk) {
        argv[n++] = "--ramdisk";
        argv[n++] = dc->ramdisk;
    }
    if (dc->cmdline) {
        argv[n++] = "--cmdline";
        argv[n++] = dc->cmdline;
    }
    argv[n++] = "--memory";
    argv[n++] = a->mem_s;
    argv[n++] = "--vcpus";
    argv[n++] = a->vcpus_s;
    argv[n++] = "--domid";
    argv[n++] = a->domid_s;
    argv[n++] = "--name";
    argv[n++] = dc->name;
    argv[n++] = "--uuid";
    argv[n++] = a->uuid;
    if (dc->max_grant_frames > 0) {
        argv[n++] = "--max-grant-frames";
        argv[n++] = a->gnt_s;
    }
    argv[n++] = "--xenstore-socket";
    argv[n++] = p->xs_path;
    argv[n++] = "--console-socket";
    argv[n++] = console;
    argv[n++] = "--console-log";
    argv[n++] = a->clog;
    argv[n++] = "--serial-log";
    argv[n++] = a->hlog;
    /* Log caps: the admin's (XENON_LOG_MAX_SIZE bytes per file,
     * XENON_LOG_FILES files per log) or the contract's defaults. */
    const char *env_size = getenv("XENON_LOG_MAX_SIZE"), *env_files = getenv("XENON_LOG_FILES");
    snprintf(a->logsize_s, sizeof(a->logsize_s), "%s", env_size && *env_size ? env_size : "");
    snprintf(a->logfiles_s, sizeof(a->logfiles_s), "%s", env_files && *env_files ? env_files : "");
    if (!a->logsize_s[0])
        snprintf(a->logsize_s, sizeof(a->logsize_s), "%d", XENON_LOG_MAX_SIZE_DEFAULT);
    if (!a->logfiles_s[0])
        snprintf(a->logfiles_s, sizeof(a->logfiles_s), "%d", XENON_LOG_FILES_DEFAULT);
    argv[n++] = "--log-max-size";
    argv[n++] = a->logsize_s;
    argv[n++] = "--log-files";
    argv[n++] = a->logfiles_s;
    if (paused)
        argv[n++] = "--paused";
    if (vmmctl_socket_path(p->run_dir, domid, a->ctl_path, sizeof(a->ctl_path)) < 0)
        return -1;
    argv[n++] = "--control-socket";
    argv[n++] = a->ctl_path;
    if (hold)
        argv[n++] = "--hold";
    argv[n] = NULL;
    a->n = n;
    return 0;
}

/* Start xenon-vmm for the domain: its log is logfd (-1: our stderr), it
 * reports BUILT on the control connection ready_fd once the domain is built
 * and its console served, and with go_fd >= 0 (another control connection)
 * holds its vCPUs until GO arrives there. Both are passed on (--control-fd)
 * and stay open here. With a standby (vmm_standby.h) it is that process,
 * handed the command line, else a new one. 0 and *pid, or -1 (nothing
 * started). */
int vmm_spawn(const struct xenon_paths *p, const struct domain_config *dc,
              unsigned domid, const char *console, bool paused, int ready_fd,
              int go_fd, int logfd, struct vmm_standby *sb, pid_t *pid_out)
{
    struct vmm_args a;
    if (vmm_args_make(&a, p, dc, domid, console, paused, go_fd >= 0) < 0)
        return -1;
    const char **argv = a.argv;
    int n = a.n;
    unlink(console);
    unlink(a.ctl_path);
    /* A standby's stdout and stderr become logfd, or our stderr (a VMM we
     * start inherits both of ours: in the monitor, the same log). */
    if (sb && sb->pid > 0 &&
        vmm_standby_hand(sb, argv + 1, n - 1, logfd >= 0 ? logfd : 2, ready_fd, go_fd,
                         pid_out) == 0)
        return 0;
    if (sb)
        vmm_standby_drop(sb);
    char ready_s[16], go_s[16];
    /* The descriptors exec passes on: copies without close-on-exec, made
     * for the VMM and closed here once it is started (the process that
     * spawns runs no other thread that could exec meanwhile). */
    int pass_ready = dup(ready_fd);
    int pass_go = go_fd >= 0 ? dup(go_fd) : -1;
    if (pass_ready < 0 || (go_fd >= 0 && pass_go < 0)) {
        if (pass_ready >= 0)
            close(pass_ready);
        return -1;
    }
    snprintf(ready_s, sizeof(ready_s), "%d", pass_ready);
    argv[n++] = "--control-fd";
    argv[n++] = ready_s;
    if (go_fd >= 0) {
        snprintf(go_s, sizeof(go_s), "%d", pass_go);
        argv[n++] = "--control-fd";
        argv[n++] = go_s;
    }
    argv[n] = NULL;

    /* posix_spawn, not fork: the child borrows our memory until it execs
     * (vfork-like) instead of copying the page tables and taking a
     * copy-on-write fault for each page it touches before exec, each
     * costly on a nested host. It starts with no signal blocked. */
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t fa;
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    posix_spawn_file_actions_init(&fa);
    if (logfd >= 0) {
        posix_spawn_file_actions_adddup2(&fa, logfd, 1);
        posix_spawn_file_actions_adddup2(&fa, logfd, 2);
    }
    extern char **environ;
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, &attr, (char **)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(pass_ready);
    if (pass_go >= 0)
        close(pass_go);
    if (rc != 0) {
        mlog("domain %u: cannot run %s: %s", domid, argv[0], strerror(rc));
        return -1;
    }
    *pid_out = pid;
    return 0;
}

/* vmm_spawn, then the wait until the VMM reports the domain built. The
 * VMM's log goes to our stderr (the xl log). 0 and *pid, or -1 (the VMM is
 * gone, reaped). */
int vmm_start(const struct xenon_paths *p, const struct domain_config *dc,
              unsigned domid, const char *console, bool paused,
              int go_fd, pid_t *pid_out)
{
    int ready[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ready) < 0)
        return -1;
    pid_t pid;
    if (vmm_spawn(p, dc, domid, console, paused, ready[1], go_fd, -1, NULL, &pid) < 0) {
        close(ready[0]);
        close(ready[1]);
        return -1;
    }
    char ctl_path[XENON_PATH_MAX + 32];
    vmmctl_socket_path(p->run_dir, domid, ctl_path, sizeof(ctl_path));
    close(ready[1]);
    int r = vmmctl_wait_built(ready[0], START_TIMEOUT_MS);
    close(ready[0]);
    if (r == 0) {
        *pid_out = pid;
        return 0;
    }
    if (r == -ETIMEDOUT) {
        mlog("domain %u: xenon-vmm did not start in %u s", domid, START_TIMEOUT_MS / 1000);
        kill(pid, SIGKILL);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (r != -ETIMEDOUT)
        mlog("domain %u: xenon-vmm exited with status %d before the domain ran",
             domid, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    unlink(console);
    unlink(ctl_path);
    return -1;
}

/* --- pausing -------------------------------------------------------------- */

/* The VMM's control channel pauses only the vCPUs: its reply comes once
 * none runs guest code, and the console and backends keep serving. */
#define PAUSE_TIMEOUT_MS 10000

static int control_vmm(const struct xenon_paths *p, unsigned domid, uint16_t type,
                       const char *what, FILE *err)
{
    struct dstate s;
    if (state_read(p, domid, &s) < 0 || !state_vmm_ours(p, &s, domid)) {
        fprintf(err, "%s failed: domain %u is not running\n", what, domid);
        return -1;
    }
    int rc = vmmctl_request(p->run_dir, domid, type, NULL, 0, NULL, 0, NULL,
                            PAUSE_TIMEOUT_MS);
    if (rc < 0) {
        fprintf(err, "%s failed: domain %u: %s\n", what, domid, strerror(-rc));
        return -1;
    }
    /* Pause is in no xenstore node (as under Xen): the state file's
     * change time says that something of this domain changed, so that a
     * watcher (xenon-xapi's inotify on the state directory) looks at once
     * rather than at its next periodic scan. */
    char path[XENON_PATH_MAX + 32];
    state_path(p, domid, "", path, sizeof(path));
    utimensat(AT_FDCWD, path, NULL, AT_SYMLINK_NOFOLLOW);
    return 0;
}

int xenon_domain_pause(const struct xenon_paths *p, unsigned domid, FILE *err)
{
    return control_vmm(p, domid, XENON_CTL_PAUSE, "pause", err);
}

int xenon_domain_unpause(const struct xenon_paths *p, unsigned domid, FILE *err)
{
    return control_vmm(p, domid, XENON_CTL_UNPAUSE, "unpause", err);
}

/* --- ending a domain from outside ----------------------------------------- */

int xenon_domain_pvcontrol(const struct xenon_paths *p, unsigned domid, bool reboot,
                           FILE *err)
{
    struct xs_client *xs = xs_connect(p, err);
    if (!xs)
        return -1;
    char *feature = xs_readf(xs, "/local/domain/%u/control/feature-%s", domid,
                             reboot ? "reboot" : "poweroff");
    xs_close(xs);
    bool announced = feature && strcmp(feature, "1") == 0;
    free(feature);
    if (announced)
        return 1;
    struct vmmctl_info info;
    int rc = vmmctl_domain_info(p->run_dir, domid, &info, PAUSE_TIMEOUT_MS);
    if (rc < 0) {
        fprintf(err, "domain %u: cannot read its callback parameter: %s\n", domid,
                strerror(-rc));
        return -1;
    }
    return (info.flags & XENON_CTL_INFO_PV_CALLBACK) != 0;
}

int xenon_domain_shutdown_now(const struct xenon_paths *p, unsigned domid,
                              unsigned reason, FILE *err)
{
    struct dstate s;
    if (state_read(p, domid, &s) < 0 || !state_vmm_ours(p, &s, domid)) {
        fprintf(err, "shutdown failed: domain %u is not running\n", domid);
        return -1;
    }
    struct xenon_ctl_shutdown req = { .reason = reason };
    int rc = vmmctl_request(p->run_dir, domid, XENON_CTL_SHUTDOWN, &req, sizeof(req),
                            NULL, 0, NULL, PAUSE_TIMEOUT_MS);
    if (rc < 0) {
        fprintf(err, "shutdown failed: domain %u: %s\n", domid, strerror(-rc));
        return -1;
    }
    return 0;
}
