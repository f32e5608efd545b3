/* The object store and event log (model.h). */
#include "model.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

const char *const model_classes[] = {
    "pool", "host", "host_metrics", "host_cpu", "VM", "VM_metrics", "VM_guest_metrics",
    "console", "task", "role", "message",
    "VBD", "VDI", "SR", "PBD", "VIF", "network", "PIF", NULL,
};

struct event {
    uint64_t id;
    double timestamp;
    char *cls, *ref, *op;
    json_object *snapshot;      /* NULL for del */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed;
static json_object *store;      /* class -> ref -> record */
static json_object *refs;       /* key -> ref */
static json_object *texts;      /* class -> ref -> the record's JSON text */
static struct event ring[MODEL_EVENTS];
static uint64_t last_id;

uint64_t model_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void model_init(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&changed, &a);
    pthread_condattr_destroy(&a);
    store = json_object_new_object();
    refs = json_object_new_object();
    texts = json_object_new_object();
}

void model_lock(void) { pthread_mutex_lock(&lock); }
void model_unlock(void) { pthread_mutex_unlock(&lock); }

void model_new_uuid(char *out)
{
    uint8_t b[16];
    size_t got = 0;
    while (got < sizeof(b)) {
        ssize_t r = getrandom(b + got, sizeof(b) - got, 0);
        if (r > 0)
            got += (size_t)r;
        else if (r < 0 && errno != EINTR)
            abort();        /* no randomness: no safe references either */
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    sprintf(out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
            b[11], b[12], b[13], b[14], b[15]);
}

void model_new_ref(char *out)
{
    strcpy(out, "OpaqueRef:");
    model_new_uuid(out + 10);
}

void model_uuid_for(const char *name, char *out)
{
    /* RFC 4122 name-based (SHA-1), in a namespace of our own. */
    static const uint8_t ns[16] = { 0x6b, 0x1e, 0x0c, 0x55, 0x7a, 0x3d, 0x4f, 0x52,
                                    0x9e, 0x8b, 0x58, 0x65, 0x6e, 0x6f, 0x6e, 0x21 };
    size_t n = strlen(name);
    uint8_t *buf = malloc(16 + n), h[20];
    if (!buf)
        abort();
    memcpy(buf, ns, 16);
    memcpy(buf + 16, name, n);
    gnutls_hash_fast(GNUTLS_DIG_SHA1, buf, 16 + n, h);
    free(buf);
    h[6] = (h[6] & 0x0f) | 0x50;
    h[8] = (h[8] & 0x3f) | 0x80;
    sprintf(out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
            h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11],
            h[12], h[13], h[14], h[15]);
}

const char *model_ref_for(const char *key)
{
    json_object *r;
    if (!json_object_object_get_ex(refs, key, &r)) {
        /* derived from the key, so the same after a restart; the keys
         * name objects by their stable uuids (or names) */
        char ref[48], *name;
        if (asprintf(&name, "ref:%s", key) < 0)
            abort();
        strcpy(ref, "OpaqueRef:");
        model_uuid_for(name, ref + 10);
        free(name);
        r = json_object_new_string(ref);
        json_object_object_add(refs, key, r);
    }
    return json_object_get_string(r);
}

json_object *model_class(const char *cls)
{
    json_object *c;
    return json_object_object_get_ex(store, cls, &c) ? c : NULL;
}

json_object *model_get(const char *cls, const char *ref)
{
    json_object *c = model_class(cls), *r;
    return c && json_object_object_get_ex(c, ref, &r) ? r : NULL;
}

const char *model_find(const char *cls, const char *field, const char *value)
{
    json_object *c = model_class(cls);
    if (!c)
        return NULL;
    json_object_object_foreach(c, ref, rec) {
        json_object *f;
        if (json_object_object_get_ex(rec, field, &f) &&
            json_object_is_type(f, json_type_string) &&
            !strcmp(json_object_get_string(f), value))
            return ref;
    }
    return NULL;
}

