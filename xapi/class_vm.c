/* VM lifecycle through libxenon: start (from the VM's xl.cfg definition,
 * in a helper process: see vm_start_helper.c), clean_shutdown (waits until
 * the domain is gone, as XAPI), hard_shutdown, clean_reboot, pause,
 * unpause, suspend and resume (vm_suspend.h). VM_BAD_POWER_STATE [vm, expected, actual] where XAPI gives it. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dispatch.h"
#include "model.h"
#include "messages.h"
#include "tasks.h"
#include "host_info.h"
#include "vm_meta.h"
#include "vm_migrate.h"
#include "vm_record.h"
#include "vm_scan.h"
#include "vm_suspend.h"

extern char **environ;

/* How long clean_shutdown waits for the guest (XAPI: 1200 s). */
#define CLEAN_SHUTDOWN_WAIT_S 600

/* Held by suspend, resume, the discarding of an image and pool_migrate
 * (below), and VM.revert (vm_suspend.h). */
pthread_mutex_t vm_image_lock = PTHREAD_MUTEX_INITIALIZER;

/* Run `fn` (a libxenon call taking an error stream); its message becomes
 * INTERNAL_ERROR's parameter. */
static bool libxenon_ok(struct call *c, int rc, char *msg)
{
    if (rc >= 0) {
        free(msg);
        return true;
    }
    if (msg)
        msg[strcspn(msg, "\n")] = 0;
    fail(c, "INTERNAL_ERROR", msg && *msg ? msg : "operation failed", NULL);
    free(msg);
    return false;
}

/* Run `xenon-xapi` with argv (a helper mode: vm_start_helper.h,
 * vm_suspend.h) and wait for it; its last line of output is the error. */
static bool run_helper(struct call *c, char **argv, const char *what)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        fail(c, "INTERNAL_ERROR", "pipe", NULL);
        return false;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    pid_t pid;
    int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    char out[2048];
    size_t n = 0;
    for (ssize_t r2; n < sizeof(out) - 1 && (r2 = read(pfd[0], out + n, sizeof(out) - 1 - n)) != 0;)
        if (r2 > 0)
            n += (size_t)r2;
        else if (errno != EINTR)
            break;
    out[n] = 0;
    close(pfd[0]);
    int st = 0;
    if (rc == 0)
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
    vm_scan();
    if (rc != 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char *nl;
        while ((nl = strrchr(out, '\n')) && !nl[1])
            *nl = 0;
        const char *last = strrchr(out, '\n');
        fail(c, "INTERNAL_ERROR", last ? last + 1 : *out ? out : what, NULL);
        return false;
    }
    return true;
}

static json_object *start_locked(struct call *c, bool paused)
{
    struct vm_record v;
    if (task_cancel_requested(c))       /* while it waited for the lock */
        return task_cancelled(c);
    if (!vm_record_of(c, &v))
        return NULL;
    if (v.tmpl)         /* as XAPI: VM.provision (or set_is_a_template) first */
        return fail(c, "VM_IS_TEMPLATE", v.ref, NULL);
    if (!vm_record_in(c, &v, "Halted"))
        return NULL;
    if (!v.path[0])
        return fail(c, "OPERATION_NOT_ALLOWED", "the VM has no definition to start from", NULL);
    char uuid[37];
    model_lock();
    json_object *r = model_get("VM", v.ref), *f;
    snprintf(uuid, sizeof(uuid), "%s",
             r && json_object_object_get_ex(r, "uuid", &f) ? json_object_get_string(f) : "");
    model_unlock();
    char *argv[] = { "xenon-xapi", "--create-domain", v.path, "--uuid", uuid,
                     paused ? "--paused" : NULL, NULL };
    if (!run_helper(c, argv, "cannot start the VM"))
        return NULL;
    if (task_cancel_requested(c)) {
        /* cancelled while it was being built: as XAPI, it ends Halted */
        struct vm_record n;
        if (vm_record_of(c, &n) && n.domid > 0 &&
            xenon_domain_destroy(&vm_paths, (unsigned)n.domid, stderr) >= 0) {
            vm_scan();
            return task_cancelled(c);
        }
        json_object_put(c->error);      /* it could not be undone: it runs */
        c->error = NULL;
    }
    return void_result();
}

