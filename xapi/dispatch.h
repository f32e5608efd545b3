/* The dispatch table: every method the daemon answers, with its argument
 * count (the session included), the least role that may call it and
 * whether Async.<name> may run it as a task. Each class file contributes
 * its own table (class_*.c); the generic getters of every class with
 * records (get_all, get_all_records, get_record, get_by_uuid,
 * get_by_name_label, get_<field>) are answered from the model here. */
#ifndef XAPI_DISPATCH_H
#define XAPI_DISPATCH_H

#include <json-c/json.h>
#include <stdbool.h>

#include "rbac.h"
#include "session.h"

struct call {
    const char *method;
    json_object *params;        /* array; params[0] is the session when needed */
    struct session_info session;
    const char *peer;           /* the client's address, for logs */
    bool json_wire;             /* the answer goes out as JSON (JSON-RPC) */
    json_object *error;         /* set by a failing handler: [CODE, params...] */
    const char *task;           /* the task running it (Async.*), else NULL */
};

typedef json_object *(*xapi_handler)(struct call *c);

#define M_NO_SESSION 1u     /* no session argument (login, listMethods) */
#define M_ASYNC 2u          /* may be called as Async.<name> */

struct xapi_method {
    const char *name;
    int nargs;              /* including the session; -1: checked by the handler */
    enum role min_role;
    unsigned flags;
    xapi_handler fn;
};

/* Each class file's table, NULL-name terminated. */
extern const struct xapi_method session_methods[], pool_methods[], host_methods[],
    vm_methods[], vm_define_methods[], task_methods[], event_methods[], system_methods[],
    vm_set_methods[], device_methods[], event_legacy_methods[], vm_clone_methods[],
    vm_revert_methods[], obj_set_methods[], vdi_methods[], device_create_methods[],
    message_methods[];

/* Run one call. Returns the result (new), or NULL with *error set (new). */
json_object *dispatch_call(const char *method, json_object *params, const char *peer,
                           json_object **error);
/* The same; with DISPATCH_JSON the result may be a json-c object that
 * serialises to pre-made JSON text (get_all_records), which only the
 * JSON-RPC encoder can write. */
#define DISPATCH_JSON 1u
json_object *dispatch_call_ex(const char *method, json_object *params, const char *peer,
                              unsigned flags, json_object **error);

/* Run a method's handler for a task (tasks.c): the call is already
 * checked. */
const struct xapi_method *dispatch_find(const char *name);

/* All method names (system.listMethods). */
json_object *dispatch_list(void);

/* Argument helpers: the i-th parameter as a string / bool / number, or NULL
 * / false / 0 with c->error set to FIELD_TYPE_ERROR. */
const char *arg_str(struct call *c, int i);
bool arg_bool(struct call *c, int i, bool *ok);
double arg_num(struct call *c, int i, bool *ok);

/* c->error = [code, args...]; returns NULL for `return fail(...)`. */
json_object *fail(struct call *c, const char *code, ...) __attribute__((sentinel));

/* The void result, "" as XAPI. */
json_object *void_result(void);

#endif
