/* block-attach, block-list, block-detach (Xen's tools/xl/xl_block.c), and
 * cd-insert, cd-eject (its xl_cdrom.c). */
#include "xl.h"

#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk_spec.h"

int main_blockattach(int argc, char **argv)
{
    while (next_opt(argc, argv, "h", "block-attach", 2) != -1)
        ;
    unsigned domid = find_domain(argv[optind]);
    optind++;
    struct xdisk d;
    xdisk_init(&d);
    if (xdisk_parse(stderr, "command line", argc - optind,
                    (const char *const *)argv + optind, &d)) {
        xdisk_dispose(&d);
        return EXIT_FAILURE;
    }
    if (dryrun_only) {
        printf("disk: vdev=%s target=%s\n", d.vdev, d.pdev_path ? d.pdev_path : "");
        xdisk_dispose(&d);
        return 0;
    }
    int rc = xenon_block_attach(&paths, domid, &d, stderr);
    xdisk_dispose(&d);
    if (rc < 0) {
        fprintf(stderr, "libxl_device_disk_add failed.\n");
        return 1;
    }
    return 0;
}

int main_blocklist(int argc, char **argv)
{
    while (next_opt(argc, argv, "h", "block-list", 1) != -1)
        ;
    printf("%-5s %-3s %-6s %-5s %-6s %-8s %-30s\n", "Vdev", "BE", "handle", "state",
           "evt-ch", "ring-ref", "BE-path");
    for (int i = optind; i < argc; i++) {
        unsigned domid;
        if (xenon_domain_lookup(&paths, argv[i], &domid, NULL) < 0) {
            fprintf(stderr, "%s is an invalid domain identifier\n", argv[i]);
            continue;
        }
        struct xenon_vbdinfo *v;
        int n;
        if (xenon_block_list(&paths, domid, &v, &n, stderr) < 0)
            continue;
        for (int j = 0; j < n; j++)
            printf("%-5u %-3d %-6u %-5d %-6d %-8d %-30s\n", v[j].devid, v[j].backend_id,
                   v[j].frontend_id, v[j].state, v[j].evtch, v[j].rref, v[j].backend);
        free(v);
    }
    return 0;
}

int main_blockdetach(int argc, char **argv)
{
    while (next_opt(argc, argv, "h", "block-detach", 2) != -1)
        ;
    unsigned domid = find_domain(argv[optind]);
    if (xenon_block_detach(&paths, domid, argv[optind + 1], stderr) < 0)
        return 1;
    return 0;
}

/* As xl's cd_insert: the target as a read-only cdrom disk spec, a file
 * that is not there refused here, the rest libxl's (libxenon's). */
static int cd_insert(unsigned domid, const char *vdev, const char *target)
{
    char spec[1024];
    snprintf(spec, sizeof(spec), "vdev=%s,access=r,devtype=cdrom,target=%s", vdev,
             target ? target : "");
    const char *specs[] = { spec };
    struct xdisk d;
    xdisk_init(&d);
    if (xdisk_parse(stderr, "command line", 1, specs, &d)) {
        xdisk_dispose(&d);
        return 1;
    }
    struct stat st;
    int r = 0;
    if (d.format != XDISK_FORMAT_EMPTY && stat(d.pdev_path, &st)) {
        fprintf(stderr, "Cannot stat file: %s\n", d.pdev_path);
        r = 1;
    } else if (xenon_cdrom_insert(&paths, domid, &d, stderr) < 0) {
        r = 1;
    }
    xdisk_dispose(&d);
    return r;
}

int main_cd_eject(int argc, char **argv)
{
    while (next_opt(argc, argv, "h", "cd-eject", 2) != -1)
        ;
    unsigned domid = find_domain(argv[optind]);
    return cd_insert(domid, argv[optind + 1], NULL) ? EXIT_FAILURE : EXIT_SUCCESS;
}

int main_cd_insert(int argc, char **argv)
{
    while (next_opt(argc, argv, "h", "cd-insert", 3) != -1)
        ;
    unsigned domid = find_domain(argv[optind]);
    return cd_insert(domid, argv[optind + 1], argv[optind + 2]) ? EXIT_FAILURE
                                                                  : EXIT_SUCCESS;
}
