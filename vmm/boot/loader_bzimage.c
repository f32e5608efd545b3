/*
 * bzImage loader (Documentation/arch/x86/boot.rst).
 *
 * load_bzimage_pvh() boots a bzImage as Xen does a PVH domain's: the
 * payload the setup header points at (protocol 2.08+) is the compressed
 * vmlinux ELF; it is decompressed and loaded through its PVH entry note.
 * Xen never boots a PVH domain through the Linux boot protocol, and
 * neither does Xenon.
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
#define HDR_MAGIC         0x202
#define HDR_VERSION       0x206
#define HDR_PAYLOAD_OFF   0x248
#define HDR_PAYLOAD_LEN   0x24c
#define HDR_END_MAX       0x290     /* the setup header's end, protocol 2.15 */

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

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
