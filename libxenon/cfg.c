/* xl.cfg: configuration object, getters, file reading. The getters return
 * the same codes and print the same warnings as libxlutil's, since users
 * see them from xl. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_internal.h"

struct xcfg *xcfg_new(const char *source, FILE *report)
{
    struct xcfg *cfg = calloc(1, sizeof(*cfg));

    if (!cfg)
        return NULL;
    cfg->report = report;
    cfg->source = strdup(source ? source : "");
    if (!cfg->source) {
        free(cfg);
        return NULL;
    }
    return cfg;
}

void xcfg_free(struct xcfg *cfg)
{
    struct xcfg_setting *s, *next;

    if (!cfg)
        return;
    for (s = cfg->settings; s; s = next) {
        next = s->next;
        free(s->name);
        cfg_value_free(s->value);
        free(s);
    }
    free(cfg->source);
    free(cfg);
}

void xcfg_report(const struct xcfg *cfg, const char *fmt, ...)
{
    va_list ap;

    if (!cfg->report)
        return;
    va_start(ap, fmt);
    vfprintf(cfg->report, fmt, ap);
    va_end(ap);
}

int xcfg_read_file(struct xcfg *cfg, const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int e;

    if (!f) {
        e = errno;
        xcfg_report(cfg, "%s: unable to open configuration file: %s\n", path,
                    strerror(e));
        return e;
    }
    for (;;) {
        size_t n;

        if (len == cap) {
            char *nb;

            cap = cap ? cap * 2 : 4096;
            nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return ENOMEM;
            }
            buf = nb;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    e = ferror(f) ? EIO : 0;
    fclose(f);
    if (e)
        xcfg_report(cfg, "%s: unable to read configuration file: %s\n", path,
                    strerror(e));
    else
        e = xcfg_read_data(cfg, buf, len);
    free(buf);
    return e;
}

struct xcfg *xcfg_parse_data(const char *name, const char *data, size_t len,
                             FILE *errs)
{
    struct xcfg *cfg = xcfg_new(name, errs);

    if (!cfg)
        return NULL;
    if (xcfg_read_data(cfg, data, len)) {
        xcfg_free(cfg);
        return NULL;
    }
    return cfg;
}

struct xcfg *xcfg_parse_file(const char *path, FILE *errs)
{
    struct xcfg *cfg = xcfg_new(path, errs);

    if (!cfg)
        return NULL;
    if (xcfg_read_file(cfg, path)) {
        xcfg_free(cfg);
        return NULL;
    }
    return cfg;
}

char *xcfg_append_overrides(const char *data, size_t len,
                            const char *const *overrides, int n,
                            size_t *out_len)
{
    size_t extra = 0, pos;
    char *buf;

    for (int i = 0; i < n; i++)
        extra += strlen(overrides[i]) + 1;
    buf = malloc(len + extra + 3);
    if (!buf)
        return NULL;
    memcpy(buf, data, len);
    pos = len;
    if (extra) {      /* xl adds nothing when there are no overrides */
        buf[pos++] = '\n';
        for (int i = 0; i < n; i++) {
            size_t l = strlen(overrides[i]);

            memcpy(buf + pos, overrides[i], l);
            pos += l;
            buf[pos++] = '\n';
        }
        buf[pos++] = '\n';
    }
    buf[pos] = 0;
    *out_len = pos;
    return buf;
}

const struct xcfg_setting *xcfg_find(const struct xcfg *cfg, const char *name)
{
    for (const struct xcfg_setting *s = cfg->settings; s; s = s->next)
        if (!strcmp(s->name, name))
            return s;
    return NULL;
}

static int find_atom(const struct xcfg *cfg, const char *name,
                     const struct xcfg_setting **set_r, int dont_warn)
{
    const struct xcfg_setting *s = xcfg_find(cfg, name);

    if (!s)
        return ESRCH;
    if (s->value->type != XCFG_STRING) {
        if (!dont_warn)
            xcfg_report(cfg, "%s:%d: warning: parameter `%s' is a list but "
                        "should be a single value\n", cfg->source, s->line,
                        name);
        return EINVAL;
    }
    *set_r = s;
    return 0;
}

