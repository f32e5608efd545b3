/* store: direct and transactional node access (see store.h). */
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

long st_owned(struct store *s)
{
    uint32_t d = s->c ? s->c->domid : 0;
    long n = d < TREE_MAX_DOMID ? (long)xs->tree.owned[d] : 0;
    return n + (s->tx ? s->tx->owned_delta : 0);
}

void st_charge(struct store *s, long bytes)
{
    if (!s->tx || !s->c)
        return;
    s->tx->mem += (size_t)bytes;
    if (!core_charge(s->c, bytes, false)) {
        core_charge(s->c, bytes, true);
        if (!s->err)
            s->err = ENOMEM;
    }
}

/* What a private copy of n costs (its children are charged when loaded). */
static long node_cost(const struct node *n)
{
    return (long)(sizeof(*n) + strlen(n->path) + 1 + n->vlen +
                  n->nperms * sizeof(struct xs_perm));
}

struct node *st_get(struct store *s, const char *path)
{
    if (!s->tx)
        return tree_get(&xs->tree, path);
    struct node *n = nodemap_get(&s->tx->map, path);
    if (!n) {
        const struct node *g = tree_get(&xs->tree, path);
        if (g) {
            n = node_dup(g);
            n->base_gen = g->gen;
        } else {
            n = node_new(path);
            n->tomb = true;
            n->base_gen = 0;
        }
        nodemap_add(&s->tx->map, n);
        s->tx->naccessed++;
        st_charge(s, node_cost(n));
        if (s->c && txn_over_quota(s->tx, s->c))
            s->err = ENOSPC;
    }
    return n->tomb ? NULL : n;
}

void st_load_kids(struct store *s, struct node *n)
{
    if (!s->tx || n->kids_loaded)
        return;
    const struct node *g = tree_get(&xs->tree, n->path);
    if (g) {
        node_copy_kids(n, g);
        st_charge(s, (long)(g->childbytes + g->nchildren * sizeof(char *)));
    }
    n->kids_loaded = true;
}

static void mark(struct txn *t, struct node *n)
{
    n->modified = true;
    if (!n->seq)
        n->seq = ++t->seq;
}

static bool owned_by_caller(const struct store *s, const struct xs_perm *p,
                            uint32_t np)
{
    return np && s->c && p[0].id == s->c->domid;
}

struct node *st_create(struct store *s, struct node *parent, const char *path,
                       const struct xs_perm *p, uint32_t np, const char *v,
                       uint32_t vlen)
{
    if (!s->tx) {
        struct node *n = tree_put(&xs->tree, path, p, np, v, vlen);
        if (n)
            journal_put(&xs->journal, n);
        return n;
    }
    struct node *n = nodemap_get(&s->tx->map, path);
    if (!n) {
        n = node_new(path);
        n->base_gen = 0;
        nodemap_add(&s->tx->map, n);
        s->tx->naccessed++;
        st_charge(s, node_cost(n));
    }
    /* What the node will hold in the tree (node_mem): value, perms and
     * its name in the parent's child list. */
    st_charge(s, (long)vlen + (long)(np * sizeof(struct xs_perm)) +
                     (long)node_child_mem(path_base(path)));
    st_load_kids(s, parent);
    node_add_child(parent, path_base(path));
    n->tomb = false;
    n->kids_loaded = true;
    node_set_value(n, v, vlen);
    node_set_perms(n, p, np);
    n->modified = true;
    n->seq = ++s->tx->seq; /* always after its parent */
    if (owned_by_caller(s, p, np))
        s->tx->owned_delta++;
    return n;
}

void st_update(struct store *s, struct node *n, const char *v, uint32_t vlen,
               const struct xs_perm *p, uint32_t np)
{
    if (!v) {
        v = n->value;
        vlen = n->vlen;
    }
    if (!p) {
        p = n->perms;
        np = n->nperms;
    }
    if (!s->tx) {
        /* A guest pays for growth of the owner's node bytes (it cannot
         * change the owner: only the privileged may). */
        if (s->c && !s->c->privileged && np) {
            size_t now = node_mem_for(strlen(n->path), vlen, np,
                                      n->childbytes, n->nchildren);
            size_t was = n->perms[0].id == p[0].id ? node_mem(n) : 0;
            if (now > was && !core_mem_room(s->c, p[0].id, now - was)) {
                s->err = ENOMEM;
                return;
            }
        }
        /* v and p may be n's own: node_set_* copy before they free. */
        journal_put(&xs->journal,
                    tree_put(&xs->tree, n->path, p, np, v, vlen));
        return;
    }
    bool was = owned_by_caller(s, n->perms, n->nperms);
    bool now = owned_by_caller(s, p, np);
    if (vlen > n->vlen)
        st_charge(s, (long)(vlen - n->vlen));
    if (np > n->nperms)
        st_charge(s, (long)((np - n->nperms) * sizeof(struct xs_perm)));
    if (v != n->value)
        node_set_value(n, v, vlen);
    if (p != n->perms)
        node_set_perms(n, p, np);
    s->tx->owned_delta += (long)now - (long)was;
    mark(s->tx, n);
}

