/* VM.revert(snapshot), as XAPI's: the VM the snapshot is of (snapshot_of)
 * goes back to it. A running or paused VM is stopped first (hard, as
 * XAPI's revert does), a suspended one loses its image; then each of its
 * writable raw/qcow2 disks gets the content of the snapshot's disk of the
 * same vdev (qemu-img convert into a temporary beside it, renamed over
 * it), and a checkpoint's memory image becomes the VM's suspend image, so
 * the VM is Suspended at the checkpoint's moment (VM.resume runs it on
 * from there); a plain snapshot leaves it Halted. The VM keeps its uuid,
 * reference, name and definition (memory, vCPUs: not reverted). Every
 * disk is matched before anything is touched; a failure after that is
 * VM_REVERT_FAILED [snapshot, vm], as XAPI's, with what was done kept.
 * A task.cancel kills the disk copy under way (that disk stays as it
 * was) and ends the task TASK_CANCELLED. vm-power-admin (XAPI's
 * VM.revert). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "domain_config.h"
#include "dispatch.h"
#include "log.h"
#include "model.h"
#include "qemu_img.h"
#include "tasks.h"
#include "util.h"
#include "vm_meta.h"
#include "vm_record.h"
#include "vm_scan.h"
#include "vm_suspend.h"

#define MAX_DISKS 64

struct pair {
    char from[XENON_PATH_MAX], to[XENON_PATH_MAX];
    const char *fmt;
};

static bool is_image(const struct xdisk *d)
{
    return d->readwrite && !d->is_cdrom && d->pdev_path && *d->pdev_path &&
           (d->format == XDISK_FORMAT_RAW || d->format == XDISK_FORMAT_QCOW2);
}

static bool parse(const char *path, struct domain_config *dc)
{
    size_t len;
    char *text = vm_def_text(path, &len);
    bool ok = text && vm_def_parse(path, text, len, dc) == 0;
    free(text);
    return ok;
}

/* The VM's disks paired with the snapshot's (by vdev, same format); the
 * number of pairs, or -1 with err set. */
static int match_disks(const char *vm_path, const char *snap_path, struct pair *p, int max,
                       char *err, size_t errn)
{
    struct domain_config v, s;
    if (!parse(vm_path, &v)) {
        snprintf(err, errn, "the VM's definition does not parse");
        return -1;
    }
    if (!parse(snap_path, &s)) {
        domain_config_dispose(&v);
        snprintf(err, errn, "the snapshot's definition does not parse");
        return -1;
    }
    int n = 0;
    for (int i = 0; n >= 0 && i < v.num_disks; i++) {
        const struct xdisk *d = &v.disks[i], *m = NULL;
        if (!is_image(d))
            continue;
        for (int j = 0; !m && j < s.num_disks; j++)
            if (is_image(&s.disks[j]) && d->vdev && s.disks[j].vdev &&
                !strcmp(d->vdev, s.disks[j].vdev))
                m = &s.disks[j];
        if (!m || m->format != d->format || n >= max) {
            snprintf(err, errn, "disk %.32s: %s", d->vdev ? d->vdev : "?",
                     n >= max ? "too many disks" : !m ? "not in the snapshot"
                                                      : "another format in the snapshot");
            n = -1;
            break;
        }
        char *to = realpath(d->pdev_path, NULL), *from = realpath(m->pdev_path, NULL);
        bool fit = to && from && strlen(to) < sizeof(p[n].to) - 16 &&
                   strlen(from) < sizeof(p[n].from);
        if (fit) {
            snprintf(p[n].to, sizeof(p[n].to), "%s", to);
            snprintf(p[n].from, sizeof(p[n].from), "%s", from);
            p[n].fmt = d->format == XDISK_FORMAT_QCOW2 ? "qcow2" : "raw";
        } else {
            snprintf(err, errn, "disk %.32s: %s", d->vdev ? d->vdev : "?",
                     !to || !from ? strerror(errno) : "path too long");
        }
        free(to);
        free(from);
        n = fit ? n + 1 : -1;
    }
    domain_config_dispose(&v);
    domain_config_dispose(&s);
    return n;
}

