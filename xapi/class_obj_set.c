/* Setters and map calls of VDI, SR, network (name_label, name_description,
 * other_config) and VBD, VIF (other_config): what the client sets is kept
 * as the object's overlay (obj_meta.h) and the record stored again with
 * it, so its mod event follows at once. XAPI's rules: MAP_DUPLICATE_KEY on
 * add_to_other_config of a present key, removing an absent key is no
 * error. Keys "xenon_*" are the daemon's reports of the host and may not
 * be set (INVALID_VALUE). Roles as XAPI's datamodel gives them: VDI, VBD
 * and VIF vm-admin; SR and network (their names and other_config)
 * pool-operator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "model.h"
#include "obj_meta.h"

#define MAX_TEXT 4096
#define MAX_KEY 256
#define MAX_ENTRIES 256

enum op { SET_NAME, SET_DESC, SET_MAP, ADD_KEY, REMOVE_KEY };

static bool good_key(struct call *c, const char *k, const char *v)
{
    if (!*k || strlen(k) > MAX_KEY || !strncmp(k, "xenon_", 6) || (v && strlen(v) > MAX_TEXT)) {
        fail(c, "INVALID_VALUE", "other_config", k, NULL);
        return false;
    }
    return true;
}

/* The overlay o changed by the call (false with c->error). */
static bool change(struct call *c, const char *cls, const char *ref, enum op op, json_object *o)
{
    json_object *m;
    if (op == SET_NAME || op == SET_DESC) {
        const char *s = arg_str(c, 2);
        if (!s)
            return false;
        if (strlen(s) > MAX_TEXT)
            return fail(c, "INVALID_VALUE", op == SET_NAME ? "name_label" : "name_description",
                        "too long", NULL), false;
        json_object_object_add(o, op == SET_NAME ? "name_label" : "name_description",
                               json_object_new_string(s));
        return true;
    }
    if (!json_object_object_get_ex(o, "other_config", &m)) {
        m = json_object_new_object();
        json_object_object_add(o, "other_config", m);
    }
    if (op == SET_MAP) {
        json_object *in = json_object_array_get_idx(c->params, 2);
        if (!json_object_is_type(in, json_type_object))
            return fail(c, "FIELD_TYPE_ERROR", "other_config", NULL), false;
        if (json_object_object_length(in) > MAX_ENTRIES)
            return fail(c, "INVALID_VALUE", "other_config", "too many entries", NULL), false;
        json_object *n = json_object_new_object();
        json_object_object_foreach(in, k, v) {
            if (!json_object_is_type(v, json_type_string)) {
                json_object_put(n);
                return fail(c, "FIELD_TYPE_ERROR", "other_config", NULL), false;
            }
            if (!good_key(c, k, json_object_get_string(v))) {
                json_object_put(n);
                return false;
            }
            json_object_object_add(n, k, json_object_new_string(json_object_get_string(v)));
        }
        json_object_object_add(o, "other_config", n);
        return true;
    }
    const char *k = arg_str(c, 2);
    if (!k)
        return false;
    if (op == REMOVE_KEY) {
        json_object_object_del(m, k);
        return true;
    }
    const char *v = arg_str(c, 3);
    if (!v || !good_key(c, k, v))
        return false;
    if (json_object_object_get_ex(m, k, NULL))
        return fail(c, "MAP_DUPLICATE_KEY", cls, "other_config", ref, k, NULL), false;
    if (json_object_object_length(m) >= MAX_ENTRIES)
        return fail(c, "INVALID_VALUE", "other_config", "too many entries", NULL), false;
    json_object_object_add(m, k, json_object_new_string(v));
    return true;
}

static json_object *obj_set(struct call *c, enum op op)
{
    char cls[16];
    const char *dot = strchr(c->method, '.');
    if (!dot || (size_t)(dot - c->method) >= sizeof(cls))
        return fail(c, "MESSAGE_METHOD_UNKNOWN", c->method, NULL);
    snprintf(cls, sizeof(cls), "%.*s", (int)(dot - c->method), c->method);
    const char *r = arg_str(c, 1);
    if (!r)
        return NULL;
    char ref[64], uuid[40];
    snprintf(ref, sizeof(ref), "%s", r);
    model_lock();
    json_object *rec = model_get(cls, ref), *u;
    if (!rec || !json_object_object_get_ex(rec, "uuid", &u)) {
        model_unlock();
        return fail(c, "HANDLE_INVALID", cls, ref, NULL);
    }
    snprintf(uuid, sizeof(uuid), "%s", json_object_get_string(u));
    json_object *o = obj_meta_get(cls, uuid), *res = NULL;
    char err[200];
    if (change(c, cls, ref, op, o)) {
        json_object *m;
        if (json_object_object_get_ex(o, "other_config", &m) && !json_object_object_length(m))
            json_object_object_del(o, "other_config");
        if (obj_meta_put(cls, uuid, o, err, sizeof(err)) < 0) {
            fail(c, "INTERNAL_ERROR", err, NULL);
        } else {
            /* stored again: model_put lays the new overlay on it */
            model_put(cls, ref, model_copy(rec));
            res = void_result();
        }
    }
    json_object_put(o);
    model_unlock();
    return res;
}

static json_object *set_name_label(struct call *c) { return obj_set(c, SET_NAME); }
static json_object *set_name_description(struct call *c) { return obj_set(c, SET_DESC); }
static json_object *set_other_config(struct call *c) { return obj_set(c, SET_MAP); }
static json_object *add_to_other_config(struct call *c) { return obj_set(c, ADD_KEY); }
static json_object *remove_from_other_config(struct call *c) { return obj_set(c, REMOVE_KEY); }

#define NAMES(cls, role) \
    { cls ".set_name_label", 3, role, 0, set_name_label }, \
    { cls ".set_name_description", 3, role, 0, set_name_description }
#define MAP(cls, role) \
    { cls ".set_other_config", 3, role, 0, set_other_config }, \
    { cls ".add_to_other_config", 4, role, 0, add_to_other_config }, \
    { cls ".remove_from_other_config", 3, role, 0, remove_from_other_config }

const struct xapi_method obj_set_methods[] = {
    NAMES("VDI", ROLE_VM_ADMIN), MAP("VDI", ROLE_VM_ADMIN),
    NAMES("SR", ROLE_POOL_OPERATOR), MAP("SR", ROLE_POOL_OPERATOR),
    NAMES("network", ROLE_POOL_OPERATOR), MAP("network", ROLE_POOL_OPERATOR),
    MAP("VBD", ROLE_VM_ADMIN), MAP("VIF", ROLE_VM_ADMIN),
    { NULL, 0, 0, 0, NULL },
};