static void tx_delete_rec(struct store *s, struct node *n)
{
    st_load_kids(s, n);
    for (uint32_t i = 0; i < n->nchildren; i++) {
        char *cp = path_child(n->path, n->children[i]);
        struct node *c = st_get(s, cp);
        free(cp);
        if (c)
            tx_delete_rec(s, c);
    }
    if (owned_by_caller(s, n->perms, n->nperms))
        s->tx->owned_delta--;
    node_copy_kids(n, &(struct node){ 0 });
    n->tomb = true;
    n->was_deleted = true;
    mark(s->tx, n);
}

void st_delete(struct store *s, struct node *n)
{
    if (!s->tx) {
        char *path = strdup(n->path);
        if (!path)
            abort();
        if (tree_del(&xs->tree, path, NULL, NULL))
            journal_del(&xs->journal, path);
        free(path);
        return;
    }
    char *pp = path_parent(n->path);
    struct node *parent = st_get(s, pp);
    free(pp);
    if (parent) {
        st_load_kids(s, parent);
        node_del_child(parent, path_base(n->path));
    }
    tx_delete_rec(s, n);
}

bool txn_over_quota(const struct txn *t, const struct conn *c)
{
    return !c->privileged && xs->quota[Q_TXN_NODES] &&
           t->naccessed > (size_t)xs->quota[Q_TXN_NODES];
}

struct txn *txn_new(uint32_t id)
{
    struct txn *t = calloc(1, sizeof(*t));
    if (!t)
        abort();
    t->id = id;
    nodemap_init(&t->map);
    return t;
}

void txn_free(struct txn *t)
{
    if (!t)
        return;
    nodemap_clear(&t->map);
    evlist_free(&t->events);
    free(t);
}

static int by_seq(const void *a, const void *b)
{
    const struct node *x = *(const struct node *const *)a;
    const struct node *y = *(const struct node *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int txn_commit(struct txn *t)
{
    struct nodemap *m = &t->map;
    size_t nmod = 0;
    for (size_t i = 0; i < m->nb; i++) {
        for (struct node *n = m->b[i]; n; n = n->hnext) {
            const struct node *g = tree_get(&xs->tree, n->path);
            if ((g ? g->gen : 0) != n->base_gen)
                return EAGAIN;
            if (n->modified)
                nmod++;
        }
    }
    struct node **mods = malloc((nmod ? nmod : 1) * sizeof(*mods));
    if (!mods)
        abort();
    size_t k = 0;
    for (size_t i = 0; i < m->nb; i++)
        for (struct node *n = m->b[i]; n; n = n->hnext)
            if (n->modified)
                mods[k++] = n;
    qsort(mods, nmod, sizeof(*mods), by_seq);
    /* Deletions first: every node that existed and was deleted, even if
     * recreated later in the transaction. Then (re)creations and updates in
     * the order they happened. Child lists then end up in the order the
     * transaction saw: surviving children keep their place, (re)created
     * ones are appended in creation order. */
    for (size_t i = 0; i < nmod; i++) {
        struct node *n = mods[i];
        if (n->was_deleted && n->base_gen &&
            tree_del(&xs->tree, n->path, NULL, NULL))
            journal_del(&xs->journal, n->path);
    }
    for (size_t i = 0; i < nmod; i++) {
        struct node *n = mods[i];
        if (n->tomb)
            continue;
        struct node *r = tree_put(&xs->tree, n->path, n->perms, n->nperms,
                                  n->value, n->vlen);
        if (r)
            journal_put(&xs->journal, r);
        else
            log_err("commit: parent of %s missing", n->path);
    }
    free(mods);
    evlist_fire(&t->events);
    return 0;
}
