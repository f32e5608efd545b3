#include "lazy_pages.h"

#include <sys/mman.h>

void *lazy_pages_alloc(size_t size)
{
    if (size == 0)
        size = 1;
    /* Anonymous private pages are zero until written; mmap rounds up. */
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void lazy_pages_free(void *p, size_t size)
{
    if (p)
        munmap(p, size ? size : 1);
}
