/* VM setters and map calls: each edits the VM's definition file (the
 * truth the scan reads; vm_meta.h) and then rescans, so the record and
 * its mod event follow from the file. XAPI's rules where it has them:
 * memory and vCPU counts only while Halted (the dynamic range also live,
 * as a balloon target), MAP_DUPLICATE_KEY on add_to_* of a present key,
 * and name_label only while Halted here (xl's name is the running
 * domain's identity, so a running VM cannot be renamed under it).
 * xenstore_data keys must be vm-data or below it, as XAPI's: VM.start
 * writes them into /local/domain/<domid>/ before the guest runs. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "domain.h"
#include "model.h"
#include "vm_record.h"
#include "vm_meta.h"
#include "vm_scan.h"

#define MAX_VCPUS 128
#define MAX_MEMORY (1ll << 40)
#define MAX_MAP_ENTRIES 256
#define MAX_TEXT 4096


/* Write key = value into t's definition and rescan. */
static json_object *commit(struct call *c, const struct vm_record *t, const char *key,
                           const char *value)
{
    char err[160];
    if (vm_meta_set(t->path, key, value, err, sizeof(err)) < 0)
        return fail(c, "INTERNAL_ERROR", err, NULL);
    vm_scan();
    return void_result();
}

/* An int64 parameter (JSON number or XML-RPC's decimal string). */
static bool arg_i64(struct call *c, int i, long long *out)
{
    json_object *p = json_object_array_get_idx(c->params, (size_t)i);
    if (json_object_is_type(p, json_type_int)) {
        *out = json_object_get_int64(p);
        return true;
    }
    if (json_object_is_type(p, json_type_string)) {
        char *end;
        errno = 0;
        *out = strtoll(json_object_get_string(p), &end, 10);
        if (!errno && end != json_object_get_string(p) && !*end)
            return true;
    }
    fail(c, "FIELD_TYPE_ERROR", "int", NULL);
    return false;
}

/* --- name_label, name_description ------------------------------------- */

static json_object *set_name_label(struct call *c)
{
    struct vm_record t;
    const char *name = arg_str(c, 2);
    if (!name || !vm_defined_of(c, &t, "nothing to keep it in") || !vm_record_in(c, &t, "Halted"))
        return NULL;
    if (!vm_good_name(name))
        return fail(c, "INVALID_VALUE", "name_label", name, NULL);
    if (!strcmp(name, t.name))
        return void_result();
    vm_def_lock();
    model_lock();
    bool taken = model_find("VM", "name_label", name) != NULL;
    model_unlock();
    json_object *res = NULL;
    if (taken) {
        fail(c, "INVALID_VALUE", "name_label", name, NULL);
    } else {
        /* the uuid is pinned first: one derived from the old name would
         * change with it */
        char q[64], *qn = vm_meta_quote(name), err[160];
        snprintf(q, sizeof(q), "\"%s\"", t.uuid);
        if (!qn || vm_meta_set(t.path, "uuid", q, err, sizeof(err)) < 0 ||
            vm_meta_set(t.path, "name", qn, err, sizeof(err)) < 0) {
            fail(c, "INTERNAL_ERROR", qn ? err : "out of memory", NULL);
        } else {
            /* the reference follows the uuid, pinned above */
            vm_scan();
            res = void_result();
        }
        free(qn);
    }
    vm_def_unlock();
    return res;
}

static json_object *set_name_description(struct call *c)
{
    struct vm_record t;
    const char *d = arg_str(c, 2);
    if (!d || !vm_defined_of(c, &t, "nothing to keep it in"))
        return NULL;
    if (strlen(d) > MAX_TEXT)
        return fail(c, "INVALID_VALUE", "name_description", "too long", NULL);
    char *q = vm_meta_quote(d);
    if (!q)
        return fail(c, "INVALID_VALUE", "name_description", "control character", NULL);
    vm_def_lock();
    json_object *r = commit(c, &t, "xapi_name_description", *d ? q : NULL);
    vm_def_unlock();
    free(q);
    return r;
}

/* --- memory and vCPUs --------------------------------------------------- */

