/* tree: hash table node store (see tree.h). */
#include "tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        perror("xenon-xenstored: out of memory");
        abort();
    }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        perror("xenon-xenstored: out of memory");
        abort();
    }
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

void nodemap_init(struct nodemap *m)
{
    m->nb = 64;
    m->count = 0;
    m->b = calloc(m->nb, sizeof(*m->b));
    if (!m->b)
        abort();
}

struct node *nodemap_get(const struct nodemap *m, const char *path)
{
    struct node *n = m->b[hash_str(path) & (m->nb - 1)];
    for (; n; n = n->hnext)
        if (strcmp(n->path, path) == 0)
            return n;
    return NULL;
}

static void nodemap_grow(struct nodemap *m)
{
    size_t nb = m->nb * 2;
    struct node **b = calloc(nb, sizeof(*b));
    if (!b)
        abort();
    for (size_t i = 0; i < m->nb; i++) {
        struct node *n = m->b[i], *next;
        for (; n; n = next) {
            next = n->hnext;
            size_t h = hash_str(n->path) & (nb - 1);
            n->hnext = b[h];
            b[h] = n;
        }
    }
    free(m->b);
    m->b = b;
    m->nb = nb;
}

void nodemap_add(struct nodemap *m, struct node *n)
{
    if (m->count >= m->nb)
        nodemap_grow(m);
    size_t h = hash_str(n->path) & (m->nb - 1);
    n->hnext = m->b[h];
    m->b[h] = n;
    m->count++;
}

struct node *nodemap_remove(struct nodemap *m, const char *path)
{
    struct node **pp = &m->b[hash_str(path) & (m->nb - 1)];
    for (; *pp; pp = &(*pp)->hnext) {
        struct node *n = *pp;
        if (strcmp(n->path, path) == 0) {
            *pp = n->hnext;
            m->count--;
            return n;
        }
    }
    return NULL;
}

void nodemap_clear(struct nodemap *m)
{
    for (size_t i = 0; i < m->nb; i++) {
        struct node *n = m->b[i], *next;
        for (; n; n = next) {
            next = n->hnext;
            node_free(n);
        }
    }
    free(m->b);
    m->b = NULL;
    m->nb = m->count = 0;
}

struct node *node_new(const char *path)
{
    struct node *n = xmalloc(sizeof(*n));
    memset(n, 0, sizeof(*n));
    n->path = xstrdup(path);
    return n;
}

static void node_free_kids(struct node *n)
{
    for (uint32_t i = 0; i < n->nchildren; i++)
        free(n->children[i]);
    free(n->children);
    n->children = NULL;
    n->nchildren = n->cap = 0;
    n->childbytes = 0;
}

void node_free(struct node *n)
{
    if (!n)
        return;
    node_free_kids(n);
    free(n->path);
    free(n->value);
    free(n->perms);
    free(n);
}

/* Both copy before they free, so v or p may be n's own. */
void node_set_value(struct node *n, const char *v, uint32_t len)
{
    char *copy = xmalloc(len);
    if (len)
        memcpy(copy, v, len);
    free(n->value);
    n->value = copy;
    n->vlen = len;
}

void node_set_perms(struct node *n, const struct xs_perm *p, uint32_t np)
{
    struct xs_perm *copy = xmalloc(np * sizeof(*p));
    memcpy(copy, p, np * sizeof(*p));
    free(n->perms);
    n->perms = copy;
    n->nperms = np;
}

void node_add_child(struct node *n, const char *name)
{
    if (n->nchildren == n->cap) {
        n->cap = n->cap ? n->cap * 2 : 4;
        n->children = xrealloc(n->children, n->cap * sizeof(char *));
    }
    n->children[n->nchildren++] = xstrdup(name);
    n->childbytes += strlen(name) + 1;
}

bool node_del_child(struct node *n, const char *name)
{
    /* Search from both ends at once: the child removed is most often one
     * added last (a transaction undone) or first (the oldest domain goes),
     * so neither waits behind the thousands of /local/domain's others. */
    for (uint32_t k = 0; k < n->nchildren; k++) {
        uint32_t i = k % 2 ? k / 2 : n->nchildren - 1 - k / 2;
        if (strcmp(n->children[i], name) == 0) {
            n->childbytes -= strlen(name) + 1;
            free(n->children[i]);
            memmove(&n->children[i], &n->children[i + 1],
                    (n->nchildren - i - 1) * sizeof(char *));
            n->nchildren--;
            return true;
        }
    }
    return false;
}

void node_copy_kids(struct node *dst, const struct node *src)
{
    node_free_kids(dst);
    for (uint32_t i = 0; i < src->nchildren; i++)
        node_add_child(dst, src->children[i]);
}

