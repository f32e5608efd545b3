/* xl save and xl restore (docs/savefile.md): the file is Xen's own format;
 * libxenon does the work (domain.h). */
#include "xl.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main_save(int argc, char **argv)
{
    int checkpoint = 0, leave_paused = 0, c;
    while ((c = next_opt(argc, argv, "hcp", "save", 2)) != -1) {
        switch (c) {
        case 'c': checkpoint = 1; break;
        case 'p': leave_paused = 1; break;
        }
    }
    if (argc - optind > 3) {
        help("save");
        return 2;
    }
    if (argc - optind == 3)
        fprintf(stderr, "xl save: a replacement CONFIG is not supported yet; "
                        "the domain's own config is saved\n");
    unsigned domid = find_domain(argv[optind]);
    const char *file = argv[optind + 1];
    struct xenon_save_stats st;
    int rc = xenon_domain_save(&paths, domid, file,
                               (checkpoint || leave_paused ? XENON_SAVE_CHECKPOINT : 0) |
                               (leave_paused ? XENON_SAVE_LEAVE_PAUSED : 0),
                               &st, stderr);
    if (rc < 0)
        return EXIT_FAILURE;
    fprintf(stderr, "Saved domain %u to %s: %llu bytes, %llu pages with data, "
            "%llu zero pages, vCPUs stopped for %.3f ms (%s)\n", domid, file,
            (unsigned long long)st.bytes, (unsigned long long)st.pages_data,
            (unsigned long long)st.pages_zero, st.stopped_ns / 1e6,
            st.suspended ? "suspended by the guest" : "paused");
    return 0;
}

int main_restore(int argc, char **argv)
{
    int paused = 0, c;
    while ((c = next_opt(argc, argv, "hpedV", "restore", 1)) != -1) {
        switch (c) {
        case 'p': paused = 1; break;
        case 'e': case 'd': case 'V': break;   /* no console attached; debug */
        }
    }
    const char *config = NULL, *file;
    if (argc - optind == 1) {
        file = argv[optind];
    } else if (argc - optind == 2) {
        config = argv[optind];
        file = argv[optind + 1];
    } else {
        help("restore");
        return 2;
    }
    struct domain_config dc;
    bool have_dc = false;
    if (config) {
        int rc = read_domain_config(config, &dc);
        if (rc)
            return rc == 3 ? 3 : EXIT_FAILURE;
        have_dc = true;
    }
    unsigned domid = 0;
    int rc = xenon_domain_restore(&paths, file, have_dc ? &dc : NULL,
                                  paused ? XENON_CREATE_PAUSED : 0, &domid, NULL, stderr);
    if (have_dc)
        domain_config_dispose(&dc);
    if (rc < 0)
        return 3;
    fprintf(stderr, "Restored domain %u from %s\n", domid, file);
    return 0;
}
