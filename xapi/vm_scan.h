/* The VM, VM_metrics and console records, rebuilt from what libxenon
 * reports (xenon_domain_list: xenstore, the state files, the VMMs) and
 * from the VM definitions: the xl.cfg files (*.cfg) in the VM directory
 * (--vm-dir). A definition that is not running is a Halted VM; a running
 * domain is its definition's VM when the names match (xl names are
 * unique), else a VM of its own that goes away when the domain does.
 * Domain-0 is listed as the control domain. A definition without a uuid=
 * gets one derived from its name, which VM.start then gives the domain. */
#ifndef XAPI_VM_SCAN_H
#define XAPI_VM_SCAN_H

#include <json-c/json.h>
#include <stdbool.h>

#include "domain.h"

void vm_scan_config(const char *vm_dir, const struct xenon_paths *paths);

/* Rebuild now (serialised with other scans); events for what changed. */
void vm_scan(void);

/* Ask the scan thread to rebuild soon (from the xenstore watch). */
void vm_scan_request(void);

/* The scan thread: on request (the xenstore watch; inotify on the VM and
 * image directories, and on the state directory, whose files libxenon
 * touches after a pause or an unpause, which no xenstore node shows), and
 * every `vm_scan_interval` seconds for what none of them shows (a VMM
 * stopped by other means; 0: never). */
int vm_scan_start(void);
void vm_scan_interval(unsigned seconds);

/* u is a uuid in the form XAPI writes: 8-4-4-4-12 lowercase hex digits. */
bool vm_uuid_ok(const char *u);

/* A definition's derived uuid (UUIDv5 of its name). out >= 37. */
void vm_uuid_for_name(const char *name, char *out);

/* The key of a VM's reference (model_ref_for): "VM/<uuid>". */
#include <stddef.h>
void vm_ref_key(const char *uuid, char *out, size_t n);

extern struct xenon_paths vm_paths;

/* The VM directory (--vm-dir). */
const char *vm_scan_dir(void);

/* After a new definition with this uuid was written: scan, and the
 * reference of the VM it made (a new JSON string), or NULL when it made
 * none (xl's checks refused it: the caller takes the file back). */
json_object *vm_scan_new_vm(const char *uuid);

#endif