/* The definition's memory (MiB): memory= (target) and maxmem=. */
static json_object *write_memory(struct call *c, const struct vm_record *t, long long min,
                                 long long max)
{
    if (min < (1ll << 20) || max > MAX_MEMORY || min > max)
        return fail(c, "MEMORY_CONSTRAINT_VIOLATION",
                    "Memory limits must satisfy: 1 MiB <= static_min <= dynamic_min <= "
                    "dynamic_max <= static_max", NULL);
    char a[32], b[32], err[160];
    snprintf(a, sizeof(a), "%lld", (min + (1 << 20) - 1) >> 20);
    snprintf(b, sizeof(b), "%lld", (max + (1 << 20) - 1) >> 20);
    vm_def_lock();
    json_object *r = NULL;
    if (vm_meta_set(t->path, "memory", a, err, sizeof(err)) < 0 ||
        vm_meta_set(t->path, "maxmem", b, err, sizeof(err)) < 0)
        fail(c, "INTERNAL_ERROR", err, NULL);
    else
        r = void_result();
    vm_def_unlock();
    vm_scan();
    return r;
}

static long long field_i64(const char *ref, const char *field)
{
    model_lock();
    json_object *r = model_get("VM", ref), *f;
    long long v = r && json_object_object_get_ex(r, field, &f) ? json_object_get_int64(f) : 0;
    model_unlock();
    return v;
}

/* memory_static_max and memory_dynamic_max are maxmem=; the minima and
 * the target are memory=. */
static json_object *set_mem_one(struct call *c, bool is_max)
{
    struct vm_record t;
    long long v;
    if (!vm_defined_of(c, &t, "nothing to keep it in") || !arg_i64(c, 2, &v) || !vm_record_in(c, &t, "Halted"))
        return NULL;
    long long lo = field_i64(t.ref, "memory_static_min"), hi = field_i64(t.ref, "memory_static_max");
    return write_memory(c, &t, is_max ? lo : v, is_max ? v : hi);
}

static json_object *set_memory_static_max(struct call *c) { return set_mem_one(c, true); }
static json_object *set_memory_dynamic_max(struct call *c) { return set_mem_one(c, true); }
static json_object *set_memory_static_min(struct call *c) { return set_mem_one(c, false); }
static json_object *set_memory_dynamic_min(struct call *c) { return set_mem_one(c, false); }

static json_object *set_memory(struct call *c)
{
    struct vm_record t;
    long long v;
    if (!vm_defined_of(c, &t, "nothing to keep it in") || !arg_i64(c, 2, &v) || !vm_record_in(c, &t, "Halted"))
        return NULL;
    return write_memory(c, &t, v, v);
}

/* Halted: the definition's range. Running: the balloon target (the
 * maximum), within memory_static_max, as XAPI's live dynamic range. */
static json_object *set_memory_dynamic_range(struct call *c)
{
    struct vm_record t;
    long long lo, hi;
    if (!vm_defined_of(c, &t, "nothing to keep it in") || !arg_i64(c, 2, &lo) || !arg_i64(c, 3, &hi))
        return NULL;
    if (!strcmp(t.power, "Halted"))
        return write_memory(c, &t, lo, hi);
    if (!vm_record_in(c, &t, "Running"))
        return NULL;
    if (lo < (1ll << 20) || lo > hi || hi > field_i64(t.ref, "memory_static_max"))
        return fail(c, "MEMORY_CONSTRAINT_VIOLATION",
                    "Memory limits must satisfy: static_min <= dynamic_min <= dynamic_max "
                    "<= static_max", NULL);
    char *msg = NULL;
    size_t ml;
    FILE *err = open_memstream(&msg, &ml);
    int rc = xenon_domain_set_target(&vm_paths, (unsigned)t.domid, (uint64_t)hi / 1024, err);
    fclose(err);
    if (rc < 0) {
        if (msg)
            msg[strcspn(msg, "\n")] = 0;
        fail(c, "INTERNAL_ERROR", msg && *msg ? msg : "cannot set the target", NULL);
        free(msg);
        return NULL;
    }
    free(msg);
    vm_scan();
    return void_result();
}

