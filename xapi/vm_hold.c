/* Holding a running VM for a snapshot (vm_hold.h). */
#include "vm_hold.h"

#include <string.h>

#include "vm_scan.h"

int vm_hold_begin(struct vm_hold *h, unsigned domid, const char *power, FILE *err)
{
    memset(h, 0, sizeof(*h));
    h->domid = domid;
    h->was_paused = !strcmp(power, "Paused");
    if (!h->was_paused && xenon_domain_pause(&vm_paths, domid, err) < 0)
        return -1;
    h->active = true;
    return 0;
}

int vm_hold_end(struct vm_hold *h, FILE *err)
{
    if (!h->active)
        return 0;
    h->active = false;
    if (h->was_paused)
        return 0;
    return xenon_domain_unpause(&vm_paths, h->domid, err) < 0 ? -1 : 0;
}
