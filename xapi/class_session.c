/* session: login, logout and what a client asks about its session. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dispatch.h"
#include "host_info.h"
#include "model.h"

static json_object *login(struct call *c)
{
    int n = (int)json_object_array_length(c->params);
    if (n < 2 || n > 4) {
        char g[16];
        snprintf(g, sizeof(g), "%d", n);
        return fail(c, "MESSAGE_PARAMETER_COUNT_MISMATCH", c->method, "2", g, NULL);
    }
    const char *user = arg_str(c, 0), *pw = user ? arg_str(c, 1) : NULL;
    const char *orig = n == 4 && pw ? arg_str(c, 3) : "";
    if (!pw || !orig)
        return NULL;
    char ref[48];
    if (session_login(user, pw, orig, c->peer, ref) < 0)
        return fail(c, "SESSION_AUTHENTICATION_FAILED", user,
                    "Authentication failure", NULL);
    return json_object_new_string(ref);
}

static json_object *logout(struct call *c)
{
    session_logout(c->session.ref);
    return void_result();
}

/* The session named by params[1] must be the caller's own (XAPI lets
 * pool-admins read others'; one session's view is enough here). */
static bool own(struct call *c)
{
    const char *s = arg_str(c, 1);
    if (!s)
        return false;
    if (strcmp(s, c->session.ref)) {
        fail(c, "HANDLE_INVALID", "session", s, NULL);
        return false;
    }
    return true;
}

static json_object *get_this_host(struct call *c)
{
    return own(c) ? json_object_new_string(host_ref()) : NULL;
}

static json_object *get_this_user(struct call *c)
{
    return own(c) ? json_object_new_string(REF_NULL) : NULL;
}

static json_object *get_uuid(struct call *c)
{
    return own(c) ? json_object_new_string(c->session.uuid) : NULL;
}

static json_object *get_auth_user_name(struct call *c)
{
    return own(c) ? json_object_new_string(c->session.user) : NULL;
}

static json_object *get_is_local_superuser(struct call *c)
{
    return own(c) ? json_object_new_boolean(!strcmp(c->session.user, "root")) : NULL;
}

static json_object *get_rbac_permissions(struct call *c)
{
    return own(c) ? json_object_new_array() : NULL;
}

static json_object *get_record(struct call *c)
{
    if (!own(c))
        return NULL;
    json_object *r = json_object_new_object();
    json_object_object_add(r, "uuid", json_object_new_string(c->session.uuid));
    json_object_object_add(r, "this_host", json_object_new_string(host_ref()));
    json_object_object_add(r, "this_user", json_object_new_string(REF_NULL));
    char t[32];
    time_t now = (time_t)c->session.last_active;
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(t, sizeof(t), "%Y%m%dT%H:%M:%SZ", &tm);
    json_object_object_add(r, "last_active", json_object_new_string(t));
    json_object_object_add(r, "validation_time", json_object_new_string(t));
    json_object_object_add(r, "pool", json_object_new_boolean(0));
    json_object_object_add(r, "other_config", json_object_new_object());
    json_object_object_add(r, "is_local_superuser",
                           json_object_new_boolean(!strcmp(c->session.user, "root")));
    json_object_object_add(r, "subject", json_object_new_string(REF_NULL));
    json_object_object_add(r, "auth_user_sid", json_object_new_string(""));
    json_object_object_add(r, "auth_user_name", json_object_new_string(c->session.user));
    json_object_object_add(r, "rbac_permissions", json_object_new_array());
    json_object_object_add(r, "tasks", json_object_new_array());
    json_object_object_add(r, "parent", json_object_new_string(REF_NULL));
    json_object_object_add(r, "originator", json_object_new_string(c->session.originator));
    json_object_object_add(r, "client_certificate", json_object_new_boolean(0));
    json_object_object_add(r, "xenon_role", json_object_new_string(role_name(c->session.role)));
    return r;
}

const struct xapi_method session_methods[] = {
    { "session.login_with_password", -1, ROLE_NONE, M_NO_SESSION, login },
    { "session.logout", 1, ROLE_READ_ONLY, 0, logout },
    { "session.get_this_host", 2, ROLE_READ_ONLY, 0, get_this_host },
    { "session.get_this_user", 2, ROLE_READ_ONLY, 0, get_this_user },
    { "session.get_uuid", 2, ROLE_READ_ONLY, 0, get_uuid },
    { "session.get_auth_user_name", 2, ROLE_READ_ONLY, 0, get_auth_user_name },
    { "session.get_is_local_superuser", 2, ROLE_READ_ONLY, 0, get_is_local_superuser },
    { "session.get_rbac_permissions", 2, ROLE_READ_ONLY, 0, get_rbac_permissions },
    { "session.get_record", 2, ROLE_READ_ONLY, 0, get_record },
    { NULL, 0, 0, 0, NULL },
};
