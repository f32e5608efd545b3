/* xlcfg-json: parse an xl.cfg (plus KEY=VALUE overrides, as `xl create`)
 * into a domain_config and print its JSON; messages go to stderr. Exit 1
 * if xl would refuse the file. Used by tests; a preview of `xl -N create`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain_config.h"

int main(int argc, char **argv)
{
    FILE *f;
    char *data = NULL, *json;
    size_t len = 0, cap = 0, n;
    struct domain_config dc;
    int rc;

    if (argc < 2) {
        fprintf(stderr, "usage: xlcfg-json FILE [KEY=VALUE...]\n");
        return 2;
    }
    f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    do {
        if (len == cap) {
            cap = cap * 2 + 4096;
            data = realloc(data, cap);
            if (!data)
                return 1;
        }
        n = fread(data + len, 1, cap - len, f);
        len += n;
    } while (n);
    fclose(f);
    fprintf(stderr, "Parsing config from %s\n", argv[1]);
    domain_config_init(&dc);
    rc = domain_config_parse(argv[1], data, len,
                             (const char *const *)argv + 2, argc - 2, stderr,
                             &dc);
    free(data);
    if (!rc) {
        json = domain_config_to_json(&dc);
        if (json)
            fputs(json, stdout);
        free(json);
    }
    domain_config_dispose(&dc);
    return rc ? 1 : 0;
}
