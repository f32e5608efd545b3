/* task: create, destroy, cancel (the record's fields are read through
 * the generic getters). Only the task's owner or a pool-admin may destroy
 * or cancel it. */
#include <string.h>

#include "dispatch.h"
#include "model.h"
#include "tasks.h"

static json_object *create(struct call *c)
{
    const char *label = arg_str(c, 1), *desc = label ? arg_str(c, 2) : NULL;
    if (!desc)
        return NULL;
    json_object *t = task_record(label, desc);
    json_object *oc = json_object_new_object();
    json_object_object_add(oc, "xenon:session_user", json_object_new_string(c->session.user));
    json_object_object_add(t, "other_config", oc);
    char ref[48];
    model_new_ref(ref);
    model_lock();
    model_put("task", ref, t);
    model_unlock();
    return json_object_new_string(ref);
}

/* locked: the task record when the caller may act on it. */
static json_object *mine(struct call *c, const char *ref)
{
    json_object *t = model_get("task", ref), *oc, *u;
    if (!t) {
        fail(c, "HANDLE_INVALID", "task", ref, NULL);
        return NULL;
    }
    if (c->session.role < ROLE_POOL_ADMIN &&
        (!json_object_object_get_ex(t, "other_config", &oc) ||
         !json_object_object_get_ex(oc, "xenon:session_user", &u) ||
         strcmp(json_object_get_string(u), c->session.user))) {
        fail(c, "RBAC_PERMISSION_DENIED", c->method, "Not the task's owner", NULL);
        return NULL;
    }
    return t;
}

static json_object *destroy(struct call *c)
{
    const char *ref = arg_str(c, 1);
    if (!ref)
        return NULL;
    model_lock();
    bool ok = mine(c, ref) != NULL;
    if (ok)
        model_del("task", ref);
    model_unlock();
    return ok ? void_result() : NULL;
}

/* A pending task is marked cancelling (an event); the operation stops
 * where it can stop cleanly (tasks.h: clean_shutdown's wait, clone's,
 * copy's and revert's disk copies, a start or suspend queued on the
 * image lock or just done, a queued pool_migrate) and the task ends
 * "cancelled"; one that cannot be stopped ends as it would have. */
static json_object *cancel(struct call *c)
{
    const char *ref = arg_str(c, 1);
    if (!ref)
        return NULL;
    model_lock();
    json_object *t = mine(c, ref), *st;
    if (t && json_object_object_get_ex(t, "status", &st) &&
        !strcmp(json_object_get_string(st), "pending")) {
        json_object *n = model_copy(t);
        json_object_object_add(n, "status", json_object_new_string("cancelling"));
        model_put("task", ref, n);
    }
    model_unlock();
    return t ? void_result() : NULL;
}

const struct xapi_method task_methods[] = {
    { "task.create", 3, ROLE_READ_ONLY, 0, create },
    { "task.destroy", 2, ROLE_READ_ONLY, 0, destroy },
    { "task.cancel", 2, ROLE_READ_ONLY, 0, cancel },
    { NULL, 0, 0, 0, NULL },
};
