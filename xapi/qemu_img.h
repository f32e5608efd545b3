/* qemu-img run for a call (VM.clone/copy/snapshot, VM.revert): argv run
 * with stdin from /dev/null and its output read; true when it exits 0,
 * else false with its last line of output (or the spawn error) in err.
 * A task.cancel of the call's task meanwhile kills it (SIGKILL) and sets
 * *cancelled; the caller removes what it was making. */
#ifndef XAPI_QEMU_IMG_H
#define XAPI_QEMU_IMG_H

#include <stdbool.h>
#include <stddef.h>

#include "dispatch.h"

/* With `-p` in argv, qemu-img's progress figures (0-100 %) move the call's
 * task from `lo` to `hi` (task_progress). */
bool qemu_img_run(const struct call *c, char **argv, double lo, double hi, char *err,
                  size_t errn, bool *cancelled);

#endif
