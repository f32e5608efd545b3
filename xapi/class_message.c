/* message: create, destroy, get, get_since, get_all_records_where (the
 * record's fields are read through the generic getters). The log itself
 * is messages.c. */
#include <stdbool.h>
#include <string.h>

#include "dispatch.h"
#include "messages.h"
#include "model.h"

/* XAPI's cls enum, as the datamodel spells it. */
static bool cls_ok(const char *cls)
{
    static const char *const known[] = { "VM", "Host", "SR", "Pool", "VMPP", "VMSS",
                                         "PVS_proxy", "VDI", "Certificate", NULL };
    for (int i = 0; known[i]; i++)
        if (!strcmp(cls, known[i]))
            return true;
    return false;
}

static json_object *create(struct call *c)
{
    const char *name = arg_str(c, 1);
    bool ok = name != NULL;
    double prio = ok ? arg_num(c, 2, &ok) : 0;
    const char *cls = ok ? arg_str(c, 3) : NULL, *obj = cls ? arg_str(c, 4) : NULL;
    const char *body = obj ? arg_str(c, 5) : NULL;
    if (!body)
        return NULL;
    if (!*name || strlen(name) > 255 || strlen(body) > 65536)
        return fail(c, "INVALID_VALUE", "name", name, NULL);
    if (prio < 1 || prio > 5 || prio != (double)(int)prio)
        return fail(c, "INVALID_VALUE", "priority", json_object_get_string(json_object_array_get_idx(c->params, 2)), NULL);
    if (!cls_ok(cls))
        return fail(c, "INVALID_VALUE", "cls", cls, NULL);
    model_lock();
    json_object *r = json_object_new_string(message_add(name, (int64_t)prio, cls, obj, body));
    model_unlock();
    return r;
}

static json_object *destroy(struct call *c)
{
    const char *ref = arg_str(c, 1);
    if (!ref)
        return NULL;
    model_lock();
    bool ok = model_get("message", ref) != NULL;
    if (ok) {
        message_forget(ref);
        model_del("message", ref);
    }
    model_unlock();
    return ok ? void_result() : fail(c, "HANDLE_INVALID", "message", ref, NULL);
}

/* The messages (ref -> record) after `since` (unix time), of one object
 * when cls is given. */
static json_object *since_of(struct call *c, int since_arg, const char *cls, const char *obj)
{
    json_object *p = json_object_array_get_idx(c->params, (size_t)since_arg);
    int64_t since;
    if (p && (json_object_is_type(p, json_type_int) || json_object_is_type(p, json_type_double)))
        since = (int64_t)json_object_get_double(p);
    else if ((since = message_parse_time(p ? json_object_get_string(p) : NULL)) < 0)
        return fail(c, "FIELD_TYPE_ERROR", "since", NULL);
    json_object *res = json_object_new_object();
    model_lock();
    json_object *all = model_class("message");
    if (all) {
        json_object_object_foreach(all, ref, m) {
            json_object *f;
            if (!json_object_object_get_ex(m, "timestamp", &f) ||
                message_parse_time(json_object_get_string(f)) <= since)
                continue;
            if (cls && (!json_object_object_get_ex(m, "cls", &f) ||
                        strcmp(json_object_get_string(f), cls) ||
                        !json_object_object_get_ex(m, "obj_uuid", &f) ||
                        strcmp(json_object_get_string(f), obj)))
                continue;
            json_object_object_add(res, ref, model_copy(m));
        }
    }
    model_unlock();
    return res;
}

/* message.get(session, cls, obj_uuid, since) */
static json_object *get(struct call *c)
{
    const char *cls = arg_str(c, 1), *obj = cls ? arg_str(c, 2) : NULL;
    return obj ? since_of(c, 3, cls, obj) : NULL;
}

/* message.get_since(session, since) */
static json_object *get_since(struct call *c)
{
    return since_of(c, 1, NULL, NULL);
}

const struct xapi_method message_methods[] = {
    { "message.create", 6, ROLE_POOL_OPERATOR, 0, create },
    { "message.destroy", 2, ROLE_POOL_OPERATOR, 0, destroy },
    { "message.get", 4, ROLE_READ_ONLY, 0, get },
    { "message.get_since", 2, ROLE_READ_ONLY, 0, get_since },
    { NULL, 0, 0, 0, NULL },
};
