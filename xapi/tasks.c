/* Async calls as tasks (tasks.h). */
#include "tasks.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host_info.h"
#include "log.h"
#include "model.h"
#include "xmlrpc.h"

static json_object *now_str(void)
{
    char b[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(b, sizeof(b), "%Y%m%dT%H:%M:%SZ", &tm);
    return json_object_new_string(b);
}

json_object *task_record(const char *label, const char *description)
{
    char uuid[40];
    model_new_uuid(uuid);
    json_object *t = json_object_new_object();
    json_object_object_add(t, "uuid", json_object_new_string(uuid));
    json_object_object_add(t, "name_label", json_object_new_string(label));
    json_object_object_add(t, "name_description", json_object_new_string(description));
    json_object_object_add(t, "allowed_operations", json_object_new_array());
    json_object_object_add(t, "current_operations", json_object_new_object());
    json_object_object_add(t, "created", now_str());
    json_object_object_add(t, "finished", json_object_new_string("19700101T00:00:00Z"));
    json_object_object_add(t, "status", json_object_new_string("pending"));
    json_object_object_add(t, "resident_on", json_object_new_string(host_ref()));
    json_object_object_add(t, "progress", json_object_new_double(0));
    json_object_object_add(t, "type", json_object_new_string(""));
    json_object_object_add(t, "result", json_object_new_string(""));
    json_object_object_add(t, "error_info", json_object_new_array());
    json_object_object_add(t, "other_config", json_object_new_object());
    json_object_object_add(t, "subtask_of", json_object_new_string(REF_NULL));
    json_object_object_add(t, "subtasks", json_object_new_array());
    json_object_object_add(t, "backtrace", json_object_new_string("()"));
    return t;
}

bool task_cancel_requested_locked(const struct call *c)
{
    json_object *t = c->task ? model_get("task", c->task) : NULL, *st;
    return t && json_object_object_get_ex(t, "status", &st) &&
           !strcmp(json_object_get_string(st), "cancelling");
}

bool task_cancel_requested(const struct call *c)
{
    if (!c->task)
        return false;
    model_lock();
    bool r = task_cancel_requested_locked(c);
    model_unlock();
    return r;
}

void task_progress(const struct call *c, double fraction)
{
    if (!c->task || !(fraction >= 0))
        return;
    /* 1 is for the end (success or failure), set as the task ends */
    if (fraction > 0.99)
        fraction = 0.99;
    model_lock();
    json_object *t = model_get("task", c->task), *st, *pr;
    if (t && json_object_object_get_ex(t, "status", &st) &&
        !strcmp(json_object_get_string(st), "pending") &&
        json_object_object_get_ex(t, "progress", &pr) &&
        fraction >= json_object_get_double(pr) + 0.01) {
        json_object *n = model_copy(t);
        json_object_object_add(n, "progress", json_object_new_double(fraction));
        model_put("task", c->task, n);
    }
    model_unlock();
}

json_object *task_cancelled(struct call *c)
{
    return fail(c, "TASK_CANCELLED", c->task ? c->task : REF_NULL, NULL);
}

/* Whether a failure is the cancellation asked for. */
static bool is_cancelled(json_object *error)
{
    json_object *code = json_object_array_get_idx(error, 0);
    return code && !strcmp(json_object_get_string(code), "TASK_CANCELLED");
}

struct job {
    struct call call;
    const struct xapi_method *m;
    char ref[48];
};

static void *run(void *arg)
{
    struct job *j = arg;
    json_object *res = j->m->fn(&j->call);
    model_lock();
    json_object *old = model_get("task", j->ref);
    if (old) {          /* not destroyed meanwhile */
        json_object *t = model_copy(old);
        json_object_object_add(t, "finished", now_str());
        json_object_object_add(t, "progress", json_object_new_double(1));
        if (res) {
            char *v = json_object_is_type(res, json_type_string) &&
                              !*json_object_get_string(res)
                          ? strdup("") : xmlrpc_value(res);
            json_object_object_add(t, "status", json_object_new_string("success"));
            json_object_object_add(t, "result", json_object_new_string(v ? v : ""));
            free(v);
        } else {
            json_object_object_add(t, "status", json_object_new_string(
                is_cancelled(j->call.error) ? "cancelled" : "failure"));
            json_object_object_add(t, "error_info", j->call.error);
            j->call.error = NULL;
        }
        model_put("task", j->ref, t);
    }
    model_unlock();
    json_object_put(res);
    json_object_put(j->call.error);
    json_object_put(j->call.params);
    free((char *)j->call.method);
    free(j);
    return NULL;
}

json_object *task_run_async(struct call *c, const struct xapi_method *m)
{
    struct job *j = calloc(1, sizeof(*j));
    if (!j)
        return fail(c, "INTERNAL_ERROR", "out of memory", NULL);
    j->call = *c;
    j->call.method = strdup(m->name);
    j->call.params = model_copy(c->params);
    j->call.error = NULL;
    j->call.peer = "task";
    j->m = m;
    model_new_ref(j->ref);
    j->call.task = j->ref;
    char label[128];
    snprintf(label, sizeof(label), "Async.%s", m->name);
    json_object *t = task_record(label, "");
    json_object *oc = json_object_new_object();
    json_object_object_add(oc, "xenon:session_user", json_object_new_string(c->session.user));
    json_object_object_add(t, "other_config", oc);
    model_lock();
    model_put("task", j->ref, t);
    model_unlock();
    char ref[48];       /* j is the thread's once it starts */
    memcpy(ref, j->ref, sizeof(ref));
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    int rc = pthread_create(&th, &a, run, j);
    pthread_attr_destroy(&a);
    if (rc) {
        j->call.error = NULL;
        model_lock();
        model_del("task", ref);
        model_unlock();
        json_object_put(j->call.params);
        free((char *)j->call.method);
        free(j);
        return fail(c, "INTERNAL_ERROR", "cannot start a task", NULL);
    }
    return json_object_new_string(ref);
}
