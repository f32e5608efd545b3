#include "host_mem.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int field(const char *text, const char *name, uint64_t *kib)
{
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, n) != 0 || p[n] != ':')
            continue;
        char *end;
        unsigned long long v = strtoull(p + n + 1, &end, 10);
        if (end == p + n + 1)
            return -1;
        *kib = v;
        return 0;
    }
    return -1;
}

int host_meminfo_parse(const char *text, struct host_meminfo *out)
{
    return field(text, "MemTotal", &out->total_kib) < 0 ||
                   field(text, "MemAvailable", &out->available_kib) < 0
               ? -1 : 0;
}

int host_mem_check(const struct host_meminfo *mi, uint64_t bytes, char *err,
                   size_t errlen)
{
    uint64_t want_kib = bytes >> 10;
    if (want_kib <= mi->available_kib)
        return 0;
    snprintf(err, errlen, "%" PRIu64 " MiB of guest memory is more than this host "
             "has available (%" PRIu64 " MiB available of %" PRIu64 " MiB)",
             bytes >> 20, mi->available_kib >> 10, mi->total_kib >> 10);
    return -1;
}

int host_meminfo_read(struct host_meminfo *out)
{
    char buf[8192];
    int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    return host_meminfo_parse(buf, out);
}
