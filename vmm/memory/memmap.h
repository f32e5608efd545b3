/*
 * The domain's e820 memory map: built from the gmem layout at creation,
 * reported by XENMEM_memory_map and hvm_start_info, replaceable by the
 * guest with XENMEM_set_memory_map (as Xen allows for the domain itself).
 */
#ifndef XENON_MEMMAP_H
#define XENON_MEMMAP_H

#include <stdint.h>

/* Xen's e820 entry as guests see it through XENMEM_memory_map: 20 bytes,
 * packed (the public headers document the call but not the struct). */
struct xen_e820entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
} __attribute__((packed));
_Static_assert(sizeof(struct xen_e820entry) == 20, "e820 entry is 20 bytes");

#define E820_MAX 1024   /* Xen's E820MAX */
#define E820_RAM 1
#define E820_RESERVED 2

struct domain;

/* Build the default map from the domain's memory layout. */
void memmap_init(struct domain *d);

#endif
