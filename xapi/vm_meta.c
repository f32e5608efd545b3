/* XAPI fields kept in a VM's xl.cfg, and atomic edits of it (vm_meta.h). */
#include "vm_meta.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "domain_config.h"

static pthread_mutex_t def_lock = PTHREAD_MUTEX_INITIALIZER;

void vm_def_lock(void)
{
    pthread_mutex_lock(&def_lock);
}

void vm_def_unlock(void)
{
    pthread_mutex_unlock(&def_lock);
}

char *vm_def_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *text = malloc(VM_DEF_MAX);
    size_t n = text ? fread(text, 1, VM_DEF_MAX, f) : 0;
    int failed = !text ? ENOMEM : ferror(f) ? EIO : n == VM_DEF_MAX ? EFBIG : 0;
    fclose(f);
    if (failed) {
        free(text);
        errno = failed;
        return NULL;
    }
    text[n] = '\0';
    *len = n;
    return text;
}

static void read_map(const struct xcfg *cfg, const char *key, json_object *into)
{
    const struct xcfg_value *l;
    int n;
    if (xcfg_get_list(cfg, key, &l, &n, 1) != 0)
        return;
    for (int i = 0; i < n; i++) {
        const char *s = xcfg_list_item(l, i), *eq = s ? strchr(s, '=') : NULL;
        if (!eq || eq == s)
            continue;
        char *k = strndup(s, (size_t)(eq - s));
        if (k)
            json_object_object_add(into, k, json_object_new_string(eq + 1));
        free(k);
    }
}

json_object *vm_meta_read(const char *source, const char *data, size_t len)
{
    json_object *o = json_object_new_object(), *oc = json_object_new_object(),
                *xd = json_object_new_object(), *tags = json_object_new_array();
    struct xcfg *cfg = xcfg_parse_data(source, data, len, NULL);
    const char *desc = "", *snap_of = "", *snap_time = "";
    long tmpl = 0, snap = 0;
    if (cfg) {
        xcfg_get_string(cfg, "xapi_name_description", &desc, 1);
        xcfg_get_long(cfg, "xapi_is_a_template", &tmpl, 1);
        xcfg_get_long(cfg, "xapi_is_a_snapshot", &snap, 1);
        xcfg_get_string(cfg, "xapi_snapshot_of", &snap_of, 1);
        xcfg_get_string(cfg, "xapi_snapshot_time", &snap_time, 1);
        read_map(cfg, "xapi_other_config", oc);
        read_map(cfg, "xapi_xenstore_data", xd);
        const struct xcfg_value *l;
        int n;
        if (xcfg_get_list(cfg, "xapi_tags", &l, &n, 1) == 0)
            for (int i = 0; i < n; i++)
                if (xcfg_list_item(l, i))
                    json_object_array_add(tags, json_object_new_string(xcfg_list_item(l, i)));
    }
    json_object_object_add(o, "name_description", json_object_new_string(desc ? desc : ""));
    /* a snapshot is a template too, as XAPI's */
    json_object_object_add(o, "is_a_template", json_object_new_boolean(tmpl == 1 || snap == 1));
    json_object_object_add(o, "is_a_snapshot", json_object_new_boolean(snap == 1));
    json_object_object_add(o, "snapshot_of", json_object_new_string(snap_of ? snap_of : ""));
    json_object_object_add(o, "snapshot_time", json_object_new_string(
        snap_time && *snap_time ? snap_time : "19700101T00:00:00Z"));
    if (cfg)
        xcfg_free(cfg);
    json_object_object_add(o, "other_config", oc);
    json_object_object_add(o, "xenstore_data", xd);
    json_object_object_add(o, "tags", tags);
    return o;
}

const char *vm_meta_description(json_object *extra)
{
    json_object *f;
    return extra && json_object_object_get_ex(extra, "name_description", &f)
               ? json_object_get_string(f) : "";
}

void vm_meta_merge_map(json_object *extra, const char *field, json_object *into)
{
    json_object *m;
    if (!extra || !json_object_object_get_ex(extra, field, &m))
        return;
    json_object_object_foreach(m, k, v)
        json_object_object_add(into, k, json_object_get(v));
}

bool vm_meta_flag(json_object *extra, const char *field)
{
    json_object *f;
    return extra && json_object_object_get_ex(extra, field, &f) && json_object_get_boolean(f);
}

const char *vm_meta_string(json_object *extra, const char *field)
{
    json_object *f;
    return extra && json_object_object_get_ex(extra, field, &f) ? json_object_get_string(f) : "";
}

json_object *vm_meta_tags(json_object *extra)
{
    json_object *t;
    if (extra && json_object_object_get_ex(extra, "tags", &t))
        return json_object_get(t);
    return json_object_new_array();
}

