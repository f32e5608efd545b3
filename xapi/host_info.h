/* The one host and its pool (this daemon serves a pool of one host): the
 * pool, host and host_metrics records, and the references the other
 * classes point at. */
#ifndef XAPI_HOST_INFO_H
#define XAPI_HOST_INFO_H

#include <json-c/json.h>

/* Put the pool and host records into the model (at start-up). */
void host_info_init(void);

/* locked or not: fixed for the daemon's life. */
const char *host_ref(void);
/* A uuid of the host's (what: "host", "pool", "host_cpu:3"...) derived
 * from the machine's identity, the same after a restart. out >= 37. */
void host_derived_uuid(const char *what, char *out);
const char *pool_ref(void);
const char *host_metrics_ref(void);

/* locked: the host_cpu records (class_host_cpu.c) and the role records
 * (class_role.c), made once at start-up. */
void host_cpus_init(void);
void roles_init(void);

/* locked: refresh host_metrics (memory_free) and host.resident_VMs. */
void host_info_refresh(json_object *resident_vms);

#endif
