#include "boot.h"
#include "layout.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <xen/xen.h>
#include <xen/arch-x86/hvm/start_info.h>

#include "util.h"

/* Place the initrd page-aligned at or above `from`, inside low RAM. */
static int place_initrd(struct gmem *gm, const struct boot_opts *o,
                        uint64_t from, uint64_t *gpa, char *err, size_t errlen)
{
    *gpa = 0;
    if (!o->initrd || !o->initrd_size)
        return 0;
    uint64_t at = ALIGN_UP(from, (uint64_t)GMEM_PAGE_SIZE);
    if (!gmem_is_ram(gm, at, o->initrd_size))
        return loader_fail(err, errlen, -ENOMEM,
                    "initrd of %zu bytes does not fit in guest RAM after the kernel",
                    o->initrd_size);
    memcpy(gmem_ptr(gm, at, o->initrd_size), o->initrd, o->initrd_size);
    *gpa = at;
    return 0;
}

static int setup_pvh(struct gmem *gm, const struct loaded_kernel *k,
                     const struct boot_opts *o, struct boot_entry *e,
                     char *err, size_t errlen)
{
    size_t cmdlen = o->cmdline ? strlen(o->cmdline) + 1 : 0;
    bool has_mod = o->initrd && o->initrd_size;
    size_t off_mod = ALIGN_UP(sizeof(struct hvm_start_info), (size_t)8);
    size_t off_map = off_mod + (has_mod ? sizeof(struct hvm_modlist_entry) : 0);
    size_t off_cmd = off_map + o->nr_e820 * sizeof(struct hvm_memmap_table_entry);
    size_t total = off_cmd + cmdlen;

    /* Below the kernel when it leaves room (keeps RAM above it whole),
     * otherwise right after it. */
    uint64_t at = LAYOUT_BOOTINFO;
    if (at + total > k->lo || !gmem_is_ram(gm, at, total))
        at = ALIGN_UP(k->hi, (uint64_t)GMEM_PAGE_SIZE);
    if (!gmem_is_ram(gm, at, total))
        return loader_fail(err, errlen, -ENOMEM, "no room in guest RAM for boot information");
    uint8_t *base = gmem_ptr(gm, at, total);
    memset(base, 0, total);

    uint64_t initrd_gpa;
    uint64_t after = at == LAYOUT_BOOTINFO ? k->hi : at + total;
    int rc = place_initrd(gm, o, after, &initrd_gpa, err, errlen);
    if (rc < 0)
        return rc;

    struct hvm_start_info si = {
        .magic = XEN_HVM_START_MAGIC_VALUE,
        .version = 1,
        .nr_modules = has_mod ? 1 : 0,
        .modlist_paddr = has_mod ? at + off_mod : 0,
        .cmdline_paddr = cmdlen ? at + off_cmd : 0,
        .memmap_paddr = at + off_map,
        .memmap_entries = o->nr_e820,
    };
    memcpy(base, &si, sizeof(si));
    if (has_mod) {
        struct hvm_modlist_entry m = { .paddr = initrd_gpa, .size = o->initrd_size };
        memcpy(base + off_mod, &m, sizeof(m));
    }
    for (unsigned i = 0; i < o->nr_e820; i++) {
        struct hvm_memmap_table_entry me = {
            .addr = o->e820[i].addr, .size = o->e820[i].size, .type = o->e820[i].type,
        };
        memcpy(base + off_map + i * sizeof(me), &me, sizeof(me));
    }
    if (cmdlen)
        memcpy(base + off_cmd, o->cmdline, cmdlen);
    *e = (struct boot_entry){ .rip = k->entry, .rbx = at };
    return 0;
}

int boot_setup(struct gmem *gm, const struct loaded_kernel *k,
               const struct boot_opts *o, struct boot_entry *e,
               char *err, size_t errlen)
{
    return setup_pvh(gm, k, o, e, err, errlen);
}
