/* What the loaders share: choosing one, and reporting why an image is bad. */
#include "loader.h"

#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int loader_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

int load_kernel(struct gmem *gm, const uint8_t *img, size_t size,
                struct loaded_kernel *out, char *err, size_t errlen)
{
    if (size >= 4 && memcmp(img, ELFMAG, SELFMAG) == 0)
        return load_pvh_elf(gm, img, size, out, err, errlen);
    if (is_bzimage(img, size))
        return load_bzimage_pvh(gm, img, size, out, err, errlen);
    return loader_fail(err, errlen, -ENOEXEC,
                       "not a kernel Xenon boots (neither a PVH ELF nor a bzImage)");
}
