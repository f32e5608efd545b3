/* VM.pool_migrate onto this host (the one host of the pool): the running
 * domain is moved into a new domain through libxenon's migration
 * (xenon_domain_save_fd into a pipe, xenon_domain_receive from it, the
 * names handed over as xl migrate does: NAME--migratedaway, NAME--incoming),
 * in `xenon-xapi --migrate-domain DOMID`, a fresh process as for VM.start.
 * The VM keeps its uuid and reference (its definition's name is the
 * new domain's); only its domid changes. While it moves, the scan shows
 * it Running on whichever copy exists and never the two copies as VMs
 * of their own (vm_scan_migrating). */
#ifndef XAPI_VM_MIGRATE_H
#define XAPI_VM_MIGRATE_H

#include <stdbool.h>

/* The helper's body: migrate the domain `domid` to a new domain on this
 * host. Exit status 0 when the new one runs and the old one is gone;
 * otherwise the old one runs on (errors on stderr). */
int vm_migrate_helper(const char *domid);

/* The names of VMs being migrated by this daemon (vm_scan.c reads it). */
void vm_scan_migrating(const char *name, bool on);
bool vm_scan_is_migrating(const char *name);

#endif
