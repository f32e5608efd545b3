/* domain: introduced domains and ring attachment (see domain.h). */
#include "domain.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"

struct domain *domain_get(uint32_t domid)
{
    return domid < TREE_MAX_DOMID ? xs->doms[domid] : NULL;
}

static struct domain *domain_new(uint32_t domid)
{
    struct domain *d = xs->doms[domid];
    if (d)
        return d;
    d = calloc(1, sizeof(*d));
    if (!d)
        abort();
    d->domid = domid;
    d->target = -1;
    xs->doms[domid] = d;
    xs->ndoms++;
    return d;
}

static void domain_maybe_free(struct domain *d)
{
    if (d->introduced || d->conn)
        return;
    xs->doms[d->domid] = NULL;
    xs->ndoms--;
    free(d);
}

/* Whether any domain was ever given a target (XS_SET_TARGET: stub
 * domains): until then a release need not look for controllers among all
 * domids. */
static bool targets_used;

static void journal_dom(const struct domain *d)
{
    struct jdomain_rec r = { d->domid, d->mfn, d->port, (int32_t)d->target };
    journal_domain(&xs->journal, &r);
}

static bool valid_domid(uint32_t domid)
{
    return domid > 0 && domid < DOMID_FIRST_RESERVED;
}

int domain_introduce(uint32_t domid, uint64_t mfn, uint32_t port)
{
    if (!valid_domid(domid) || port == 0)
        return EINVAL;
    struct domain *d = domain_new(domid);
    bool first = !d->introduced;
    if (first)
        d->proto_dropped = false;   /* a new domain with this id */
    d->introduced = true;
    d->mfn = mfn;
    d->port = port;
    journal_dom(d);
    if (first)
        watch_fire_special("@introduceDomain");
    return 0;
}

/* Remove every node owned by domid (with its subtree). */
struct orphan_ctx {
    uint32_t domid;
    char **paths;
    size_t n, cap;
};

static void find_owned(void *arg, const struct node *n)
{
    struct orphan_ctx *o = arg;
    if (!n->nperms || n->perms[0].id != o->domid || strcmp(n->path, "/") == 0)
        return;
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 16;
        o->paths = realloc(o->paths, o->cap * sizeof(char *));
        if (!o->paths)
            abort();
    }
    o->paths[o->n++] = strdup(n->path);
}

static void remove_owned(uint32_t domid)
{
    if (domid >= TREE_MAX_DOMID || xs->tree.owned[domid] == 0)
        return;
    struct orphan_ctx o = { domid, NULL, 0, 0 };
    tree_walk(&xs->tree, "/", find_owned, &o);
    struct evlist ev = { 0 };
    struct store s = { NULL, NULL, &ev, 0 };
    /* Parents come before children: a removed parent takes its subtree. */
    for (size_t i = 0; i < o.n; i++) {
        struct node *n = st_get(&s, o.paths[i]);
        if (n) {
            evlist_add(&ev, n->path, n->perms, n->nperms, NULL, 0, true);
            st_delete(&s, n);
        }
        free(o.paths[i]);
    }
    free(o.paths);
    evlist_fire(&ev);
    evlist_free(&ev);
}

int domain_release(uint32_t domid)
{
    if (!valid_domid(domid))
        return EINVAL;
    struct domain *d = domain_get(domid);
    if (!d || !d->introduced)
        return ENOENT;
    d->introduced = false;
    d->proto_dropped = false;
    journal_release(&xs->journal, domid);
    if (d->conn)
        conn_kill(d->conn, "domain released");
    remove_owned(domid);
    /* Controllers targeting this domain lose it. */
    for (uint32_t i = 0; targets_used && i < TREE_MAX_DOMID && xs->ndoms; i++)
        if (xs->doms[i] && xs->doms[i]->target == (long)domid)
            xs->doms[i]->target = -1;
    d = domain_get(domid);
    if (d)
        domain_maybe_free(d);
    watch_fire_special("@releaseDomain");
    return 0;
}

int domain_attach(struct conn *c, uint32_t domid)
{
    if (!valid_domid(domid) || c->dom)
        return EINVAL;
    struct domain *d = domain_new(domid);
    if (d->conn)
        return EEXIST;
    d->conn = c;
    c->dom = d;
    return 0;
}

void domain_detach(struct conn *c)
{
    struct domain *d = c->dom;
    if (!d)
        return;
    c->dom = NULL;
    if (d->conn == c)
        d->conn = NULL;
    domain_maybe_free(d);
}

int domain_set_target(uint32_t domid, uint32_t target)
{
    struct domain *d = domain_get(domid), *t = domain_get(target);
    if (!d || !t)
        return ENOENT;
    d->target = target;
    targets_used = true;
    if (d->introduced)
        journal_dom(d);
    return 0;
}

void domain_load(void *arg, enum jrec_type type, const struct jdomain_rec *r)
{
    (void)arg;
    if (r->domid >= TREE_MAX_DOMID)
        return;
    if (type == JREC_DOMAIN) {
        struct domain *d = domain_new(r->domid);
        d->introduced = true;
        d->mfn = r->mfn;
        d->port = r->port;
        d->target = r->target;
        if (r->target >= 0)
            targets_used = true;
    } else if (type == JREC_RELEASE) {
        struct domain *d = domain_get(r->domid);
        if (d) {
            d->introduced = false;
            domain_maybe_free(d);
        }
    }
}

void core_dump_domains(void *arg, struct journal *j)
{
    (void)arg;
    for (uint32_t i = 0; i < TREE_MAX_DOMID && xs->ndoms; i++) {
        const struct domain *d = xs->doms[i];
        if (d && d->introduced) {
            struct jdomain_rec r = { d->domid, d->mfn, d->port,
                                     (int32_t)d->target };
            journal_domain(j, &r);
        }
    }
}

void domain_free_all(void)
{
    for (uint32_t i = 0; i < TREE_MAX_DOMID && xs->ndoms; i++) {
        if (xs->doms[i]) {
            free(xs->doms[i]);
            xs->doms[i] = NULL;
            xs->ndoms--;
        }
    }
}
