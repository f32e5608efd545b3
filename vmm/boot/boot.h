/*
 * Boot information for a loaded PVH kernel: hvm_start_info with the memory
 * map, the command line and the initrd as module 0.
 * Works on guest memory only; the caller puts the returned register state
 * into vCPU 0.
 */
#ifndef XENON_BOOT_H
#define XENON_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "loader.h"
#include "memmap.h"

struct boot_opts {
    const char *cmdline;            /* may be NULL */
    const uint8_t *initrd;          /* may be NULL */
    size_t initrd_size;
    const struct xen_e820entry *e820;
    unsigned nr_e820;
};

struct boot_entry {
    uint64_t rip;
    uint64_t rbx;                   /* hvm_start_info */
};

int boot_setup(struct gmem *gm, const struct loaded_kernel *k,
               const struct boot_opts *o, struct boot_entry *e,
               char *err, size_t errlen);

#endif
