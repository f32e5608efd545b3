/* Differential fuzzing of the xl.cfg parser against Debian's libxlutil:
 * the same input must give the same verdict, messages and values (see
 * tests/libxenon/cfgdump.h); any difference aborts.
 *
 * Inputs with a NUL byte are run through our parser only: libxlutil
 * asserts on a NUL inside a quoted string (it measures the token with
 * strlen) and prints messages cut at the NUL, so there is nothing to
 * compare against. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "cfgdump.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *ours, *ref;

    if (size > 1 << 16)
        return 0;
    ours = cfgdump_ours("fuzz.cfg", (const char *)data, size);
    if (memchr(data, 0, size)) {
        free(ours);
        return 0;
    }
    ref = cfgdump_xlu("fuzz.cfg", (const char *)data, size);
    if (!ours || !ref || strcmp(ours, ref)) {
        fprintf(stderr, "--- libxlutil\n%s--- xenon\n%s",
                ref ? ref : "(null)\n", ours ? ours : "(null)\n");
        abort();
    }
    free(ours);
    free(ref);
    return 0;
}
