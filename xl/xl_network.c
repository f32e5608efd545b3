/* network-attach, network-list, network-detach (Xen's tools/xl/xl_nic.c). */
#include "xl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vif_spec.h"

int main_networkattach(int argc, char **argv)
{
    while (next_opt(argc, argv, "h", "network-attach", 1) != -1)
        ;
    unsigned domid = find_domain(argv[optind]);
    struct xvif v;
    xvif_init(&v);
    /* Each argument is one item of a vif spec, as xl parses them. */
    for (int i = optind + 1; i < argc; i++) {
        if (xvif_parse(stderr, "command line", argv[i], &v, true, NULL)) {
            xvif_dispose(&v);
            return 1;
        }
    }
    if (dryrun_only) {
        printf("vif: bridge=%s script=%s devid=%d\n", v.bridge ? v.bridge : "",
               v.script ? v.script : "", v.devid);
        xvif_dispose(&v);
        return 0;
    }
    int rc = xenon_network_attach(&paths, domid, &v, stderr);
    xvif_dispose(&v);
    if (rc < 0) {
        fprintf(stderr, "libxl_device_nic_add failed.\n");
        return 1;
    }
    return 0;
}

int main_networklist(int argc, char **argv)
{
    while (next_opt(argc, argv, "h", "network-list", 1) != -1)
        ;
    /*      Idx  BE   MAC   Hdl  Sta  evch txr/rxr  BE-path */
    printf("%-3s %-2s %-17s %-6s %-5s %-6s %5s/%-5s %-30s\n", "Idx", "BE", "Mac Addr.",
           "handle", "state", "evt-ch", "tx-", "rx-ring-ref", "BE-path");
    for (int i = optind; i < argc; i++) {
        unsigned domid = find_domain(argv[i]);
        struct xenon_nicinfo *v;
        int n;
        if (xenon_network_list(&paths, domid, &v, &n, stderr) < 0)
            continue;
        for (int j = 0; j < n; j++) {
            printf("%-3u %-2d ", v[j].devid, v[j].backend_id);
            printf("%s", v[j].mac);
            printf("%6u %5d %6d %5d/%-11d %-30s\n", v[j].devid, v[j].state, v[j].evtch,
                   v[j].rref_tx, v[j].rref_rx, v[j].backend);
        }
        free(v);
    }
    return 0;
}

int main_networkdetach(int argc, char **argv)
{
    while (next_opt(argc, argv, "h", "network-detach", 2) != -1)
        ;
    unsigned domid = find_domain(argv[optind]);
    if (xenon_network_detach(&paths, domid, argv[optind + 1], stderr) < 0)
        return 1;
    return 0;
}
