/*
 * What the xenstore relay (xs_relay.c) remembers of a guest's session so
 * that it outlives a xenstored restart: the watches the guest holds (to be
 * registered again on the new connection) and its open transactions, each
 * with the connection (`gen`) it was started on, since one started before
 * a restart is gone with that xenstored.
 *
 * Pure bookkeeping, no I/O: the relay tells it what each reply confirmed.
 * Bounded: watches past XS_TRACK_MAX_WATCHES are not kept (warned once:
 * they are not re-registered), transactions past XS_TRACK_MAX_TXNS are not
 * remembered (their requests then go to the new xenstored, which refuses
 * the unknown id). Watch payloads are the guest's "path\0token\0" bytes,
 * copied.
 */
#ifndef XENON_XS_RELAY_TRACK_H
#define XENON_XS_RELAY_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XS_TRACK_MAX_WATCHES 128
#define XS_TRACK_MAX_TXNS 64

struct xs_watch_rec {
    size_t len;
    char *payload;
};

struct xs_txn_rec {
    uint32_t id, gen;
};

struct xs_track {
    unsigned domid;                 /* for the log */
    struct xs_watch_rec watches[XS_TRACK_MAX_WATCHES];
    unsigned nwatches;
    struct xs_txn_rec txns[XS_TRACK_MAX_TXNS];
    unsigned ntxns;
    uint32_t max_tx;                /* highest transaction id handed out */
    bool warned_watches;
};

/* A watch the guest now holds (a duplicate is kept once), one it gave up
 * (nothing if unknown), all of them and every transaction (RESET_WATCHES). */
void xs_track_add_watch(struct xs_track *t, const void *payload, size_t len);
void xs_track_drop_watch(struct xs_track *t, const void *payload, size_t len);
void xs_track_reset(struct xs_track *t);

/* TRANSACTION_START answered with body (the id in decimal, maybe
 * NUL-terminated) on connection gen: remembered, unless the id is not a
 * number in 1..UINT32_MAX. */
void xs_track_txn_started(struct xs_track *t, const uint8_t *body, size_t blen,
                          uint32_t gen);
/* The open transaction with this id, or NULL. */
const struct xs_txn_rec *xs_track_txn(const struct xs_track *t, uint32_t id);
void xs_track_txn_ended(struct xs_track *t, uint32_t id);

/* The watches as a saved record's payload (xs_relay_state.c), version 1:
 *     uint32_t count          <= XS_TRACK_MAX_WATCHES
 *     then per watch: uint32_t len, then len bytes "path\0token\0"
 *                     (3 .. XENSTORE_PAYLOAD_MAX, exactly two NULs, the
 *                     last byte one, the path not empty)
 * *out is malloc'd; 0 or -ENOMEM. */
int xs_track_save_watches(const struct xs_track *t, uint8_t **out, size_t *len);
/* Check such a payload whole, then hand each watch to add() in order.
 * -EINVAL, with nothing handed over, for one that breaks any rule. */
int xs_track_load_watches(const uint8_t *p, size_t len,
                          void (*add)(void *ctx, const void *payload, size_t len),
                          void *ctx);
/* Whether the watch is held. */
bool xs_track_has_watch(const struct xs_track *t, const void *payload, size_t len);

/* Free the watches' copies (at teardown). */
void xs_track_fini(struct xs_track *t);

#endif
