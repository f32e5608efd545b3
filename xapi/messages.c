/* The message log (messages.h). */
#include "messages.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"

/* The references in the order they came, oldest at `head`. */
static char order[MESSAGES_MAX][48];
static unsigned head, count;

static void drop_oldest(void)
{
    model_del("message", order[head]);
    order[head][0] = 0;
    head = (head + 1) % MESSAGES_MAX;
    count--;
}

const char *message_add(const char *name, int64_t priority, const char *cls,
                        const char *obj_uuid, const char *body)
{
    while (count >= MESSAGES_MAX)
        drop_oldest();
    char uuid[40], ts[32];
    model_new_uuid(uuid);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%Y%m%dT%H:%M:%SZ", &tm);
    json_object *m = json_object_new_object();
    json_object_object_add(m, "uuid", json_object_new_string(uuid));
    json_object_object_add(m, "name", json_object_new_string(name));
    json_object_object_add(m, "priority", json_object_new_int64(priority));
    json_object_object_add(m, "cls", json_object_new_string(cls));
    json_object_object_add(m, "obj_uuid", json_object_new_string(obj_uuid));
    json_object_object_add(m, "timestamp", json_object_new_string(ts));
    json_object_object_add(m, "body", json_object_new_string(body));
    char *slot = order[(head + count) % MESSAGES_MAX];
    model_new_ref(slot);
    count++;
    model_put("message", slot, m);
    return slot;
}

void message_forget(const char *ref)
{
    /* The log is short and destroy is rare: a linear search, then the
     * later entries move up one. */
    for (unsigned i = 0; i < count; i++) {
        unsigned k = (head + i) % MESSAGES_MAX;
        if (strcmp(order[k], ref))
            continue;
        for (unsigned j = i; j + 1 < count; j++)
            memcpy(order[(head + j) % MESSAGES_MAX], order[(head + j + 1) % MESSAGES_MAX],
                   sizeof(order[0]));
        count--;
        order[(head + count) % MESSAGES_MAX][0] = 0;
        return;
    }
}

/* The VMs being rebooted by the API, each until a deadline. */
#define REBOOTS_MAX 64
static struct {
    char uuid[40];
    uint64_t until_ns;
} reboots[REBOOTS_MAX];

void message_vm_rebooting(const char *uuid)
{
    uint64_t now = model_now_ns();
    int slot = 0;
    for (int i = 0; i < REBOOTS_MAX; i++) {
        if (!strcmp(reboots[i].uuid, uuid) || reboots[i].until_ns < reboots[slot].until_ns) {
            slot = i;
            if (!strcmp(reboots[i].uuid, uuid))
                break;
        }
    }
    snprintf(reboots[slot].uuid, sizeof(reboots[slot].uuid), "%s", uuid);
    reboots[slot].until_ns = now + 60000000000ull;
}

/* Whether uuid is being rebooted; `end` takes it off the list. */
static bool rebooting(const char *uuid, bool end)
{
    uint64_t now = model_now_ns();
    for (int i = 0; i < REBOOTS_MAX; i++) {
        if (reboots[i].until_ns > now && !strcmp(reboots[i].uuid, uuid)) {
            if (end)
                reboots[i].until_ns = 0;
            return true;
        }
    }
    return false;
}

static const char *field(json_object *o, const char *k)
{
    json_object *f;
    return o && json_object_object_get_ex(o, k, &f) ? json_object_get_string(f) : "";
}

static int64_t domid_of(json_object *o)
{
    json_object *f;
    return o && json_object_object_get_ex(o, "domid", &f) ? json_object_get_int64(f) : -1;
}

static bool live(const char *power)
{
    return !strcmp(power, "Running") || !strcmp(power, "Paused");
}

void message_vm_change(json_object *old, json_object *vm)
{
    const char *was = old ? field(old, "power_state") : "Halted", *now = field(vm, "power_state");
    const char *name = NULL, *what = NULL;
    const char *uuid = field(vm, "uuid");
    bool rebooted = false;
    if (rebooting(uuid, false)) {
        if (!live(now))
            return;                     /* between its two domains */
        rebooted = !live(was) || domid_of(old) != domid_of(vm);
        if (rebooted)
            rebooting(uuid, true);
    }
    if (rebooted) {
        name = "VM_REBOOTED", what = "rebooted";
    } else if (!strcmp(was, "Suspended") && live(now)) {
        name = "VM_RESUMED", what = "resumed";
    } else if (!live(was) && live(now)) {
        name = "VM_STARTED", what = "started";
    } else if (live(was) && !strcmp(now, "Suspended")) {
        name = "VM_SUSPENDED", what = "suspended";
    } else if (live(was) && !strcmp(now, "Halted")) {
        name = "VM_SHUTDOWN", what = "shut down";
    } else if (live(was) && live(now) && domid_of(old) >= 0 && domid_of(vm) >= 0 &&
               domid_of(old) != domid_of(vm)) {
        name = "VM_REBOOTED", what = "rebooted";   /* a new domain for the same VM */
    }
    if (!name)
        return;
    char body[512];
    snprintf(body, sizeof(body), "VM '%s' %s", field(vm, "name_label"), what);
    message_add(name, 5, "VM", uuid, body);
}

int64_t message_parse_time(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = s ? strptime(s, "%Y%m%dT%H:%M:%S", &tm) : NULL;
    if (!end)
        end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!end || (*end && strcmp(end, "Z")))
        return -1;
    time_t t = timegm(&tm);
    return t == (time_t)-1 ? -1 : (int64_t)t;
}
