/* watch: registration and firing (see watch.h). */
#include "watch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WHASH_SEED 5381

static size_t whash_step(size_t h, char c)
{
    return h * 33 + (unsigned char)c;
}

static size_t whash(const char *s)
{
    size_t h = WHASH_SEED;
    for (; *s; s++)
        h = whash_step(h, *s);
    return h & (WATCH_BUCKETS - 1);
}

/* The index of absolute watches by ancestor: one group per ancestor
 * path, holding an entry for each watch strictly below it. */
struct wpfx {
    struct wpfx *hnext;
    char *path;
    struct wanc *head;
};

struct wanc {
    struct wanc *next, *prev;
    struct wpfx *g;
    struct watch *w;
};

static size_t whash_n(const char *s, size_t n)
{
    size_t h = WHASH_SEED;
    for (size_t i = 0; i < n; i++)
        h = whash_step(h, s[i]);
    return h & (WATCH_BUCKETS - 1);
}

static struct wpfx *pfx_find(const char *path, size_t n, size_t bucket)
{
    for (struct wpfx *g = xs->wphash[bucket]; g; g = g->hnext)
        if (strncmp(g->path, path, n) == 0 && g->path[n] == '\0')
            return g;
    return NULL;
}

static char *dupstr(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

static struct xs_perm *dupperms(const struct xs_perm *p, uint32_t n)
{
    if (!n)
        return NULL;
    struct xs_perm *d = malloc(n * sizeof(*p));
    if (!d)
        abort();
    memcpy(d, p, n * sizeof(*p));
    return d;
}

void evlist_add(struct evlist *l, const char *path, const struct xs_perm *p,
                uint32_t np, const struct xs_perm *old, uint32_t nold,
                bool recurse)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        if (!l->v)
            abort();
    }
    struct event *e = &l->v[l->n++];
    e->path = dupstr(path);
    e->perms = dupperms(p, np);
    e->np = np;
    e->old = dupperms(old, nold);
    e->nold = nold;
    e->recurse = recurse;
}

static void event_clear(struct event *e)
{
    free(e->path);
    free(e->perms);
    free(e->old);
}

void evlist_free(struct evlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        event_clear(&l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

void watch_send(struct watch *w, const char *path)
{
    const char *p = path;
    if (w->rel_prefix && strlen(path) > w->rel_prefix)
        p = path + w->rel_prefix;
    size_t plen = strlen(p) + 1, tlen = strlen(w->token) + 1;
    /* A long token and a long path below the watch can add up to more
     * than a message may carry; as Xen does, such an event is not sent
     * (the peer would take the frame for a malformed one). */
    if (plen + tlen > XENSTORE_PAYLOAD_MAX)
        return;
    conn_queue(w->conn, XS_WATCH_EVENT, 0, 0, p, plen, w->token, tlen);
}

static long conn_target(const struct conn *c)
{
    return c->dom ? c->dom->target : -1;
}

static bool may_see(const struct conn *c, const struct event *e)
{
    if (c->privileged)
        return true;
    if (e->np && (perms_for(e->perms, e->np, c->domid, false,
                            conn_target(c)) & PERM_READ))
        return true;
    if (e->nold && (perms_for(e->old, e->nold, c->domid, false,
                              conn_target(c)) & PERM_READ))
        return true;
    return false;
}

static void fire_at(const struct event *e, const char *wpath, size_t bucket)
{
    for (struct watch *w = xs->whash[bucket]; w; w = w->hnext)
        if (!w->conn->dead && strcmp(w->path, wpath) == 0 &&
            may_see(w->conn, e))
            watch_send(w, e->path);
}

/* Removal of path: the watches strictly below it. Found through the
 * index by ancestor, so the cost follows the watches below path, not all
 * of them. Delivering may drop a connection (conn_kill), which frees
 * nothing before the turn ends: the index stays as it is meanwhile. */
static void fire_below(const struct event *e, const char *path, size_t len)
{
    unsigned long visited = 0;
    if (len == 1) {
        /* "/" (no request removes it; kept exact all the same) */
        for (struct conn *c = xs->conns; c; c = c->next)
            for (struct watch *w = c->watches; w; w = w->cnext, visited++)
                if (!c->dead && w->path[0] == '/' && w->path[1] && may_see(c, e))
                    watch_send(w, w->path);
    } else {
        struct wpfx *g = pfx_find(path, len, whash_n(path, len));
        for (struct wanc *a = g ? g->head : NULL; a; a = a->next, visited++)
            if (!a->w->conn->dead && may_see(a->w->conn, e))
                watch_send(a->w, a->w->path);
    }
    xs->rm_watch_visited = visited;
}

static void fire_one(const struct event *e)
{
    if (!xs->nwatches)
        return;
    const char *path = e->path;
    size_t len = strlen(path);
    /* "/" and then every ancestor and the path itself: one copy, cut at
     * each '/' in turn, its hash carried along (linear in the path). */
    fire_at(e, "/", whash("/"));
    char *buf = dupstr(path);
    size_t h = whash_step(WHASH_SEED, path[0]);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] == '/' || path[i] == '\0') {
            buf[i] = '\0';
            fire_at(e, buf, h & (WATCH_BUCKETS - 1));
            buf[i] = path[i];
        }
        h = whash_step(h, path[i]);
    }
    free(buf);
    if (!e->recurse)
        return;
    fire_below(e, path, len);
}

