/* Requests xl makes of a running domain through its xenstore nodes. */
#include "domain_internal.h"

#include <stdio.h>
#include <string.h>

#include "xs_client.h"

int xenon_domain_request(const struct xenon_paths *p, unsigned domid,
                         const char *what, FILE *err)
{
    struct xs_client *xs = xs_connect(p, err);
    if (!xs)
        return -1;
    int rc = xs_printf(xs, what, "/local/domain/%u/control/shutdown", domid);
    xs_close(xs);
    if (rc < 0)
        fprintf(err, "cannot write control/shutdown of domain %u: %s\n", domid,
                strerror(-rc));
    return rc < 0 ? -1 : 0;
}

int xenon_domain_set_target(const struct xenon_paths *p, unsigned domid,
                            uint64_t kb, FILE *err)
{
    struct xs_client *xs = xs_connect(p, err);
    if (!xs)
        return -1;
    char v[32];
    snprintf(v, sizeof(v), "%llu", (unsigned long long)kb);
    int rc = xs_printf(xs, v, "/local/domain/%u/memory/target", domid);
    xs_close(xs);
    if (rc < 0)
        fprintf(err, "cannot write memory/target of domain %u: %s\n", domid,
                strerror(-rc));
    return rc < 0 ? -1 : 0;
}
