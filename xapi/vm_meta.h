/* The XAPI fields of a VM that xl.cfg has no key for, kept in the VM's
 * definition file beside xl's keys (xl ignores keys it does not know):
 *
 *   xapi_name_description = "text"
 *   xapi_other_config = [ "key=value", ... ]
 *   xapi_xenstore_data = [ "key=value", ... ]
 *   xapi_tags = [ "tag", ... ]
 *   xapi_is_a_template = 1            (VM.set_is_a_template, VM.clone of one)
 *   xapi_is_a_snapshot = 1            (VM.snapshot: also a template, as XAPI's)
 *   xapi_snapshot_of = "<VM uuid>"    (the VM it was taken of)
 *   xapi_snapshot_time = "<XAPI date>"
 *
 * and the edits of a definition: one key's assignment replaced (or
 * removed), the file written to a temporary beside it, synced and renamed
 * over it (atomic: the scan sees the old file or the new one). */
#ifndef XAPI_VM_META_H
#define XAPI_VM_META_H

#include <json-c/json.h>
#include <stddef.h>

/* A definition's whole text, NUL-terminated (malloc'd; *len without the
 * NUL), or NULL with errno (EFBIG: VM_DEF_MAX bytes or more, which is no
 * definition). One reader for the scan, the device calls, the setters and
 * the start helper. */
#define VM_DEF_MAX 65536
char *vm_def_text(const char *path, size_t *len);
/* A definition's text parsed as xl create parses it, its messages
 * dropped: 0 with dc filled (dispose it), or -1 (dc disposed). */
struct domain_config;
int vm_def_parse(const char *path, const char *text, size_t len, struct domain_config *dc);

/* {"name_description", "other_config": {}, "xenstore_data": {}, "tags": []}
 * from a definition's text (new; empty fields when absent or malformed). */
json_object *vm_meta_read(const char *source, const char *data, size_t len);

/* Of what vm_meta_read made (extra may be NULL). */
const char *vm_meta_description(json_object *extra);
void vm_meta_merge_map(json_object *extra, const char *field, json_object *into);
json_object *vm_meta_tags(json_object *extra);          /* new array */
/* is_a_template / is_a_snapshot; snapshot_of (a uuid or "") and
 * snapshot_time (borrowed). */
#include <stdbool.h>
bool vm_meta_flag(json_object *extra, const char *field);
const char *vm_meta_string(json_object *extra, const char *field);

/* A name xl accepts for a VM, and not Domain-0's (vm_define.c). */
#include <stdbool.h>
bool vm_good_name(const char *s);

/* A xenstore_data key XAPI accepts: "vm-data" or below it ("vm-data/a/b"),
 * of letters, digits, '-', '_', '.' and '/' between non-empty components. */
bool vm_meta_xenstore_key_ok(const char *key);

/* s as an xl.cfg double-quoted string (malloc'd), NULL when it holds a
 * control character xl.cfg cannot escape. */
char *vm_meta_quote(const char *s);

/* The edit itself, on a definition's text (which need not be valid): a
 * new text (malloc'd, its length in *out_len) with every statement that
 * starts a line assigning key removed and "key = value" appended (value
 * NULL: removed only); NULL when such a statement shares its line with
 * another (not edited), when xl's parser would refuse the result, or on
 * allocation failure. */
char *vm_meta_edit(const char *data, size_t len, const char *key, const char *value,
                   size_t *out_len);

/* One edit of a definition at a time (each reads, changes and writes a
 * whole file): the VM setters, VBD/VIF.create and destroy, and VDI.destroy
 * (which must not race a VBD.create naming the VDI). Not recursive. */
void vm_def_lock(void);
void vm_def_unlock(void);

/* Replace key's assignments in the definition at path with
 * "key = value" (value in xl.cfg syntax), or remove them (value NULL).
 * 0, or -1 with a message in err[errn]. */
int vm_meta_set(const char *path, const char *key, const char *value, char *err, size_t errn);

/* A new definition at path (O_EXCL: never over another; mode 0644 from
 * the code), synced with its directory. 0, or -1 with err set and nothing
 * left. */
int vm_def_create(const char *path, const char *text, size_t len, char *err, size_t errn);

#endif
