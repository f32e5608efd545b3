/* VM.clone, VM.copy, VM.snapshot and VM.checkpoint, templates
 * (VM.set_is_a_template, VM.provision): each makes a new definition in
 * the VM directory from the source's (vm_meta.h keeps the XAPI fields in
 * it), with a new uuid and name, and new disks in the SR directory:
 *
 * - copy: every writable disk image copied whole (qemu-img convert, the
 *   format kept: raw stays raw and sparse, qcow2 stays qcow2);
 * - clone: the same, except that a qcow2 disk of a template or snapshot
 *   becomes a qcow2 overlay backed by it (qemu-img create -b): those never
 *   run, so their images do not change under the overlay; a template
 *   whose image backs another cannot stop being a template. A raw disk,
 *   or one of an ordinary VM, is copied;
 * - snapshot: a copy, marked is_a_snapshot (and so a template, as XAPI's)
 *   with snapshot_of = the VM and snapshot_time; the VM's `snapshots`
 *   lists it (vm_scan.c). Of a Halted VM, or of a Running or Paused one
 *   held still while its raw disks are copied (vm_hold.h; a writable
 *   qcow2 disk is refused while it runs);
 * - checkpoint: a snapshot of a Running VM with its memory, saved as xl
 *   save -c does at the moment the disks are copied (vm_hold.h); it is
 *   Suspended while that image is there, and VM.revert (vm_revert.c)
 *   makes its VM Suspended at that moment.
 *
 * A task.cancel of Async.VM.clone/copy/snapshot stops the disk copies
 * (qemu-img killed), removes what was made and ends the task cancelled.
 *
 * Read-only disks and CD-ROMs are shared, not copied, as XAPI does with
 * read-only VDIs. VIFs keep their bridges and lose their MACs (xl makes
 * new ones: two VMs must not share one). The new VM's name is its xl
 * name, so it follows the rules of VM.create (vm_good_name). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "dispatch.h"
#include "domain_config.h"
#include "log.h"
#include "model.h"
#include "qemu_img.h"
#include "storage.h"
#include "tasks.h"
#include "vm_hold.h"
#include "vm_meta.h"
#include "vm_record.h"
#include "vm_scan.h"

/* One at a time: each checks that its new names are free, then takes them. */
static pthread_mutex_t clone_lock = PTHREAD_MUTEX_INITIALIZER;

enum clone_mode { MODE_CLONE, MODE_COPY, MODE_SNAPSHOT, MODE_CHECKPOINT };

/* The new disks made so far, removed again when the clone fails. */
struct made {
    char **paths;
    int n;
    bool cancelled;         /* stopped by task.cancel */
};

static void made_undo(struct made *m)
{
    for (int i = 0; i < m->n; i++) {
        unlink(m->paths[i]);
        free(m->paths[i]);
    }
    free(m->paths);
    m->paths = NULL;
    m->n = 0;
}

static void made_keep(struct made *m)
{
    for (int i = 0; i < m->n; i++)
        free(m->paths[i]);
    free(m->paths);
}

/* Make the new image dst from src: a copy, or (overlay) a qcow2 backed by
 * src. The name is taken first (O_EXCL), so no image is overwritten. */
static bool new_image(const struct call *c, const char *src, const char *dst, const char *fmt,
                      bool overlay, bool live, double lo, double hi, struct made *m, char *err,
                      size_t errn)
{
    int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errn, "%.300s: %s", dst, strerror(errno));
        return false;
    }
    close(fd);
    char **np = realloc(m->paths, (size_t)(m->n + 1) * sizeof(*np));
    if (!np || !(np[m->n] = strdup(dst))) {
        if (np)
            m->paths = np;
        unlink(dst);
        snprintf(err, errn, "out of memory");
        return false;
    }
    m->paths = np;
    m->n++;
    /* A running VM's qcow2 image is held by its qemu-nbd (QEMU's lock,
     * its cache flushed by the hold, vm_hold.h): read shared. */
    char *conv[] = { "qemu-img", "convert", "-p", "-f", (char *)fmt, "-O", (char *)fmt,
                     (char *)src, (char *)dst, NULL, NULL };
    if (live && !strcmp(fmt, "qcow2")) {
        memmove(&conv[3], &conv[2], 8 * sizeof(conv[0]));
        conv[2] = "-U";
    }
    char *over[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                     (char *)src, (char *)dst, NULL };
    if (!qemu_img_run(c, overlay ? over : conv, lo, hi, err, errn, &m->cancelled))
        return false;
    /* guest data: the mode from the code, whatever qemu-img made */
    if (chmod(dst, 0600) < 0) {
        snprintf(err, errn, "%.300s: %s", dst, strerror(errno));
        return false;
    }
    return true;
}

