/*
 * Saved state, declared module by module. Each module that holds
 * guest-visible state outside guest memory (event channels, grant tables,
 * shared info placement, timers, vCPUs) declares, beside its own code, how
 * to save and load it: a STATE_MODULE with a name, a version and two
 * functions. Save/restore and migration then collect and hand back records
 * by name instead of reaching into the modules' structs.
 *
 * The stream is a sequence of records, each
 *     char name[16] (NUL-padded), uint32_t version, uint32_t length,
 *     then `length` bytes of the module's own payload,
 * little-endian as the host. A stream comes from a file or another host:
 * state_load() and every module's load() treat it as hostile, check every
 * field, and leave the domain untouched when they refuse a record.
 * Guest memory itself travels separately (it is the gmem memfd).
 *
 * Modules register from constructors, so a program links the Xen ABI
 * library whole (vmm_abi_dep in vmm/meson.build): a plain archive link
 * would drop a module file that nothing else references.
 */
#ifndef XENON_STATE_H
#define XENON_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct domain;

#define STATE_NAME_LEN 16
#define STATE_MAX_MODULES 16
#define STATE_MAX_RECORD (1u << 20)     /* no module needs more */

/* A record's framing, as described above (readers copy it out of the
 * stream before they look at it). */
struct state_record_header {
    char name[STATE_NAME_LEN];      /* NUL-padded */
    uint32_t version;
    uint32_t length;                /* of the payload that follows */
};

/* A growable output buffer. */
struct state_buf {
    uint8_t *data;
    size_t len, cap;
};

/* Append bytes; 0 or -ENOMEM (the buffer is kept). */
int state_put(struct state_buf *b, const void *p, size_t n);
void state_buf_free(struct state_buf *b);

struct state_module {
    const char *name;       /* at most STATE_NAME_LEN - 1 characters */
    uint32_t version;       /* of this module's payload */
    /* Append this module's payload; 0 or a negative errno. */
    int (*save)(struct domain *d, struct state_buf *out);
    /* Replace the module's state with the payload; 0, or -EINVAL for a
     * payload it refuses (the module's state is then unchanged). */
    int (*load)(struct domain *d, const uint8_t *payload, size_t len);
    /* Optional: whether two payloads of equal length, saved one after the
     * other with only a load of the first in between, describe the same
     * state (for fields that move on by themselves, such as time: they
     * must not have moved backwards). NULL: byte for byte. */
    bool (*same)(const uint8_t *first, const uint8_t *second, size_t len);
};

/* Register a module (at start-up; see STATE_MODULE). Aborts on a
 * duplicate name or a full table: both are programming errors. */
void state_register(const struct state_module *m);

/* Declare a module's save/load beside its code:
 *     STATE_MODULE(evtchn_state) = { "evtchn", 1, evtchn_save, evtchn_load };
 */
#define STATE_MODULE(var)                                                  \
    static const struct state_module var;                                  \
    __attribute__((constructor)) static void var##_register(void)          \
    {                                                                      \
        state_register(&var);                                              \
    }                                                                      \
    static const struct state_module var

/* One record per registered module, in registration order. */
int state_save(struct domain *d, struct state_buf *out);

/* Only the modules named in names (NULL-terminated), in registration
 * order. */
int state_save_some(struct domain *d, const char *const *names, struct state_buf *out);

/* Hand each record to the module of its name. -EINVAL for a malformed
 * stream, an unknown module, a version the module does not read, or a
 * payload the module refuses; records before the bad one stay loaded. */
int state_load(struct domain *d, const uint8_t *buf, size_t len);

/* Check save and load against each other on a live domain whose vCPUs
 * are stopped (paused): save, load that back into the same domain, save
 * again, and compare record by record (the modules' same()). 0 with
 * *bytes the stream's size, -EIO when a record came back different, or
 * the first error of a save or load. Call with d->lock held. */
int state_reload_check(struct domain *d, size_t *bytes);

/* The registered module of this name, or NULL (for tests). */
const struct state_module *state_find(const char *name);

#endif