static json_object *set_vcpus(struct call *c, bool is_max)
{
    struct vm_record t;
    long long v;
    if (!vm_defined_of(c, &t, "nothing to keep it in") || !arg_i64(c, 2, &v) || !vm_record_in(c, &t, "Halted"))
        return NULL;
    long long cur = field_i64(t.ref, "VCPUs_at_startup"), max = field_i64(t.ref, "VCPUs_max");
    long long n = is_max ? cur : v, m = is_max ? v : max;
    if (v < 1 || v > MAX_VCPUS)
        return fail(c, "INVALID_VALUE", is_max ? "VCPUs_max" : "VCPUs_at_startup", "", NULL);
    if (n > m)
        return fail(c, "VCPUS_AT_STARTUP_GREATER_THAN_VCPUS_MAX", NULL);
    char a[24], b[24], err[160];
    snprintf(a, sizeof(a), "%lld", n);
    snprintf(b, sizeof(b), "%lld", m);
    vm_def_lock();
    json_object *r = NULL;
    if (vm_meta_set(t.path, "vcpus", a, err, sizeof(err)) < 0 ||
        vm_meta_set(t.path, "maxvcpus", b, err, sizeof(err)) < 0)
        fail(c, "INTERNAL_ERROR", err, NULL);
    else
        r = void_result();
    vm_def_unlock();
    vm_scan();
    return r;
}

static json_object *set_vcpus_max(struct call *c) { return set_vcpus(c, true); }
static json_object *set_vcpus_at_startup(struct call *c) { return set_vcpus(c, false); }

/* --- maps and tags ------------------------------------------------------ */

/* The map or list `field` as the file holds it now (new). */
static json_object *current(const struct vm_record *t, const char *field)
{
    size_t len = 0;
    char *data = vm_def_text(t->path, &len);
    json_object *m = vm_meta_read(t->path, data ? data : "", len), *v;
    free(data);
    json_object *r = json_object_object_get_ex(m, field, &v) ? json_object_get(v) : NULL;
    json_object_put(m);
    return r;
}

/* Write a map as xapi_<field> = [ "k=v", ... ] (removed when empty). */
static json_object *write_map(struct call *c, const struct vm_record *t, const char *field,
                              json_object *map)
{
    char key[64];
    snprintf(key, sizeof(key), "xapi_%s", field);
    if (json_object_object_length(map) == 0)
        return commit(c, t, key, NULL);
    if (json_object_object_length(map) > MAX_MAP_ENTRIES)
        return fail(c, "INVALID_VALUE", field, "too many entries", NULL);
    char *text = NULL;
    size_t tl;
    FILE *o = open_memstream(&text, &tl);
    if (!o)
        return fail(c, "INTERNAL_ERROR", "out of memory", NULL);
    fputs("[", o);
    bool first = true, bad = false;
    json_object_object_foreach(map, k, v) {
        const char *vs = json_object_get_string(v);
        char *kv = malloc(strlen(k) + strlen(vs) + 2);
        if (!kv) {
            bad = true;
            break;
        }
        sprintf(kv, "%s=%s", k, vs);
        char *q = vm_meta_quote(kv);
        free(kv);
        if (!q) {
            bad = true;
            break;
        }
        fprintf(o, "%s%s", first ? " " : ", ", q);
        first = false;
        free(q);
    }
    fputs(" ]", o);
    fclose(o);
    json_object *r = bad ? fail(c, "INVALID_VALUE", field, "control character", NULL)
                         : commit(c, t, key, text);
    free(text);
    return r;
}

static bool good_key(struct call *c, const char *field, const char *k, const char *v)
{
    if (!*k || strchr(k, '=') || strlen(k) > 256 || (v && strlen(v) > MAX_TEXT) ||
        (!strcmp(field, "xenstore_data") && !vm_meta_xenstore_key_ok(k))) {
        fail(c, "INVALID_VALUE", field, k, NULL);
        return false;
    }
    return true;
}