static char *lower(const char *s)
{
    char *l = strdup(s);
    for (char *p = l; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return l;
}

static void add_event(const char *cls, const char *ref, const char *op, json_object *snap)
{
    struct event *e = &ring[++last_id % MODEL_EVENTS];
    free(e->cls);
    free(e->ref);
    free(e->op);
    json_object_put(e->snapshot);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *e = (struct event){
        .id = last_id, .timestamp = (double)ts.tv_sec + ts.tv_nsec / 1e9,
        .cls = lower(cls), .ref = strdup(ref), .op = strdup(op),
        .snapshot = snap ? json_object_get(snap) : NULL,
    };
    pthread_cond_broadcast(&changed);
}

static void (*overlay)(const char *cls, json_object *rec);

void model_set_overlay(void (*fn)(const char *cls, json_object *rec))
{
    overlay = fn;
}

void model_put(const char *cls, const char *ref, json_object *rec)
{
    if (overlay)
        overlay(cls, rec);
    json_object *c = model_class(cls);
    if (!c) {
        c = json_object_new_object();
        json_object_object_add(store, cls, c);
    }
    json_object *old;
    bool had = json_object_object_get_ex(c, ref, &old);
    if (had && json_object_equal(old, rec)) {
        json_object_put(rec);
        return;
    }
    json_object_object_add(c, ref, rec);
    json_object *t;
    if (!json_object_object_get_ex(texts, cls, &t)) {
        t = json_object_new_object();
        json_object_object_add(texts, cls, t);
    }
    json_object_object_add(t, ref, json_object_new_string(json_object_to_json_string_ext(
                                       rec, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)));
    add_event(cls, ref, had ? "mod" : "add", rec);
}

void model_del(const char *cls, const char *ref)
{
    json_object *c = model_class(cls);
    if (!c || !json_object_object_get_ex(c, ref, NULL))
        return;
    char *r = strdup(ref);      /* ref may point into the record's key */
    json_object_object_del(c, r);
    json_object *t;
    if (json_object_object_get_ex(texts, cls, &t))
        json_object_object_del(t, r);
    add_event(cls, r, "del", NULL);
    free(r);
}

void model_drop_unseen(const char *cls, json_object *seen)
{
    json_object *all = model_class(cls);
    if (!all)
        return;
    json_object *gone = json_object_new_array();
    json_object_object_foreach(all, ref, rec) {
        (void)rec;
        if (!json_object_object_get_ex(seen, ref, NULL))
            json_object_array_add(gone, json_object_new_string(ref));
    }
    for (size_t i = 0; i < json_object_array_length(gone); i++)
        model_del(cls, json_object_get_string(json_object_array_get_idx(gone, i)));
    json_object_put(gone);
}

uint64_t model_inject(const char *cls, const char *ref)
{
    uint64_t before = last_id;
    add_event(cls, ref, "mod", model_get(cls, ref));
    return before;
}

uint64_t model_last_event(void)
{
    return last_id;
}

static void wait_until(uint64_t deadline_ns)
{
    struct timespec ts = { (time_t)(deadline_ns / 1000000000ull),
                           (long)(deadline_ns % 1000000000ull) };
    pthread_cond_timedwait(&changed, &lock, &ts);
}

bool model_wait_event(uint64_t id, uint64_t deadline_ns)
{
    while (last_id <= id && model_now_ns() < deadline_ns)
        wait_until(deadline_ns);
    return last_id > id;
}

void model_wait_change(uint64_t deadline_ns)
{
    wait_until(deadline_ns);
}

json_object *model_events_since(uint64_t id, bool (*want)(const char *cls, void *), void *arg,
                                bool *lost)
{
    json_object *out = json_object_new_array();
    /* Older than the log, or from a log this daemon never wrote (a token
     * of an earlier run). */
    *lost = (last_id > MODEL_EVENTS && id < last_id - MODEL_EVENTS) || id > last_id;
    if (*lost || id >= last_id)
        return out;
    /* Newest first, so each object appears once with its last state;
     * then reversed into log order. */
    json_object *seen = json_object_new_object();
    json_object *rev = json_object_new_array();
    for (uint64_t i = last_id; i > id; i--) {
        struct event *e = &ring[i % MODEL_EVENTS];
        if (want && !want(e->cls, arg))
            continue;
        char key[160];
        snprintf(key, sizeof(key), "%s/%s", e->cls, e->ref);
        if (json_object_object_get_ex(seen, key, NULL))
            continue;
        json_object_object_add(seen, key, NULL);
        json_object *ev = json_object_new_object();
        json_object_object_add(ev, "id", json_object_new_int64((int64_t)e->id));
        char ts[32];
        snprintf(ts, sizeof(ts), "%.6f", e->timestamp);
        json_object_object_add(ev, "timestamp", json_object_new_string(ts));
        json_object_object_add(ev, "class", json_object_new_string(e->cls));
        json_object_object_add(ev, "operation", json_object_new_string(e->op));
        json_object_object_add(ev, "ref", json_object_new_string(e->ref));
        /* A copy: json-c's reference counts are not atomic, and the
         * answer is written out after the lock is dropped. */
        json_object *snap = NULL;
        if (e->snapshot && json_object_deep_copy(e->snapshot, &snap, NULL) == 0)
            json_object_object_add(ev, "snapshot", snap);
        json_object_array_add(rev, ev);
    }
    for (size_t i = json_object_array_length(rev); i > 0; i--)
        json_object_array_add(out, json_object_get(json_object_array_get_idx(rev, i - 1)));
    json_object_put(rev);
    json_object_put(seen);
    return out;
}

json_object *model_copy(json_object *o)
{
    json_object *c = NULL;
    if (!o || json_object_deep_copy(o, &c, NULL) != 0)
        return NULL;
    return c;
}

char *model_class_json(const char *cls)
{
    json_object *t;
    size_t len = 3;
    if (!json_object_object_get_ex(texts, cls, &t))
        return strdup("{}");
    json_object_object_foreach(t, ref, text)
        len += strlen(ref) + 4 + (size_t)json_object_get_string_len(text);
    char *out = malloc(len), *p = out;
    if (!out)
        return NULL;
    *p++ = '{';
    bool first = true;
    /* refs are ours (OpaqueRef:<uuid>): nothing in them needs escaping */
    json_object_object_foreach(t, ref2, text2) {
        if (!first)
            *p++ = ',';
        first = false;
        *p++ = '"';
        size_t rl = strlen(ref2);
        memcpy(p, ref2, rl);
        p += rl;
        *p++ = '"';
        *p++ = ':';
        size_t tl = (size_t)json_object_get_string_len(text2);
        memcpy(p, json_object_get_string(text2), tl);
        p += tl;
    }
    *p++ = '}';
    *p = 0;
    return out;
}
