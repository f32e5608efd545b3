/* See vm_record.h. */
#include "vm_record.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "model.h"

static void lower(const char *s, char *out, size_t n)
{
    size_t i = 0;
    for (; s[i] && i < n - 1; i++)
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
    out[i] = 0;
}

bool vm_record_of(struct call *c, struct vm_record *t)
{
    const char *ref = arg_str(c, 1);
    return ref && vm_record_by_ref(c, ref, t);
}

bool vm_record_by_ref(struct call *c, const char *ref, struct vm_record *t)
{
    memset(t, 0, sizeof(*t));
    model_lock();
    json_object *r = model_get("VM", ref), *f, *oc;
    bool control = false;
    if (r) {
        snprintf(t->ref, sizeof(t->ref), "%s", ref);
        if (json_object_object_get_ex(r, "power_state", &f))
            snprintf(t->power, sizeof(t->power), "%s", json_object_get_string(f));
        if (json_object_object_get_ex(r, "name_label", &f))
            snprintf(t->name, sizeof(t->name), "%s", json_object_get_string(f));
        if (json_object_object_get_ex(r, "uuid", &f))
            snprintf(t->uuid, sizeof(t->uuid), "%s", json_object_get_string(f));
        if (json_object_object_get_ex(r, "domid", &f))
            t->domid = (long)json_object_get_int64(f);
        if (json_object_object_get_ex(r, "is_control_domain", &f))
            control = json_object_get_boolean(f);
        t->tmpl = json_object_object_get_ex(r, "is_a_template", &f) && json_object_get_boolean(f);
        t->snap = json_object_object_get_ex(r, "is_a_snapshot", &f) && json_object_get_boolean(f);
        if (json_object_object_get_ex(r, "other_config", &oc) &&
            json_object_object_get_ex(oc, "xenon_config_file", &f))
            snprintf(t->path, sizeof(t->path), "%s", json_object_get_string(f));
    }
    model_unlock();
    if (!r)
        return fail(c, "HANDLE_INVALID", "VM", ref, NULL), false;
    if (control)
        return fail(c, "OPERATION_NOT_ALLOWED", "not on the control domain", NULL), false;
    return true;
}

bool vm_defined_of(struct call *c, struct vm_record *v, const char *why)
{
    if (!vm_record_of(c, v))
        return false;
    if (!v->path[0]) {
        char msg[160];
        snprintf(msg, sizeof(msg), "the VM has no definition (made by xl create): %s", why);
        return fail(c, "OPERATION_NOT_ALLOWED", msg, NULL), false;
    }
    return true;
}

bool vm_record_in(struct call *c, const struct vm_record *v, const char *state)
{
    if (!strcmp(v->power, state))
        return true;
    char want[16], got[16];
    lower(state, want, sizeof(want));
    lower(v->power, got, sizeof(got));
    fail(c, "VM_BAD_POWER_STATE", v->ref, want, got, NULL);
    return false;
}
