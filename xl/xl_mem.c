/* xl mem-set (Xen's tools/xl/xl_mem.c). */
#include "xl.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main_memset(int argc, char **argv)
{
    while (next_opt(argc, argv, "h", "mem-set", 2) != -1)
        ;
    unsigned domid = find_domain(argv[optind]);
    const char *mem = argv[optind + 1];
    char *end;
    errno = 0;
    unsigned long long v = strtoull(mem, &end, 10);
    unsigned long long mult = 1024;    /* no suffix: MiB */
    if (*end && !end[1]) {
        switch (*end) {
        case 'b': case 'B': mult = 0; break;
        case 'k': case 'K': mult = 1; break;
        case 'm': case 'M': mult = 1024; break;
        case 'g': case 'G': mult = 1024 * 1024; break;
        case 't': case 'T': mult = 1024ull * 1024 * 1024; break;
        default: end = NULL;
        }
    } else if (*end) {
        end = NULL;
    }
    /* A size whose KiB do not fit 64 bits is as invalid as a bad suffix. */
    if (!end || errno || end == mem || mem[0] == '-' ||
        (mult && v > ULLONG_MAX / mult)) {
        fprintf(stderr, "Invalid memory size: %s\n", mem);
        return EXIT_FAILURE;
    }
    unsigned long long kb = mult ? v * mult : v / 1024;
    return xenon_domain_set_target(&paths, domid, kb, stderr) < 0 ? EXIT_FAILURE : 0;
}
