/* CPU set parsing for cpus= / cpus_soft= (see cpu_spec.h). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_spec.h"

void xcpumap_clear(struct xcpumap *m) { memset(m, 0, sizeof(*m)); }

void xcpumap_set(struct xcpumap *m, unsigned long cpu)
{
    if (cpu < XCPU_MAX)
        m->bits[cpu / 8] |= (uint8_t)(1u << (cpu % 8));
}

void xcpumap_reset(struct xcpumap *m, unsigned long cpu)
{
    if (cpu < XCPU_MAX)
        m->bits[cpu / 8] &= (uint8_t)~(1u << (cpu % 8));
}

bool xcpumap_test(const struct xcpumap *m, unsigned long cpu)
{
    return cpu < XCPU_MAX && (m->bits[cpu / 8] >> (cpu % 8)) & 1;
}

bool xcpumap_is_full(const struct xcpumap *m)
{
    for (size_t i = 0; i < sizeof(m->bits); i++)
        if (m->bits[i] != 0xff)
            return false;
    return true;
}

int xcpumap_count(const struct xcpumap *m)
{
    int n = 0;

    for (unsigned long c = 0; c < XCPU_MAX; c++)
        n += xcpumap_test(m, c);
    return n;
}

int xcpumap_format(const struct xcpumap *m, char *buf, size_t len)
{
    size_t used = 0;
    int total = 0;

    if (len)
        buf[0] = 0;
    if (xcpumap_is_full(m))
        return snprintf(buf, len, "all");
    for (unsigned long c = 0; c < XCPU_MAX; c++) {
        unsigned long e = c;
        int n;

        if (!xcpumap_test(m, c))
            continue;
        while (e + 1 < XCPU_MAX && xcpumap_test(m, e + 1))
            e++;
        n = e == c ? snprintf(buf + used, used < len ? len - used : 0,
                              "%s%lu", total ? "," : "", c)
                   : snprintf(buf + used, used < len ? len - used : 0,
                              "%s%lu-%lu", total ? "," : "", c, e);
        total += n;
        used = (size_t)total < len ? (size_t)total : len;
        c = e;
    }
    return total;
}

/* "A" or "A-B" with nothing after; xl's rules (strtoul base 10). */
static int parse_range(const char *s, unsigned long *a, unsigned long *b)
{
    const char *n;
    char *ep;

    *a = *b = strtoul(s, &ep, 10);
    if (ep == s || *a == ULONG_MAX)
        return 1;
    if (*ep == '-') {
        n = ep + 1;
        *b = strtoul(n, &ep, 10);
        if (ep == n || *b == ULONG_MAX || *b < *a)
            return 1;
    }
    return *ep != 0;
}

static int update_range(FILE *report, const char *s, struct xcpumap *m)
{
    bool is_not = false;
    unsigned long a, b;

    if (*s == '^') {
        is_not = true;
        s++;
    }
    if (!strncmp(s, "node:", 5) || !strncmp(s, "nodes:", 6)) {
        if (report)
            fprintf(report, "NUMA node ranges are not supported: %s.\n", s);
        return -1;
    }
    if (!strcmp(s, "all")) {
        if (is_not) {
            if (report)
                fprintf(report, "Can't combine \"^\" and \"all\".\n");
            return -1;
        }
        memset(m->bits, 0xff, sizeof(m->bits));
        return 0;
    }
    if (parse_range(s, &a, &b)) {
        if (report)
            fprintf(report, "Invalid pcpu range: %s.\n", s);
        return -1;
    }
    for (; a <= b && a < XCPU_MAX; a++) {
        if (is_not)
            xcpumap_reset(m, a);
        else
            xcpumap_set(m, a);
    }
    return 0;
}

int xcpu_parse_range(FILE *report, const char *s, struct xcpumap *m)
{
    char *buf = strdup(s), *save = NULL;
    int rc = 0;

    if (!buf)
        return -1;
    for (char *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        rc = update_range(report, t, m);
        if (rc)
            break;
    }
    free(buf);
    return rc;
}
