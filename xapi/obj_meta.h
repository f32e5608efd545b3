/* What a client sets on objects that have no file of their own to keep
 * it in: name_label, name_description and other_config of VDIs, SRs,
 * networks, and other_config of VBDs and VIFs (XAPI's setters and map
 * calls, class_obj_set.c). Those records are rebuilt from the host by
 * every scan (storage.h, host_net.h, vm_devices.h), so what was set is an
 * overlay that model_put lays on each record of these classes as it is
 * stored: the record's own name wins unless one was set, and its
 * other_config is the daemon's "xenon_*" keys (reports, never set by a
 * client) plus the map the client set.
 *
 * Kept in META_DIR (STATE_DIR/xapi-meta, mode 0700) as one JSON file per
 * object, "<class>-<uuid>.json" ({"name_label", "name_description",
 * "other_config"}), written to a temporary and renamed over it; read
 * once at start. Objects keep their uuids across restarts (derived from
 * what names them), so the overlay finds them again; one whose object is
 * gone (VDI.destroy, VBD.destroy, VIF.destroy) is dropped. */
#ifndef XAPI_OBJ_META_H
#define XAPI_OBJ_META_H

#include <json-c/json.h>
#include <stdbool.h>

/* Read the directory (made when missing) and hook the overlay into
 * model_put. */
void obj_meta_config(const char *dir);

/* Whether objects of the class take the overlay ("VDI", "SR", "network",
 * "VBD", "VIF"), and whether they have names (not VBD, VIF). */
bool obj_meta_class(const char *cls);
bool obj_meta_named(const char *cls);

/* locked (model lock): lay the overlay of rec's object (by its "uuid")
 * onto rec. */
void obj_meta_apply(const char *cls, json_object *rec);

/* locked: the object's overlay as set now (new; {} when none). */
json_object *obj_meta_get(const char *cls, const char *uuid);

/* locked: replace the object's overlay with o (borrowed; {} or NULL
 * drops it) and write it down. 0, or -1 with err set (nothing changed). */
int obj_meta_put(const char *cls, const char *uuid, json_object *o, char *err, size_t errn);

#endif
