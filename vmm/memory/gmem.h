/*
 * Guest physical memory.
 *
 * All guest memory lives in one memfd (so save, migration and checkpointing
 * can read it as a file) mapped MAP_SHARED into the VMM. The memfd is cut
 * into regions, each mapped at one guest-physical range: RAM below the MMIO
 * hole, RAM above 4 GiB, the special pages (console and xenstore rings), and
 * single pages added later to back Xen-owned frames that a guest maps into
 * a hole of its physical address space (shared info, grant frames).
 *
 * Every access the VMM makes on a guest's behalf goes through gmem_ptr(),
 * which returns NULL unless the whole range lies inside one region.
 * Regions are only ever added, never removed, so a pointer stays valid for
 * the life of the gmem.
 */
#ifndef XENON_GMEM_H
#define XENON_GMEM_H

#include <stdbool.h>
#include <stdint.h>

#define GMEM_PAGE_SIZE 4096u
#define GMEM_PAGE_SHIFT 12
#define GMEM_MAX_REGIONS 64

enum gmem_kind { GMEM_RAM, GMEM_SPECIAL, GMEM_XEN_PAGE };

struct gmem_region {
    uint64_t gpa;
    uint64_t size;
    uint64_t fd_offset;
    uint8_t *host;
    enum gmem_kind kind;
};

struct gmem {
    int fd;
    uint64_t fd_size;
    struct gmem_region region[GMEM_MAX_REGIONS];
    unsigned nr_regions;            /* published with release ordering */
    uint64_t ram_bytes;
    /* The VMM's own dirty log (memory/dirty.h): logging on, and a bitmap
     * per region (a bit per page) once started. */
    bool dirty_on;
    uint64_t *dirty[GMEM_MAX_REGIONS];
};

/* Create a gmem with ram_bytes of RAM (a multiple of the page size) laid
 * out around the MMIO hole, plus nr_special special pages. Returns 0 or a
 * negative errno. */
int gmem_init(struct gmem *gm, uint64_t ram_bytes, unsigned nr_special);
void gmem_destroy(struct gmem *gm);

/* Append a region of size bytes at gpa, backed by fresh memfd space.
 * Fails with -EEXIST if it overlaps an existing region, -ENOSPC if the
 * table is full. Not thread-safe against other writers; readers are fine. */
int gmem_add_region(struct gmem *gm, uint64_t gpa, uint64_t size,
                    enum gmem_kind kind, const struct gmem_region **out);

/* Host pointer for [gpa, gpa+len) or NULL if any byte is outside a single
 * region (or the range wraps). len 0 is treated as 1. */
void *gmem_ptr(const struct gmem *gm, uint64_t gpa, uint64_t len);

/* The region containing gpa, or NULL. */
const struct gmem_region *gmem_find(const struct gmem *gm, uint64_t gpa);

/* Whether [gpa, gpa+len) is guest RAM (not special, not Xen-owned). */
bool gmem_is_ram(const struct gmem *gm, uint64_t gpa, uint64_t len);

/* Copy between guest-physical memory and a host buffer; 0 or -EFAULT. */
int gmem_read(const struct gmem *gm, uint64_t gpa, void *dst, uint64_t len);
int gmem_write(const struct gmem *gm, uint64_t gpa, const void *src,
               uint64_t len);
/* Zero [gpa, gpa+len) of one region (0, or -EFAULT as gmem_ptr). Whole
 * pages are given back to the memfd (a hole reads as zeros), so a range
 * that is zero already, such as a fresh domain's bss, costs no memory. */
int gmem_zero(const struct gmem *gm, uint64_t gpa, uint64_t len);

unsigned gmem_nr_regions(const struct gmem *gm);

#endif
