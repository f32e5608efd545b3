/*
 * libFuzzer target: a whole Xen save file as xl writes it (xl header,
 * libxl's stream) read by libxenon's savefile_read(), with libxc's image
 * inside it read by the VMM's xcs_read_pages(), and Xenon's EMULATOR_CONTEXT
 * checked, as xl restore's first pass reads them; an accepted config is
 * then turned into a domain config as xl restore does. What is accepted
 * must have a NUL-terminated config of the length reported and have
 * consumed no more than the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain_config.h"
#include "savefile.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int libxc_in(void *ctx, struct stream_source *in, char *err,
                    size_t errlen)
{
    struct xcs_limits lim = { 0x100000, 4 };
    /* As xl restore's first pass reads it: page contents passed over. */
    struct xcs_pages none = { NULL, NULL, NULL, NULL };
    struct xcs_result r;
    int rc = xcs_read_pages(in, &lim, &none, &r, err, errlen);
    if (rc == 0)
        xcs_result_free(&r);
    return rc;
}

static int emulator_in(void *ctx, struct stream_source *in, uint32_t length, char *err,
                       size_t errlen)
{
    (void)ctx;
    return savefile_check_emulator(in, length, err, errlen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stream_memsrc ms = { data, size, 0 };
    struct stream_source src;
    struct savefile_info info;
    char err[256];
    stream_source_mem(&src, &ms);
    if (savefile_read_ex(&src, libxc_in, emulator_in, NULL, &info, err,
                         sizeof(err)) == 0) {
        if (ms.off > size)
            abort();
        if (info.config_json && strlen(info.config_json) != info.config_len)
            abort();
        struct domain_config dc;
        FILE *null = fopen("/dev/null", "w");
        if (info.config_json && null &&
            savefile_config_from_json(info.config_json, &dc, null) == 0)
            domain_config_dispose(&dc);
        if (null)
            fclose(null);
        savefile_info_free(&info);
    } else if (err[0] == '\0') {
        abort();
    }
    return 0;
}
