#include "gva.h"

#include <string.h>

#define CR0_PG (1ull << 31)
#define CR0_WP (1ull << 16)
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define EFER_LMA (1ull << 10)

#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_US (1ull << 2)
#define PTE_PS (1ull << 7)
#define ADDR_MASK 0x000ffffffffff000ull

static bool read_entry(const struct gmem *gm, uint64_t gpa, unsigned size,
                       uint64_t *e)
{
    const void *p = gmem_ptr(gm, gpa, size);
    if (!p)
        return false;
    *e = 0;
    memcpy(e, p, size);
    return true;
}

/* Apply one level's permissions; false on a fault. */
static bool allowed(const struct paging *pg, uint64_t e, bool write)
{
    if (!(e & PTE_P))
        return false;
    if (pg->user && !(e & PTE_US))
        return false;
    if (write && !(e & PTE_RW) && (pg->user || (pg->cr0 & CR0_WP)))
        return false;
    return true;
}

enum gva_result gva_translate(const struct gmem *gm, const struct paging *pg,
                              uint64_t gva, bool write, uint64_t *gpa)
{
    if (!(pg->cr0 & CR0_PG)) {
        *gpa = gva & 0xffffffffull;
        return GVA_OK;
    }
    uint64_t e;
    if (pg->efer & EFER_LMA) {
        if (pg->cr4 & CR4_LA57)
            return GVA_UNSUPPORTED;
        /* Canonical: bits 63:47 all equal. */
        if ((uint64_t)((int64_t)(gva << 16) >> 16) != gva)
            return GVA_FAULT;
        uint64_t table = pg->cr3 & ADDR_MASK;
        for (int level = 4; level >= 1; level--) {
            unsigned shift = 12 + 9 * (unsigned)(level - 1);
            uint64_t idx = (gva >> shift) & 511;
            if (!read_entry(gm, table + idx * 8, 8, &e) || !allowed(pg, e, write))
                return GVA_FAULT;
            if ((level == 3 || level == 2) && (e & PTE_PS)) {
                uint64_t size = 1ull << shift;
                *gpa = (e & ADDR_MASK & ~(size - 1)) | (gva & (size - 1));
                return GVA_OK;
            }
            table = e & ADDR_MASK;
        }
        *gpa = table | (gva & 0xfff);
        return GVA_OK;
    }
    gva &= 0xffffffffull;
    if (pg->cr4 & CR4_PAE) {
        uint64_t pdpte;
        if (!read_entry(gm, (pg->cr3 & 0xffffffe0ull) + ((gva >> 30) & 3) * 8, 8, &pdpte) ||
            !(pdpte & PTE_P))
            return GVA_FAULT;
        uint64_t table = pdpte & ADDR_MASK;
        if (!read_entry(gm, table + ((gva >> 21) & 511) * 8, 8, &e) || !allowed(pg, e, write))
            return GVA_FAULT;
        if (e & PTE_PS) {
            *gpa = (e & ADDR_MASK & ~0x1fffffull) | (gva & 0x1fffff);
            return GVA_OK;
        }
        table = e & ADDR_MASK;
        if (!read_entry(gm, table + ((gva >> 12) & 511) * 8, 8, &e) || !allowed(pg, e, write))
            return GVA_FAULT;
        *gpa = (e & ADDR_MASK) | (gva & 0xfff);
        return GVA_OK;
    }
    /* 2-level 32-bit paging. */
    if (!read_entry(gm, (pg->cr3 & 0xfffff000ull) + (gva >> 22) * 4, 4, &e) ||
        !allowed(pg, e, write))
        return GVA_FAULT;
    if ((e & PTE_PS) && (pg->cr4 & CR4_PSE)) {
        /* 4 MiB page; bits 20:13 extend the address (PSE-36). */
        uint64_t base = (e & 0xffc00000ull) | ((e & 0x1fe000ull) << 19);
        *gpa = base | (gva & 0x3fffff);
        return GVA_OK;
    }
    if (!read_entry(gm, (e & 0xfffff000ull) + ((gva >> 12) & 1023) * 4, 4, &e) ||
        !allowed(pg, e, write))
        return GVA_FAULT;
    *gpa = (e & 0xfffff000ull) | (gva & 0xfff);
    return GVA_OK;
}