int xcfg_get_string(const struct xcfg *cfg, const char *name,
                    const char **value_r, int dont_warn)
{
    const struct xcfg_setting *s;
    int e = find_atom(cfg, name, &s, dont_warn);

    if (e)
        return e;
    *value_r = s->value->string;
    return 0;
}

int xcfg_get_bounded_long(const struct xcfg *cfg, const char *name, long min,
                          long max, long *value_r, int dont_warn)
{
    const struct xcfg_setting *s;
    const char *str;
    char *ep;
    long l;
    int e = find_atom(cfg, name, &s, dont_warn);

    if (e)
        return e;
    if (s->op == XCFG_OP_ADD) {
        if (!dont_warn)
            xcfg_report(cfg, "%s:%d: warning: can't use += with numbers for "
                        "parameter `%s'\n", cfg->source, s->line, name);
        return EINVAL;
    }
    str = s->value->string;
    errno = 0;
    l = strtol(str, &ep, 0);
    e = errno;
    if (e) {
        if (!dont_warn)
            xcfg_report(cfg, "%s:%d: warning: parameter `%s' could not be "
                        "parsed as a number: %s\n", cfg->source, s->line,
                        name, strerror(e));
        return e;
    }
    if (*ep || ep == str) {
        if (!dont_warn)
            xcfg_report(cfg, "%s:%d: warning: parameter `%s' is not a valid "
                        "number\n", cfg->source, s->line, name);
        return EINVAL;
    }
    if (l < min) {
        if (!dont_warn)
            xcfg_report(cfg, "%s:%d: warning: value `%ld' is smaller than "
                        "minimum bound '%ld'\n", cfg->source, s->line, l, min);
        return EINVAL;
    }
    if (l > max) {
        if (!dont_warn)
            xcfg_report(cfg, "%s:%d: warning: value `%ld' is greater than "
                        "maximum bound '%ld'\n", cfg->source, s->line, l, max);
        return EINVAL;
    }
    *value_r = l;
    return 0;
}

int xcfg_get_long(const struct xcfg *cfg, const char *name, long *value_r,
                  int dont_warn)
{
    return xcfg_get_bounded_long(cfg, name, LONG_MIN, LONG_MAX, value_r,
                                 dont_warn);
}

int xcfg_get_list(const struct xcfg *cfg, const char *name,
                  const struct xcfg_value **list_r, int *n_r, int dont_warn)
{
    const struct xcfg_setting *s = xcfg_find(cfg, name);

    if (!s)
        return ESRCH;
    if (s->value->type != XCFG_LIST) {
        if (!dont_warn)
            xcfg_report(cfg, "%s:%d: warning: parameter `%s' is a single "
                        "value but should be a list\n", cfg->source, s->line,
                        name);
        return EINVAL;
    }
    if (list_r)
        *list_r = s->value;
    if (n_r)
        *n_r = s->value->nitems;
    return 0;
}

int xcfg_get_list_as_string_list(const struct xcfg *cfg, const char *name,
                                 char ***list_r, int *n_r, int dont_warn)
{
    const struct xcfg_value *l;
    char **sl;
    int n, e = xcfg_get_list(cfg, name, &l, &n, dont_warn);

    if (e)
        return e;
    sl = calloc((size_t)n + 1, sizeof(*sl));
    if (!sl)
        return ENOMEM;
    for (int i = 0; i < n; i++) {
        const char *it = xcfg_list_item(l, i);

        if (it && !(sl[i] = strdup(it))) {
            while (i--)
                free(sl[i]);
            free(sl);
            return ENOMEM;
        }
    }
    *list_r = sl;
    if (n_r)
        *n_r = n;
    return 0;
}

void xcfg_string_list_free(char **list, int n)
{
    if (!list)
        return;
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

const struct xcfg_value *xcfg_list_value(const struct xcfg_value *list, int i)
{
    if (!list || list->type != XCFG_LIST || i < 0 || i >= list->nitems)
        return NULL;
    return list->items[i];
}

const char *xcfg_list_item(const struct xcfg_value *list, int i)
{
    const struct xcfg_value *v = xcfg_list_value(list, i);

    return v && v->type == XCFG_STRING ? v->string : NULL;
}