/* Under the image lock: a start must not read disks a VM.revert is
 * writing, nor race a resume of the same VM; and a queued start can be
 * cancelled before it begins. */
static json_object *start_vm(struct call *c, bool paused)
{
    pthread_mutex_lock(&vm_image_lock);
    json_object *r = start_locked(c, paused);
    pthread_mutex_unlock(&vm_image_lock);
    return r;
}

static json_object *vm_start(struct call *c)
{
    bool ok;
    bool paused = arg_bool(c, 2, &ok);
    return ok ? start_vm(c, paused) : NULL;
}

/* VM.start_on(vm, host, start_paused, force): this host is the pool's
 * only one, so any other reference is a host that does not exist. */
static json_object *vm_start_on(struct call *c)
{
    const char *host = arg_str(c, 2);
    if (!host)
        return NULL;
    model_lock();
    bool known = model_get("host", host) != NULL;
    model_unlock();
    if (!known)
        return fail(c, "HANDLE_INVALID", "host", host, NULL);
    bool ok;
    bool paused = arg_bool(c, 3, &ok);
    return ok ? start_vm(c, paused) : NULL;
}

static json_object *vm_clean_shutdown(struct call *c)
{
    struct vm_record v;
    if (!vm_record_of(c, &v) || !vm_record_in(c, &v, "Running"))
        return NULL;
    char *msg = NULL;
    size_t ml;
    FILE *err = open_memstream(&msg, &ml);
    int rc = xenon_domain_request(&vm_paths, (unsigned)v.domid, "poweroff", err);
    fclose(err);
    if (!libxenon_ok(c, rc, msg))
        return NULL;
    /* Until the domain is gone (its record halted or removed). */
    uint64_t deadline = model_now_ns() + CLEAN_SHUTDOWN_WAIT_S * 1000000000ull;
    vm_scan_request();
    model_lock();
    for (;;) {
        json_object *r = model_get("VM", v.ref), *f, *d;
        if (!r || (json_object_object_get_ex(r, "power_state", &f) &&
                   !strcmp(json_object_get_string(f), "Halted")) ||
            (json_object_object_get_ex(r, "domid", &d) && json_object_get_int64(d) != v.domid))
            break;
        if (model_now_ns() >= deadline) {
            model_unlock();
            return fail(c, "VM_SHUTDOWN_TIMEOUT", v.ref, "600", NULL);
        }
        if (task_cancel_requested_locked(c)) {     /* the guest was asked; we stop waiting */
            model_unlock();
            return task_cancelled(c);
        }
        model_wait_change(deadline);
    }
    model_unlock();
    return void_result();
}

static json_object *vm_hard_shutdown(struct call *c)
{
    struct vm_record v;
    if (!vm_record_of(c, &v))
        return NULL;
    if (!strcmp(v.power, "Suspended") && v.tmpl)    /* a checkpoint's memory */
        return fail(c, "VM_IS_TEMPLATE", v.ref, NULL);
    if (!strcmp(v.power, "Suspended")) {
        /* As XAPI: the suspend image is discarded, the VM is Halted. */
        pthread_mutex_lock(&vm_image_lock);
        bool ok = vm_record_of(c, &v);
        if (ok && !strcmp(v.power, "Suspended")) {
            char img[XENON_PATH_MAX + 64];
            int rc = vm_suspend_image_path(v.uuid, img, sizeof(img)) ? unlink(img) : 0;
            int e = errno;
            vm_scan();
            pthread_mutex_unlock(&vm_image_lock);
            if (rc < 0 && e != ENOENT)
                return fail(c, "INTERNAL_ERROR", "cannot remove the suspend image", NULL);
            return void_result();
        }
        pthread_mutex_unlock(&vm_image_lock);
        if (!ok)
            return NULL;
        /* resumed meanwhile: shut down as what it is now */
    }
    if (strcmp(v.power, "Paused") && !vm_record_in(c, &v, "Running"))
        return NULL;
    char *msg = NULL;
    size_t ml;
    FILE *err = open_memstream(&msg, &ml);
    int rc = xenon_domain_destroy(&vm_paths, (unsigned)v.domid, err);
    fclose(err);
    vm_scan();
    return libxenon_ok(c, rc, msg) ? void_result() : NULL;
}