bool vm_meta_xenstore_key_ok(const char *key)
{
    size_t n = strlen(key);
    if (n > 256 || strncmp(key, "vm-data", 7) || (key[7] && key[7] != '/'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = key[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.' || c == '/';
        if (!ok || (c == '/' && (key[i + 1] == '/' || key[i + 1] == 0)))
            return false;
    }
    return true;
}

char *vm_meta_quote(const char *s)
{
    size_t n = strlen(s);
    char *o = malloc(2 * n + 3), *p = o;
    if (!o)
        return NULL;
    *p++ = '"';
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        const char *esc = *c == '"' ? "\\\"" : *c == '\\' ? "\\\\" : *c == '\n' ? "\\n"
                        : *c == '\t' ? "\\t" : *c == '\r' ? "\\r" : NULL;
        if (esc) {
            memcpy(p, esc, 2);
            p += 2;
        } else if (*c < 0x20 || *c == 0x7f) {
            free(o);
            return NULL;
        } else {
            *p++ = (char)*c;
        }
    }
    *p++ = '"';
    *p = 0;
    return o;
}

/* Whether the line at s assigns key (blanks, key, blanks, "=" or "+="). */
static bool assigns(const char *s, const char *end, const char *key)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    size_t k = strlen(key);
    if ((size_t)(end - s) < k || memcmp(s, key, k))
        return false;
    s += k;
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    return s < end && (*s == '=' || (*s == '+' && s + 1 < end && s[1] == '='));
}

/* The end of the statement starting at s (just past its newline), or NULL
 * when another statement follows it on its line (not edited: refused). */
static const char *statement_end(const char *s, const char *end)
{
    int depth = 0;
    char quote = 0;
    bool done = false;      /* a ';' at depth 0: only blanks / a comment may follow */
    for (; s < end; s++) {
        char c = *s;
        if (quote) {
            if (c == '\\' && s + 1 < end)
                s++;
            else if (c == quote)
                quote = 0;
            continue;
        }
        if (c == '#') {
            while (s < end && *s != '\n')
                s++;
            if (s == end)
                return end;
            c = '\n';
        }
        if (c == '\n' && depth == 0)
            return s + 1;
        if (done && c != ' ' && c != '\t' && c != '\n')
            return NULL;
        if (c == '"' || c == '\'')
            quote = c;
        else if (c == '[')
            depth++;
        else if (c == ']' && depth > 0)
            depth--;
        else if (c == ';' && depth == 0)
            done = true;
    }
    return end;
}

char *vm_meta_edit(const char *data, size_t len, const char *key, const char *value,
                   size_t *out_len)
{
    const char *end = data + len;
    size_t cap = len + strlen(key) + (value ? strlen(value) : 0) + 16;
    char *out = malloc(cap), *o = out;
    if (!out)
        return NULL;
    for (const char *s = data; s < end;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *next = nl ? nl + 1 : end;
        if (assigns(s, end, key)) {
            next = statement_end(s, end);
            if (!next) {
                free(out);
                return NULL;
            }
        } else {
            memcpy(o, s, (size_t)(next - s));
            o += next - s;
        }
        s = next;
    }
    if (o > out && o[-1] != '\n')
        *o++ = '\n';
    if (value)
        o += sprintf(o, "%s = %s\n", key, value);
    *out_len = (size_t)(o - out);
    /* What xl could not read back is not written (xl's lexer takes some
     * odd last lines only without a newline after them, for one). */
    struct xcfg *check = xcfg_parse_data("edit", out, *out_len, NULL);
    if (!check) {
        free(out);
        return NULL;
    }
    xcfg_free(check);
    return out;
}

int vm_meta_set(const char *path, const char *key, const char *value, char *err, size_t errn)
{
    size_t len;
    char *data = vm_def_text(path, &len);
    if (!data) {
        snprintf(err, errn, "cannot read the definition");
        return -1;
    }
    size_t olen;
    char *out = vm_meta_edit(data, len, key, value, &olen);
    free(data);
    if (!out) {
        snprintf(err, errn, "cannot edit %s in the definition (a line holding other "
                 "statements too, or a file xl would not read after the edit)", key);
        return -1;
    }
    char *o = out + olen;
    /* beside it, hidden from the scan (which skips dot files) */
    char tmp[4200];
    const char *slash = strrchr(path, '/');
    int dl = slash ? (int)(slash - path) : 0;
    snprintf(tmp, sizeof(tmp), "%.*s%s.%s.tmp", dl, path, slash ? "/" : "", slash ? slash + 1 : path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    bool ok = fd >= 0 && fchmod(fd, 0644) == 0 &&
              write(fd, out, (size_t)(o - out)) == o - out && fsync(fd) == 0;
    if (fd >= 0)
        ok = close(fd) == 0 && ok;
    free(out);
    if (!ok || rename(tmp, path) < 0) {
        unlink(tmp);
        snprintf(err, errn, "cannot write the definition");
        return -1;
    }
    if (dl) {
        char dir[4200];
        snprintf(dir, sizeof(dir), "%.*s", dl, path);
        (void)dir_fsync(dir);
    }
    return 0;
}

int vm_def_create(const char *path, const char *text, size_t len, char *err, size_t errn)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        snprintf(err, errn, errno == EEXIST ? "a definition of that name exists"
                                            : "cannot write the definition");
        return -1;
    }
    bool ok = fchmod(fd, 0644) == 0 && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    char dir[4200];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else
        snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
    ok = ok && dir_fsync(dir) == 0;
    if (!ok) {
        unlink(path);
        snprintf(err, errn, "cannot write the definition");
        return -1;
    }
    return 0;
}

int vm_def_parse(const char *path, const char *text, size_t len, struct domain_config *dc)
{
    domain_config_init(dc);
    FILE *quiet = fopen("/dev/null", "we");
    int rc = domain_config_parse(path, text, len, NULL, 0, quiet ? quiet : stderr, dc);
    if (quiet)
        fclose(quiet);
    if (rc != 0) {
        domain_config_dispose(dc);
        return -1;
    }
    return 0;
}
