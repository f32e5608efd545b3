/*
 * Whether the host can hold a guest's RAM. Guest memory is a sparse memfd,
 * so nothing fails when it is created; without this check a domain larger
 * than the host starts, and its guest later pushes the host into the OOM
 * killer. Xen refuses a domain its heap cannot hold; we refuse RAM beyond
 * what the host has available now (MemAvailable in /proc/meminfo: free
 * memory plus what the kernel can reclaim without swapping).
 */
#ifndef XENON_HOST_MEM_H
#define XENON_HOST_MEM_H

#include <stddef.h>
#include <stdint.h>

struct host_meminfo {
    uint64_t total_kib, available_kib;
};

/* Parse /proc/meminfo's text; 0, or -1 when either field is missing. */
int host_meminfo_parse(const char *text, struct host_meminfo *out);

/* 0 when `bytes` of guest RAM fit in mi's available memory, else -1 with
 * a message for the user in err. */
int host_mem_check(const struct host_meminfo *mi, uint64_t bytes, char *err,
                   size_t errlen);

/* Read /proc/meminfo; 0 or -1. */
int host_meminfo_read(struct host_meminfo *out);

#endif
