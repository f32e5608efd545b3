/* Helpers the xl commands share: finding domains as xl's find_domain does,
 * option parsing with xl's exits, paths made absolute. */
#include "xl.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void __attribute__((noreturn)) invalid_domain(const char *spec)
{
    fprintf(stderr, "%s is an invalid domain identifier (rc=%d)\n", spec, -6);
    exit(EXIT_FAILURE);
}

/* A domain by name or id, exiting as xl's find_domain does. */
unsigned find_domain(const char *spec)
{
    unsigned domid;
    int rc = xenon_domain_lookup(&paths, spec, &domid, stderr);
    if (rc == -2)
        exit(EXIT_FAILURE);
    if (rc < 0)
        invalid_domain(spec);
    return domid;
}

/* All guest domains, or exit as xl does when they cannot be listed. */
struct xenon_dominfo *list_domains(int *n)
{
    struct xenon_dominfo *v;
    if (xenon_domain_list(&paths, &v, n, stderr) < 0)
        exit(EXIT_FAILURE);
    return v;
}

/* The domains named by argv[optind..argc), found in the listing v[0..nv)
 * the command already made (exiting as find_domain does); *n = 0 when none
 * are named, which means all. */
unsigned *wanted_domains(int argc, char **argv, enum dom0_spelling d0,
                                const struct xenon_dominfo *v, int nv, int *n)
{
    unsigned *want = calloc((size_t)(argc > optind ? argc - optind : 0) + 1,
                            sizeof(*want));
    if (!want) {
        fprintf(stderr, "out of memory\n");
        exit(EXIT_FAILURE);
    }
    *n = 0;
    for (int i = optind; i < argc; i++) {
        bool dom0 = (d0 != DOM0_NONE && !strcmp(argv[i], "0")) ||
                    (d0 == DOM0_ID_OR_NAME && !strcmp(argv[i], "Domain-0"));
        int k = dom0 ? -1 : xenon_dominfo_find(v, nv, argv[i]);
        if (!dom0 && k < 0)
            invalid_domain(argv[i]);
        want[(*n)++] = dom0 ? 0 : v[k].domid;
    }
    return want;
}

bool is_wanted(const unsigned *want, int n, unsigned domid)
{
    for (int i = 0; i < n; i++)
        if (want[i] == domid)
            return true;
    return n == 0;
}

/* getopt for a subcommand: only -h beyond `opts`; bad options exit 2. */
int next_opt(int argc, char **argv, const char *opts, const char *cmd,
                    int min_args)
{
    int c = getopt(argc, argv, opts);
    if (c == 'h') {
        help(cmd);
        exit(0);
    }
    if (c == '?') {
        fprintf(stderr, "option `%c' not supported.\n", optopt);
        exit(2);
    }
    if (c == -1 && argc - optind < min_args) {
        fprintf(stderr, "'xl %s' requires at least %d argument%s.\n\n", cmd,
                min_args, min_args == 1 ? "" : "s");
        help(cmd);
        exit(2);
    }
    return c;
}

int read_domain_config(const char *file, struct domain_config *dc)
{
    size_t len = 0;
    char *data = read_whole_file(file, &len);
    if (!data) {
        fprintf(stderr, "Failed to read config file: %s\n", file);
        return 3;
    }
    domain_config_init(dc);
    int rc = domain_config_parse(file, data, len, NULL, 0, stderr, dc);
    free(data);
    if (rc < 0) {
        domain_config_dispose(dc);
        return 1;
    }
    domain_config_absolute_paths(dc);
    return 0;
}
