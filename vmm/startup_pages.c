#include "startup_pages.h"

#include <link.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The running domain's code, from vmm/text-order.ld; both are 0 when the
 * link did not use it (another linker), and then all of it is released. */
extern const char __xenon_text_running[] __attribute__((weak));
extern const char __xenon_text_startup[] __attribute__((weak));

/* The image's read-only segments, found before any is released: reading
 * the program headers afterwards would map their page back. */
struct ranges {
    uintptr_t page;
    unsigned n;
    struct { uintptr_t lo, hi; } r[8];
};

static void add(struct ranges *rs, uintptr_t lo, uintptr_t hi)
{
    if (hi > lo && rs->n < sizeof(rs->r) / sizeof(rs->r[0]))
        rs->r[rs->n++] = (typeof(rs->r[0])){ lo, hi };
}

static int find_segments(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct ranges *rs = arg;
    uintptr_t page = rs->page;
    uintptr_t keep_lo = (uintptr_t)__xenon_text_running & ~(page - 1);
    uintptr_t keep_hi = ((uintptr_t)__xenon_text_startup + page - 1) & ~(page - 1);
    for (unsigned i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        /* Writable segments hold relocated and written data: those pages
         * are the process's own, and dropping them would lose it. */
        if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W))
            continue;
        /* Whole pages only: a page shared with a writable segment stays. */
        uintptr_t lo = (info->dlpi_addr + ph->p_vaddr + page - 1) & ~(page - 1);
        uintptr_t hi = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz) & ~(page - 1);
        if (__xenon_text_running && keep_hi > keep_lo && keep_lo < hi && keep_hi > lo) {
            add(rs, lo, keep_lo);
            add(rs, keep_hi, hi);
        } else {
            add(rs, lo, hi);
        }
    }
    return 1;       /* the executable is reported first: only it */
}

/* The main thread's stack below the caller's frame: start-up went deeper
 * there (the /proc/meminfo read, the ELF loader: frames of 5-8 KiB) than
 * the I/O loop goes again. The page in use and the one below it stay;
 * what lies further down is unused by definition (no signal handler runs
 * on this thread) and faults back in, zeroed, if a call ever goes that
 * deep. Only the [stack] mapping is touched. */
static void release_main_stack(uintptr_t page)
{
    if (gettid() != getpid())
        return;
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return;
    char line[256];
    uintptr_t lo = 0, hi = 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long a, b;
        if (strstr(line, "[stack]") && sscanf(line, "%lx-%lx", &a, &b) == 2) {
            lo = a;
            hi = b;
            break;
        }
    }
    fclose(f);
    uintptr_t keep = (sp & ~(page - 1)) - page;
    if (lo < keep && sp < hi)
        madvise((void *)lo, keep - lo, MADV_DONTNEED);
}

void startup_pages_release(void)
{
    struct ranges rs = { .page = (uintptr_t)sysconf(_SC_PAGESIZE) };
    /* First: the stack's release reads /proc/self/maps with stdio, code
     * that would be mapped again after the text's release. */
    release_main_stack(rs.page);
    malloc_trim(0);
    dl_iterate_phdr(find_segments, &rs);
    for (unsigned i = 0; i < rs.n; i++)
        madvise((void *)rs.r[i].lo, rs.r[i].hi - rs.r[i].lo, MADV_DONTNEED);
}
