/* event.from and event.inject with XAPI's token semantics: a token names a
 * point in the event log ("%020llu,%020llu": last event id, message id);
 * "" means "from the start": every current object of the classes comes
 * back as an add. event.from blocks until something happens to one of the
 * classes or the timeout passes, and answers {events, valid_ref_counts,
 * token}. A token older than the log -> EVENTS_LOST. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dispatch.h"
#include "model.h"

static bool wanted(const char *cls, void *arg)
{
    json_object *classes = arg;
    for (size_t i = 0; i < json_object_array_length(classes); i++) {
        const char *c = json_object_get_string(json_object_array_get_idx(classes, i));
        if (c && (!strcmp(c, "*") || !strcasecmp(c, cls)))
            return true;
    }
    return false;
}

static json_object *token_of(uint64_t id)
{
    char t[48];
    snprintf(t, sizeof(t), "%020" PRIu64 ",%020" PRIu64, id, (uint64_t)0);
    return json_object_new_string(t);
}

static int parse_token(const char *s, uint64_t *id)
{
    char *end;
    if (!*s)
        return 1;           /* from the start */
    if (*s < '0' || *s > '9')
        return -1;
    *id = strtoull(s, &end, 10);
    return *end == 0 || *end == ',' ? 0 : -1;
}

/* locked: every object of the classes as an add event. */
static json_object *everything(json_object *classes)
{
    json_object *ev = json_object_new_array();
    for (int i = 0; model_classes[i]; i++) {
        char lc[32];
        snprintf(lc, sizeof(lc), "%s", model_classes[i]);
        for (char *p = lc; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        json_object *all = model_class(model_classes[i]);
        if (!all || !wanted(lc, classes))
            continue;
        json_object_object_foreach(all, ref, rec) {
            json_object *e = json_object_new_object();
            json_object_object_add(e, "id", json_object_new_int64((int64_t)model_last_event()));
            json_object_object_add(e, "timestamp", json_object_new_string("0"));
            json_object_object_add(e, "class", json_object_new_string(lc));
            json_object_object_add(e, "operation", json_object_new_string("add"));
            json_object_object_add(e, "ref", json_object_new_string(ref));
            json_object_object_add(e, "snapshot", model_copy(rec));
            json_object_array_add(ev, e);
        }
    }
    return ev;
}

/* locked */
static json_object *ref_counts(json_object *classes)
{
    json_object *o = json_object_new_object();
    for (int i = 0; model_classes[i]; i++) {
        char lc[32];
        snprintf(lc, sizeof(lc), "%s", model_classes[i]);
        for (char *p = lc; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        if (!wanted(lc, classes))
            continue;
        json_object *all = model_class(model_classes[i]);
        json_object_object_add(o, model_classes[i],
                               json_object_new_int(all ? json_object_object_length(all) : 0));
    }
    return o;
}

static json_object *from(struct call *c)
{
    json_object *classes = json_object_array_get_idx(c->params, 1);
    const char *tok = arg_str(c, 2);
    if (!json_object_is_type(classes, json_type_array))
        return fail(c, "FIELD_TYPE_ERROR", "classes", NULL);
    if (!tok)
        return NULL;
    bool ok;
    double timeout = arg_num(c, 3, &ok);
    if (!ok)
        return NULL;
    if (timeout < 0)
        timeout = 0;
    if (timeout > 3600)
        timeout = 3600;
    uint64_t id = 0;
    int t = parse_token(tok, &id);
    if (t < 0)
        return fail(c, "EVENT_FROM_TOKEN_PARSE_FAILURE", tok, NULL);
    uint64_t deadline = model_now_ns() + (uint64_t)(timeout * 1e9);
    json_object *events;
    model_lock();
    if (t == 1) {
        events = everything(classes);
        id = model_last_event();
    } else {
        for (;;) {
            bool lost;
            events = model_events_since(id, wanted, classes, &lost);
            if (lost) {
                model_unlock();
                json_object_put(events);
                return fail(c, "EVENTS_LOST", NULL);
            }
            uint64_t seen = model_last_event();
            if (json_object_array_length(events) || model_now_ns() >= deadline) {
                id = seen;
                break;
            }
            json_object_put(events);
            id = seen;      /* events of other classes are passed over */
            model_wait_event(id, deadline);
        }
    }
    json_object *r = json_object_new_object();
    json_object_object_add(r, "events", events);
    json_object_object_add(r, "valid_ref_counts", ref_counts(classes));
    json_object_object_add(r, "token", token_of(id));
    model_unlock();
    return r;
}

static json_object *inject(struct call *c)
{
    const char *cls = arg_str(c, 1), *ref = cls ? arg_str(c, 2) : NULL;
    if (!ref)
        return NULL;
    model_lock();
    const char *known = NULL;
    for (int i = 0; model_classes[i]; i++)
        if (!strcmp(model_classes[i], cls))
            known = model_classes[i];
    if (!known || !model_get(known, ref)) {
        model_unlock();
        return fail(c, "HANDLE_INVALID", cls, ref, NULL);
    }
    uint64_t before = model_inject(known, ref);
    model_unlock();
    return token_of(before);
}

const struct xapi_method event_methods[] = {
    { "event.from", 4, ROLE_READ_ONLY, 0, from },
    { "event.inject", 3, ROLE_READ_ONLY, 0, inject },
    { NULL, 0, 0, 0, NULL },
};
