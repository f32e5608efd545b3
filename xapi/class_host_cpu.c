/* host_cpu: one record per online CPU of the host, from /proc/cpuinfo, as
 * XAPI lists them (number, vendor, modelname, speed, flags...). */
#include "host_info.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* One "key : value" line's value, or NULL. */
static const char *value_of(char *line, const char *key)
{
    size_t kl = strlen(key);
    if (strncmp(line, key, kl) || (line[kl] != '\t' && line[kl] != ' ' && line[kl] != ':'))
        return NULL;
    char *c = strchr(line, ':');
    if (!c)
        return NULL;
    c += 1 + (c[1] == ' ');
    c[strcspn(c, "\n")] = 0;
    return c;
}

static void put_cpu(json_object *cpu, json_object *refs)
{
    char ref[48], uuid[40], what[64];
    json_object *num;
    snprintf(what, sizeof(what), "host_cpu:%d", json_object_object_get_ex(cpu, "number", &num)
                                                    ? json_object_get_int(num) : -1);
    host_derived_uuid(what, uuid);
    snprintf(what, sizeof(what), "host_cpu/%s", uuid);
    snprintf(ref, sizeof(ref), "%s", model_ref_for(what));
    json_object_object_add(cpu, "uuid", json_object_new_string(uuid));
    json_object_object_add(cpu, "host", json_object_new_string(host_ref()));
    json_object_object_add(cpu, "utilisation", json_object_new_double(0));
    json_object_object_add(cpu, "other_config", json_object_new_object());
    model_put("host_cpu", ref, cpu);
    json_object_array_add(refs, json_object_new_string(ref));
}

/* locked: the records, and host.host_CPUs pointing at them. */
void host_cpus_init(void)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    if (!f)
        return;
    json_object *refs = json_object_new_array(), *cpu = NULL;
    char line[4096];
    static const struct { const char *key, *field; } keys[] = {
        { "vendor_id", "vendor" }, { "model name", "modelname" }, { "cpu family", "family" },
        { "model", "model" }, { "stepping", "stepping" }, { "flags", "flags" },
        { "cpu MHz", "speed_text" },
    };
    while (fgets(line, sizeof(line), f)) {
        const char *v = value_of(line, "processor");
        if (v) {
            if (cpu)
                put_cpu(cpu, refs);
            cpu = json_object_new_object();
            json_object_object_add(cpu, "number", json_object_new_int64(atoll(v)));
            json_object_object_add(cpu, "features", json_object_new_string(""));
            continue;
        }
        for (size_t i = 0; cpu && i < sizeof(keys) / sizeof(keys[0]); i++) {
            if ((v = value_of(line, keys[i].key))) {
                if (!strcmp(keys[i].field, "speed_text"))
                    json_object_object_add(cpu, "speed", json_object_new_int64(atoll(v)));
                else if (!strcmp(keys[i].field, "family") || !strcmp(keys[i].field, "model"))
                    json_object_object_add(cpu, keys[i].field, json_object_new_int64(atoll(v)));
                else
                    json_object_object_add(cpu, keys[i].field, json_object_new_string(v));
                break;
            }
        }
    }
    fclose(f);
    if (cpu)
        put_cpu(cpu, refs);
    json_object *h = model_get("host", host_ref());
    if (h) {
        json_object *n = model_copy(h);
        json_object_object_add(n, "host_CPUs", refs);
        model_put("host", host_ref(), n);
    } else {
        json_object_put(refs);
    }
}
