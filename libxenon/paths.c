/* Where things live (see domain.h): the paths from the environment and the
 * directories and log files made from them. */
#include "domain_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "xs_client.h"

/* Paths are made absolute: the monitor runs in "/". */
static void absolute_into(char *dst, const char *path)
{
    char cwd[XENON_PATH_MAX];
    if (path[0] != '/' && getcwd(cwd, sizeof(cwd)) &&
        strlen(cwd) + strlen(path) + 2 <= XENON_PATH_MAX) {
        strcpy(dst, cwd);
        strcat(dst, "/");
        strcat(dst, path);
    } else {
        snprintf(dst, XENON_PATH_MAX, "%s", path);
    }
}

static void set_path(char *dst, const char *env, const char *dflt)
{
    const char *v = getenv(env);
    absolute_into(dst, v && *v ? v : dflt);
}

void xenon_paths_init(struct xenon_paths *p)
{
    set_path(p->state_dir, "XENON_STATE_DIR", "/var/lib/xenon");
    set_path(p->run_dir, "XENON_RUN_DIR", "/run/xenon");
    set_path(p->log_dir, "XENON_LOG_DIR", "/var/log/xenon");
    absolute_into(p->xs_path, xs_default_path());
    const char *v = getenv("XENON_VMM");
    if (v && *v) {
        if (strchr(v, '/'))
            absolute_into(p->vmm, v);
        else
            snprintf(p->vmm, sizeof(p->vmm), "%s", v);     /* from PATH */
        return;
    }
    /* Installed side by side, or the build tree (xl/ beside vmm/). */
    char self[XENON_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = 0;
            static const char *const rel[] = { "xenon-vmm", "../vmm/xenon-vmm" };
            for (size_t i = 0; i < 2; i++) {
                char cand[XENON_PATH_MAX * 2];
                snprintf(cand, sizeof(cand), "%s/%s", self, rel[i]);
                if (access(cand, X_OK) == 0 && strlen(cand) < XENON_PATH_MAX) {
                    snprintf(p->vmm, sizeof(p->vmm), "%s", cand);
                    return;
                }
            }
        }
    }
    snprintf(p->vmm, sizeof(p->vmm), "xenon-vmm");
}

/* Make `dir` (and its parents) with exactly `mode` when it is new, whatever
 * the umask. One that exists keeps its mode: the path may be one the admin
 * chose (XENON_LOG_DIR=/tmp), which is not ours to change. */
static int make_dir(const char *dir, mode_t mode)
{
    if (mkdir(dir, mode) == 0)
        return chmod(dir, mode);
    if (errno == EEXIST)
        return 0;
    if (errno != ENOENT)
        return -1;
    char parent[XENON_PATH_MAX + 16];
    snprintf(parent, sizeof(parent), "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = 0;
        if (mkdir_p(parent) < 0)
            return -1;
    }
    if (mkdir(dir, mode) < 0)
        return errno == EEXIST ? 0 : -1;
    return chmod(dir, mode);
}

int ensure_dirs(const struct xenon_paths *p, FILE *err)
{
    char d[XENON_PATH_MAX + 16], d2[XENON_PATH_MAX + 16], d3[XENON_PATH_MAX + 16];
    const char *dirs[5] = { p->state_dir, d, p->log_dir, d2, d3 };
    snprintf(d, sizeof(d), "%s/console", p->run_dir);
    snprintf(d2, sizeof(d2), "%s/console", p->log_dir);
    snprintf(d3, sizeof(d3), "%s/control", p->run_dir);    /* control sockets */
    /* State, console and control sockets: ours alone; logs: readable by
     * the group (adm-style), as Xen's /var/log/xen. */
    static const mode_t modes[5] = { 0700, 0700, 0750, 0750, 0700 };
    for (int i = 0; i < 5; i++)
        if (make_dir(dirs[i], modes[i]) < 0) {
            fprintf(err, "cannot create %s: %s\n", dirs[i], strerror(errno));
            return -1;
        }
    return 0;
}

void log_path(const struct xenon_paths *p, const char *name, char *out,
                     size_t n)
{
    snprintf(out, n, "%s/xl-%s.log", p->log_dir, name);
}

void xenon_hypervisor_log_path(const struct xenon_paths *p, const char *name,
                               char *out, size_t n)
{
    snprintf(out, n, "%s/console/hypervisor-%s.log", p->log_dir, name);
}

int xenon_paths_make(const struct xenon_paths *p, FILE *err)
{
    return ensure_dirs(p, err);
}
