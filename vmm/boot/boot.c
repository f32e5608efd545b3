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

/* Linux boot protocol: fixed low-memory layout below 640 KiB. */
#define LX_GDT        0x500ull
#define LX_ZERO_PAGE  0x7000ull
#define LX_PML4       0x9000ull
#define LX_PDPT       0xa000ull
#define LX_PD         0xb000ull     /* four pages: 4 GiB of 2 MiB pages */
#define LX_CMDLINE    0x20000ull
#define LX_CMDLINE_MAX 0x10000ull

#define BP_E820_ENTRIES  0x1e8
#define BP_SETUP_HDR     0x1f1
#define BP_TYPE_OF_LOADER 0x210
#define BP_LOADFLAGS     0x211
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE  0x21c
#define BP_CMD_LINE_PTR  0x228
#define BP_INITRD_MAX    0x22c
#define BP_E820_TABLE    0x2d0
#define BP_E820_MAX      128

static int setup_linux(struct gmem *gm, const struct loaded_kernel *k,
                       const struct boot_opts *o, struct boot_entry *e,
                       char *err, size_t errlen)
{
    if (k->lo < LX_CMDLINE + LX_CMDLINE_MAX)
        return loader_fail(err, errlen, -ENOEXEC, "kernel overlaps the boot data area");
    uint8_t *zp = gmem_ptr(gm, LX_ZERO_PAGE, GMEM_PAGE_SIZE);
    uint64_t *pml4 = gmem_ptr(gm, LX_PML4, GMEM_PAGE_SIZE);
    uint64_t *pdpt = gmem_ptr(gm, LX_PDPT, GMEM_PAGE_SIZE);
    uint64_t *pd = gmem_ptr(gm, LX_PD, 4 * GMEM_PAGE_SIZE);
    uint64_t *gdt = gmem_ptr(gm, LX_GDT, 4 * 8);
    if (!zp || !pml4 || !pdpt || !pd || !gdt)
        return loader_fail(err, errlen, -ENOMEM, "guest RAM too small for Linux boot data");

    memset(zp, 0, GMEM_PAGE_SIZE);
    memcpy(zp + BP_SETUP_HDR, k->setup_header, k->setup_header_len);
    zp[BP_TYPE_OF_LOADER] = 0xff;
    zp[BP_LOADFLAGS] |= 0x01;        /* LOADED_HIGH */

    size_t cmdlen = o->cmdline ? strlen(o->cmdline) : 0;
    if (cmdlen >= LX_CMDLINE_MAX)
        return loader_fail(err, errlen, -E2BIG, "command line too long (%zu bytes)", cmdlen);
    char *cmd = gmem_ptr(gm, LX_CMDLINE, cmdlen + 1);
    if (cmdlen)
        memcpy(cmd, o->cmdline, cmdlen);
    cmd[cmdlen] = '\0';
    uint32_t v32 = (uint32_t)LX_CMDLINE;
    memcpy(zp + BP_CMD_LINE_PTR, &v32, 4);

    if (o->initrd && o->initrd_size) {
        uint32_t max;
        memcpy(&max, zp + BP_INITRD_MAX, 4);
        uint64_t initrd_gpa;
        int rc = place_initrd(gm, o, k->hi, &initrd_gpa, err, errlen);
        if (rc < 0)
            return rc;
        if (initrd_gpa + o->initrd_size - 1 > max)
            return loader_fail(err, errlen, -ENOMEM, "initrd lies above the kernel's limit %#x", max);
        v32 = (uint32_t)initrd_gpa;
        memcpy(zp + BP_RAMDISK_IMAGE, &v32, 4);
        v32 = (uint32_t)o->initrd_size;
        memcpy(zp + BP_RAMDISK_SIZE, &v32, 4);
    }

    unsigned n = o->nr_e820 < BP_E820_MAX ? o->nr_e820 : BP_E820_MAX;
    zp[BP_E820_ENTRIES] = (uint8_t)n;
    memcpy(zp + BP_E820_TABLE, o->e820, n * sizeof(o->e820[0]));

    /* Identity map the first 4 GiB with 2 MiB pages. */
    memset(pml4, 0, GMEM_PAGE_SIZE);
    memset(pdpt, 0, GMEM_PAGE_SIZE);
    pml4[0] = LX_PDPT | 0x3;
    for (unsigned i = 0; i < 4; i++)
        pdpt[i] = (LX_PD + i * GMEM_PAGE_SIZE) | 0x3;
    for (unsigned i = 0; i < 4 * 512; i++)
        pd[i] = ((uint64_t)i << 21) | 0x83;
    gdt[0] = 0;
    gdt[1] = 0;
    gdt[2] = 0x00af9b000000ffffull;  /* 0x10: 64-bit code */
    gdt[3] = 0x00cf93000000ffffull;  /* 0x18: data */

    *e = (struct boot_entry){ .rip = k->entry, .rsi = LX_ZERO_PAGE,
                              .pml4 = LX_PML4, .gdt = LX_GDT };
    return 0;
}

int boot_setup(struct gmem *gm, const struct loaded_kernel *k,
               const struct boot_opts *o, struct boot_entry *e,
               char *err, size_t errlen)
{
    if (k->kind == BOOT_PVH)
        return setup_pvh(gm, k, o, e, err, errlen);
    return setup_linux(gm, k, o, e, err, errlen);
}
