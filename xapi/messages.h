/* XAPI's messages: the host's log of what happened to its objects, as
 * XAPI keeps it (class "message": uuid, name, priority 1-5, cls, obj_uuid,
 * timestamp, body), which Xen Orchestra shows as its logs. The daemon
 * writes VM_STARTED, VM_SHUTDOWN, VM_REBOOTED, VM_SUSPENDED and VM_RESUMED
 * when a rescan sees a VM's power state change (whoever changed it: the
 * API, xl or the guest); clients add their own with message.create. At
 * most MESSAGES_MAX are kept, the oldest dropped first (each a del event).
 * Messages live in the daemon's memory only: a restart starts a new log. */
#ifndef XAPI_MESSAGES_H
#define XAPI_MESSAGES_H

#include <json-c/json.h>
#include <stdint.h>

#define MESSAGES_MAX 10000

/* locked: add one; its reference (static storage until the next call). */
const char *message_add(const char *name, int64_t priority, const char *cls,
                        const char *obj_uuid, const char *body);

/* locked: the message a VM's power-state change makes, if any: old is
 * the record before (NULL for a VM seen for the first time after the
 * first scan), vm the new one. */
void message_vm_change(json_object *old, json_object *vm);

/* locked: the API is rebooting the VM of this uuid (VM.hard_reboot,
 * clean_reboot): for the next minute, its Halted in between makes no
 * message and its next start is VM_REBOOTED. */
void message_vm_rebooting(const char *uuid);

/* locked: drop a message from the log's order (message.destroy). */
void message_forget(const char *ref);

/* "YYYYMMDDTHH:MM:SSZ" (XAPI's datetime; the Z and the dashes of ISO
 * 8601 optional) as unix time; -1 when it is not one. */
int64_t message_parse_time(const char *s);

#endif
