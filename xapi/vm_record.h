/* A VM's record in the model, as the calls that act on one need it,
 * read under the model lock: the VM of params[1], its power state, names,
 * domid, template flags, and its definition (the xl.cfg this daemon keeps
 * for it, other_config:xenon_config_file; empty for one made by xl create). */
#ifndef XENON_XAPI_VM_RECORD_H
#define XENON_XAPI_VM_RECORD_H

#include <stdbool.h>

#include "dispatch.h"
#include "domain.h"

struct vm_record {
    char ref[48], power[16], path[XENON_PATH_MAX + 300], name[256], uuid[40];
    long domid;
    bool tmpl, snap;        /* is_a_template, is_a_snapshot */
};

/* The VM of params[1], or false with c's error set: HANDLE_INVALID, or
 * OPERATION_NOT_ALLOWED for the control domain. */
bool vm_record_of(struct call *c, struct vm_record *v);
/* The same for the VM `ref`. */
bool vm_record_by_ref(struct call *c, const char *ref, struct vm_record *v);

/* The same for a VM that must have a definition: also OPERATION_NOT_ALLOWED
 * "the VM has no definition (made by xl create): " followed by `why`. */
bool vm_defined_of(struct call *c, struct vm_record *v, const char *why);

/* Whether it is in power state `state` ("Halted", "Running"); otherwise
 * false with VM_BAD_POWER_STATE [ref, state, its state], both in lower
 * case, as XenAPI answers. */
bool vm_record_in(struct call *c, const struct vm_record *v, const char *state);

#endif
