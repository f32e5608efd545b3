/* wire: xs_wire message framing and payload validation.
 *
 * Pure functions, no I/O and no global state, so they can be fuzzed.
 * Contracts:
 *  - wire_frame() looks at a byte stream and says whether a complete message
 *    is at its start, needs more bytes, or is malformed (len too big).
 *  - Payload helpers never read past len and never assume NUL termination.
 *  - wire_valid_path() accepts only absolute paths made of [A-Za-z0-9-/_@],
 *    no "//", no trailing '/' (except "/"), within the length limits.
 */
#ifndef XENSTORED_WIRE_H
#define XENSTORED_WIRE_H

#include <errno.h> /* before xs_wire.h: it defines xsd_errors only then */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/io/xs_wire.h>

#define WIRE_HDR_LEN sizeof(struct xsd_sockmsg)

enum wire_frame_status {
    WIRE_NEED_MORE,   /* not a complete message yet */
    WIRE_MSG,         /* *msglen bytes hold header + payload */
    WIRE_BAD,         /* header announces len > XENSTORE_PAYLOAD_MAX */
};

/* Inspect buf[0..avail). On WIRE_MSG, *hdr holds the header and *msglen
 * the total size (header + payload). */
enum wire_frame_status wire_frame(const uint8_t *buf, size_t avail,
                                  struct xsd_sockmsg *hdr, size_t *msglen);

/* Split a payload into NUL-terminated strings. Stores up to max pointers
 * into argv (pointing into payload) and returns how many NUL-terminated
 * strings the payload holds; bytes after the last NUL are not counted.
 * With max 0, argv may be NULL: the count alone. */
unsigned wire_split(const char *payload, size_t len, const char **argv,
                    unsigned max);

/* True iff the payload is exactly one string terminated by its only NUL. */
bool wire_onearg(const char *payload, size_t len);

/* Validate an absolute node path. path_max is the "path-max" quota: the
 * length allowed after a "/local/domain/<id>/" prefix (or of the whole
 * path otherwise). */
bool wire_valid_path(const char *path, size_t path_max);

/* A special watch path: starts with '@', no NUL, at most
 * XENSTORE_REL_PATH_MAX bytes. */
bool wire_valid_special(const char *path);

/* Parse an unsigned decimal in [0, max]; false if not a number. */
bool wire_parse_uint(const char *s, unsigned long max, unsigned long *out);

/* Name of an errno value as sent on the wire ("EINVAL" if unknown). */
const char *wire_errname(int err);

/* Name of a message type, for logs. */
const char *wire_typename(uint32_t type);

#endif
