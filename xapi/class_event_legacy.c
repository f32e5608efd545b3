/* event.register / event.unregister / event.next: XAPI's legacy event
 * API (what the npm client falls back to without event.inject). A
 * session registers for classes ("*" = all; the set grows with each
 * register and shrinks with unregister) and event.next blocks until an
 * event of one of them comes after its cursor, returns them (each object
 * once with its last operation) and moves the cursor on. No
 * registration: SESSION_NOT_REGISTERED [session]. Each session's backlog
 * is bounded by the model's event log: a cursor older than the log ->
 * EVENTS_LOST, and the cursor jumps to now (the client registers
 * again and reads the records, as XAPI's clients do). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dispatch.h"
#include "model.h"

/* At most this many sessions registered at once; beyond it the entries
 * of sessions that have ended are dropped, else the call fails. */
#define MAX_REGISTERED 1024
/* A blocked event.next looks every few seconds whether its session and
 * registration still stand. */
#define NEXT_RECHECK_NS (5ull * 1000000000ull)

struct registration {
    char session[48];
    json_object *classes;       /* array of class names (lowercase), owned */
    uint64_t cursor;            /* last event id returned */
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct registration regs[MAX_REGISTERED];

/* reg_lock held */
static struct registration *find(const char *session)
{
    for (int i = 0; i < MAX_REGISTERED; i++)
        if (regs[i].classes && !strcmp(regs[i].session, session))
            return &regs[i];
    return NULL;
}

/* reg_lock held: a free slot, reclaiming those of ended sessions. */
static struct registration *slot(void)
{
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < MAX_REGISTERED; i++) {
            struct session_info si;
            if (pass == 1 && regs[i].classes && session_lookup(regs[i].session, &si) < 0) {
                json_object_put(regs[i].classes);
                regs[i].classes = NULL;
            }
            if (!regs[i].classes)
                return &regs[i];
        }
    return NULL;
}

static bool has(json_object *arr, const char *cls)
{
    for (size_t i = 0; i < json_object_array_length(arr); i++)
        if (!strcasecmp(json_object_get_string(json_object_array_get_idx(arr, i)), cls))
            return true;
    return false;
}

static bool wanted(const char *cls, void *arg)
{
    return has(arg, "*") || has(arg, cls);
}

/* The classes argument: an array of strings of at most 64 characters, each
 * a class name or "*" (a name of no class matches nothing; a session keeps
 * at most 64 of them). */
static json_object *classes_arg(struct call *c)
{
    json_object *a = json_object_array_get_idx(c->params, 1);
    if (!json_object_is_type(a, json_type_array)) {
        fail(c, "FIELD_TYPE_ERROR", "classes", NULL);
        return NULL;
    }
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *e = json_object_array_get_idx(a, i);
        if (!json_object_is_type(e, json_type_string) || json_object_get_string_len(e) > 64) {
            fail(c, "FIELD_TYPE_ERROR", "classes", NULL);
            return NULL;
        }
    }
    return a;
}

static json_object *reg(struct call *c)
{
    json_object *classes = classes_arg(c);
    if (!classes)
        return NULL;
    model_lock();
    uint64_t now = model_last_event();
    model_unlock();
    pthread_mutex_lock(&reg_lock);
    struct registration *r = find(c->session.ref);
    if (!r) {
        r = slot();
        if (!r) {
            pthread_mutex_unlock(&reg_lock);
            return fail(c, "TOO_MANY_PENDING_TASKS", NULL);
        }
        snprintf(r->session, sizeof(r->session), "%s", c->session.ref);
        r->classes = json_object_new_array();
        r->cursor = now;
    }
    for (size_t i = 0; i < json_object_array_length(classes); i++) {
        const char *cls = json_object_get_string(json_object_array_get_idx(classes, i));
        if (!has(r->classes, cls) && json_object_array_length(r->classes) < 64)
            json_object_array_add(r->classes, json_object_new_string(cls));
    }
    pthread_mutex_unlock(&reg_lock);
    return void_result();
}

static json_object *unreg(struct call *c)
{
    json_object *classes = classes_arg(c);
    if (!classes)
        return NULL;
    pthread_mutex_lock(&reg_lock);
    struct registration *r = find(c->session.ref);
    if (r) {
        json_object *left = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(r->classes); i++) {
            json_object *e = json_object_array_get_idx(r->classes, i);
            if (!has(classes, json_object_get_string(e)))
                json_object_array_add(left, json_object_get(e));
        }
        json_object_put(r->classes);
        r->classes = left;
    }
    pthread_mutex_unlock(&reg_lock);
    return void_result();
}

/* Legacy event records carry the object's uuid too. */
static void add_obj_uuid(json_object *events)
{
    for (size_t i = 0; i < json_object_array_length(events); i++) {
        json_object *e = json_object_array_get_idx(events, i), *snap, *u;
        const char *uuid = json_object_object_get_ex(e, "snapshot", &snap) &&
                                   json_object_object_get_ex(snap, "uuid", &u)
                               ? json_object_get_string(u) : "";
        json_object_object_add(e, "obj_uuid", json_object_new_string(uuid ? uuid : ""));
    }
}

static json_object *next(struct call *c)
{
    for (;;) {
        pthread_mutex_lock(&reg_lock);
        struct registration *r = find(c->session.ref);
        if (!r) {
            pthread_mutex_unlock(&reg_lock);
            return fail(c, "SESSION_NOT_REGISTERED", c->session.ref, NULL);
        }
        json_object *classes = json_object_get(r->classes);
        uint64_t cursor = r->cursor;
        pthread_mutex_unlock(&reg_lock);

        bool lost;
        model_lock();
        json_object *events = model_events_since(cursor, wanted, classes, &lost);
        uint64_t seen = model_last_event();
        if (!lost && !json_object_array_length(events))
            model_wait_event(seen, model_now_ns() + NEXT_RECHECK_NS);
        model_unlock();
        json_object_put(classes);

        pthread_mutex_lock(&reg_lock);
        r = find(c->session.ref);
        /* Moved on only if no other event.next of the session did. */
        if (r && r->cursor == cursor)
            r->cursor = seen;
        pthread_mutex_unlock(&reg_lock);
        if (lost) {
            json_object_put(events);
            return fail(c, "EVENTS_LOST", NULL);
        }
        if (json_object_array_length(events)) {
            add_obj_uuid(events);
            return events;
        }
        json_object_put(events);
        struct session_info si;
        if (session_lookup(c->session.ref, &si) < 0)
            return fail(c, "SESSION_INVALID", c->session.ref, NULL);
    }
}

const struct xapi_method event_legacy_methods[] = {
    { "event.register", 2, ROLE_READ_ONLY, 0, reg },
    { "event.unregister", 2, ROLE_READ_ONLY, 0, unreg },
    { "event.next", 1, ROLE_READ_ONLY, 0, next },
    { NULL, 0, 0, 0, NULL },
};
