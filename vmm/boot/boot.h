/*
 * Boot information for a loaded kernel: hvm_start_info (PVH) or the Linux
 * boot_params "zero page" with identity page tables (Linux 64-bit boot).
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
    uint64_t rbx;                   /* PVH: hvm_start_info */
    uint64_t rsi;                   /* Linux: boot_params */
    uint64_t pml4, gdt;             /* Linux: page tables and GDT */
};

int boot_setup(struct gmem *gm, const struct loaded_kernel *k,
               const struct boot_opts *o, struct boot_entry *e,
               char *err, size_t errlen);

#endif
