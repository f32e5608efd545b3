#include "memmap.h"
#include "domain.h"
#include "layout.h"

static void add(struct domain *d, uint64_t addr, uint64_t size, uint32_t type)
{
    if (d->nr_e820 < E820_MAX && size)
        d->e820[d->nr_e820++] = (struct xen_e820entry){ addr, size, type };
}

void memmap_init(struct domain *d)
{
    d->nr_e820 = 0;
    uint64_t ram = d->mem.ram_bytes;
    uint64_t low = ram < LAYOUT_LOWMEM_END ? ram : LAYOUT_LOWMEM_END;
    if (low > LAYOUT_LEGACY_END) {
        add(d, 0, LAYOUT_LEGACY_START, E820_RAM);
        add(d, LAYOUT_LEGACY_START, LAYOUT_LEGACY_END - LAYOUT_LEGACY_START,
            E820_RESERVED);
        add(d, LAYOUT_LEGACY_END, low - LAYOUT_LEGACY_END, E820_RAM);
    } else {
        add(d, 0, low, E820_RAM);
    }
    add(d, LAYOUT_SPECIAL_START, LAYOUT_SPECIAL_END - LAYOUT_SPECIAL_START,
        E820_RESERVED);
    if (ram > low)
        add(d, LAYOUT_HIGHMEM_START, ram - low, E820_RAM);
}
