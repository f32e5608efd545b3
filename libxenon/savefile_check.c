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

