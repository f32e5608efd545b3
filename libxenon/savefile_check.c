/* The checks xl restore makes before it creates anything (savefile.h). */
#include "savefile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domain.h"
#include "xenon/contract.h"
#include "xenon/xen_stream_format.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

int savefile_check_emulator(struct stream_source *in, uint32_t length, char *err,
                            size_t errlen)
{
    uint32_t padded = (length + 7u) & ~7u;
    uint8_t *b = malloc(padded);
    if (!b)
        return -ENOMEM;
    int rc = stream_get(in, b, padded);
    struct libxl_emulator_hdr eh;
    if (rc == -ENODATA)
        rc = fail(err, errlen, "EMULATOR_CONTEXT: truncated");
    if (rc == 0) {
        memcpy(&eh, b, sizeof(eh));
        if (eh.id != LIBXL_EMULATOR_UNKNOWN || eh.index != 0)
            rc = fail(err, errlen, "EMULATOR_CONTEXT: emulator %u index %u is not "
                      "Xenon's (0, 0)", eh.id, eh.index);
    }
    for (uint32_t i = length; rc == 0 && i < padded; i++)
        if (b[i])
            rc = fail(err, errlen, "EMULATOR_CONTEXT: non-zero padding");
    /* The records' framing (state.h); their contents are the VMM's to
     * judge. */
    for (size_t at = sizeof(eh); rc == 0 && at < length;) {
        struct { char name[16]; uint32_t version, length; } h;
        if (length - at < sizeof(h)) {
            rc = fail(err, errlen, "EMULATOR_CONTEXT: a record header cut short at "
                      "byte %zu", at);
            break;
        }
        memcpy(&h, b + at, sizeof(h));
        if (!memchr(h.name, 0, sizeof(h.name)))
            rc = fail(err, errlen, "EMULATOR_CONTEXT: a record name without its NUL "
                      "at byte %zu", at);
        else if (h.length > length - at - sizeof(h))
            rc = fail(err, errlen, "EMULATOR_CONTEXT: record \"%s\": length %u "
                      "overruns it", h.name, h.length);
        at += sizeof(h) + (rc == 0 ? h.length : 0);
    }
    free(b);
    return rc;
}

/* The value of the first "key": in libxl's JSON, as text: a string's
 * characters (plain printable ones only; NULL otherwise) or an integer's
 * digits. malloc'd, or NULL when absent or of another kind. */
static char *json_value(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *at = strstr(json, pat);
    if (!at)
        return NULL;
    at += strlen(pat);
    while (*at == ' ' || *at == '\n' || *at == '\t')
        at++;
    size_t n = 0;
    if (*at == '"') {
        at++;
        while (at[n] && at[n] != '"') {
            unsigned char c = (unsigned char)at[n];
            if (c < 0x20 || c > 0x7e || c == '\\')
                return NULL;
            n++;
        }
        if (at[n] != '"')
            return NULL;
    } else {
        while (at[n] >= '0' && at[n] <= '9')
            n++;
        if (!n)
            return NULL;
    }
    return strndup(at, n);
}

/* The domain config from the file's JSON, as an xl.cfg text parsed by
 * the usual parser: the keys a Xenon domain is built from (name, uuid,
 * type, kernel, cmdline, ramdisk, memory, vCPUs). Devices are not
 * restored yet (docs/savefile.md). 0 or -1 (err printed). */
int savefile_config_from_json(const char *json, struct domain_config *dc, FILE *err)
{
    static const struct { const char *json, *cfg; bool str; } keys[] = {
        { "name", "name", true }, { "uuid", "uuid", true }, { "type", "type", true },
        { "kernel", "kernel", true }, { "cmdline", "cmdline", true },
        { "ramdisk", "ramdisk", true }, { "max_vcpus", "vcpus", false },
    };
    char text[8192];
    size_t len = 0;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char *v = json_value(json, keys[i].json);
        if (v && *v)
            len += (size_t)snprintf(text + len, sizeof(text) - len,
                                    keys[i].str ? "%s = \"%s\"\n" : "%s = %s\n",
                                    keys[i].cfg, v);
        free(v);
        if (len >= sizeof(text))
            break;
    }
    char *kb = json_value(json, "target_memkb");
    if (kb && len < sizeof(text))
        len += (size_t)snprintf(text + len, sizeof(text) - len, "memory = %llu\n",
                                strtoull(kb, NULL, 10) / 1024);
    free(kb);
    if (len >= sizeof(text)) {
        fprintf(err, "xl header: the domain config is too large\n");
        return -1;
    }
    domain_config_init(dc);
    if (domain_config_parse("saved domain config", text, len, NULL, 0, err, dc) < 0) {
        domain_config_dispose(dc);
        fprintf(err, "xl header: the saved domain config is not one we can build\n");
        return -1;
    }
    /* xl keeps paths as written, relative to where it ran (as xl does). */
    char *paths[] = { dc->kernel, dc->ramdisk };
    for (int i = 0; i < 2; i++) {
        char cwd[XENON_PATH_MAX], *abs = NULL;
        if (paths[i] && paths[i][0] != '/' && getcwd(cwd, sizeof(cwd)) &&
            asprintf(&abs, "%s/%s", cwd, paths[i]) > 0) {
            free(paths[i]);
            if (i == 0)
                dc->kernel = abs;
            else
                dc->ramdisk = abs;
        }
    }
    return 0;
}

