/* libFuzzer: the edits of a VM definition that XenAPI setters make
 * (vm_meta.h). The input is a client's string, a NUL, then a definition's
 * text. Checked, aborting when false:
 *  - a string vm_meta_quote accepts reads back as itself through xl.cfg's
 *    parser (a client's value cannot become a key of its own);
 *  - editing a definition that parses leaves one that parses, with the
 *    new value read back and every other key still there. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "vm_meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *description(const char *text, size_t len)
{
    static char buf[8192];
    json_object *m = vm_meta_read("fuzz", text, len);
    snprintf(buf, sizeof(buf), "%s", vm_meta_description(m));
    json_object_put(m);
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    if (!nul || nul - data > 4000)
        return 0;
    const char *s = (const char *)data;
    const char *def = (const char *)nul + 1;
    size_t dlen = size - (size_t)(nul - data) - 1;
    char *q = vm_meta_quote(s);
    if (!q || !*s) {
        free(q);
        return 0;
    }
    char line[8300];
    int n = snprintf(line, sizeof(line), "xapi_name_description = %s\n", q);
    if (strcmp(description(line, (size_t)n), s))
        abort();

    size_t olen;
    char *out = vm_meta_edit(def, dlen, "xapi_name_description", q, &olen);
    struct xcfg *before = xcfg_parse_data("fuzz", def, dlen, NULL);
    if (out && before) {
        struct xcfg *after = xcfg_parse_data("fuzz", out, olen, NULL);
        if (!after || strcmp(description(out, olen), s))
            abort();
        for (const struct xcfg_setting *x = before->settings; x; x = x->next)
            if (strcmp(x->name, "xapi_name_description") && !xcfg_find(after, x->name))
                abort();
        xcfg_free(after);
    }
    if (before)
        xcfg_free(before);
    free(out);
    free(q);
    return 0;
}