static json_object *map_add(struct call *c, const char *field)
{
    struct vm_record t;
    const char *k = arg_str(c, 2), *v = k ? arg_str(c, 3) : NULL;
    if (!v || !vm_defined_of(c, &t, "nothing to keep it in") || !good_key(c, field, k, v))
        return NULL;
    vm_def_lock();
    json_object *m = current(&t, field), *r = NULL;
    if (m && json_object_object_get_ex(m, k, NULL)) {
        fail(c, "MAP_DUPLICATE_KEY", "VM", field, t.ref, k, NULL);
    } else if (m) {
        json_object_object_add(m, k, json_object_new_string(v));
        r = write_map(c, &t, field, m);
    } else {
        fail(c, "INTERNAL_ERROR", "cannot read the definition", NULL);
    }
    json_object_put(m);
    vm_def_unlock();
    return r;
}

static json_object *map_remove(struct call *c, const char *field)
{
    struct vm_record t;
    const char *k = arg_str(c, 2);
    if (!k || !vm_defined_of(c, &t, "nothing to keep it in"))
        return NULL;
    vm_def_lock();
    json_object *m = current(&t, field), *r;
    if (m && json_object_object_get_ex(m, k, NULL)) {
        json_object_object_del(m, k);
        r = write_map(c, &t, field, m);
    } else {
        r = m ? void_result() : fail(c, "INTERNAL_ERROR", "cannot read the definition", NULL);
    }
    json_object_put(m);
    vm_def_unlock();
    return r;
}

static json_object *map_set(struct call *c, const char *field)
{
    struct vm_record t;
    json_object *m = json_object_array_get_idx(c->params, 2);
    if (!json_object_is_type(m, json_type_object))
        return fail(c, "FIELD_TYPE_ERROR", field, NULL);
    if (!vm_defined_of(c, &t, "nothing to keep it in"))
        return NULL;
    json_object_object_foreach(m, k, v) {
        if (!json_object_is_type(v, json_type_string))
            return fail(c, "FIELD_TYPE_ERROR", field, NULL);
        if (!good_key(c, field, k, json_object_get_string(v)))
            return NULL;
    }
    vm_def_lock();
    json_object *r = write_map(c, &t, field, m);
    vm_def_unlock();
    return r;
}

static json_object *add_to_other_config(struct call *c) { return map_add(c, "other_config"); }
static json_object *remove_from_other_config(struct call *c) { return map_remove(c, "other_config"); }
static json_object *set_other_config(struct call *c) { return map_set(c, "other_config"); }
static json_object *add_to_xenstore_data(struct call *c) { return map_add(c, "xenstore_data"); }
static json_object *remove_from_xenstore_data(struct call *c) { return map_remove(c, "xenstore_data"); }
static json_object *set_xenstore_data(struct call *c) { return map_set(c, "xenstore_data"); }

static json_object *write_tags(struct call *c, const struct vm_record *t, json_object *tags)
{
    if (json_object_array_length(tags) == 0)
        return commit(c, t, "xapi_tags", NULL);
    if (json_object_array_length(tags) > MAX_MAP_ENTRIES)
        return fail(c, "INVALID_VALUE", "tags", "too many", NULL);
    char *text = NULL;
    size_t tl;
    FILE *o = open_memstream(&text, &tl);
    if (!o)
        return fail(c, "INTERNAL_ERROR", "out of memory", NULL);
    fputs("[", o);
    bool bad = false;
    for (size_t i = 0; i < json_object_array_length(tags); i++) {
        char *q = vm_meta_quote(json_object_get_string(json_object_array_get_idx(tags, i)));
        if (!q) {
            bad = true;
            break;
        }
        fprintf(o, "%s%s", i ? ", " : " ", q);
        free(q);
    }
    fputs(" ]", o);
    fclose(o);
    json_object *r = bad ? fail(c, "INVALID_VALUE", "tags", "control character", NULL)
                         : commit(c, t, "xapi_tags", text);
    free(text);
    return r;
}

static int tag_index(json_object *tags, const char *tag)
{
    for (size_t i = 0; i < json_object_array_length(tags); i++)
        if (!strcmp(json_object_get_string(json_object_array_get_idx(tags, i)), tag))
            return (int)i;
    return -1;
}

/* add_tags / remove_tags: as XAPI, adding a present tag or removing an
 * absent one changes nothing and is no error. */