/* dst gets a copy of src (0600), through dst.part renamed over it. */
static int copy_file(const char *src, const char *dst)
{
    char part[XENON_PATH_MAX + 80];
    snprintf(part, sizeof(part), "%s.part", dst);
    int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int out = in < 0 ? -1 : open(part, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = in < 0 || out < 0 ? -1 : 0;
    char buf[1 << 16];
    for (ssize_t r; rc == 0 && (r = read(in, buf, sizeof(buf))) != 0;) {
        if (r < 0) {
            rc = errno == EINTR ? 0 : -1;
            continue;
        }
        for (ssize_t off = 0; rc == 0 && off < r;) {
            ssize_t w = write(out, buf + off, (size_t)(r - off));
            if (w > 0)
                off += w;
            else if (w < 0 && errno != EINTR)
                rc = -1;
        }
    }
    if (rc == 0 && (fchmod(out, 0600) < 0 || fsync(out) < 0))
        rc = -1;
    if (out >= 0 && close(out) < 0)
        rc = -1;
    if (in >= 0)
        close(in);
    if (rc == 0 && rename(part, dst) < 0)
        rc = -1;
    if (rc < 0 && out >= 0)
        unlink(part);
    return rc;
}

static json_object *revert_locked(struct call *c, const struct vm_record *s, const char *vm_ref)
{
    struct vm_record v;
    if (task_cancel_requested(c))       /* while it waited for the lock */
        return task_cancelled(c);
    if (!vm_record_by_ref(c, vm_ref, &v))
        return NULL;
    if (!v.path[0])
        return fail(c, "VM_REVERT_FAILED", s->ref, v.ref, NULL);
    struct pair *p = calloc(MAX_DISKS, sizeof(*p));
    char err[512] = "";
    int n = p ? match_disks(v.path, s->path, p, MAX_DISKS, err, sizeof(err)) : -1;
    if (n < 0) {
        free(p);
        log_msg(LOG_WARN, "VM.revert of %s to %s: %s", v.name, s->name, err);
        return fail(c, "VM_REVERT_FAILED", s->ref, v.ref, NULL);
    }
    char img[XENON_PATH_MAX + 64], snap_img[XENON_PATH_MAX + 64];
    bool has_img = vm_suspend_image_path(v.uuid, img, sizeof(img));
    bool checkpoint = !strcmp(s->power, "Suspended") &&
                      vm_suspend_image_path(s->uuid, snap_img, sizeof(snap_img));
    bool ok = true;
    /* as XAPI's revert: the VM stops where it is */
    if (!strcmp(v.power, "Running") || !strcmp(v.power, "Paused")) {
        ok = xenon_domain_destroy(&vm_paths, (unsigned)v.domid, stderr) >= 0;
        snprintf(err, sizeof(err), "cannot stop the VM");
    } else if (!strcmp(v.power, "Suspended") && has_img && unlink(img) < 0 && errno != ENOENT) {
        ok = false;
        snprintf(err, sizeof(err), "cannot discard its suspend image");
    }
    bool cancelled = false;
    for (int i = 0; ok && i < n; i++) {
        char tmp[XENON_PATH_MAX + 16];
        snprintf(tmp, sizeof(tmp), "%s.revert", p[i].to);
        unlink(tmp);
        char *argv[] = { "qemu-img", "convert", "-p", "-f", (char *)p[i].fmt, "-O",
                         (char *)p[i].fmt, p[i].from, tmp, NULL };
        ok = qemu_img_run(c, argv, (double)i / n, (double)(i + 1) / n, err, sizeof(err),
                          &cancelled) && chmod(tmp, 0600) == 0 &&
             rename(tmp, p[i].to) == 0;
        if (!ok)
            unlink(tmp);
    }
    if (ok && checkpoint && (vm_suspend_dir_make() < 0 || copy_file(snap_img, img) < 0)) {
        ok = false;
        snprintf(err, sizeof(err), "cannot copy the memory image: %s", strerror(errno));
    }
    free(p);
    vm_scan();
    if (cancelled)      /* the disk being copied is left as it was */
        return task_cancelled(c);
    if (!ok) {
        log_msg(LOG_WARN, "VM.revert of %s to %s: %s", v.name, s->name, err);
        return fail(c, "VM_REVERT_FAILED", s->ref, v.ref, NULL);
    }
    return void_result();
}

static json_object *vm_revert(struct call *c)
{
    struct vm_record s;
    if (!vm_defined_of(c, &s, "not a snapshot"))
        return NULL;
    if (!s.snap)
        return fail(c, "OPERATION_NOT_ALLOWED", "VM.revert takes a snapshot", NULL);
    char of[48] = "";
    model_lock();
    json_object *r = model_get("VM", s.ref), *f;
    if (r && json_object_object_get_ex(r, "snapshot_of", &f))
        snprintf(of, sizeof(of), "%s", json_object_get_string(f));
    bool known = *of && model_get("VM", of);
    model_unlock();
    if (!known)         /* its VM was destroyed */
        return fail(c, "VM_REVERT_FAILED", s.ref, *of ? of : REF_NULL, NULL);
    pthread_mutex_lock(&vm_image_lock);
    json_object *res = revert_locked(c, &s, of);
    pthread_mutex_unlock(&vm_image_lock);
    return res;
}

const struct xapi_method vm_revert_methods[] = {
    { "VM.revert", 2, ROLE_VM_POWER_ADMIN, M_ASYNC, vm_revert },
    { NULL, 0, 0, 0, NULL },
};
