/* Differential fuzzing of the disk spec parser against libxlutil's
 * xlu_disk_parse: any difference in messages or fields aborts.
 *
 * Specs with a newline are run through our parser only: libxlutil's
 * scanner can jam on them ("flex scanner jammed") and exit the process. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diskdump.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *spec, *ours, *ref;

    if (size > 4096 || memchr(data, 0, size))
        return 0;   /* specs are C strings */
    spec = malloc(size + 1);
    if (!spec)
        return 0;
    memcpy(spec, data, size);
    spec[size] = 0;
    ours = diskdump_ours(spec);
    if (memchr(data, '\n', size)) {
        free(ours);
        free(spec);
        return 0;
    }
    ref = diskdump_xlu(spec);
    if (!ours || !ref || strcmp(ours, ref)) {
        fprintf(stderr, "spec `%s'\n--- libxlutil\n%s--- xenon\n%s", spec,
                ref ? ref : "", ours ? ours : "");
        abort();
    }
    free(ours);
    free(ref);
    free(spec);
    return 0;
}
