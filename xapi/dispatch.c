/* Method lookup, session and role checks, and the generic getters
 * (dispatch.h). */
#include "dispatch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/printbuf.h>

#include "model.h"
#include "rpc.h"
#include "tasks.h"

static const struct xapi_method *const tables[] = {
    session_methods, pool_methods, host_methods, vm_methods, vm_define_methods, task_methods,
    event_methods, system_methods, vm_set_methods, device_methods, event_legacy_methods, vm_clone_methods, vm_revert_methods,
    obj_set_methods, vdi_methods, device_create_methods, message_methods, NULL,
};

json_object *fail(struct call *c, const char *code, ...)
{
    json_object *a = json_object_new_array();
    json_object_array_add(a, json_object_new_string(code));
    va_list ap;
    va_start(ap, code);
    for (const char *s; (s = va_arg(ap, const char *));)
        json_object_array_add(a, json_object_new_string(s));
    va_end(ap);
    json_object_put(c->error);
    c->error = a;
    return NULL;
}

json_object *void_result(void)
{
    return json_object_new_string("");
}

static json_object *param(struct call *c, int i)
{
    return json_object_array_get_idx(c->params, (size_t)i);
}

const char *arg_str(struct call *c, int i)
{
    json_object *p = param(c, i);
    if (!json_object_is_type(p, json_type_string)) {
        fail(c, "FIELD_TYPE_ERROR", "string", NULL);
        return NULL;
    }
    return json_object_get_string(p);
}

bool arg_bool(struct call *c, int i, bool *ok)
{
    json_object *p = param(c, i);
    *ok = json_object_is_type(p, json_type_boolean);
    if (!*ok)
        fail(c, "FIELD_TYPE_ERROR", "bool", NULL);
    return *ok && json_object_get_boolean(p);
}

double arg_num(struct call *c, int i, bool *ok)
{
    json_object *p = param(c, i);
    *ok = json_object_is_type(p, json_type_double) || json_object_is_type(p, json_type_int);
    if (!*ok && json_object_is_type(p, json_type_string)) {
        /* XML-RPC clients may send numbers as strings (XAPI's int64s) */
        char *end;
        double d = strtod(json_object_get_string(p), &end);
        if (end != json_object_get_string(p) && !*end)
            return *ok = true, d;
    }
    if (!*ok) {
        fail(c, "FIELD_TYPE_ERROR", "float", NULL);
        return 0;
    }
    return json_object_get_double(p);
}

const struct xapi_method *dispatch_find(const char *name)
{
    for (int t = 0; tables[t]; t++)
        for (const struct xapi_method *m = tables[t]; m->name; m++)
            if (!strcmp(m->name, name))
                return m;
    return NULL;
}

/* --- generic getters of classes with records --- */

static const char *class_of(const char *method, char *cls, size_t n, const char **op)
{
    const char *dot = strchr(method, '.');
    if (!dot || (size_t)(dot - method) >= n)
        return NULL;
    memcpy(cls, method, (size_t)(dot - method));
    cls[dot - method] = 0;
    for (int i = 0; model_classes[i]; i++) {
        if (!strcmp(model_classes[i], cls)) {
            *op = dot + 1;
            return model_classes[i];
        }
    }
    return NULL;
}

static int write_text(json_object *o, struct printbuf *pb, int level, int flags)
{
    const char *t = json_object_get_userdata(o);
    return printbuf_memappend(pb, t, (int)strlen(t));
}

/* An object that json-c writes out as the given JSON text (consumed). */
static json_object *prerendered(char *text)
{
    if (!text)
        return NULL;
    json_object *o = json_object_new_object();
    json_object_set_serializer(o, write_text, text, json_object_free_userdata);
    return o;
}

static bool has_name_label(const char *cls)
{
    return strcmp(cls, "host_metrics") && strcmp(cls, "VM_metrics") &&
           strcmp(cls, "VM_guest_metrics") && strcmp(cls, "console") &&
           strcmp(cls, "host_cpu") && strcmp(cls, "message") && strcmp(cls, "VBD") &&
           strcmp(cls, "VIF") && strcmp(cls, "PBD") && strcmp(cls, "PIF");
}

/* The answer of a generic getter, NULL with c->error when it fails; -1 in
 * *nargs when `op` is not one. */
static json_object *generic(struct call *c, const char *cls, const char *op)
{
    json_object *all = model_class(cls), *res = NULL;
    /* a reference or uuid is a string: anything else (null, a number)
     * names nothing */
    json_object *p1 = param(c, 1);
    const char *a1 = json_object_is_type(p1, json_type_string) ? json_object_get_string(p1) : "";
    if (!strcmp(op, "get_all")) {
        res = json_object_new_array();
        if (all) {
            json_object_object_foreach(all, ref, rec) {
                (void)rec;
                json_object_array_add(res, json_object_new_string(ref));
            }
        }
    } else if (!strcmp(op, "get_all_records")) {
        if (c->json_wire)
            return prerendered(model_class_json(cls));
        res = all ? model_copy(all) : json_object_new_object();
    } else if (!strcmp(op, "get_by_uuid")) {
        const char *ref = model_find(cls, "uuid", a1);
        if (!ref)
            return fail(c, "UUID_INVALID", cls, a1, NULL);
        res = json_object_new_string(ref);
    } else if (!strcmp(op, "get_by_name_label")) {
        res = json_object_new_array();
        if (all) {
            json_object_object_foreach(all, ref, rec) {
                json_object *f;
                if (json_object_object_get_ex(rec, "name_label", &f) &&
                    !strcmp(json_object_get_string(f), a1))
                    json_object_array_add(res, json_object_new_string(ref));
            }
        }
    } else {
        json_object *rec = model_get(cls, a1);
        if (!rec)
            return fail(c, "HANDLE_INVALID", cls, a1, NULL);
        if (!strcmp(op, "get_record"))
            return model_copy(rec);
        json_object *f;
        if (!strncmp(op, "get_", 4) && json_object_object_get_ex(rec, op + 4, &f))
            return model_copy(f);
        return NULL;
    }
    return res;
}

