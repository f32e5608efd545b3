/* store: node access for one request, either directly on the tree or
 * inside a transaction.
 *
 * Direct access changes the tree at once and appends journal records.
 * Transactional access works on private copies (struct node in the
 * transaction's nodemap), each remembering the generation it had when first
 * accessed (0 = absent). txn_commit() fails with EAGAIN if any accessed
 * node's generation changed since; otherwise it replays the transaction's
 * deletions and then its creations/updates (in order) onto the tree,
 * journaling them, and fires the events recorded during the transaction.
 * The committed tree equals the transaction's view, child order included.
 */
#ifndef XENSTORED_STORE_H
#define XENSTORED_STORE_H

#include "core.h"
#include "watch.h"

struct txn {
    struct txn *next;
    uint32_t id;
    struct nodemap map;
    uint64_t seq;
    long owned_delta;       /* nodes created - removed for the owner */
    size_t naccessed;
    struct evlist events;
    size_t mem;             /* bytes charged to the connection for it */
};

struct store {
    struct conn *c;
    struct txn *tx;         /* NULL: direct */
    struct evlist *ev;      /* events of this request */
    int err;                /* sticky error (e.g. transaction-nodes quota) */
};

/* Node at path or NULL if absent. The returned node may be modified only
 * through the functions below. */
struct node *st_get(struct store *s, const char *path);
/* Make n's child list available (transactions load it lazily). */
void st_load_kids(struct store *s, struct node *n);
/* Create path below existing parent with the given perms and value. */
struct node *st_create(struct store *s, struct node *parent, const char *path,
                       const struct xs_perm *p, uint32_t np, const char *v,
                       uint32_t vlen);
/* Directly, a guest that would take the owner past its memory quota
 * changes nothing and gets s->err = ENOMEM. */
void st_update(struct store *s, struct node *n, const char *v, uint32_t vlen,
               const struct xs_perm *p, uint32_t np);
/* Remove n and its subtree (n must not be "/"). */
void st_delete(struct store *s, struct node *n);
/* Charge bytes a transaction makes the daemon hold to it and its
 * connection; past the memory quota the request fails (s->err = ENOMEM),
 * the copy having been made (the next request is refused up front). */
void st_charge(struct store *s, long bytes);
/* Nodes owned by the caller's domain, including the transaction's delta. */
long st_owned(struct store *s);

struct txn *txn_new(uint32_t id);
void txn_free(struct txn *t);
/* The transaction has accessed more nodes than c's transaction-nodes
 * quota allows. */
bool txn_over_quota(const struct txn *t, const struct conn *c);
/* 0 or EAGAIN. On success the transaction's events have been fired. */
int txn_commit(struct txn *t);

#endif
