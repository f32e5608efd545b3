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

/* Whether task.cancel was called on the task running c (false for a
 * call without one). The _locked form with the model lock held. A long
 * operation asks this where it can stop cleanly and then fails with
 * TASK_CANCELLED [task] (task_cancelled), which ends the task as
 * "cancelled". */
#include <stdbool.h>
bool task_cancel_requested(const struct call *c);
bool task_cancel_requested_locked(const struct call *c);
json_object *task_cancelled(struct call *c);

/* The task running c has done `fraction` (0-1) of its work: its progress
 * field, which only grows, and only by steps of 1 % or more (each is an
 * event). Nothing for a call without a task. */
void task_progress(const struct call *c, double fraction);

/* A new pending task record, for task.create and task_run_async. */
json_object *task_record(const char *label, const char *description);

#endif
