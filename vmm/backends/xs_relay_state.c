/*
 * The xenstore relay's saved state (state/state.h): the watches the guest
 * holds. A guest saved without its help (no PV control: libxl saves an HVM
 * guest so) does not know it moved, and xenstored forgot its watches with
 * the old domain; the relay registers them again in the new one, as after
 * a xenstored restart, so that such a guest still hears control/shutdown.
 * A guest that suspended itself gets no record (domain_save.c saves only
 * its vCPUs and time) and registers its watches itself, as Linux does.
 *
 * Payload, version 1: xs_track_save_watches' (xs_relay_track.h).
 * Requests in flight to xenstored at the save are not carried: their
 * replies never come (the guest saved paused is one idle in its ring).
 */
#include "domain.h"
#include "state.h"
#include "xs_relay.h"

#include <stdlib.h>

static int xsrelay_save(struct domain *d, struct state_buf *out)
{
    uint8_t *p;
    size_t len;
    int rc = xs_relay_save_watches(d, &p, &len);
    if (rc < 0)
        return rc;
    rc = state_put(out, p, len);
    free(p);
    return rc;
}

static int xsrelay_load(struct domain *d, const uint8_t *payload, size_t len)
{
    return xs_relay_restore_watches(d, payload, len);
}

STATE_MODULE(xsrelay_state) = {
    .name = "xsrelay", .version = 1, .save = xsrelay_save, .load = xsrelay_load,
};