void evlist_fire(struct evlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        fire_one(&l->v[i]);
        event_clear(&l->v[i]);
    }
    l->n = 0;
}

void watch_fire_special(const char *name)
{
    int idx = strcmp(name, "@introduceDomain") == 0 ? 0 : 1;
    for (struct watch *w = xs->whash[whash(name)]; w; w = w->hnext) {
        if (w->conn->dead || strcmp(w->path, name) != 0)
            continue;
        const struct conn *c = w->conn;
        if (!c->privileged) {
            if (!xs->special_nperms[idx])
                continue;
            unsigned p = perms_for(xs->special_perms[idx],
                                   xs->special_nperms[idx], c->domid, false,
                                   conn_target(c));
            if (!(p & PERM_READ))
                continue;
        }
        watch_send(w, name);
    }
}

/* Enter w under each strict ancestor of its path ("/a" and "/a/b" for
 * "/a/b/c"; not "/", which a removal never is: see fire_below). */
static void index_add(struct watch *w)
{
    const char *p = w->path;
    if (p[0] != '/')
        return;
    unsigned n = 0;
    for (size_t i = 1; p[i]; i++)
        if (p[i] == '/')
            n++;
    if (!n)
        return;
    w->anc = calloc(n, sizeof(*w->anc));
    if (!w->anc)
        abort();
    unsigned k = 0;
    for (size_t i = 1; p[i] && k < n; i++) {
        if (p[i] != '/')
            continue;
        size_t b = whash_n(p, i);
        struct wpfx *g = pfx_find(p, i, b);
        if (!g) {
            g = calloc(1, sizeof(*g));
            if (!g)
                abort();
            g->path = strndup(p, i);
            if (!g->path)
                abort();
            g->hnext = xs->wphash[b];
            xs->wphash[b] = g;
        }
        struct wanc *a = &w->anc[k++];
        a->w = w;
        a->g = g;
        a->next = g->head;
        if (g->head)
            g->head->prev = a;
        g->head = a;
    }
    w->nanc = k;
}

static void index_del(struct watch *w)
{
    for (unsigned k = 0; k < w->nanc; k++) {
        struct wanc *a = &w->anc[k];
        struct wpfx *g = a->g;
        if (a->prev)
            a->prev->next = a->next;
        else
            g->head = a->next;
        if (a->next)
            a->next->prev = a->prev;
        if (!g->head) {
            struct wpfx **pp = &xs->wphash[whash(g->path)];
            while (*pp != g)
                pp = &(*pp)->hnext;
            *pp = g->hnext;
            free(g->path);
            free(g);
        }
    }
    free(w->anc);
    w->anc = NULL;
    w->nanc = 0;
}

/* What a watch makes the daemon hold for its connection. */
static long watch_cost(const char *path, const char *token)
{
    return (long)(sizeof(struct watch) + strlen(path) + strlen(token) + 2);
}

int watch_add(struct conn *c, const char *path, const char *token,
              size_t rel_prefix)
{
    for (struct watch *w = c->watches; w; w = w->cnext)
        if (strcmp(w->path, path) == 0 && strcmp(w->token, token) == 0)
            return EEXIST;
    if (!c->privileged && xs->quota[Q_WATCHES] &&
        c->nwatches >= (unsigned)xs->quota[Q_WATCHES])
        return E2BIG;
    if (!core_charge(c, watch_cost(path, token), false))
        return ENOMEM;
    struct watch *w = calloc(1, sizeof(*w));
    if (!w)
        abort();
    w->conn = c;
    w->path = dupstr(path);
    w->token = dupstr(token);
    w->rel_prefix = rel_prefix;
    w->cnext = c->watches;
    c->watches = w;
    c->nwatches++;
    size_t h = whash(path);
    w->hnext = xs->whash[h];
    xs->whash[h] = w;
    xs->nwatches++;
    index_add(w);
    return 0;
}

static void unhash(struct watch *w)
{
    struct watch **pp = &xs->whash[whash(w->path)];
    for (; *pp; pp = &(*pp)->hnext) {
        if (*pp == w) {
            *pp = w->hnext;
            xs->nwatches--;
            return;
        }
    }
}

static void watch_free(struct watch *w)
{
    core_charge(w->conn, -watch_cost(w->path, w->token), true);
    unhash(w);
    index_del(w);
    free(w->path);
    free(w->token);
    free(w);
}

int watch_remove(struct conn *c, const char *path, const char *token)
{
    for (struct watch **pp = &c->watches; *pp; pp = &(*pp)->cnext) {
        struct watch *w = *pp;
        if (strcmp(w->path, path) == 0 && strcmp(w->token, token) == 0) {
            *pp = w->cnext;
            c->nwatches--;
            watch_free(w);
            return 0;
        }
    }
    return ENOENT;
}

void watch_remove_all(struct conn *c)
{
    while (c->watches) {
        struct watch *w = c->watches;
        c->watches = w->cnext;
        watch_free(w);
    }
    c->nwatches = 0;
}