/* As XAPI: the domain is destroyed and the VM started again from its
 * definition (a VM without one only goes away). */
static json_object *vm_hard_reboot(struct call *c)
{
    struct vm_record v;
    if (!vm_record_of(c, &v))
        return NULL;
    model_lock();
    message_vm_rebooting(v.uuid);
    model_unlock();
    json_object *r = vm_hard_shutdown(c);
    if (!r)
        return NULL;
    json_object_put(r);
    return start_vm(c, false);
}

static json_object *vm_clean_reboot(struct call *c)
{
    struct vm_record v;
    if (!vm_record_of(c, &v) || !vm_record_in(c, &v, "Running"))
        return NULL;
    model_lock();
    message_vm_rebooting(v.uuid);
    model_unlock();
    char *msg = NULL;
    size_t ml;
    FILE *err = open_memstream(&msg, &ml);
    int rc = xenon_domain_request(&vm_paths, (unsigned)v.domid, "reboot", err);
    fclose(err);
    return libxenon_ok(c, rc, msg) ? void_result() : NULL;
}

static json_object *pause_or_unpause(struct call *c, bool pause)
{
    struct vm_record v;
    if (!vm_record_of(c, &v) || !vm_record_in(c, &v, pause ? "Running" : "Paused"))
        return NULL;
    char *msg = NULL;
    size_t ml;
    FILE *err = open_memstream(&msg, &ml);
    int rc = pause ? xenon_domain_pause(&vm_paths, (unsigned)v.domid, err)
                   : xenon_domain_unpause(&vm_paths, (unsigned)v.domid, err);
    fclose(err);
    vm_scan();
    return libxenon_ok(c, rc, msg) ? void_result() : NULL;
}

static json_object *vm_pause(struct call *c) { return pause_or_unpause(c, true); }
static json_object *vm_unpause(struct call *c) { return pause_or_unpause(c, false); }

static bool cancel_asked(const void *c) { return task_cancel_requested(c); }

/* As XAPI's VM.suspend: the domain is saved (xenon_domain_save: the guest
 * asked through PV control, else paused) into its suspend image and goes;
 * the VM is Suspended while the image is there. Only a VM with a
 * definition: the image is restored as that VM. */
static json_object *suspend_locked(struct call *c)
{
    struct vm_record v;
    if (task_cancel_requested(c))       /* while it waited for the lock */
        return task_cancelled(c);
    if (!vm_record_of(c, &v) || !vm_record_in(c, &v, "Running"))
        return NULL;
    char img[XENON_PATH_MAX + 64];
    if (!v.path[0] || !vm_suspend_image_path(v.uuid, img, sizeof(img)))
        return fail(c, "OPERATION_NOT_ALLOWED", "only a VM with a definition can be suspended", NULL);
    if (vm_suspend_dir_make() < 0)
        return fail(c, "INTERNAL_ERROR", "cannot make the suspend directory", NULL);
    char *msg = NULL;
    size_t ml;
    FILE *err = open_memstream(&msg, &ml);
    int rc = vm_suspend_save((unsigned)v.domid, v.uuid, cancel_asked, c, err);
    fclose(err);
    vm_scan();
    if (!libxenon_ok(c, rc, msg))
        return NULL;
    return rc == 1 ? task_cancelled(c) : void_result();
}

/* Suspend, resume and the discarding of an image are one at a time, each
 * checking the power state under the lock: two suspends of a VM would
 * otherwise write one file, two resumes restore it twice. */
static json_object *vm_suspend(struct call *c)
{
    pthread_mutex_lock(&vm_image_lock);
    json_object *r = suspend_locked(c);
    pthread_mutex_unlock(&vm_image_lock);
    return r;
}

static json_object *resume_locked(struct call *c, bool paused)
{
    struct vm_record v;
    if (task_cancel_requested(c))       /* while it waited for the lock */
        return task_cancelled(c);
    if (!vm_record_of(c, &v))
        return NULL;
    if (v.tmpl)         /* a checkpoint: VM.revert makes its VM Suspended */
        return fail(c, "VM_IS_TEMPLATE", v.ref, NULL);
    if (!vm_record_in(c, &v, "Suspended"))
        return NULL;
    char img[XENON_PATH_MAX + 64];
    if (!vm_suspend_image_path(v.uuid, img, sizeof(img)))
        return fail(c, "INTERNAL_ERROR", "no suspend image", NULL);
    char *argv[] = { "xenon-xapi", "--restore-domain", img, paused ? "--paused" : NULL, NULL };
    if (!run_helper(c, argv, "cannot resume the VM"))
        return NULL;        /* the image stays: the VM is still Suspended */
    unlink(img);
    vm_scan();
    return void_result();
}