/* s as an xl.cfg list of quoted strings (malloc'd), NULL on failure. */
static char *quoted_list(char **items, int n)
{
    char *out = NULL;
    size_t len;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    fputs("[ ", f);
    bool ok = true;
    for (int i = 0; i < n; i++) {
        char *q = vm_meta_quote(items[i]);
        ok = ok && q;
        fprintf(f, "%s%s", i ? ", " : "", q ? q : "");
        free(q);
    }
    fputs(" ]", f);
    fclose(f);
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

/* The disk lines of the new VM, its images made. NULL with err set. */
static char *new_disks(const struct call *c, const struct domain_config *dc,
                       const struct vm_record *s,
                       const char *new_name, enum clone_mode mode, struct made *m,
                       char *err, size_t errn)
{
    char **items = calloc((size_t)dc->num_disks + 1, sizeof(*items));
    int n = 0;
    bool ok = items != NULL;
    for (int i = 0; ok && i < dc->num_disks; i++) {
        const struct xdisk *d = &dc->disks[i];
        const char *target = d->pdev_path ? d->pdev_path : "";
        bool image = d->readwrite && !d->is_cdrom && *target &&
                     (d->format == XDISK_FORMAT_RAW || d->format == XDISK_FORMAT_QCOW2);
        const char *fmt = d->format == XDISK_FORMAT_QCOW2 ? "qcow2" : "raw";
        char dst[XENON_PATH_MAX * 2];
        if (image && task_cancel_requested(c)) {
            m->cancelled = true;
            ok = false;
            break;
        }
        if (image) {
            char *abs = realpath(target, NULL);
            if (!abs) {
                snprintf(err, errn, "disk %.32s: %.300s: %s", d->vdev ? d->vdev : "?", target,
                         strerror(errno));
                ok = false;
                break;
            }
            /* the vdev names the file only when it is a plain word */
            const char *v = d->vdev && *d->vdev && !d->vdev[strspn(d->vdev,
                                "abcdefghijklmnopqrstuvwxyz0123456789")] ? d->vdev : "disk";
            int dl = snprintf(dst, sizeof(dst), "%s/%s-%s.%s", storage_dir(), new_name, v, fmt);
            if (dl < 0 || (size_t)dl >= sizeof(dst)) {
                free(abs);
                snprintf(err, errn, "the SR directory's path is too long");
                ok = false;
                break;
            }
            bool overlay = mode == MODE_CLONE && d->format == XDISK_FORMAT_QCOW2 &&
                           (s->tmpl || s->snap);
            /* the task's progress: each disk an equal share */
            double lo = (double)i / dc->num_disks, hi = (double)(i + 1) / dc->num_disks;
            ok = new_image(c, abs, dst, fmt, overlay, strcmp(s->power, "Halted") != 0, lo, hi,
                           m, err, errn);
            free(abs);
            target = dst;
        }
        if (ok && asprintf(&items[n++], "format=%s, vdev=%s, access=%s%s, target=%s",
                           xdisk_format_name(d->format), d->vdev ? d->vdev : "",
                           d->readwrite ? "rw" : "ro", d->is_cdrom ? ", devtype=cdrom" : "",
                           target) < 0) {
            items[--n] = NULL;
            ok = false;
        }
    }
    char *r = ok ? quoted_list(items, n) : NULL;
    if (ok && !r)
        snprintf(err, errn, "a disk path xl.cfg cannot hold");
    for (int i = 0; items && i < n; i++)
        free(items[i]);
    free(items);
    return r;
}

/* The vif lines of the new VM: each spec without its mac= (malloc'd; NULL
 * with *none when the source has no vif list). */
static char *new_vifs(const char *path, const char *data, size_t len, bool *none)
{
    *none = true;
    struct xcfg *cfg = xcfg_parse_data(path, data, len, NULL);
    const struct xcfg_value *l;
    int n;
    if (!cfg || xcfg_get_list(cfg, "vif", &l, &n, 1) != 0) {
        if (cfg)
            xcfg_free(cfg);
        return NULL;
    }
    *none = false;
    char **items = calloc((size_t)n + 1, sizeof(*items));
    int k = 0;
    for (int i = 0; items && i < n; i++) {
        const char *spec = xcfg_list_item(l, i);
        char *copy = spec ? strdup(spec) : NULL, *save = NULL, *out = NULL;
        size_t ol;
        FILE *f = copy ? open_memstream(&out, &ol) : NULL;
        if (!f) {
            free(copy);
            continue;
        }
        bool first = true;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            while (*t == ' ')
                t++;
            if (!strncmp(t, "mac=", 4) || !*t)
                continue;
            fprintf(f, "%s%s", first ? "" : ",", t);
            first = false;
        }
        fclose(f);
        free(copy);
        items[k++] = out;
    }
    char *r = items ? quoted_list(items, k) : NULL;
    for (int i = 0; i < k; i++)
        free(items[i]);
    free(items);
    xcfg_free(cfg);
    return r;
}

