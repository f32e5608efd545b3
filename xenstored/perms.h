/* perms: xenstore node permissions.
 *
 * A node has one or more entries; entry 0 names the owner and gives the
 * access of every domain not listed. Entries are "<c><domid>" on the wire,
 * c one of n (none), r (read), w (write), b (both).
 */
#ifndef XENSTORED_PERMS_H
#define XENSTORED_PERMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PERM_NONE 0u
#define PERM_READ 1u
#define PERM_WRITE 2u
#define PERM_OWNER 4u

struct xs_perm {
    uint32_t id;
    uint32_t perm; /* PERM_READ | PERM_WRITE */
};

/* Parse one "<c><domid>" string; false if malformed. */
bool perm_parse(const char *s, struct xs_perm *out);

/* Write the entries as NUL-terminated strings into buf (cap bytes).
 * Returns the length used, or 0 if it does not fit. */
size_t perms_format(const struct xs_perm *p, unsigned n, char *buf,
                    size_t cap);

/* Access granted to domain domid (acting also for target, or -1 for none)
 * on a node with these entries. Privileged callers get everything; the
 * owner (or its controller via target) gets everything incl. PERM_OWNER. */
unsigned perms_for(const struct xs_perm *p, unsigned n, uint32_t domid,
                   bool privileged, long target);

#endif
