/* Suspended VMs (VM.suspend / VM.resume): a suspended VM is its saved
 * image, STATE_DIR/suspend/<VM uuid>.xl (xl save's format, mode 0600, in
 * a directory of mode 0700), and nothing else: a VM with a definition,
 * no domain and an image is Suspended, across daemon restarts too.
 * VM.resume restores it in `xenon-xapi --restore-domain FILE` (a fresh
 * process, for the same reason as --create-domain: the domain's monitor
 * must inherit nothing of the daemon). */
#ifndef XAPI_VM_SUSPEND_H
#define XAPI_VM_SUSPEND_H

#include <stdbool.h>
#include <stddef.h>

/* The image path of the VM `uuid` (a canonical UUID; false otherwise, or
 * when it does not fit). */
bool vm_suspend_image_path(const char *uuid, char *out, size_t n);
/* Whether the VM has a suspend image (a regular file). */
bool vm_suspend_image_exists(const char *uuid);
/* Make the suspend directory (mode 0700); 0 or -1 (errno). */
int vm_suspend_dir_make(void);

/* Save the running domain `domid` as the image of the VM `uuid`
 * (libxenon's save, as xl save): written to <image>.part in the same
 * directory with the domain left stopped, synced, renamed to the image's
 * name and the directory synced; only then is the domain destroyed. So
 * the image's name never holds a partial file, and a failure before the
 * rename lets the domain run on. 0 or -1 (err printed). `stop` (may be
 * NULL) is asked once the image is written: true (task.cancel) discards
 * it and lets the domain run on, returning 1. */
#include <stdio.h>
int vm_suspend_save(unsigned domid, const char *uuid, bool (*stop)(const void *),
                    const void *arg, FILE *err);

/* Held (class_vm.c) by suspend, resume, the discarding of an image,
 * pool_migrate and VM.revert: each checks the power state under it. */
#include <pthread.h>
extern pthread_mutex_t vm_image_lock;

/* The helper's body: restore FILE, left paused when asked. Exit status
 * 0 when the domain runs; errors on stderr. */
int vm_restore_helper(const char *file, bool paused);

#endif