/* text with key = value (NULL: removed), replacing text (freed). */
static char *edit(char *text, size_t *len, const char *key, const char *value)
{
    if (!text)
        return NULL;
    size_t nl;
    char *out = vm_meta_edit(text, *len, key, value, &nl);
    free(text);
    *len = nl;
    return out;
}

static void now_xapi(char *out, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y%m%dT%H:%M:%SZ", &tm);
}

static json_object *clone_locked(struct call *c, const struct vm_record *s, const char *name,
                                 enum clone_mode mode)
{
    model_lock();
    bool taken = model_find("VM", "name_label", name) != NULL;
    model_unlock();
    if (taken)
        return fail(c, "INVALID_VALUE", "new_name", name, NULL);
    char err[512] = "";
    size_t len;
    char *text = vm_def_text(s->path, &len);
    if (!text)
        return fail(c, "INTERNAL_ERROR", "cannot read the definition", NULL);
    struct domain_config dc;
    if (vm_def_parse(s->path, text, len, &dc) < 0) {
        free(text);
        return fail(c, "INTERNAL_ERROR", "the definition does not parse", NULL);
    }
    /* the SR directory: made at start when STATE_DIR was there; a fresh
     * host's STATE_DIR comes with its first domain */
    if (dc.num_disks && mkdir(storage_dir(), 0755) == 0)
        chmod(storage_dir(), 0755);
    bool live = strcmp(s->power, "Halted") != 0;
    char uuid[40], qu[48], when[32], qof[48];
    model_new_uuid(uuid);
    struct vm_hold hold = { 0 };
    if (live) {
        char *msg = NULL;
        size_t ml;
        FILE *e = open_memstream(&msg, &ml);
        int hr = e ? vm_hold_begin(&hold, (unsigned)s->domid, s->power,
                                   mode == MODE_CHECKPOINT, uuid, e) : -1;
        if (e)
            fclose(e);
        if (hr < 0) {
            snprintf(err, sizeof(err), "%s", msg && *msg ? msg : "cannot hold the VM");
            err[strcspn(err, "\n")] = 0;
            free(msg);
            domain_config_dispose(&dc);
            free(text);
            if (mode == MODE_CHECKPOINT) {      /* XAPI's code; the why in the log */
                log_msg(LOG_WARN, "VM.checkpoint of %s: %s", s->name, err);
                return fail(c, "VM_CHECKPOINT_SUSPEND_FAILED", s->ref, NULL);
            }
            return fail(c, "INTERNAL_ERROR", err, NULL);
        }
        free(msg);
    }
    struct made m = { 0 };
    int ndisks = dc.num_disks;      /* dispose clears it */
    char *disks = ndisks ? new_disks(c, &dc, s, name, mode, &m, err, sizeof(err)) : NULL;
    bool no_vifs;
    char *vifs = new_vifs(s->path, text, len, &no_vifs);
    domain_config_dispose(&dc);
    /* the copies are made: the VM runs on whatever follows */
    if (live && vm_hold_end(&hold, stderr) < 0)
        log_msg(LOG_ERR, "VM %s: could not be let run again after its snapshot", s->name);
    if ((ndisks && !disks) || (!no_vifs && !vifs)) {
        free(disks);
        free(vifs);
        free(text);
        bool cancelled = m.cancelled;
        made_undo(&m);
        vm_hold_drop_image(&hold);
        if (cancelled)
            return task_cancelled(c);
        return fail(c, "INTERNAL_ERROR", *err ? err : "cannot copy the devices", NULL);
    }
    snprintf(qu, sizeof(qu), "\"%s\"", uuid);
    char *qn = vm_meta_quote(name);
    text = edit(text, &len, "name", qn);
    text = edit(text, &len, "uuid", qu);
    if (disks)
        text = edit(text, &len, "disk", disks);
    if (vifs)
        text = edit(text, &len, "vif", vifs);
    if (mode == MODE_SNAPSHOT || mode == MODE_CHECKPOINT) {
        now_xapi(when, sizeof(when));
        snprintf(qof, sizeof(qof), "\"%s\"", s->uuid);
        char qw[40];
        snprintf(qw, sizeof(qw), "\"%s\"", when);
        text = edit(text, &len, "xapi_is_a_template", NULL);
        text = edit(text, &len, "xapi_is_a_snapshot", "1");
        text = edit(text, &len, "xapi_snapshot_of", qof);
        text = edit(text, &len, "xapi_snapshot_time", qw);
    } else {
        /* a template's clone is a template (VM.provision makes it a VM);
         * a snapshot's is a VM */
        text = edit(text, &len, "xapi_is_a_template", s->tmpl && !s->snap ? "1" : NULL);
        text = edit(text, &len, "xapi_is_a_snapshot", NULL);
        text = edit(text, &len, "xapi_snapshot_of", NULL);
        text = edit(text, &len, "xapi_snapshot_time", NULL);
    }
    free(qn);
    free(disks);
    free(vifs);
    char path[XENON_PATH_MAX * 2];
    snprintf(path, sizeof(path), "%s/%s.cfg", vm_scan_dir(), name);
    /* a checkpoint's image first: an image without its definition is
     * nobody's, a definition without its image would show Halted */
    char *kmsg = NULL;
    size_t kl;
    FILE *ke = text ? open_memstream(&kmsg, &kl) : NULL;
    int kept = ke ? vm_hold_keep_image(&hold, ke) : -1;
    if (ke)
        fclose(ke);
    if (text && kept < 0)
        snprintf(err, sizeof(err), "%s", kmsg && *kmsg ? kmsg : "cannot keep the memory image");
    free(kmsg);
    if (!text || kept < 0 || vm_def_create(path, text, len, err, sizeof(err)) < 0) {
        free(text);
        made_undo(&m);
        vm_hold_drop_image(&hold);
        return fail(c, "INTERNAL_ERROR", text ? err : "cannot edit the definition", NULL);
    }
    free(text);
    json_object *res = vm_scan_new_vm(uuid);
    if (!res) {
        unlink(path);
        made_undo(&m);
        vm_hold_drop_image(&hold);
        vm_scan();
        return fail(c, "INTERNAL_ERROR", "the new definition is not a VM", NULL);
    }
    made_keep(&m);
    return res;
}

