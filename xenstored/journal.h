/* journal: durability for the node tree and the introduced domains.
 *
 * Layout in the data directory:
 *   snapshot  full state: header + records
 *   journal   header + records appended since that snapshot
 *   reserve   zeros, given back when the disk fills up (below)
 *   journal.damaged-N  a damaged journal kept by --salvage
 * Header: magic "XSJ1", u32 version, u64 epoch, and in version 2 a u32
 * secret key and u32 0 (24 bytes; version 1, 16 bytes, is still read and
 * appended to until the next compaction). The journal belongs to
 * the snapshot with the same epoch; a journal one epoch older is stale
 * (left by a crash during compaction, its records are in the snapshot) and
 * is replaced. Any other header is damage.
 * Record: u32 body length, u32 CRC-32 of the body (version 2: of the key
 * and the body, so that bytes a client put in a value can never pass for
 * a record), body = u8 type + fields (little endian). Reading back: jreplay.h (a torn tail is cut; damage in
 * the middle refuses the start unless salvaging).
 *
 * Contract: a change is acknowledged to a client only after journal_sync()
 * returned 0 for it; journal_sync() writes every buffered record and
 * fdatasync()s the file (group commit: the event loop calls it once per
 * turn, before sending any reply). The records of one request are one
 * unit on disk (journal_group_*): after a crash all or none of them come
 * back.
 *
 * Disk full: at start the daemon writes `reserve` (journal_opts.reserve
 * bytes). When an append fails for lack of space, the reserve is given
 * back and the append retried, so the turn's changes are still made
 * durable and acknowledged; from then on journal_full() is true and the
 * caller refuses changes (ENOSPC) until journal_tick() has found the space
 * to write the reserve again. A failed append never leaves a partial
 * record behind: the file is cut back to its last synced length.
 */
#ifndef XENSTORED_JOURNAL_H
#define XENSTORED_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tree.h"

enum jrec_type {
    JREC_PUT = 1,      /* path, perms, value: create or update one node */
    JREC_DEL = 2,      /* path: remove node and subtree */
    JREC_DOMAIN = 3,   /* domid, mfn, port, target: domain introduced */
    JREC_RELEASE = 4,  /* domid: domain released */
    JREC_GROUP = 5,    /* whole records (no groups), applied all or none */
};

struct jbuf {
    uint8_t *p;
    size_t len, cap;
    size_t nrec;        /* records in the buffer */
    bool keyed;         /* records' CRCs cover key (version 2 files) */
    uint32_t key;
};

struct journal_opts {
    bool salvage;       /* start despite damage, dropping what is damaged */
    uint64_t reserve;   /* bytes kept in DATA_DIR/reserve (0: none) */
};

struct journal {
    int dirfd;          /* -1: no persistence */
    int fd;             /* journal file; -1 while it must be recreated */
    char *dir;
    uint64_t epoch;
    uint64_t size;      /* bytes in the journal file (synced) */
    uint64_t snap_size;
    struct jbuf buf;    /* records not yet written */
    uint64_t compact_min; /* compact when size > max(compact_min, snap) */
    uint64_t compact_failed_at; /* size when compaction last failed */
    size_t group_off, group_nrec; /* journal_group_begin() */
    uint64_t reserve;   /* wanted size of the reserve file */
    bool reserve_held;  /* the reserve file is in place */
    bool full;          /* refusing changes until space returns */
    bool salvaged;      /* damage was dropped: compact before serving */
};

struct jdomain_rec {
    uint32_t domid;
    uint64_t mfn;
    uint32_t port;
    int32_t target;     /* -1 for none */
};

/* Called for domain records while loading. */
typedef void (*journal_domain_cb)(void *arg, enum jrec_type type,
                                  const struct jdomain_rec *d);

uint32_t crc32_buf(const void *data, size_t len);
/* A record's CRC: of *key and the body, or of the body (key NULL). */
uint32_t jrec_crc(const uint32_t *key, const void *body, size_t len);

/* Open dir (created if missing) and load its state into t (which must be
 * freshly tree_init'ed). dir NULL: no persistence. o NULL: defaults (no
 * salvage, no reserve). Returns 0 or -1 (logged at error level; a damaged
 * journal is left as it is). With o->salvage, j->salvaged says that
 * damage was dropped: the caller must compact (force) before serving. */
int journal_open(struct journal *j, const char *dir,
                 const struct journal_opts *o, struct tree *t,
                 journal_domain_cb cb, void *arg);
void journal_close(struct journal *j);

void journal_put(struct journal *j, const struct node *n);
void journal_del(struct journal *j, const char *path);
void journal_domain(struct journal *j, const struct jdomain_rec *d);
void journal_release(struct journal *j, uint32_t domid);
bool journal_pending(const struct journal *j);
/* Bytes of records waiting for journal_sync(). */
size_t journal_pending_bytes(const struct journal *j);

/* The records added between begin and end are one unit on disk. */
void journal_group_begin(struct journal *j);
void journal_group_end(struct journal *j);

/* Write and fdatasync buffered records. 0, or -1 with the records still
 * buffered and the file as it was (the caller holds the replies back and
 * retries). */
int journal_sync(struct journal *j);

/* Out of space: changes must be refused (ENOSPC) for now. */
bool journal_full(const struct journal *j);
/* Periodic work (about once a second): take the reserve back when space
 * has returned, ending journal_full(). */
void journal_tick(struct journal *j);

/* Emits the domain records for a snapshot. */
typedef void (*journal_dump_domains)(void *arg, struct journal *j);

/* If the journal has grown past the threshold (or force), write a snapshot
 * of t and start a new journal. 0 or -1. Must be called with nothing
 * pending. A failure leaves a consistent pair on disk: either the old
 * snapshot and journal (appending goes on) or the new snapshot with the
 * new journal still to be created (journal_sync creates it before it
 * writes anything). */
int journal_maybe_compact(struct journal *j, const struct tree *t,
                          journal_dump_domains dd, void *arg, bool force);

/* Apply one record body to a tree (jreplay.c; exposed for tests and the
 * fuzzer). */
int journal_apply(const uint8_t *body, size_t len, struct tree *t,
                  journal_domain_cb cb, void *arg);

#endif