static json_object *tags_edit(struct call *c, bool add)
{
    struct vm_record t;
    const char *tag = arg_str(c, 2);
    if (!tag || !vm_defined_of(c, &t, "nothing to keep it in"))
        return NULL;
    if (!*tag || strlen(tag) > 256)
        return fail(c, "INVALID_VALUE", "tags", tag, NULL);
    vm_def_lock();
    json_object *tags = current(&t, "tags"), *r;
    int i = tags ? tag_index(tags, tag) : -1;
    if (!tags)
        r = fail(c, "INTERNAL_ERROR", "cannot read the definition", NULL);
    else if (add ? i >= 0 : i < 0)
        r = void_result();
    else {
        if (add)
            json_object_array_add(tags, json_object_new_string(tag));
        else
            json_object_array_del_idx(tags, (size_t)i, 1);
        r = write_tags(c, &t, tags);
    }
    json_object_put(tags);
    vm_def_unlock();
    return r;
}

static json_object *add_tags(struct call *c) { return tags_edit(c, true); }
static json_object *remove_tags(struct call *c) { return tags_edit(c, false); }

static json_object *set_tags(struct call *c)
{
    struct vm_record t;
    json_object *l = json_object_array_get_idx(c->params, 2);
    if (!json_object_is_type(l, json_type_array))
        return fail(c, "FIELD_TYPE_ERROR", "tags", NULL);
    for (size_t i = 0; i < json_object_array_length(l); i++)
        if (!json_object_is_type(json_object_array_get_idx(l, i), json_type_string))
            return fail(c, "FIELD_TYPE_ERROR", "tags", NULL);
    if (!vm_defined_of(c, &t, "nothing to keep it in"))
        return NULL;
    vm_def_lock();
    json_object *r = write_tags(c, &t, l);
    vm_def_unlock();
    return r;
}

const struct xapi_method vm_set_methods[] = {
    { "VM.set_name_label", 3, ROLE_VM_ADMIN, 0, set_name_label },
    { "VM.set_name_description", 3, ROLE_VM_ADMIN, 0, set_name_description },
    { "VM.set_memory", 3, ROLE_VM_ADMIN, M_ASYNC, set_memory },
    { "VM.set_memory_static_max", 3, ROLE_VM_ADMIN, 0, set_memory_static_max },
    { "VM.set_memory_static_min", 3, ROLE_VM_ADMIN, 0, set_memory_static_min },
    { "VM.set_memory_dynamic_max", 3, ROLE_VM_ADMIN, 0, set_memory_dynamic_max },
    { "VM.set_memory_dynamic_min", 3, ROLE_VM_ADMIN, 0, set_memory_dynamic_min },
    { "VM.set_memory_dynamic_range", 4, ROLE_VM_POWER_ADMIN, M_ASYNC, set_memory_dynamic_range },
    { "VM.set_VCPUs_max", 3, ROLE_VM_ADMIN, 0, set_vcpus_max },
    { "VM.set_VCPUs_at_startup", 3, ROLE_VM_ADMIN, 0, set_vcpus_at_startup },
    { "VM.set_other_config", 3, ROLE_VM_ADMIN, 0, set_other_config },
    { "VM.add_to_other_config", 4, ROLE_VM_ADMIN, 0, add_to_other_config },
    { "VM.remove_from_other_config", 3, ROLE_VM_ADMIN, 0, remove_from_other_config },
    { "VM.set_xenstore_data", 3, ROLE_VM_ADMIN, 0, set_xenstore_data },
    { "VM.add_to_xenstore_data", 4, ROLE_VM_ADMIN, 0, add_to_xenstore_data },
    { "VM.remove_from_xenstore_data", 3, ROLE_VM_ADMIN, 0, remove_from_xenstore_data },
    { "VM.set_tags", 3, ROLE_VM_OPERATOR, 0, set_tags },
    { "VM.add_tags", 3, ROLE_VM_OPERATOR, 0, add_tags },
    { "VM.remove_tags", 3, ROLE_VM_OPERATOR, 0, remove_tags },
    { NULL, 0, 0, 0, NULL },
};