static json_object *clone_vm(struct call *c, enum clone_mode mode)
{
    struct vm_record s;
    const char *name = arg_str(c, 2);
    if (!name || !vm_defined_of(c, &s, "nothing to copy"))
        return NULL;
    /* as XAPI: a snapshot of a Halted, Running or Paused VM (vm_hold.h),
     * a checkpoint of a Running one only */
    bool ok = mode == MODE_CHECKPOINT ? vm_record_in(c, &s, "Running")
              : mode == MODE_SNAPSHOT && (!strcmp(s.power, "Running") ||
                                          !strcmp(s.power, "Paused"))
                  ? true
                  : vm_record_in(c, &s, "Halted");
    if (!ok)
        return NULL;
    if ((mode == MODE_SNAPSHOT || mode == MODE_CHECKPOINT) && s.tmpl)
        return fail(c, "VM_IS_TEMPLATE", s.ref, NULL);
    if (!vm_good_name(name))
        return fail(c, "INVALID_VALUE", "new_name", name, NULL);
    pthread_mutex_lock(&clone_lock);
    json_object *r = clone_locked(c, &s, name, mode);
    pthread_mutex_unlock(&clone_lock);
    return r;
}

static json_object *vm_clone(struct call *c) { return clone_vm(c, MODE_CLONE); }

/* VM.copy(vm, new_name, sr): the disks go into the SR directory whatever
 * SR is named (NULL or "", as Xen Orchestra sends it: "the same SR", as
 * XAPI); a named one must exist. */
static json_object *vm_copy(struct call *c)
{
    const char *sr = arg_str(c, 3);
    if (!sr)
        return NULL;
    if (*sr && strcmp(sr, REF_NULL)) {
        model_lock();
        bool known = model_get("SR", sr) != NULL;
        model_unlock();
        if (!known)
            return fail(c, "HANDLE_INVALID", "SR", sr, NULL);
    }
    return clone_vm(c, MODE_COPY);
}

