/* Suspend images and the restore helper (vm_suspend.h). */
#include "vm_suspend.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

int vm_suspend_save(unsigned domid, const char *uuid, bool (*stop)(const void *),
                    const void *arg, FILE *err)
{
    char img[XENON_PATH_MAX + 64], part[XENON_PATH_MAX + 80], dir[XENON_PATH_MAX + 16];
    if (!vm_suspend_image_path(uuid, img, sizeof(img))) {
        fprintf(err, "bad VM uuid\n");
        return -1;
    }
    snprintf(part, sizeof(part), "%s.part", img);
    snprintf(dir, sizeof(dir), "%s/suspend", vm_paths.state_dir);
    int fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600) < 0) {
        fprintf(err, "cannot open %s: %s\n", part, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    /* The domain stays stopped until the image has its name: a crash
     * before the rename leaves the domain (and a .part file nobody
     * reads), one after it the image and the stopped domain. */
    struct xenon_save_stats st = { 0 };
    int rc = xenon_domain_save_fd(&vm_paths, domid, fd, NULL,
                                  XENON_SAVE_CHECKPOINT | XENON_SAVE_LEAVE_PAUSED, &st, err);
    if (rc == 0 && stop && stop(arg)) {     /* cancelled: no need to sync what goes */
        close(fd);
        unlink(part);
        return xenon_domain_save_resume(&vm_paths, domid, st.suspended, err) < 0 ? -1 : 1;
    }
    if (rc == 0 && fsync(fd) < 0) {
        fprintf(err, "cannot write %s: %s\n", part, strerror(errno));
        rc = -2;
    }
    if (close(fd) < 0 && rc == 0) {
        fprintf(err, "cannot write %s: %s\n", part, strerror(errno));
        rc = -2;
    }
    if (rc == 0 && rename(part, img) < 0) {
        fprintf(err, "cannot name the image %s: %s\n", img, strerror(errno));
        rc = -2;
    }
    if (rc == 0 && dir_fsync(dir) < 0) {
        fprintf(err, "cannot sync %s: %s\n", dir, strerror(errno));
        unlink(img);
        rc = -2;
    }
    if (rc < 0) {
        unlink(part);
        if (rc == -2)       /* saved but not kept: the domain runs on */
            xenon_domain_save_resume(&vm_paths, domid, st.suspended, err);
        return -1;
    }
    return xenon_domain_destroy(&vm_paths, domid, err) < 0 ? -1 : 0;
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
