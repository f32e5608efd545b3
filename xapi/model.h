/* The object store the API serves from, and its event log.
 *
 * For VMs and hosts it is a cache, not a copy of the truth: vm_scan.c
 * rebuilds those records from libxenon and xenstore whenever a xenstore
 * watch fires or inotify sees the VM or image directory change (and
 * periodically for what neither shows, such as pause), and after each
 * operation. Tasks and the pool record live only
 * here, as in XAPI. Every change of a record appends an event (add, mod,
 * del) that event.from returns; the log keeps the last MODEL_EVENTS.
 *
 * One mutex guards it all; functions marked "locked" need it held. Records
 * are json-c objects, keyed by class (as the API spells it: "VM", "pool")
 * and reference. */
#ifndef XAPI_MODEL_H
#define XAPI_MODEL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#define MODEL_EVENTS 8192
#define REF_NULL "OpaqueRef:NULL"

void model_init(void);
void model_lock(void);
void model_unlock(void);

/* A fresh reference (OpaqueRef:<uuid>) or uuid from getrandom. out >= 48. */
void model_new_ref(char *out);
void model_new_uuid(char *out);

/* locked: the reference of an object named `key` (e.g. "VM/<uuid>"):
 * OpaqueRef:<UUIDv5 of "ref:<key>">, so an object keeps its reference
 * across restarts of the daemon for as long as its key holds (sessions
 * and tasks have random ones: model_new_ref). */
const char *model_ref_for(const char *key);

/* A UUIDv5 of name in the daemon's own namespace (the stable uuids of
 * VMs without uuid=, devices, storage, the host...). out >= 37. */
void model_uuid_for(const char *name, char *out);

/* locked: the records of a class (ref -> record), NULL if none yet. */
json_object *model_class(const char *cls);
/* locked: one record, borrowed, or NULL. */
json_object *model_get(const char *cls, const char *ref);
/* locked: the ref of the record whose `field` equals value, or NULL. */
const char *model_find(const char *cls, const char *field, const char *value);
/* locked: store rec (consumed) as ref's record; an add or mod event when it
 * differs from what was there. */
void model_put(const char *cls, const char *ref, json_object *rec);
/* locked: a function model_put runs on every record before storing it
 * (obj_meta.h lays client-set names and maps on rebuilt records); NULL:
 * none. */
void model_set_overlay(void (*fn)(const char *cls, json_object *rec));
/* locked: remove a record (a del event). */
void model_del(const char *cls, const char *ref);
/* locked: remove every record of the class whose ref is not a key of
 * `seen` (a rescan's result), each with its del event. */
void model_drop_unseen(const char *cls, json_object *seen);
/* locked: an event for an unchanged record (event.inject); returns the id
 * before it. */
uint64_t model_inject(const char *cls, const char *ref);

/* locked: the id of the last event (0 when none). */
uint64_t model_last_event(void);

/* locked: wait until an event after `id` or the deadline (CLOCK_MONOTONIC
 * ns). True if one came. */
bool model_wait_event(uint64_t id, uint64_t deadline_ns);
/* locked: wait for any change or the deadline; used by operations that wait
 * for a state (clean_shutdown). */
void model_wait_change(uint64_t deadline_ns);

/* locked: the events after id for the classes in `classes` (NULL: all),
 * each object once with its last operation; *lost when id is older than
 * the log holds. A new json array. */
json_object *model_events_since(uint64_t id, bool (*want)(const char *cls, void *), void *arg,
                                bool *lost);

uint64_t model_now_ns(void);

/* Known classes, in the order listed by system.listMethods. */
extern const char *const model_classes[];



/* locked: the records of a class as JSON text, {"ref": record, ...}
 * (malloc'd), from each record's text kept since it was stored: what
 * get_all_records answers over JSON-RPC without copying or encoding
 * thousands of records per call. */
char *model_class_json(const char *cls);

/* A deep copy (what handlers return of a stored record: see model.c). */
json_object *model_copy(json_object *o);
#endif
