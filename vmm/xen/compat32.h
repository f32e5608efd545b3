/*
 * The i386 layouts of the few hypercall arguments whose 32-bit form
 * differs from the 64-bit one (they contain unsigned long, xen_pfn_t or
 * guest handles). Xen generates these "compat" structures at build time and
 * the public headers do not ship them, so they are written out here; the
 * sizes are checked against Xen's i386 ABI (uint64_t is 4-byte aligned).
 */
#ifndef XENON_COMPAT32_H
#define XENON_COMPAT32_H

#include <stdint.h>

#pragma pack(push, 4)

struct compat_add_to_physmap {
    uint16_t domid;
    uint16_t size;
    uint32_t space;
    uint32_t idx;
    uint32_t gpfn;
};

struct compat_memory_map {
    uint32_t nr_entries;
    uint32_t buffer;
};

struct compat_foreign_memory_map {
    uint16_t domid;
    uint16_t pad;
    struct compat_memory_map map;
};

struct compat_gnttab_setup_table {
    uint16_t dom;
    uint16_t pad;
    uint32_t nr_frames;
    int16_t status;
    uint16_t pad2;
    uint32_t frame_list;
};

struct compat_gnttab_copy_ptr {
    uint32_t u;             /* grant_ref_t ref or xen_pfn_t gmfn */
    uint16_t domid;
    uint16_t offset;
};

struct compat_gnttab_copy {
    struct compat_gnttab_copy_ptr source, dest;
    uint16_t len;
    uint16_t flags;
    int16_t status;
};

struct compat_sched_poll {
    uint32_t ports;
    uint32_t nr_ports;
    uint64_t timeout;
};

struct compat_vcpu_runstate_info {
    int32_t state;
    uint64_t state_entry_time;
    uint64_t time[4];
};

#pragma pack(pop)

_Static_assert(sizeof(struct compat_add_to_physmap) == 16, "i386 ABI");
_Static_assert(sizeof(struct compat_memory_map) == 8, "i386 ABI");
_Static_assert(sizeof(struct compat_foreign_memory_map) == 12, "i386 ABI");
_Static_assert(sizeof(struct compat_gnttab_setup_table) == 16, "i386 ABI");
_Static_assert(sizeof(struct compat_gnttab_copy) == 24, "i386 ABI");
_Static_assert(sizeof(struct compat_sched_poll) == 16, "i386 ABI");
_Static_assert(sizeof(struct compat_vcpu_runstate_info) == 44, "i386 ABI");

#endif
