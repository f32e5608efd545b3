/* xl dmesg: what Xen's shows of its own console, Xenon keeps per domain in
 * LOG_DIR/console/hypervisor-NAME.log (console_io writes, the debug port,
 * the UART). With a domain, its log as it is; without, every domain's log,
 * each line led by "(NAME) " as Xen leads a guest's lines by "(dN) ". */
#include "xl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Print one log, each line after `prefix` (may be NULL); truncate it after
 * reading when `clear`. 0, or -1 when it cannot be read (not missing). */
static int show_log(const char *path, const char *prefix, bool clear)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? 0 : -1;
    char line[4096];
    bool at_start = true;
    while (fgets(line, sizeof(line), f)) {
        if (prefix && at_start)
            printf("(%s) ", prefix);
        fputs(line, stdout);
        at_start = strchr(line, '\n') != NULL;
    }
    if (!at_start)
        putchar('\n');
    fclose(f);
    if (clear && truncate(path, 0) < 0)
        return -1;
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_hypervisor_log(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 15 && !strncmp(e->d_name, "hypervisor-", 11) &&
           !strcmp(e->d_name + n - 4, ".log");
}

int main_dmesg(int argc, char **argv)
{
    int c;
    bool clear = false;
    while ((c = next_opt(argc, argv, "hc", "dmesg", 0)) != -1)
        if (c == 'c')
            clear = true;
    char path[XENON_PATH_MAX + 300];
    if (optind < argc) {
        int n;
        struct xenon_dominfo *v = list_domains(&n);
        int nwant;
        unsigned *want = wanted_domains(argc, argv, DOM0_ID_OR_NAME, v, n, &nwant);
        int rc = 0;
        for (int i = 0; i < n; i++)
            if (is_wanted(want, nwant, v[i].domid)) {
                xenon_hypervisor_log_path(&paths, v[i].name, path, sizeof(path));
                if (show_log(path, NULL, clear) < 0) {
                    fprintf(stderr, "cannot read %s: %s\n", path, strerror(errno));
                    rc = EXIT_FAILURE;
                }
            }
        free(want);
        free(v);
        return rc;
    }
    char dir[XENON_PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/console", paths.log_dir);
    struct dirent **e;
    int n = scandir(dir, &e, is_hypervisor_log, by_name);
    if (n < 0)
        return errno == ENOENT ? 0 : EXIT_FAILURE;
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char name[256];
        size_t len = strlen(e[i]->d_name) - 15;     /* "hypervisor-" ".log" */
        snprintf(name, sizeof(name), "%.*s", (int)len, e[i]->d_name + 11);
        snprintf(path, sizeof(path), "%s/%s", dir, e[i]->d_name);
        if (show_log(path, name, clear) < 0) {
            fprintf(stderr, "cannot read %s: %s\n", path, strerror(errno));
            rc = EXIT_FAILURE;
        }
        free(e[i]);
    }
    free(e);
    return rc;
}
