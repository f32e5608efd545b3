/* tree: the node store, a hash table of nodes keyed by absolute path.
 *
 * Every node knows its children (leaf names, in creation order). The same
 * struct node is used by transactions for their private copies; the fields
 * marked "overlay" are only meaningful there.
 *
 * Contracts:
 *  - tree_put() creates or updates one node. A new node's parent must
 *    exist; the new node is appended to the parent's child list.
 *  - tree_del() removes a node and its whole subtree.
 *  - Every change bumps the generation of the node (and of the parent whose
 *    child list changed) to a new, never reused value > 0. Generation 0
 *    means "absent" to the transaction code.
 *  - owned[] counts nodes per owner domid (< TREE_MAX_DOMID) for quotas,
 *    owned_mem[] the bytes those nodes hold (node_mem(): name, value,
 *    permissions, child list; Xen 4.17 charges a node's owner for the
 *    same). Both follow every tree_put()/tree_del(), journal replay
 *    included, so a restart recomputes them.
 */
#ifndef XENSTORED_TREE_H
#define XENSTORED_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perms.h"

#define TREE_MAX_DOMID 65536

struct node {
    struct node *hnext;       /* hash chain */
    char *path;
    char *value;
    uint32_t vlen;
    uint32_t nperms;
    struct xs_perm *perms;
    char **children;
    uint32_t nchildren, cap;
    size_t childbytes;        /* sum of strlen(name) + 1 */
    uint64_t gen;
    /* overlay */
    uint64_t base_gen;        /* generation seen when first accessed */
    uint64_t seq;             /* order of first modification */
    bool tomb;                /* deleted (or absent) in the transaction */
    bool was_deleted;         /* deleted at some point (maybe recreated) */
    bool modified;
    bool kids_loaded;         /* children copied from the tree */
    uint64_t check_mark;      /* tree_check() bookkeeping */
};

struct nodemap {
    struct node **b;
    size_t nb, count;
};

struct tree {
    struct nodemap map;
    uint64_t gen;
    uint32_t *owned;          /* [TREE_MAX_DOMID] */
    uint64_t *owned_mem;      /* [TREE_MAX_DOMID] */
};

void nodemap_init(struct nodemap *m);
struct node *nodemap_get(const struct nodemap *m, const char *path);
void nodemap_add(struct nodemap *m, struct node *n);
struct node *nodemap_remove(struct nodemap *m, const char *path);
/* Free every node. */
void nodemap_clear(struct nodemap *m);

struct node *node_new(const char *path);
void node_free(struct node *n);
/* v and p may point into n itself. */
void node_set_value(struct node *n, const char *v, uint32_t len);
void node_set_perms(struct node *n, const struct xs_perm *p, uint32_t np);
void node_add_child(struct node *n, const char *name);
bool node_del_child(struct node *n, const char *name);
/* Copy path, value, perms and generation; not the children (a
 * transaction loads those only when it needs them, st_load_kids). */
struct node *node_dup(const struct node *n);
void node_copy_kids(struct node *dst, const struct node *src);

/* Bytes a node with these sizes is charged for: its struct, path (with
 * NUL), value, permissions and child list (names with NULs, pointers). */
size_t node_mem_for(size_t pathlen, uint32_t vlen, uint32_t nperms,
                    size_t childbytes, uint32_t nchildren);
size_t node_mem(const struct node *n);
/* What adding a child called name adds to its parent's node_mem(). */
size_t node_child_mem(const char *name);

/* Parent path of an absolute path other than "/" (malloc'd). */
char *path_parent(const char *path);
const char *path_base(const char *path);
/* path joined with a child name (malloc'd). */
char *path_child(const char *path, const char *name);
/* True if child equals parent or lies below it. */
bool path_is_child(const char *child, const char *parent);

/* Initial tree: "/", "/tool", "/tool/xenstored", all "n0". */
void tree_init(struct tree *t);
void tree_free(struct tree *t);
struct node *tree_get(const struct tree *t, const char *path);
/* Returns the node, or NULL if the parent is missing. */
struct node *tree_put(struct tree *t, const char *path,
                      const struct xs_perm *p, uint32_t np,
                      const char *value, uint32_t vlen);
/* Remove path and its subtree; false if absent. Calls cb (if non-NULL)
 * for every removed node before it is freed, deepest first. */
bool tree_del(struct tree *t, const char *path,
              void (*cb)(void *arg, const struct node *n), void *arg);
/* Check the invariants: every node but "/" is listed exactly once in its
 * existing parent's child list, every listed child exists, every node is
 * reachable from "/", owner counts and bytes match. Returns NULL or a description of
 * the first violation (static buffer). */
const char *tree_check(struct tree *t);
/* Depth-first, parents before children, children in list order. */
void tree_walk(const struct tree *t, const char *root,
               void (*cb)(void *arg, const struct node *n), void *arg);

#endif
