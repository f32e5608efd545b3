/* Every disk spec in tests/libxenon/disk_specs.txt is parsed by
 * disk_spec.c and by libxlutil's xlu_disk_parse, and every vif rate in
 * vif_rates.txt by vif_spec.c and xlu_vif_parse_rate: messages and all
 * fields must agree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diskdump.h"

static int run(const char *file, char *(*ours_fn)(const char *),
               char *(*ref_fn)(const char *))
{
    const char *root = getenv("XENON_SOURCE_ROOT");
    char path[4096], line[4096];
    FILE *f;
    int n = 0, fails = 0;

    snprintf(path, sizeof(path), "%s/tests/libxenon/%s", root ? root : ".",
             file);
    f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    while (fgets(line, sizeof(line), f)) {
        char spec[4096], *q = spec, *ours, *ref;

        line[strcspn(line, "\n")] = 0;
        if (line[0] == '#')
            continue;
        for (const char *p = line; *p; p++) {
            if (p[0] == '\\' && p[1] == 'n') {
                *q++ = '\n';
                p++;
            } else {
                *q++ = *p;
            }
        }
        *q = 0;
        ours = ours_fn(spec);
        ref = ref_fn(spec);
        n++;
        if (!ours || !ref || strcmp(ours, ref)) {
            printf("FAIL `%s'\n--- libxlutil\n%s--- xenon\n%s", line,
                   ref ? ref : "", ours ? ours : "");
            fails++;
        } else if (getenv("ORACLE_VERBOSE")) {
            printf("ok `%s'\n%s", line, ours);
        }
        free(ours);
        free(ref);
    }
    fclose(f);
    printf("%s: %d specs, %d differ from libxlutil\n", file, n, fails);
    return fails;
}

int main(void)
{
    int fails = run("disk_specs.txt", diskdump_ours, diskdump_xlu);

    fails += run("vif_rates.txt", ratedump_ours, ratedump_xlu);
    return fails ? 1 : 0;
}
