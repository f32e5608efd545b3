/* VM_guest_metrics as XAPI makes them: from what the guest (its agent or
 * drivers) writes under /local/domain/N/attr/ and /local/domain/N/data/.
 * These nodes are the guest's to write: every value is bounded
 * (GM_VALUE_MAX bytes, GM_VIFS interfaces, GM_ADDRS addresses each) and
 * used only as a string. */
#ifndef XAPI_GUEST_METRICS_H
#define XAPI_GUEST_METRICS_H

#include <json-c/json.h>

#include "xs_client.h"

#define GM_VALUE_MAX 256
#define GM_VIFS 16
#define GM_ADDRS 8

/* The record's fields the guest supplies (PV_drivers_version, os_version,
 * networks, memory, PV_drivers_detected...), or NULL when the guest has
 * written none of them (XAPI then has no guest metrics for the VM). */
json_object *guest_metrics_read(struct xs_client *xs, unsigned domid);

#endif
