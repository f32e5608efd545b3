/* journal: durability for the node tree and the introduced domains.
 *
 * Layout in the data directory:
 *   snapshot  full state: header + records (written to snapshot.tmp,
 *             fsync'd, renamed, directory fsync'd)
 *   journal   header + records appended since that snapshot
 * Header: magic "XSJ1", u32 version 1, u64 epoch. The journal belongs to
 * the snapshot with the same epoch; a journal with another epoch is stale
 * (left over by a crash during compaction) and is ignored.
 * Record: u32 body length, u32 CRC-32 of the body, body = u8 type + fields
 * (little endian). Replay stops at the first truncated or corrupt record and
 * truncates the journal there: that record was never acknowledged.
 *
 * Contract: a change is acknowledged to a client only after journal_sync()
 * returned 0 for it; journal_sync() writes every buffered record and
 * fdatasync()s the file (group commit: the event loop calls it once per
 * turn, before sending any reply).
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
};

struct jbuf {
    uint8_t *p;
    size_t len, cap;
};

struct journal {
    int dirfd;          /* -1: no persistence */
    int fd;             /* journal file */
    char *dir;
    uint64_t epoch;
    uint64_t size;      /* bytes in the journal file */
    uint64_t snap_size;
    struct jbuf buf;    /* records not yet written */
    uint64_t compact_min; /* compact when size > max(compact_min, snap) */
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

/* Open (creating) dir and load its state into t (which must be freshly
 * tree_init'ed). dir NULL: no persistence. Returns 0 or -1 (logged). */
int journal_open(struct journal *j, const char *dir, struct tree *t,
                 journal_domain_cb cb, void *arg);
void journal_close(struct journal *j);

void journal_put(struct journal *j, const struct node *n);
void journal_del(struct journal *j, const char *path);
void journal_domain(struct journal *j, const struct jdomain_rec *d);
void journal_release(struct journal *j, uint32_t domid);
bool journal_pending(const struct journal *j);

/* Write and fdatasync buffered records. 0 or -1 (fatal for the caller). */
int journal_sync(struct journal *j);

/* Emits the domain records for a snapshot. */
typedef void (*journal_dump_domains)(void *arg, struct journal *j);

/* If the journal has grown past the threshold, write a snapshot of t and
 * start a new journal. 0 or -1. Must be called with nothing pending. */
int journal_maybe_compact(struct journal *j, const struct tree *t,
                          journal_dump_domains dd, void *arg, bool force);

/* Apply one record body to a tree (used by replay, exposed for tests). */
int journal_apply(const uint8_t *body, size_t len, struct tree *t,
                  journal_domain_cb cb, void *arg);

#endif
