/* Async.* calls: a task record (class "task" in the model) made pending,
 * the method run on a thread of its own, the record then set to success
 * (result: the XML-RPC <value> text, "" for void) or failure (error_info).
 * Each change is an event, which is how the xen-api client learns the
 * outcome. */
#ifndef XAPI_TASKS_H
#define XAPI_TASKS_H

#include <json-c/json.h>

#include "dispatch.h"

/* The task's ref as the call's result, or NULL with c->error. */
json_object *task_run_async(struct call *c, const struct xapi_method *m);

/* A new pending task record, for task.create and task_run_async. */
json_object *task_record(const char *label, const char *description);

#endif
