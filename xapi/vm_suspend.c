/* Suspend images and the restore helper (vm_suspend.h). */
#include "vm_suspend.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "domain.h"
#include "vm_scan.h"

bool vm_suspend_image_path(const char *uuid, char *out, size_t n)
{
    if (!vm_uuid_ok(uuid))
        return false;
    int len = snprintf(out, n, "%s/suspend/%s.xl", vm_paths.state_dir, uuid);
    return len > 0 && (size_t)len < n;
}

bool vm_suspend_image_exists(const char *uuid)
{
    char p[XENON_PATH_MAX + 64];
    struct stat st;
    return vm_suspend_image_path(uuid, p, sizeof(p)) && lstat(p, &st) == 0 &&
           S_ISREG(st.st_mode);
}

int vm_suspend_dir_make(void)
{
    char p[XENON_PATH_MAX + 16];
    snprintf(p, sizeof(p), "%s/suspend", vm_paths.state_dir);
    if (mkdir(p, 0700) < 0 && errno != EEXIST)
        return -1;
    struct stat st;
    if (lstat(p, &st) < 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return chmod(p, 0700);      /* the mode from the code, not the umask */
}

int vm_restore_helper(const char *file, bool paused)
{
    struct xenon_paths p;
    xenon_paths_init(&p);
    unsigned domid = 0;
    if (xenon_domain_restore(&p, file, NULL, paused ? XENON_CREATE_PAUSED : 0, &domid,
                             NULL, stderr) < 0)
        return 1;
    return 0;
}
