/* Holding a running VM for a snapshot or checkpoint (vm_hold.h). */
#include "vm_hold.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "vm_scan.h"
#include "vm_suspend.h"

static int save_image(struct vm_hold *h, const char *snap_uuid, FILE *err)
{
    if (!vm_suspend_image_path(snap_uuid, h->img, sizeof(h->img)) || vm_suspend_dir_make() < 0) {
        fprintf(err, "cannot make the suspend directory\n");
        return -1;
    }
    snprintf(h->part, sizeof(h->part), "%s.part", h->img);
    int fd = open(h->part, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600) < 0) {
        fprintf(err, "cannot open %s: %s\n", h->part, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct xenon_save_stats st = { 0 };
    int rc = xenon_domain_save_fd(&vm_paths, h->domid, fd, NULL,
                                  XENON_SAVE_CHECKPOINT | XENON_SAVE_LEAVE_PAUSED, &st, err);
    h->suspended = st.suspended;
    bool stopped = rc == 0;     /* a failed save lets the domain run on */
    if (rc == 0 && fsync(fd) < 0) {
        fprintf(err, "cannot write %s: %s\n", h->part, strerror(errno));
        rc = -1;
    }
    if (close(fd) < 0 && rc == 0) {
        fprintf(err, "cannot write %s: %s\n", h->part, strerror(errno));
        rc = -1;
    }
    if (rc < 0) {
        unlink(h->part);
        if (stopped)
            xenon_domain_save_resume(&vm_paths, h->domid, h->suspended, err);
        return -1;
    }
    return 0;
}

/* Whether the domain is paused now, as its VMM says (the record's power
 * state may be a rescan old); the record's word when it cannot be read. */
static bool paused_now(unsigned domid, const char *power)
{
    struct xenon_dominfo *v = NULL;
    int n = 0;
    bool paused = !strcmp(power, "Paused");
    FILE *null = fopen("/dev/null", "we");
    if (null && xenon_domain_list(&vm_paths, &v, &n, null) == 0)
        for (int i = 0; i < n; i++)
            if (v[i].domid == domid)
                paused = v[i].paused;
    if (null)
        fclose(null);
    free(v);
    return paused;
}

int vm_hold_begin(struct vm_hold *h, unsigned domid, const char *power, bool checkpoint,
                  const char *snap_uuid, FILE *err)
{
    memset(h, 0, sizeof(*h));
    h->domid = domid;
    h->checkpoint = checkpoint;
    h->was_paused = !checkpoint && paused_now(domid, power);
    if (checkpoint ? save_image(h, snap_uuid, err) < 0
                   : !h->was_paused && xenon_domain_pause(&vm_paths, domid, err) < 0)
        return -1;
    h->active = true;
    /* A qcow2 disk's qemu-nbd writes back what it caches (its metadata)
     * onto the file, which is then copied as it is now. */
    if (xenon_domain_flush_disks(&vm_paths, domid, err) < 0) {
        vm_hold_end(h, err);
        vm_hold_drop_image(h);
        return -1;
    }
    return 0;
}

int vm_hold_end(struct vm_hold *h, FILE *err)
{
    if (!h->active)
        return 0;
    h->active = false;
    if (h->checkpoint)
        return xenon_domain_save_resume(&vm_paths, h->domid, h->suspended, err) < 0 ? -1 : 0;
    if (h->was_paused)
        return 0;
    return xenon_domain_unpause(&vm_paths, h->domid, err) < 0 ? -1 : 0;
}

int vm_hold_keep_image(struct vm_hold *h, FILE *err)
{
    if (!h->checkpoint)
        return 0;
    char dir[XENON_PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/suspend", vm_paths.state_dir);
    if (rename(h->part, h->img) < 0 || dir_fsync(dir) < 0) {
        fprintf(err, "cannot keep the image %s: %s\n", h->img, strerror(errno));
        vm_hold_drop_image(h);
        return -1;
    }
    return 0;
}

void vm_hold_drop_image(struct vm_hold *h)
{
    if (!h->checkpoint)
        return;
    unlink(h->part);
    unlink(h->img);
}
