/* CPU sets as xl reads them: "all", "0-3,5,^1", "nodes:0" ... for cpus= and
 * cpus_soft=, either one string for every vCPU or a list with one string
 * per vCPU. */
#ifndef XENON_CPU_SPEC_H
#define XENON_CPU_SPEC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define XCPU_MAX 1024   /* CPUs a map can name; higher ones are ignored,
                           as xl ignores CPUs the host does not have */

struct xcpumap {
    uint8_t bits[XCPU_MAX / 8];
};

void xcpumap_clear(struct xcpumap *m);
void xcpumap_set(struct xcpumap *m, unsigned long cpu);
void xcpumap_reset(struct xcpumap *m, unsigned long cpu);
bool xcpumap_test(const struct xcpumap *m, unsigned long cpu);
bool xcpumap_is_full(const struct xcpumap *m);
int xcpumap_count(const struct xcpumap *m);
/* "0-3,5" style text (or "all"); returns chars written as snprintf. */
int xcpumap_format(const struct xcpumap *m, char *buf, size_t len);

/* Apply "A", "A-B", "^A-B", "all" items separated by commas to m (empty
 * items are skipped, as in xl). NUMA node items ("node:N", "nodes:N")
 * are refused: Xenon has no host NUMA information yet. Errors print xl's
 * message to report and return -1. */
int xcpu_parse_range(FILE *report, const char *s, struct xcpumap *m);

#endif
