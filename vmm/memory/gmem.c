#include "gmem.h"
#include "dirty.h"
#include "layout.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int map_region(struct gmem *gm, uint64_t gpa, uint64_t size,
                      enum gmem_kind kind)
{
    unsigned n = gm->nr_regions;
    if (n >= GMEM_MAX_REGIONS)
        return -ENOSPC;
    uint64_t off = gm->fd_size;
    if (ftruncate(gm->fd, (off_t)(off + size)) < 0)
        return -errno;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, gm->fd,
                   (off_t)off);
    if (p == MAP_FAILED)
        return -errno;
    gm->fd_size = off + size;
    gm->region[n] = (struct gmem_region){
        .gpa = gpa, .size = size, .fd_offset = off, .host = p, .kind = kind,
    };
    __atomic_store_n(&gm->nr_regions, n + 1, __ATOMIC_RELEASE);
    return 0;
}

int gmem_init(struct gmem *gm, uint64_t ram_bytes, unsigned nr_special)
{
    memset(gm, 0, sizeof(*gm));
    if (ram_bytes == 0 || ram_bytes % GMEM_PAGE_SIZE)
        return -EINVAL;
    gm->fd = memfd_create("xenon-guest-ram", MFD_CLOEXEC);
    if (gm->fd < 0)
        return -errno;
    gm->ram_bytes = ram_bytes;

    uint64_t low = ram_bytes < LAYOUT_LOWMEM_END ? ram_bytes : LAYOUT_LOWMEM_END;
    int rc = map_region(gm, 0, low, GMEM_RAM);
    if (rc == 0 && ram_bytes > low)
        rc = map_region(gm, LAYOUT_HIGHMEM_START, ram_bytes - low, GMEM_RAM);
    if (rc == 0 && nr_special)
        rc = map_region(gm, LAYOUT_SPECIAL_END - nr_special * GMEM_PAGE_SIZE,
                        (uint64_t)nr_special * GMEM_PAGE_SIZE, GMEM_SPECIAL);
    if (rc < 0)
        gmem_destroy(gm);
    return rc;
}

void gmem_destroy(struct gmem *gm)
{
    for (unsigned i = 0; i < gm->nr_regions; i++) {
        munmap(gm->region[i].host, gm->region[i].size);
        free(gm->dirty[i]);
    }
    if (gm->fd > 0)
        close(gm->fd);
    memset(gm, 0, sizeof(*gm));
    gm->fd = -1;
}

unsigned gmem_nr_regions(const struct gmem *gm)
{
    return __atomic_load_n(&gm->nr_regions, __ATOMIC_ACQUIRE);
}

const struct gmem_region *gmem_find(const struct gmem *gm, uint64_t gpa)
{
    unsigned n = gmem_nr_regions(gm);
    for (unsigned i = 0; i < n; i++) {
        const struct gmem_region *r = &gm->region[i];
        if (gpa >= r->gpa && gpa - r->gpa < r->size)
            return r;
    }
    return NULL;
}

int gmem_add_region(struct gmem *gm, uint64_t gpa, uint64_t size,
                    enum gmem_kind kind, const struct gmem_region **out)
{
    if (size == 0 || size % GMEM_PAGE_SIZE || gpa % GMEM_PAGE_SIZE ||
        gpa + size < gpa)
        return -EINVAL;
    unsigned n = gmem_nr_regions(gm);
    for (unsigned i = 0; i < n; i++) {
        const struct gmem_region *r = &gm->region[i];
        if (gpa < r->gpa + r->size && r->gpa < gpa + size)
            return -EEXIST;
    }
    int rc = map_region(gm, gpa, size, kind);
    if (rc == 0)
        rc = gmem_dirty_region_added(gm, n);
    if (rc == 0 && out)
        *out = &gm->region[n];
    return rc;
}

void *gmem_ptr(const struct gmem *gm, uint64_t gpa, uint64_t len)
{
    if (len == 0)
        len = 1;
    if (gpa + len < gpa)
        return NULL;
    const struct gmem_region *r = gmem_find(gm, gpa);
    if (!r || len > r->size - (gpa - r->gpa))
        return NULL;
    return r->host + (gpa - r->gpa);
}

bool gmem_is_ram(const struct gmem *gm, uint64_t gpa, uint64_t len)
{
    const struct gmem_region *r = gmem_find(gm, gpa);
    return r && r->kind == GMEM_RAM && gmem_ptr(gm, gpa, len) != NULL;
}

int gmem_read(const struct gmem *gm, uint64_t gpa, void *dst, uint64_t len)
{
    if (len == 0)
        return 0;
    void *p = gmem_ptr(gm, gpa, len);
    if (!p)
        return -EFAULT;
    memcpy(dst, p, len);
    return 0;
}

int gmem_write(const struct gmem *gm, uint64_t gpa, const void *src,
               uint64_t len)
{
    if (len == 0)
        return 0;
    void *p = gmem_ptr(gm, gpa, len);
    if (!p)
        return -EFAULT;
    memcpy(p, src, len);
    return 0;
}

int gmem_zero(const struct gmem *gm, uint64_t gpa, uint64_t len)
{
    if (len == 0)
        return 0;
    uint8_t *p = gmem_ptr(gm, gpa, len);
    if (!p)
        return -EFAULT;
    const struct gmem_region *r = gmem_find(gm, gpa);
    uint64_t lo = (gpa + GMEM_PAGE_SIZE - 1) & ~(uint64_t)(GMEM_PAGE_SIZE - 1);
    uint64_t hi = (gpa + len) & ~(uint64_t)(GMEM_PAGE_SIZE - 1);
    if (hi <= lo ||
        fallocate(gm->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  (off_t)(r->fd_offset + (lo - r->gpa)), (off_t)(hi - lo)) < 0) {
        memset(p, 0, len);      /* no whole page, or no hole punching */
        return 0;
    }
    memset(p, 0, lo - gpa);
    memset(p + (hi - gpa), 0, gpa + len - hi);
    return 0;
}
