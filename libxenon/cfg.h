/* xl.cfg parsing: the grammar and the getters xl reads it with.
 *
 * The accepted language, the values kept and every message written to the
 * report stream follow Xen's libxlutil (the parser `xl` uses), including its
 * error recovery: see docs/xl-cfg.md. Every scalar is kept as text and
 * converted where it is read ("every scalar is text"), so vcpus = "4" and
 * vcpus = 4 read the same.
 *
 * Messages (errors and getter warnings) go to the FILE* given at creation,
 * prefixed by the source name given there, e.g.
 *   guest.cfg:3: config parsing error near `foo': syntax error, ...
 */
#ifndef XENON_CFG_H
#define XENON_CFG_H

#include <stddef.h>
#include <stdio.h>

enum xcfg_type { XCFG_STRING, XCFG_LIST };
enum xcfg_op { XCFG_OP_ASSIGN, XCFG_OP_ADD };

struct xcfg_value {
    enum xcfg_type type;
    int line;                   /* where the value starts */
    char *string;               /* XCFG_STRING */
    struct xcfg_value **items;  /* XCFG_LIST */
    int nitems, aitems;
};

struct xcfg_setting {
    struct xcfg_setting *next;  /* newest first; a later key shadows */
    char *name;
    struct xcfg_value *value;
    enum xcfg_op op;
    int line;
};

struct xcfg {
    struct xcfg_setting *settings;
    FILE *report;
    char *source;
};

/* An empty configuration reporting to `report` (may be NULL: silent) under
 * the name `source`. NULL only on allocation failure. */
struct xcfg *xcfg_new(const char *source, FILE *report);
void xcfg_free(struct xcfg *cfg);

/* Parse data into cfg. 0, or an errno value (EINVAL for a bad file, with
 * messages written to the report stream). After a failure only xcfg_free
 * is meaningful. */
int xcfg_read_data(struct xcfg *cfg, const char *data, size_t len);
/* Read a whole file then parse it as xcfg_read_data. */
int xcfg_read_file(struct xcfg *cfg, const char *path);

/* One-shot forms: NULL on any error (messages written to errs). */
struct xcfg *xcfg_parse_data(const char *name, const char *data, size_t len,
                             FILE *errs);
struct xcfg *xcfg_parse_file(const char *path, FILE *errs);

/* `xl create cfg KEY=VALUE...`: the text xl parses is the file, a newline,
 * each override followed by a newline, and a final newline. Returns a
 * malloc'd buffer (length in *out_len), NULL on allocation failure. */
char *xcfg_append_overrides(const char *data, size_t len,
                            const char *const *overrides, int n,
                            size_t *out_len);

/* Getters. Return 0, ESRCH (not set), EINVAL (wrong shape or not a
 * number; a warning is written unless dont_warn) or ERANGE. */
const struct xcfg_setting *xcfg_find(const struct xcfg *cfg, const char *name);
int xcfg_get_string(const struct xcfg *cfg, const char *name,
                    const char **value_r, int dont_warn);
int xcfg_get_long(const struct xcfg *cfg, const char *name, long *value_r,
                  int dont_warn);
int xcfg_get_bounded_long(const struct xcfg *cfg, const char *name, long min,
                          long max, long *value_r, int dont_warn);
int xcfg_get_list(const struct xcfg *cfg, const char *name,
                  const struct xcfg_value **list_r, int *n_r, int dont_warn);
/* NULL-terminated malloc'd copy of a list's string items (non-string items
 * become NULL, as in libxlutil, so pass the count *n_r to
 * xcfg_string_list_free). */
int xcfg_get_list_as_string_list(const struct xcfg *cfg, const char *name,
                                 char ***list_r, int *n_r, int dont_warn);
void xcfg_string_list_free(char **list, int n);
/* Item i of a list if it is a string, else NULL. */
const char *xcfg_list_item(const struct xcfg_value *list, int i);
const struct xcfg_value *xcfg_list_value(const struct xcfg_value *list,
                                         int i);

/* Report a message to cfg's stream, printf-style (no prefix added). */
void xcfg_report(const struct xcfg *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
