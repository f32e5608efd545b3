/*
 * bzImage loaders (Documentation/arch/x86/boot.rst).
 *
 * load_bzimage_pvh() boots a bzImage as Xen does a PVH domain's: the
 * payload the setup header points at (protocol 2.08+) is the compressed
 * vmlinux ELF; it is decompressed and loaded through its PVH entry note.
 *
 * load_bzimage() is the Linux boot protocol itself: protocol 2.12 or
 * later with XLF_KERNEL_64, the protected-mode kernel copied to its
 * preferred load address, the setup header kept for boot_params.
 */
#include "loader.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decompress.h"

#define HDR_SETUP_SECTS   0x1f1
#define HDR_BOOT_FLAG     0x1fe
#define HDR_JUMP          0x200
#define HDR_MAGIC         0x202
#define HDR_VERSION       0x206
#define HDR_LOADFLAGS     0x211
#define HDR_XLOADFLAGS    0x236
#define HDR_PAYLOAD_OFF   0x248
#define HDR_PAYLOAD_LEN   0x24c
#define HDR_PREF_ADDRESS  0x258
#define HDR_INIT_SIZE     0x260
#define HDR_END_MAX       0x290

#define LOADED_HIGH       0x01
#define XLF_KERNEL_64     0x01

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* The largest vmlinux we decompress, whatever the guest's RAM. */
#define MAX_VMLINUX (1ull << 30)

bool is_bzimage(const uint8_t *img, size_t size)
{
    return size >= HDR_END_MAX && rd16(img + HDR_BOOT_FLAG) == 0xaa55 &&
           memcmp(img + HDR_MAGIC, "HdrS", 4) == 0;
}

int load_bzimage_pvh(struct gmem *gm, const uint8_t *img, size_t size,
                     struct loaded_kernel *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!is_bzimage(img, size))
        return loader_fail(err, errlen, -ENOEXEC, "not a bzImage (no boot flag or HdrS magic)");
    uint16_t version = rd16(img + HDR_VERSION);
    if (version < 0x0208)
        return loader_fail(err, errlen, -ENOEXEC,
                           "boot protocol %u.%02u has no payload field: 2.08 or later needed",
                           version >> 8, version & 0xff);
    unsigned setup_sects = img[HDR_SETUP_SECTS] ? img[HDR_SETUP_SECTS] : 4;
    uint64_t pm_off = (uint64_t)(setup_sects + 1) * 512;
    uint64_t off = pm_off + rd32(img + HDR_PAYLOAD_OFF), len = rd32(img + HDR_PAYLOAD_LEN);
    if (off > size || len > size - off || len == 0)
        return loader_fail(err, errlen, -ENOEXEC,
                           "payload at %#llx+%#llx lies outside the %zu-byte file",
                           (unsigned long long)off, (unsigned long long)len, size);
    const char *format = decompress_format(img + off, len);
    uint64_t max = gm->ram_bytes < MAX_VMLINUX ? gm->ram_bytes : MAX_VMLINUX;
    uint8_t *elf;
    size_t elf_len;
    char why[160];
    int rc = decompress(img + off, len, max, &elf, &elf_len, why, sizeof(why));
    if (rc < 0)
        return loader_fail(err, errlen, rc, "bzImage payload: %s", why);
    if (elf_len < SELFMAG || memcmp(elf, ELFMAG, SELFMAG) != 0) {
        free(elf);
        return loader_fail(err, errlen, -ENOEXEC,
                           "bzImage payload (%s) is not an ELF vmlinux", format);
    }
    rc = load_pvh_elf(gm, elf, elf_len, out, why, sizeof(why));
    free(elf);
    if (rc < 0)
        return loader_fail(err, errlen, rc, "vmlinux inside the bzImage (%s): %s", format, why);
    return 0;
}

int load_bzimage(struct gmem *gm, const uint8_t *img, size_t size,
                 struct loaded_kernel *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (size < HDR_END_MAX)
        return loader_fail(err, errlen, -ENOEXEC, "too small for a Linux kernel (%zu bytes)", size);
    if (!is_bzimage(img, size))
        return loader_fail(err, errlen, -ENOEXEC, "not a bzImage (no boot flag or HdrS magic)");
    uint16_t version = rd16(img + HDR_VERSION);
    if (version < 0x020c)
        return loader_fail(err, errlen, -ENOEXEC,
                    "boot protocol %u.%02u too old: 2.12 or later needed",
                    version >> 8, version & 0xff);
    if (!(img[HDR_LOADFLAGS] & LOADED_HIGH))
        return loader_fail(err, errlen, -ENOEXEC, "zImage (not loaded high) is not supported");
    if (!(rd16(img + HDR_XLOADFLAGS) & XLF_KERNEL_64))
        return loader_fail(err, errlen, -ENOEXEC, "kernel has no 64-bit entry point");

    unsigned setup_sects = img[HDR_SETUP_SECTS] ? img[HDR_SETUP_SECTS] : 4;
    uint64_t kernel_off = (uint64_t)(setup_sects + 1) * 512;
    if (kernel_off >= size)
        return loader_fail(err, errlen, -ENOEXEC, "setup sectors (%u) run past the end of the file",
                    setup_sects);
    uint64_t kernel_size = size - kernel_off;

    /* The header ends where the jump at 0x200 lands (0x202 + offset). */
    size_t hdr_end = 0x202 + img[HDR_JUMP + 1];
    if (hdr_end > HDR_END_MAX)
        hdr_end = HDR_END_MAX;
    if (hdr_end > kernel_off)
        return loader_fail(err, errlen, -ENOEXEC, "setup header overlaps the kernel");

    uint64_t load = rd64(img + HDR_PREF_ADDRESS);
    uint32_t init_size = rd32(img + HDR_INIT_SIZE);
    uint64_t need = init_size > kernel_size ? init_size : kernel_size;
    if (load % 4096 || !gmem_is_ram(gm, load, need))
        return loader_fail(err, errlen, -ENOEXEC,
                    "kernel needs %#llx bytes at %#llx: not in guest RAM",
                    (unsigned long long)need, (unsigned long long)load);

    memcpy(gmem_ptr(gm, load, kernel_size), img + kernel_off, kernel_size);
    out->kind = BOOT_LINUX64;
    out->entry = load + 0x200;
    out->lo = load;
    out->hi = load + need;
    out->setup_header_len = hdr_end - HDR_SETUP_SECTS;
    memcpy(out->setup_header, img + HDR_SETUP_SECTS, out->setup_header_len);
    return 0;
}
