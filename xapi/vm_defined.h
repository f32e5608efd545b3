/* A VM of the model that has a definition (the xl.cfg this daemon keeps
 * for it, other_config:xenon_config_file): what the calls that change or
 * copy that definition need of its record, read under the model lock. */
#ifndef XENON_XAPI_VM_DEFINED_H
#define XENON_XAPI_VM_DEFINED_H

#include <stdbool.h>

#include "dispatch.h"
#include "domain.h"

struct vm_defined {
    char ref[48], power[16], path[XENON_PATH_MAX + 300], name[256], uuid[40];
    long domid;
    bool tmpl, snap;        /* is_a_template, is_a_snapshot */
};

/* The VM of params[1], or false with c's error set: HANDLE_INVALID, the
 * control domain, or a VM with no definition ("the VM has no definition
 * (made by xl create): " followed by `why`). */
bool vm_defined_of(struct call *c, struct vm_defined *v, const char *why);

/* Whether it is in power state `state` ("Halted", "Running"); otherwise
 * false with VM_BAD_POWER_STATE [ref, state, its state], both in lower
 * case, as XenAPI answers. */
bool vm_defined_in(struct call *c, const struct vm_defined *v, const char *state);

#endif
