/* Fuzz the whole path from xl.cfg text to a domain_config and its JSON
 * (disk, vif and cpus specs included): no crash, leak or undefined
 * behaviour whatever the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "domain_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    static const char *const ov[] = { "memory=64" };
    struct domain_config dc;

    if (size > 1 << 16)
        return 0;
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    domain_config_init(&dc);
    if (!domain_config_parse("fuzz.cfg", (const char *)data, size, ov,
                             size & 1, devnull, &dc))
        free(domain_config_to_json(&dc));
    domain_config_dispose(&dc);
    return 0;
}