static json_object *resume_vm(struct call *c, int paused_arg)
{
    bool ok, force_ok;
    bool paused = arg_bool(c, paused_arg, &ok);
    if (!ok)
        return NULL;
    (void)arg_bool(c, paused_arg + 1, &force_ok);     /* force: nothing to force here */
    if (!force_ok)
        return NULL;
    pthread_mutex_lock(&vm_image_lock);
    json_object *r = resume_locked(c, paused);
    pthread_mutex_unlock(&vm_image_lock);
    return r;
}

/* VM.resume(vm, start_paused, force); VM.resume_on(vm, host, ...). */
static json_object *vm_resume(struct call *c) { return resume_vm(c, 2); }
static json_object *vm_resume_on(struct call *c) { return resume_vm(c, 3); }

/* VM.pool_migrate(vm, host, options) to this host (vm_migrate.h): the
 * VM keeps its uuid and reference, its domid changes. One at a time
 * with suspend and resume (which move the same domain). */
static json_object *vm_pool_migrate(struct call *c)
{
    struct vm_record v;
    const char *host = arg_str(c, 2);
    if (!host || !vm_record_of(c, &v))
        return NULL;
    if (strcmp(host, host_ref()))
        return fail(c, "HANDLE_INVALID", "host", host, NULL);
    if (!json_object_is_type(json_object_array_get_idx(c->params, 3), json_type_object))
        return fail(c, "FIELD_TYPE_ERROR", "options", NULL);
    pthread_mutex_lock(&vm_image_lock);
    json_object *r = NULL;
    if (task_cancel_requested(c))       /* while it waited for the lock */
        r = task_cancelled(c);
    else if (!vm_record_of(c, &v) || !vm_record_in(c, &v, "Running"))
        r = NULL;
    else {
        /* A qcow2 (qemu-nbd) disk goes too: the incoming domain takes
         * over the source's server (libxenon's vbd_nbd.h). */
        char d[16];
        snprintf(d, sizeof(d), "%ld", v.domid);
        char *argv[] = { "xenon-xapi", "--migrate-domain", d, NULL };
        vm_scan_migrating(v.name, true);
        bool ok = run_helper(c, argv, "cannot migrate the VM");
        vm_scan_migrating(v.name, false);
        vm_scan();
        r = ok ? void_result() : NULL;
    }
    pthread_mutex_unlock(&vm_image_lock);
    return r;
}

const struct xapi_method vm_methods[] = {
    { "VM.pool_migrate", 4, ROLE_VM_POWER_ADMIN, M_ASYNC, vm_pool_migrate },
    { "VM.start", 4, ROLE_VM_OPERATOR, M_ASYNC, vm_start },
    { "VM.start_on", 5, ROLE_VM_OPERATOR, M_ASYNC, vm_start_on },
    { "VM.clean_shutdown", 2, ROLE_VM_OPERATOR, M_ASYNC, vm_clean_shutdown },
    { "VM.hard_shutdown", 2, ROLE_VM_OPERATOR, M_ASYNC, vm_hard_shutdown },
    { "VM.clean_reboot", 2, ROLE_VM_OPERATOR, M_ASYNC, vm_clean_reboot },
    { "VM.hard_reboot", 2, ROLE_VM_OPERATOR, M_ASYNC, vm_hard_reboot },
    { "VM.pause", 2, ROLE_VM_OPERATOR, M_ASYNC, vm_pause },
    { "VM.unpause", 2, ROLE_VM_OPERATOR, M_ASYNC, vm_unpause },
    { "VM.suspend", 2, ROLE_VM_OPERATOR, M_ASYNC, vm_suspend },
    { "VM.resume", 4, ROLE_VM_OPERATOR, M_ASYNC, vm_resume },
    { "VM.resume_on", 5, ROLE_VM_OPERATOR, M_ASYNC, vm_resume_on },
    { NULL, 0, 0, 0, NULL },
};
