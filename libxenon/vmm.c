/* Starting xenon-vmm for a domain and talking to it: the ready and go
 * descriptors of its start, and pause and unpause. */
#include "domain_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

#define START_TIMEOUT_MS 30000

/* Start xenon-vmm for the domain and wait until it reports, on a pipe
 * (--ready-fd), that the domain is built and its console served. With
 * go_fd >= 0 the VMM then waits for "G" there before running the guest
 * (xl create writes it once the xenstore nodes are in place). The VMM's
 * log goes to our stderr (the xl log). 0 and *pid, or -1 (the VMM is gone,
 * reaped). */
int vmm_start(const struct xenon_paths *p, const struct domain_config *dc,
                     unsigned domid, const char *console, bool paused,
                     int go_fd, pid_t *pid_out)
{
    char domid_s[16], mem_s[32], vcpus_s[16], gnt_s[16], clog[XENON_PATH_MAX + 300];
    char uuid[37];
    uuid_string(dc->uuid, uuid);
    snprintf(domid_s, sizeof(domid_s), "%u", domid);
    /* RAM is `memory`: without ballooning, maxmem cannot be reached. */
    snprintf(mem_s, sizeof(mem_s), "%lld", (long long)(dc->target_memkb / 1024));
    snprintf(vcpus_s, sizeof(vcpus_s), "%d", dc->avail_vcpus);
    snprintf(gnt_s, sizeof(gnt_s), "%d", dc->max_grant_frames);
    snprintf(clog, sizeof(clog), "%s/console/guest-%s.log", p->log_dir, dc->name);
    /* What Xen would print on its own console for this domain: the debug
     * port, console_io writes and the UART (Linux's earlyprintk=xen). */
    char hlog[XENON_PATH_MAX + 300];
    xenon_hypervisor_log_path(p, dc->name, hlog, sizeof(hlog));
    /* Room for every option below at once: 33 entries with the NULL (a
     * ramdisk, a cmdline, grant frames, -p and the go descriptor). */
    const char *argv[40];
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
    argv[n++] = mem_s;
    argv[n++] = "--vcpus";
    argv[n++] = vcpus_s;
    argv[n++] = "--domid";
    argv[n++] = domid_s;
    argv[n++] = "--name";
    argv[n++] = dc->name;
    argv[n++] = "--uuid";
    argv[n++] = uuid;
    if (dc->max_grant_frames > 0) {
        argv[n++] = "--max-grant-frames";
        argv[n++] = gnt_s;
    }
    argv[n++] = "--xenstore-socket";
    argv[n++] = p->xs_path;
    argv[n++] = "--console-socket";
    argv[n++] = console;
    argv[n++] = "--console-log";
    argv[n++] = clog;
    argv[n++] = "--serial-log";
    argv[n++] = hlog;
    if (paused)
        argv[n++] = "--paused";
    /* The VMM writes "R" once built; end of file means it failed first. */
    int ready[2];
    char ready_s[16], go_s[16];
    if (pipe2(ready, O_CLOEXEC) < 0)
        return -1;
    snprintf(ready_s, sizeof(ready_s), "%d", ready[1]);
    argv[n++] = "--ready-fd";
    argv[n++] = ready_s;
    if (go_fd >= 0) {
        snprintf(go_s, sizeof(go_s), "%d", go_fd);
        argv[n++] = "--go-fd";
        argv[n++] = go_s;
    }
    argv[n] = NULL;

    unlink(console);
    pid_t pid = fork();
    if (pid < 0) {
        close(ready[0]);
        close(ready[1]);
        return -1;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* The descriptors exec passes on. */
        fcntl(ready[1], F_SETFD, 0);
        if (go_fd >= 0)
            fcntl(go_fd, F_SETFD, 0);
        execvp(argv[0], (char **)argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(ready[1]);
    struct pollfd pfd = { .fd = ready[0], .events = POLLIN };
    char byte = 0;
    int r;
    do
        r = poll(&pfd, 1, START_TIMEOUT_MS);
    while (r < 0 && errno == EINTR);
    if (r > 0 && read(ready[0], &byte, 1) == 1 && byte == 'R') {
        close(ready[0]);
        *pid_out = pid;
        return 0;
    }
    close(ready[0]);
    if (r == 0) {
        mlog("domain %u: xenon-vmm did not start in %u s", domid, START_TIMEOUT_MS / 1000);
        kill(pid, SIGKILL);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (r != 0)
        mlog("domain %u: xenon-vmm exited with status %d before the domain ran",
             domid, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    unlink(console);
    return -1;
}

/* --- pausing -------------------------------------------------------------- */

#define PAUSE_TIMEOUT_MS 5000

/* Sends `sig` to the domain's running VMM, its state read into *s; else
 * err names `what` and -1. */
static int signal_vmm(const struct xenon_paths *p, unsigned domid, int sig,
                      const char *what, struct dstate *s, FILE *err)
{
    if (state_read(p, domid, s) < 0 || !state_vmm_ours(p, s, domid)) {
        fprintf(err, "%s failed: domain %u is not running\n", what, domid);
        return -1;
    }
    if (kill(s->vmm_pid, sig) < 0) {
        fprintf(err, "%s failed: domain %u: %s\n", what, domid, strerror(errno));
        return -1;
    }
    return 0;
}

/* SIGSTOP only starts a group stop: each thread stops when it next passes
 * through the kernel (a vCPU in KVM_RUN is kicked out of the guest). Waits
 * until all have, as Xen's pause returns once no vCPU runs. */
int wait_stopped(const struct dstate *s, unsigned domid, FILE *err)
{
    int rc = vmm_wait_stopped(s->vmm_pid, s->vmm_start, PAUSE_TIMEOUT_MS);
    if (rc == -ESRCH)
        fprintf(err, "pause failed: domain %u is gone\n", domid);
    else if (rc < 0)
        fprintf(err, "pause failed: domain %u did not stop within %u s\n", domid,
                PAUSE_TIMEOUT_MS / 1000);
    return rc < 0 ? -1 : 0;
}

int xenon_domain_pause(const struct xenon_paths *p, unsigned domid, FILE *err)
{
    struct dstate s;
    if (signal_vmm(p, domid, SIGSTOP, "pause", &s, err) < 0)
        return -1;
    return wait_stopped(&s, domid, err);
}

/* SIGCONT ends the group stop before kill() returns. */
int xenon_domain_unpause(const struct xenon_paths *p, unsigned domid, FILE *err)
{
    struct dstate s;
    return signal_vmm(p, domid, SIGCONT, "unpause", &s, err);
}
