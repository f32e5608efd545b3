/* The dispatch table as a whole: every method has a handler and declares
 * the least role that may call it (only the session-less ones none);
 * what changes a VM needs vm-operator, what changes the pool
 * pool-operator; names are unique; and the checks run in XAPI's order:
 * unknown method, argument count, session, role. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "dispatch.h"
#include "model.h"

static int failures;

#define CHECK(what, cond)                                                  \
    do {                                                                   \
        bool ok_ = (cond);                                                 \
        printf("%s %s\n", ok_ ? "ok  " : "FAIL", what);                    \
        if (!ok_)                                                          \
            failures++;                                                    \
    } while (0)

static const struct xapi_method *const tables[] = {
    session_methods, pool_methods, host_methods, vm_methods, vm_define_methods, task_methods,
    event_methods, system_methods, NULL,
};

static bool code_is(json_object *err, const char *code)
{
    return err && !strcmp(json_object_get_string(json_object_array_get_idx(err, 0)), code);
}

int main(void)
{
    model_init();
    bool handlers = true, roles = true, vm_roles = true, pool_roles = true, unique = true,
         async_vm = true;
    int n = 0;
    for (int t = 0; tables[t]; t++) {
        for (const struct xapi_method *m = tables[t]; m->name; m++, n++) {
            handlers &= m->fn != NULL;
            if (!(m->flags & M_NO_SESSION))
                roles &= m->min_role >= ROLE_READ_ONLY;
            else
                roles &= !strcmp(m->name, "session.login_with_password") ||
                         !strcmp(m->name, "system.listMethods");
            if (!strncmp(m->name, "VM.", 3))
                vm_roles &= m->min_role >= ROLE_VM_OPERATOR;
            if (!strncmp(m->name, "pool.", 5))
                pool_roles &= m->min_role >= ROLE_POOL_OPERATOR;
            if (m->flags & M_ASYNC)
                async_vm &= !strncmp(m->name, "VM.", 3);
            unique &= dispatch_find(m->name) == m;
        }
    }
    printf("%d methods\n", n);
    CHECK("every method has a handler", handlers);
    CHECK("every method with a session declares a role; only login and listMethods have none", roles);
    CHECK("VM operations need vm-operator at least", vm_roles);
    CHECK("pool changes need pool-operator at least", pool_roles);
    CHECK("Async only for VM operations", async_vm);
    CHECK("names are unique", unique);

    json_object *p = json_object_new_array(), *err;
    json_object_array_add(p, json_object_new_string("OpaqueRef:forged"));
    json_object *r = dispatch_call("VM.get_all", p, "test", &err);
    CHECK("a forged session: SESSION_INVALID", !r && code_is(err, "SESSION_INVALID"));
    json_object_put(err);
    r = dispatch_call("VM.start", p, "test", &err);
    CHECK("argument count is checked before the session",
          !r && code_is(err, "MESSAGE_PARAMETER_COUNT_MISMATCH"));
    json_object_put(err);
    r = dispatch_call("VM.nonsense", p, "test", &err);
    CHECK("an unknown method: MESSAGE_METHOD_UNKNOWN", !r && code_is(err, "MESSAGE_METHOD_UNKNOWN"));
    json_object_put(err);
    r = dispatch_call("Async.event.from", p, "test", &err);
    CHECK("Async of a method that has none: MESSAGE_METHOD_UNKNOWN",
          !r && code_is(err, "MESSAGE_METHOD_UNKNOWN"));
    json_object_put(err);
    json_object_put(p);
    p = json_object_new_array();
    r = dispatch_call("system.listMethods", p, "test", &err);
    bool lists = false;
    for (size_t i = 0; r && i < json_object_array_length(r); i++)
        lists |= !strcmp(json_object_get_string(json_object_array_get_idx(r, i)), "VM.get_all_records");
    CHECK("system.listMethods needs no session and lists VM.get_all_records", lists);
    json_object_put(r);
    json_object_put(p);
    CHECK("role names round-trip", role_from_name(role_name(ROLE_VM_POWER_ADMIN)) == ROLE_VM_POWER_ADMIN &&
          role_from_name("root") == ROLE_NONE);
    CHECK("root is pool-admin", rbac_role_of("root") == ROLE_POOL_ADMIN);
    CHECK("a user not in the roles file has no role", rbac_role_of("nobody") == ROLE_NONE);
    printf("%s\n", failures ? "FAILED" : "all passed");
    return failures ? 1 : 0;
}
