/* pool's own methods: the record lives only here (a pool of one host), so
 * its setters change the model itself. The record is built in
 * class_host.c with the host's. */
#include <string.h>

#include "dispatch.h"
#include "host_info.h"
#include "model.h"

/* Apply fn to a copy of the pool record and store it. */
static json_object *edit_pool(struct call *c, void (*fn)(json_object *rec, struct call *c))
{
    const char *ref = arg_str(c, 1);
    if (!ref)
        return NULL;
    model_lock();
    json_object *rec = model_get("pool", ref);
    if (!rec) {
        model_unlock();
        return fail(c, "HANDLE_INVALID", "pool", ref, NULL);
    }
    json_object *n = model_copy(rec);
    fn(n, c);
    if (c->error)
        json_object_put(n);
    else
        model_put("pool", ref, n);
    model_unlock();
    return c->error ? NULL : void_result();
}

static void add_oc(json_object *rec, struct call *c)
{
    const char *k = arg_str(c, 2), *v = k ? arg_str(c, 3) : NULL;
    json_object *oc;
    if (!v || !json_object_object_get_ex(rec, "other_config", &oc))
        return;
    if (json_object_object_get_ex(oc, k, NULL)) {
        fail(c, "MAP_DUPLICATE_KEY", "pool", "other_config", json_object_get_string(
                 json_object_array_get_idx(c->params, 1)), k, NULL);
        return;
    }
    json_object_object_add(oc, k, json_object_new_string(v));
}

static void remove_oc(json_object *rec, struct call *c)
{
    const char *k = arg_str(c, 2);
    json_object *oc;
    if (k && json_object_object_get_ex(rec, "other_config", &oc))
        json_object_object_del(oc, k);
}

static void set_label(json_object *rec, struct call *c)
{
    const char *v = arg_str(c, 2);
    if (v)
        json_object_object_add(rec, "name_label", json_object_new_string(v));
}

static json_object *pool_add_to_other_config(struct call *c) { return edit_pool(c, add_oc); }
static json_object *pool_remove_from_other_config(struct call *c) { return edit_pool(c, remove_oc); }
static json_object *pool_set_name_label(struct call *c) { return edit_pool(c, set_label); }

const struct xapi_method pool_methods[] = {
    { "pool.add_to_other_config", 4, ROLE_POOL_OPERATOR, 0, pool_add_to_other_config },
    { "pool.remove_from_other_config", 3, ROLE_POOL_OPERATOR, 0, pool_remove_from_other_config },
    { "pool.set_name_label", 3, ROLE_POOL_OPERATOR, 0, pool_set_name_label },
    { NULL, 0, 0, 0, NULL },
};