/* VM.snapshot(vm, new_name[, ignore_vdis]). */
static json_object *vm_snapshot(struct call *c)
{
    size_t n = json_object_array_length(c->params);
    if (n != 3 && n != 4) {
        char got[16];
        snprintf(got, sizeof(got), "%zu", n);
        return fail(c, "MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.snapshot", "3", got, NULL);
    }
    return clone_vm(c, MODE_SNAPSHOT);
}

/* VM.checkpoint(vm, new_name): a snapshot with the memory (vm_hold.h),
 * Suspended while its image is there: VM.revert makes the VM Suspended
 * at that moment. */
static json_object *vm_checkpoint(struct call *c) { return clone_vm(c, MODE_CHECKPOINT); }

/* As XAPI: set_is_a_template(true) of a Halted VM; false of a template
 * (not of a snapshot) whose images back no clone's overlay. */
static json_object *set_is_a_template(struct call *c)
{
    struct vm_record s;
    bool ok;
    bool want = arg_bool(c, 2, &ok);
    if (!ok || !vm_defined_of(c, &s, "nothing to copy"))
        return NULL;
    if (want == s.tmpl)
        return void_result();
    if (want && !vm_record_in(c, &s, "Halted"))
        return NULL;
    if (!want && s.snap)
        return fail(c, "OPERATION_NOT_ALLOWED", "a snapshot stays a template", NULL);
    if (!want) {
        size_t len;
        char *text = vm_def_text(s.path, &len);
        struct domain_config dc;
        bool parsed = text && vm_def_parse(s.path, text, len, &dc) == 0;
        free(text);
        bool backs = false;
        model_lock();
        for (int i = 0; parsed && i < dc.num_disks; i++) {
            char *abs = dc.disks[i].pdev_path ? realpath(dc.disks[i].pdev_path, NULL) : NULL;
            backs = backs || (abs && storage_backs_an_image(abs));
            free(abs);
        }
        model_unlock();
        if (parsed)
            domain_config_dispose(&dc);
        if (!parsed)
            return fail(c, "INTERNAL_ERROR", "the definition does not parse", NULL);
        if (backs)
            return fail(c, "OPERATION_NOT_ALLOWED",
                        "a disk of this template backs a clone's disk", NULL);
    }
    char err[160];
    pthread_mutex_lock(&clone_lock);
    int rc = vm_meta_set(s.path, "xapi_is_a_template", want ? "1" : NULL, err, sizeof(err));
    pthread_mutex_unlock(&clone_lock);
    if (rc < 0)
        return fail(c, "INTERNAL_ERROR", err, NULL);
    vm_scan();
    return void_result();
}

/* VM.provision: as XAPI, the VM stops being a template. (A template's
 * other_config:disks provisioning spec is not acted on: its disks are
 * what its definition names, copied by the clone.) */
static json_object *vm_provision(struct call *c)
{
    struct vm_record s;
    if (!vm_defined_of(c, &s, "nothing to copy"))
        return NULL;
    if (s.snap)
        return fail(c, "OPERATION_NOT_ALLOWED", "a snapshot is not provisioned", NULL);
    if (!s.tmpl)
        return void_result();
    char err[160];
    pthread_mutex_lock(&clone_lock);
    int rc = vm_meta_set(s.path, "xapi_is_a_template", NULL, err, sizeof(err));
    pthread_mutex_unlock(&clone_lock);
    if (rc < 0)
        return fail(c, "INTERNAL_ERROR", err, NULL);
    vm_scan();
    return void_result();
}

const struct xapi_method vm_clone_methods[] = {
    { "VM.clone", 3, ROLE_VM_ADMIN, M_ASYNC, vm_clone },
    { "VM.copy", 4, ROLE_VM_ADMIN, M_ASYNC, vm_copy },
    { "VM.snapshot", -1, ROLE_VM_POWER_ADMIN, M_ASYNC, vm_snapshot },
    { "VM.checkpoint", 3, ROLE_VM_POWER_ADMIN, M_ASYNC, vm_checkpoint },
    { "VM.provision", 2, ROLE_VM_ADMIN, M_ASYNC, vm_provision },
    { "VM.set_is_a_template", 3, ROLE_VM_ADMIN, 0, set_is_a_template },
    { NULL, 0, 0, 0, NULL },
};