struct node *node_dup(const struct node *n)
{
    struct node *d = node_new(n->path);
    node_set_value(d, n->value, n->vlen);
    node_set_perms(d, n->perms, n->nperms);
    d->gen = n->gen;
    return d;
}

size_t node_mem_for(size_t pathlen, uint32_t vlen, uint32_t nperms,
                    size_t childbytes, uint32_t nchildren)
{
    return sizeof(struct node) + pathlen + 1 + vlen +
           nperms * sizeof(struct xs_perm) + childbytes +
           nchildren * sizeof(char *);
}

size_t node_mem(const struct node *n)
{
    return node_mem_for(strlen(n->path), n->vlen, n->nperms, n->childbytes,
                        n->nchildren);
}

size_t node_child_mem(const char *name)
{
    return strlen(name) + 1 + sizeof(char *);
}

char *path_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return xstrdup("/");
    size_t len = (size_t)(slash - path);
    char *p = xmalloc(len + 1);
    memcpy(p, path, len);
    p[len] = '\0';
    return p;
}

const char *path_base(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

char *path_child(const char *path, const char *name)
{
    size_t lp = strlen(path), ln = strlen(name);
    bool root = strcmp(path, "/") == 0;
    char *p = xmalloc(lp + ln + 2);
    if (root) {
        p[0] = '/';
        memcpy(p + 1, name, ln + 1);
    } else {
        memcpy(p, path, lp);
        p[lp] = '/';
        memcpy(p + lp + 1, name, ln + 1);
    }
    return p;
}

bool path_is_child(const char *child, const char *parent)
{
    size_t lp = strlen(parent);
    if (strcmp(parent, "/") == 0)
        return child[0] == '/';
    return strncmp(child, parent, lp) == 0 &&
           (child[lp] == '\0' || child[lp] == '/');
}

/* d = 1: n (as it is now) counts for its owner; -1: no longer. */
static void owned_adj(struct tree *t, const struct node *n, int d)
{
    if (n->nperms && n->perms[0].id < TREE_MAX_DOMID) {
        t->owned[n->perms[0].id] += (uint32_t)d;
        t->owned_mem[n->perms[0].id] += (uint64_t)(int64_t)d * node_mem(n);
    }
}

void tree_init(struct tree *t)
{
    static const struct xs_perm n0 = { 0, PERM_NONE };
    nodemap_init(&t->map);
    t->gen = 0;
    t->owned = calloc(TREE_MAX_DOMID, sizeof(uint32_t));
    t->owned_mem = calloc(TREE_MAX_DOMID, sizeof(uint64_t));
    if (!t->owned || !t->owned_mem)
        abort();
    struct node *root = node_new("/");
    node_set_perms(root, &n0, 1);
    node_set_value(root, "", 0);
    root->gen = ++t->gen;
    nodemap_add(&t->map, root);
    owned_adj(t, root, 1);
    tree_put(t, "/tool", &n0, 1, "", 0);
    tree_put(t, "/tool/xenstored", &n0, 1, "", 0);
}

void tree_free(struct tree *t)
{
    nodemap_clear(&t->map);
    free(t->owned);
    free(t->owned_mem);
    t->owned = NULL;
    t->owned_mem = NULL;
}

struct node *tree_get(const struct tree *t, const char *path)
{
    return nodemap_get(&t->map, path);
}

/* n's owner's bytes change by d (n keeps its owner). */
static void mem_delta(struct tree *t, const struct node *n, int64_t d)
{
    if (n->nperms && n->perms[0].id < TREE_MAX_DOMID)
        t->owned_mem[n->perms[0].id] += (uint64_t)d;
}

struct node *tree_put(struct tree *t, const char *path,
                      const struct xs_perm *p, uint32_t np,
                      const char *value, uint32_t vlen)
{
    struct node *n = nodemap_get(&t->map, path);
    if (n && n->nperms && np && n->perms[0].id == p[0].id) {
        /* Same owner (the common update): only the sizes move, no need
         * to measure the path again. */
        int64_t d = ((int64_t)vlen - n->vlen) +
                    ((int64_t)np - n->nperms) * (int64_t)sizeof(*p);
        node_set_value(n, value, vlen);
        node_set_perms(n, p, np);
        mem_delta(t, n, d);
        n->gen = ++t->gen;
        return n;
    }
    if (n) {
        owned_adj(t, n, -1);
    } else {
        char *pp = path_parent(path);
        struct node *parent = nodemap_get(&t->map, pp);
        free(pp);
        if (!parent || strcmp(path, "/") == 0)
            return NULL;
        n = node_new(path);
        node_add_child(parent, path_base(path));
        mem_delta(t, parent, (int64_t)node_child_mem(path_base(path)));
        parent->gen = ++t->gen;
        nodemap_add(&t->map, n);
    }
    node_set_value(n, value, vlen);
    node_set_perms(n, p, np);
    owned_adj(t, n, 1);
    n->gen = ++t->gen;
    return n;
}

static void del_rec(struct tree *t, struct node *n,
                    void (*cb)(void *arg, const struct node *n), void *arg)
{
    for (uint32_t i = 0; i < n->nchildren; i++) {
        char *cp = path_child(n->path, n->children[i]);
        struct node *c = nodemap_get(&t->map, cp);
        free(cp);
        if (c)
            del_rec(t, c, cb, arg);
    }
    if (cb)
        cb(arg, n);
    owned_adj(t, n, -1);
    nodemap_remove(&t->map, n->path);
    node_free(n);
}

bool tree_del(struct tree *t, const char *path,
              void (*cb)(void *arg, const struct node *n), void *arg)
{
    struct node *n = nodemap_get(&t->map, path);
    if (!n || strcmp(path, "/") == 0)
        return false;
    char *pp = path_parent(path);
    struct node *parent = nodemap_get(&t->map, pp);
    free(pp);
    if (parent) {
        if (node_del_child(parent, path_base(path)))
            mem_delta(t, parent, -(int64_t)node_child_mem(path_base(path)));
        parent->gen = ++t->gen;
    }
    del_rec(t, n, cb, arg);
    return true;
}

static void walk_rec(const struct tree *t, const struct node *n,
                     void (*cb)(void *arg, const struct node *n), void *arg)
{
    cb(arg, n);
    for (uint32_t i = 0; i < n->nchildren; i++) {
        char *cp = path_child(n->path, n->children[i]);
        const struct node *c = nodemap_get(&t->map, cp);
        free(cp);
        if (c)
            walk_rec(t, c, cb, arg);
    }
}

void tree_walk(const struct tree *t, const char *root,
               void (*cb)(void *arg, const struct node *n), void *arg)
{
    const struct node *n = nodemap_get(&t->map, root);
    if (n)
        walk_rec(t, n, cb, arg);
}

struct check_ctx {
    struct tree *t;
    size_t reached;
    uint32_t *owned;
    uint64_t *owned_mem;
    uint64_t mark;
    char *msg;
    size_t msglen;
};

static bool check_rec(struct check_ctx *c, struct node *n)
{
    if (n->check_mark == c->mark) {
        snprintf(c->msg, c->msglen, "%.200s: listed twice", n->path);
        return false;
    }
    n->check_mark = c->mark;
    c->reached++;
    if (n->nperms == 0) {
        snprintf(c->msg, c->msglen, "%.200s: no permissions", n->path);
        return false;
    }
    if (n->perms[0].id < TREE_MAX_DOMID) {
        c->owned[n->perms[0].id]++;
        c->owned_mem[n->perms[0].id] += node_mem(n);
    }
    size_t bytes = 0;
    for (uint32_t i = 0; i < n->nchildren; i++) {
        bytes += strlen(n->children[i]) + 1;
        char *cp = path_child(n->path, n->children[i]);
        struct node *ch = nodemap_get(&c->t->map, cp);
        free(cp);
        if (!ch) {
            snprintf(c->msg, c->msglen, "%.100s: child %.100s missing",
                     n->path, n->children[i]);
            return false;
        }
        if (!check_rec(c, ch))
            return false;
    }
    if (bytes != n->childbytes) {
        snprintf(c->msg, c->msglen, "%.200s: child bytes wrong", n->path);
        return false;
    }
    return true;
}

const char *tree_check(struct tree *t)
{
    static char msg[256];
    static uint64_t mark;
    struct node *root = nodemap_get(&t->map, "/");
    if (!root)
        return "no root node";
    struct check_ctx c = { t, 0, calloc(TREE_MAX_DOMID, sizeof(uint32_t)),
                           calloc(TREE_MAX_DOMID, sizeof(uint64_t)), ++mark,
                           msg, sizeof(msg) };
    if (!c.owned || !c.owned_mem)
        abort();
    const char *err = NULL;
    if (!check_rec(&c, root)) {
        err = msg;
    } else if (c.reached != t->map.count) {
        /* Every node reached once: the others are not in their parent. */
        snprintf(msg, sizeof(msg), "%zu nodes reachable of %zu", c.reached,
                 t->map.count);
        err = msg;
    } else if (memcmp(c.owned, t->owned, TREE_MAX_DOMID * sizeof(uint32_t))) {
        err = "per-owner node counts wrong";
    } else if (memcmp(c.owned_mem, t->owned_mem,
                      TREE_MAX_DOMID * sizeof(uint64_t))) {
        err = "per-owner node bytes wrong";
    }
    free(c.owned);
    free(c.owned_mem);
    return err;
}
