/*
 * libFuzzer target: the kernel loaders and the boot information built from
 * what they loaded. Any input must give either a loaded kernel or an error
 * message; never a crash, a sanitizer report, or a write outside guest RAM
 * (guest memory is a memfd mapping, so stray writes fault under ASan's
 * shadow checks or hit unmapped pages).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "gmem.h"
#include "layout.h"
#include "loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct gmem gm;
    static int ready;
    if (!ready) {
        if (gmem_init(&gm, 32u << 20, LAYOUT_NR_SPECIAL) < 0)
            abort();
        ready = 1;
    }
    struct loaded_kernel k;
    char err[256];
    if (load_kernel(&gm, data, size, &k, err, sizeof(err)) < 0) {
        if (strlen(err) == 0)
            abort();            /* every failure must say why */
        return 0;
    }
    struct xen_e820entry map[2] = { { 0, 0xa0000, 1 }, { 0x100000, (32u << 20) - 0x100000, 1 } };
    struct boot_opts bo = { .cmdline = "console=hvc0", .initrd = data,
                            .initrd_size = size < 4096 ? size : 4096,
                            .e820 = map, .nr_e820 = 2 };
    struct boot_entry be;
    boot_setup(&gm, &k, &bo, &be, err, sizeof(err));
    return 0;
}
