#include "state.h"

#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct state_module *modules[STATE_MAX_MODULES];
static unsigned nr_modules;

int state_put(struct state_buf *b, const void *p, size_t n)
{
    if (n > SIZE_MAX / 2 - b->len)
        return -ENOMEM;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d)
            return -ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void state_buf_free(struct state_buf *b)
{
    free(b->data);
    *b = (struct state_buf){ 0 };
}

const struct state_module *state_find(const char *name)
{
    for (unsigned i = 0; i < nr_modules; i++)
        if (strcmp(modules[i]->name, name) == 0)
            return modules[i];
    return NULL;
}

void state_register(const struct state_module *m)
{
    if (strlen(m->name) >= STATE_NAME_LEN || state_find(m->name) ||
        nr_modules >= STATE_MAX_MODULES) {
        fprintf(stderr, "state: cannot register module %s\n", m->name);
        abort();
    }
    modules[nr_modules++] = m;
}

static bool named(const char *const *names, const char *name)
{
    for (; names && *names; names++)
        if (strcmp(*names, name) == 0)
            return true;
    return false;
}

int state_save(struct domain *d, struct state_buf *out)
{
    return state_save_some(d, NULL, out);
}

/* names NULL: every module. */
int state_save_some(struct domain *d, const char *const *names, struct state_buf *out)
{
    for (unsigned i = 0; i < nr_modules; i++) {
        const struct state_module *m = modules[i];
        if (names && !named(names, m->name))
            continue;
        struct state_record_header h = { .version = m->version };
        memcpy(h.name, m->name, strlen(m->name));
        size_t at = out->len;
        int rc = state_put(out, &h, sizeof(h));
        if (rc < 0)
            return rc;
        rc = m->save(d, out);
        if (rc < 0)
            return rc;
        size_t len = out->len - at - sizeof(h);
        if (len > STATE_MAX_RECORD)
            return -E2BIG;
        h.length = (uint32_t)len;
        memcpy(out->data + at, &h, sizeof(h));
    }
    return 0;
}

int state_load(struct domain *d, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        struct state_record_header h;
        if (len < sizeof(h))
            return -EINVAL;
        memcpy(&h, buf, sizeof(h));
        buf += sizeof(h);
        len -= sizeof(h);
        if (h.length > len || h.length > STATE_MAX_RECORD)
            return -EINVAL;
        if (memchr(h.name, 0, sizeof(h.name)) == NULL)
            return -EINVAL;
        const struct state_module *m = state_find(h.name);
        if (!m || h.version != m->version)
            return -EINVAL;
        int rc = m->load(d, buf, h.length);
        if (rc < 0)
            return rc;
        buf += h.length;
        len -= h.length;
    }
    return 0;
}

int state_reload_check(struct domain *d, size_t *bytes)
{
    struct state_buf a = { 0 }, b = { 0 };
    int rc = state_save(d, &a);
    if (rc == 0)
        rc = state_load(d, a.data, a.len);
    if (rc == 0)
        rc = state_save(d, &b);
    if (rc == 0 && a.len != b.len)
        rc = -EIO;
    for (size_t at = 0; rc == 0 && at < a.len;) {
        struct state_record_header ha, hb;
        memcpy(&ha, a.data + at, sizeof(ha));
        memcpy(&hb, b.data + at, sizeof(hb));
        const struct state_module *m = state_find(ha.name);
        const uint8_t *pa = a.data + at + sizeof(ha), *pb = b.data + at + sizeof(hb);
        if (memcmp(&ha, &hb, sizeof(ha)) != 0 || !m ||
            !(m->same ? m->same(pa, pb, ha.length) : memcmp(pa, pb, ha.length) == 0)) {
            log_err("state: module %.16s reads back different after a reload", ha.name);
            rc = -EIO;
        }
        at += sizeof(ha) + ha.length;
    }
    *bytes = a.len;
    state_buf_free(&a);
    state_buf_free(&b);
    return rc;
}
