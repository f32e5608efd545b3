/* See cfgdump.h. Both dumps walk the same getters in the same order. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxlutil.h>

#include "cfg.h"
#include "cfgdump.h"

/* libxlutil has no way to list the keys it parsed, so the reference walk
 * mirrors its private layout (tools/libs/util/libxlu_internal.h, stable
 * since Xen 4.x): the settings list heads struct XLU_Config. */
struct xlu_setting_mirror {
    struct xlu_setting_mirror *next;
    char *name;
    void *value;
    int op;
    int lineno;
};
struct xlu_config_mirror {
    struct xlu_setting_mirror *settings;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted distinct names; returns count. */
static int distinct(char **names, int n)
{
    int k = 0;

    qsort(names, (size_t)n, sizeof(*names), cmp_str);
    for (int i = 0; i < n; i++)
        if (!k || strcmp(names[k - 1], names[i]))
            names[k++] = names[i];
    return k;
}

static const long bounds[][2] = { { 0, 100 }, { -5, 5 } };

/* ---- ours ---- */

static void tree_ours(FILE *o, const struct xcfg_value *v)
{
    if (v->type == XCFG_STRING) {
        fprintf(o, "\"%s\"", v->string);
        return;
    }
    fputc('[', o);
    for (int i = 0; i < v->nitems; i++) {
        const struct xcfg_value *it = xcfg_list_value(v, i);
        const char *s = xcfg_list_item(v, i);

        fprintf(o, "%s%s:", i ? "," : "", s ? "s" : "-");
        tree_ours(o, it);
    }
    fputc(']', o);
}

char *cfgdump_ours(const char *name, const char *data, size_t len)
{
    char *buf = NULL, **names = NULL;
    size_t sz = 0;
    FILE *o = open_memstream(&buf, &sz);
    struct xcfg *cfg;
    int rc, n = 0;

    if (!o)
        return NULL;
    cfg = xcfg_new(name, o);
    rc = cfg ? xcfg_read_data(cfg, data, len) : ENOMEM;
    fprintf(o, "verdict: %s\n", rc ? "error" : "ok");
    if (!rc) {
        for (struct xcfg_setting *s = cfg->settings; s; s = s->next)
            n++;
        names = calloc((size_t)n + 1, sizeof(*names));
        n = 0;
        for (struct xcfg_setting *s = cfg->settings; s; s = s->next)
            names[n++] = s->name;
        n = distinct(names, n);
        for (int i = 0; i < n; i++) {
            const char *k = names[i], *s = NULL;
            const struct xcfg_value *l = NULL;
            char **sl = NULL;
            long v = 0;
            int r, cnt = 0;

            fprintf(o, "key %s\n", k);
            r = xcfg_get_string(cfg, k, &s, 0);
            fprintf(o, " string %d %s\n", r, r ? "" : s);
            r = xcfg_get_long(cfg, k, &v, 0);
            fprintf(o, " long %d %ld\n", r, r ? 0 : v);
            for (size_t b = 0; b < sizeof(bounds) / sizeof(bounds[0]); b++) {
                r = xcfg_get_bounded_long(cfg, k, bounds[b][0], bounds[b][1],
                                          &v, 0);
                fprintf(o, " bounded %d %ld\n", r, r ? 0 : v);
            }
            r = xcfg_get_list(cfg, k, &l, &cnt, 0);
            fprintf(o, " list %d %d\n", r, r ? 0 : cnt);
            if (!r) {
                fputs(" tree ", o);
                tree_ours(o, l);
                fputc('\n', o);
            }
            r = xcfg_get_list_as_string_list(cfg, k, &sl, &cnt, 1);
            if (!r) {
                fputs(" strings", o);
                for (int j = 0; j < cnt; j++)
                    fprintf(o, " %s", sl[j] ? sl[j] : "(null)");
                fputc('\n', o);
                xcfg_string_list_free(sl, cnt);
            }
        }
    }
    free(names);
    xcfg_free(cfg);
    fclose(o);
    return buf;
}

/* ---- libxlutil ---- */

static void tree_xlu(FILE *o, XLU_Config *cfg, XLU_ConfigValue *v)
{
    XLU_ConfigList *l;
    char *s;

    if (xlu_cfg_value_type(v) == XLU_STRING) {
        xlu_cfg_value_get_string(cfg, v, &s, 1);
        fprintf(o, "\"%s\"", s);
        return;
    }
    xlu_cfg_value_get_list(cfg, v, &l, 1);
    fputc('[', o);
    for (int i = 0;; i++) {
        XLU_ConfigValue *it = xlu_cfg_get_listitem2(l, i);

        if (!it)
            break;
        fprintf(o, "%s%s:", i ? "," : "",
                xlu_cfg_get_listitem(l, i) ? "s" : "-");
        tree_xlu(o, cfg, it);
    }
    fputc(']', o);
}

char *cfgdump_xlu(const char *name, const char *data, size_t len)
{
    char *buf = NULL, **names = NULL;
    size_t sz = 0;
    FILE *o = open_memstream(&buf, &sz);
    XLU_Config *cfg;
    int rc, n = 0;

    if (!o)
        return NULL;
    cfg = xlu_cfg_init(o, name);
    rc = cfg ? xlu_cfg_readdata(cfg, data, (int)len) : ENOMEM;
    fprintf(o, "verdict: %s\n", rc ? "error" : "ok");
    if (!rc) {
        struct xlu_config_mirror *m = (struct xlu_config_mirror *)cfg;

        for (struct xlu_setting_mirror *s = m->settings; s; s = s->next)
            n++;
        names = calloc((size_t)n + 1, sizeof(*names));
        n = 0;
        for (struct xlu_setting_mirror *s = m->settings; s; s = s->next)
            names[n++] = s->name;
        n = distinct(names, n);
        for (int i = 0; i < n; i++) {
            const char *k = names[i], *s = NULL;
            XLU_ConfigList *l = NULL;
            libxl_string_list sl = NULL;
            long v = 0;
            int r, cnt = 0;

            fprintf(o, "key %s\n", k);
            r = xlu_cfg_get_string(cfg, k, &s, 0);
            fprintf(o, " string %d %s\n", r, r ? "" : s);
            r = xlu_cfg_get_long(cfg, k, &v, 0);
            fprintf(o, " long %d %ld\n", r, r ? 0 : v);
            for (size_t b = 0; b < sizeof(bounds) / sizeof(bounds[0]); b++) {
                r = xlu_cfg_get_bounded_long(cfg, k, bounds[b][0],
                                             bounds[b][1], &v, 0);
                fprintf(o, " bounded %d %ld\n", r, r ? 0 : v);
            }
            r = xlu_cfg_get_list(cfg, k, &l, &cnt, 0);
            fprintf(o, " list %d %d\n", r, r ? 0 : cnt);
            if (!r) {
                /* A list value is reached through its setting. */
                struct xlu_setting_mirror *ms = m->settings;

                while (strcmp(ms->name, k))
                    ms = ms->next;
                fputs(" tree ", o);
                tree_xlu(o, cfg, ms->value);
                fputc('\n', o);
            }
            r = xlu_cfg_get_list_as_string_list(cfg, k, &sl, 1);
            if (!r) {
                fputs(" strings", o);
                for (int j = 0; j < cnt; j++)
                    fprintf(o, " %s", sl[j] ? sl[j] : "(null)");
                fputc('\n', o);
                for (int j = 0; j < cnt; j++)
                    free(sl[j]);
                free(sl);
            }
        }
    }
    free(names);
    xlu_cfg_destroy(cfg);
    fclose(o);
    return buf;
}

/* libxlutil leaks parts of the values it was building when it recovers
 * from a syntax error; that is the reference's problem, not ours, so
 * LeakSanitizer ignores allocations made inside it (ours stay checked). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libxlutil.so\n";
}