static int generic_nargs(const char *op)
{
    return !strcmp(op, "get_all") || !strcmp(op, "get_all_records") ? 1 : 2;
}

static bool is_generic(const char *cls, const char *op)
{
    if (!strcmp(op, "get_by_name_label"))
        return has_name_label(cls);
    return !strcmp(op, "get_all") || !strcmp(op, "get_all_records") ||
           !strcmp(op, "get_by_uuid") || !strncmp(op, "get_", 4);
}

json_object *dispatch_list(void)
{
    json_object *a = json_object_new_array();
    static const char *const ops[] = { "get_all", "get_all_records", "get_record",
                                       "get_by_uuid", "get_by_name_label", NULL };
    for (int i = 0; model_classes[i]; i++) {
        for (int k = 0; ops[k]; k++) {
            if (is_generic(model_classes[i], ops[k])) {
                char n[96];
                snprintf(n, sizeof(n), "%s.%s", model_classes[i], ops[k]);
                json_object_array_add(a, json_object_new_string(n));
            }
        }
    }
    for (int t = 0; tables[t]; t++) {
        for (const struct xapi_method *m = tables[t]; m->name; m++) {
            json_object_array_add(a, json_object_new_string(m->name));
            if (m->flags & M_ASYNC) {
                char n[128];
                snprintf(n, sizeof(n), "Async.%s", m->name);
                json_object_array_add(a, json_object_new_string(n));
            }
        }
    }
    return a;
}

static bool check_count(struct call *c, const char *name, int want)
{
    int got = (int)json_object_array_length(c->params);
    if (want >= 0 && got != want) {
        char w[16], g[16];
        snprintf(w, sizeof(w), "%d", want);
        snprintf(g, sizeof(g), "%d", got);
        fail(c, "MESSAGE_PARAMETER_COUNT_MISMATCH", name, w, g, NULL);
        return false;
    }
    return true;
}

static bool check_session(struct call *c)
{
    json_object *s = param(c, 0);
    const char *ref = json_object_is_type(s, json_type_string) ? json_object_get_string(s) : "";
    if (session_lookup(ref, &c->session) < 0) {
        fail(c, "SESSION_INVALID", ref, NULL);
        return false;
    }
    return true;
}

static bool check_role(struct call *c, const char *name, enum role need)
{
    if (role_allows(c->session.role, need))
        return true;
    fail(c, "RBAC_PERMISSION_DENIED", name, "No permission in user session", NULL);
    return false;
}

json_object *dispatch_call(const char *method, json_object *params, const char *peer,
                           json_object **error)
{
    return dispatch_call_ex(method, params, peer, 0, error);
}

json_object *dispatch_call_ex(const char *method, json_object *params, const char *peer,
                              unsigned flags, json_object **error)
{
    struct call c = { .method = method, .params = params, .peer = peer,
                      .json_wire = flags & DISPATCH_JSON };
    json_object *res = NULL;
    bool async = !strncmp(method, "Async.", 6);
    const char *name = async ? method + 6 : method;
    const struct xapi_method *m = dispatch_find(name);
    char clsbuf[32];
    const char *op = NULL, *cls = NULL;
    if (!m && !async)
        cls = class_of(name, clsbuf, sizeof(clsbuf), &op);
    if (m && (!async || (m->flags & M_ASYNC))) {
        if (check_count(&c, name, m->nargs) &&
            ((m->flags & M_NO_SESSION) || check_session(&c)) &&
            ((m->flags & M_NO_SESSION) || check_role(&c, name, m->min_role)))
            res = async ? task_run_async(&c, m) : m->fn(&c);
    } else if (cls && is_generic(cls, op)) {
        if (check_count(&c, name, generic_nargs(op)) && check_session(&c) &&
            check_role(&c, name, ROLE_READ_ONLY)) {
            model_lock();
            res = generic(&c, cls, op);
            model_unlock();
            if (!res && !c.error)
                fail(&c, "MESSAGE_METHOD_UNKNOWN", method, NULL);
        }
    } else {
        fail(&c, "MESSAGE_METHOD_UNKNOWN", method, NULL);
    }
    if (!res && !c.error)
        fail(&c, "INTERNAL_ERROR", "no result", NULL);
    if (c.error) {
        json_object_put(res);
        *error = c.error;
        return NULL;
    }
    *error = NULL;
    return res;
}
