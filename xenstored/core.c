/* core: request dispatch and the node operations (see core.h). */
#include "core.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"
#include "log.h"
#include "store.h"
#include "watch.h"

struct xs_state *xs;

static const char *const quota_names[Q_COUNT] = {
    [Q_NODES] = "nodes", [Q_WATCHES] = "watches",
    [Q_TRANSACTIONS] = "transactions", [Q_OUTSTANDING] = "outstanding",
    [Q_TXN_NODES] = "transaction-nodes", [Q_NODE_SIZE] = "node-size",
    [Q_PATH_MAX] = "path-max", [Q_PERMISSIONS] = "permissions",
    [Q_MEMORY] = "memory",
};
static const char *const quota_descr[Q_COUNT] = {
    [Q_NODES] = "Nodes per domain",
    [Q_WATCHES] = "Watches per domain",
    [Q_TRANSACTIONS] = "Transactions per domain",
    [Q_OUTSTANDING] = "Outstanding requests per domain",
    [Q_TXN_NODES] = "Max. number of accessed nodes per transaction",
    [Q_NODE_SIZE] = "Max. size of a node",
    [Q_PATH_MAX] = "Max. length of a node path",
    [Q_PERMISSIONS] = "Max. number of permissions per node",
    [Q_MEMORY] = "Max. memory (bytes) held for a domain",
};

int core_quota_id(const char *name, size_t len)
{
    for (int i = 0; i < Q_COUNT; i++)
        if (strlen(quota_names[i]) == len &&
            strncmp(quota_names[i], name, len) == 0)
            return i;
    return -1;
}

int core_init(const char *data_dir, const struct journal_opts *o)
{
    xs = calloc(1, sizeof(*xs));
    if (!xs)
        return -1;
    /* Xen's defaults. */
    xs->quota[Q_NODES] = 1000;
    xs->quota[Q_WATCHES] = 128;
    xs->quota[Q_TRANSACTIONS] = 10;
    xs->quota[Q_OUTSTANDING] = 20;
    xs->quota[Q_TXN_NODES] = 1024;
    xs->quota[Q_NODE_SIZE] = 2048;
    xs->quota[Q_PATH_MAX] = XENSTORE_REL_PATH_MAX;
    xs->quota[Q_PERMISSIONS] = 5;
    xs->quota[Q_MEMORY] = 2 * 1024 * 1024 + 512 * 1024; /* Xen's hard one */
    xs->event_timeout_ns = 20ull * 1000000000;
    xs->out_hard_limit = 16u << 20;
    xs->stall_ns = 30ull * 1000000000;
    tree_init(&xs->tree);
    if (journal_open(&xs->journal, data_dir, o, &xs->tree, domain_load,
                     NULL) < 0)
        return -1;
    /* Salvaged: write what was kept as a clean snapshot and journal before
     * the first change lands beside the damage. */
    if (xs->journal.salvaged &&
        journal_maybe_compact(&xs->journal, &xs->tree, core_dump_domains,
                              NULL, true) < 0)
        return -1;
    return 0;
}

void core_fini(void)
{
    if (!xs)
        return;
    journal_close(&xs->journal);
    tree_free(&xs->tree);
    domain_free_all();
    free(xs->special_perms[0]);
    free(xs->special_perms[1]);
    free(xs);
    xs = NULL;
}

void core_conn_init(struct conn *c)
{
    c->domid = 0;
    c->privileged = true;
    c->next_txid = 1;
}

/* A guest's total: what its connection holds plus the nodes it owns. */
static size_t conn_total(const struct conn *c)
{
    size_t nodes = !c->privileged && c->domid < TREE_MAX_DOMID
                       ? (size_t)xs->tree.owned_mem[c->domid]
                       : 0;
    return c->mem + nodes;
}

size_t core_domain_mem(uint32_t domid)
{
    const struct domain *d = domain_get(domid);
    size_t conn = d && d->conn ? d->conn->mem : 0;
    return conn + (domid < TREE_MAX_DOMID ? (size_t)xs->tree.owned_mem[domid]
                                          : 0);
}

static void log_over(struct conn *c)
{
    if (!c->mem_over)
        log_warn("dom%u is at its memory quota (%d bytes): its "
                 "requests get ENOMEM and its watch events are dropped",
                 c->domid, xs->quota[Q_MEMORY]);
    c->mem_over = true;
}

bool core_mem_room(const struct conn *c, uint32_t owner, size_t bytes)
{
    if (c->privileged || !xs->quota[Q_MEMORY] || bytes == 0 || owner == 0 ||
        owner >= TREE_MAX_DOMID)
        return true;
    if (core_domain_mem(owner) + bytes <= (size_t)xs->quota[Q_MEMORY])
        return true;
    const struct domain *d = domain_get(owner);
    if (d && d->conn)
        log_over(d->conn);
    return false;
}

bool core_over_memory(const struct conn *c)
{
    return !c->privileged && xs->quota[Q_MEMORY] &&
           conn_total(c) >= (size_t)xs->quota[Q_MEMORY];
}

bool core_charge(struct conn *c, long delta, bool force)
{
    if (delta > 0 && !force && !c->privileged && xs->quota[Q_MEMORY] &&
        conn_total(c) + (size_t)delta > (size_t)xs->quota[Q_MEMORY]) {
        log_over(c);
        return false;
    }
    if (delta < 0 && (size_t)-delta > c->mem)
        c->mem = 0;
    else
        c->mem += (size_t)delta;
    if (c->mem_over && !core_over_memory(c) &&
        conn_total(c) + 4096 < (size_t)xs->quota[Q_MEMORY]) {
        c->mem_over = false;
        log_info("dom%u is below its memory quota again", c->domid);
    }
    return true;
}

/* A transaction goes: what it held is given back. */
static void txn_drop(struct conn *c, struct txn *t)
{
    core_charge(c, -(long)t->mem, true);
    txn_free(t);
}

static void txns_free_all(struct conn *c)
{
    while (c->txns) {
        struct txn *t = c->txns;
        c->txns = t->next;
        txn_drop(c, t);
    }
    c->ntxns = 0;
}

void core_conn_gone(struct conn *c)
{
    watch_remove_all(c);
    txns_free_all(c);
    domain_detach(c);
}

/* ---- replies ---- */

static void reply(struct conn *c, const struct xsd_sockmsg *h, const void *d,
                  size_t len)
{
    if (len > XENSTORE_PAYLOAD_MAX) {
        const char *e = "E2BIG";
        conn_queue(c, XS_ERROR, h->req_id, h->tx_id, e, strlen(e) + 1, NULL,
                   0);
        return;
    }
    conn_queue(c, h->type, h->req_id, h->tx_id, d, len, NULL, 0);
}

static void reply_str(struct conn *c, const struct xsd_sockmsg *h,
                      const char *s)
{
    reply(c, h, s, strlen(s) + 1);
}

static void reply_err(struct conn *c, const struct xsd_sockmsg *h, int err)
{
    const char *e = wire_errname(err);
    conn_queue(c, XS_ERROR, h->req_id, h->tx_id, e, strlen(e) + 1, NULL, 0);
}

/* ---- helpers ---- */

static long conn_target(const struct conn *c)
{
    return c->dom ? c->dom->target : -1;
}

static unsigned perm_of(const struct conn *c, const struct node *n)
{
    return perms_for(n->perms, n->nperms, c->domid, c->privileged,
                     conn_target(c));
}

/* Absolute path for a request argument, or NULL (EINVAL). */
static char *canon(const struct conn *c, const char *arg)
{
    char *out;
    if (arg[0] == '/') {
        out = strdup(arg);
    } else {
        if (asprintf(&out, "/local/domain/%u/%s", c->domid, arg) < 0)
            out = NULL;
    }
    if (!out)
        abort();
    if (!wire_valid_path(out, (size_t)xs->quota[Q_PATH_MAX])) {
        free(out);
        return NULL;
    }
    return out;
}

/* Closest existing ancestor of path (path itself excluded). One copy of
 * the path, cut back one level at a time. */
static struct node *existing_ancestor(struct store *s, const char *path)
{
    char *p = strdup(path);
    if (!p)
        abort();
    struct node *n = NULL;
    for (char *slash; !n && (slash = strrchr(p, '/'));) {
        if (slash == p) {
            n = st_get(s, "/");
            break;
        }
        *slash = '\0';
        n = st_get(s, p);
    }
    free(p);
    return n;
}

/* Look up a node the caller needs perm on. On failure returns NULL with
 * *err = EACCES, or ENOENT when the closest ancestor grants perm (so a
 * caller learns nothing about nodes it could not see); with ENOENT,
 * *anc (if anc is not NULL) is that ancestor. */
static struct node *get_checked(struct store *s, const char *path,
                                unsigned perm, int *err, struct node **anc)
{
    struct node *n = st_get(s, path);
    if (n) {
        if ((perm_of(s->c, n) & perm) == perm)
            return n;
        *err = EACCES;
        return NULL;
    }
    struct node *a = existing_ancestor(s, path);
    *err = (a && (perm_of(s->c, a) & perm)) ? ENOENT : EACCES;
    if (anc)
        *anc = a;
    return NULL;
}

/* The node at the client's path `arg` (canonicalised), if the client may
 * read it; NULL with *err set (EINVAL: not a valid path). The store's own
 * error (s->err) is the caller's to check. */
static struct node *readable_node(struct store *s, const char *arg, int *err)
{
    char *path = canon(s->c, arg);
    if (!path) {
        *err = EINVAL;
        return NULL;
    }
    struct node *n = get_checked(s, path, PERM_READ, err, NULL);
    free(path);
    return n;
}

static bool over_node_size(const struct store *s, const struct node *n,
                           uint32_t vlen)
{
    if (s->c->privileged || !xs->quota[Q_NODE_SIZE])
        return false;
    size_t kids = n ? n->childbytes : 0;
    return vlen + kids > (size_t)xs->quota[Q_NODE_SIZE];
}

/* The bytes creating path below anc adds: to the new nodes (*own, for
 * their owner) and to anc's child list (*anc_bytes). */
static void create_cost(const struct node *anc, const char *path,
                        uint32_t vlen, uint32_t np, size_t *own,
                        size_t *anc_bytes)
{
    size_t start = strcmp(anc->path, "/") == 0 ? 1 : strlen(anc->path) + 1;
    const char *name = path + start;
    *own = 0;
    *anc_bytes = 0;
    for (bool first = true;; first = false) {
        const char *slash = strchr(name, '/');
        size_t nlen = slash ? (size_t)(slash - name) : strlen(name);
        size_t kid = nlen + 1 + sizeof(char *);
        /* The level named here is a child of the one before. */
        if (first)
            *anc_bytes = kid;
        else
            *own += kid;
        size_t end = (size_t)(name - path) + nlen;
        *own += node_mem_for(end, slash ? 0 : vlen, np, 0, 0);
        if (!slash)
            break;
        name = slash + 1;
    }
}

/* Create path (and missing parents) below anc, its closest existing
 * ancestor (from get_checked), with value; 0 (and the new node in *leaf)
 * or errno. */
static int create_path(struct store *s, struct node *anc, const char *path,
                       const char *v, uint32_t vlen, struct node **leaf)
{
    if (!anc)
        return EINVAL;
    if (!(perm_of(s->c, anc) & PERM_WRITE))
        return EACCES;
    /* Count the missing levels: one per '/' after the ancestor. */
    size_t missing = 0;
    const char *q = path + (strcmp(anc->path, "/") == 0 ? 0
                                                         : strlen(anc->path));
    for (; *q; q++)
        if (*q == '/')
            missing++;
    if (!s->c->privileged && xs->quota[Q_NODES] &&
        st_owned(s) + (long)missing > (long)xs->quota[Q_NODES])
        return ENOSPC;
    /* Inherit the ancestor's perms; unprivileged domains own what they
     * create. */
    uint32_t np = anc->nperms;
    struct xs_perm *p = malloc(np * sizeof(*p));
    if (!p)
        abort();
    memcpy(p, anc->perms, np * sizeof(*p));
    if (!s->c->privileged)
        p[0].id = s->c->domid;
    /* Directly, a guest that would take an owner past its memory quota
     * gets ENOMEM before anything is created (in a transaction the copies
     * are charged to the connection, st_create). */
    if (!s->tx && !s->c->privileged) {
        size_t own, anc_bytes;
        create_cost(anc, path, vlen, np, &own, &anc_bytes);
        uint32_t ao = anc->perms[0].id;
        bool ok = ao == p[0].id
                      ? core_mem_room(s->c, ao, own + anc_bytes)
                      : core_mem_room(s->c, p[0].id, own) &&
                            core_mem_room(s->c, ao, anc_bytes);
        if (!ok) {
            free(p);
            return ENOMEM;
        }
    }
    struct node *parent = anc;
    size_t start = strcmp(anc->path, "/") == 0 ? 1 : strlen(anc->path) + 1;
    char *buf = strdup(path);
    if (!buf)
        abort();
    for (;;) {
        const char *slash = strchr(path + start, '/');
        size_t end = slash ? (size_t)(slash - path) : strlen(path);
        buf[end] = '\0';
        bool last = !slash;
        parent = st_create(s, parent, buf, p, np, last ? v : "",
                           last ? vlen : 0);
        if (!parent) {
            free(buf);
            free(p);
            return EIO;
        }
        if (last)
            break;
        buf[end] = '/';
        start = end + 1;
    }
    free(buf);
    free(p);
    *leaf = parent;
    return 0;
}

static void add_event(struct store *s, const struct node *n, bool recurse,
                      const struct xs_perm *old, uint32_t nold)
{
    /* A transaction's events wait for its end: the guest holds them. */
    if (s->tx)
        st_charge(s, (long)(sizeof(struct event) + strlen(n->path) + 1 +
                            (n->nperms + nold) * sizeof(struct xs_perm)));
    evlist_add(s->ev, n->path, n->perms, n->nperms, old, nold, recurse);
}

/* ---- node operations ---- */

/* The request's single path argument, canonicalised (relative paths are
 * under the caller's home); NULL means EINVAL. The caller frees it. */
static char *path_arg(struct store *s, const struct xsd_sockmsg *h,
                      const char *pl)
{
    return wire_onearg(pl, h->len) ? canon(s->c, pl) : NULL;
}

static int op_read(struct store *s, const struct xsd_sockmsg *h,
                   const char *pl)
{
    if (!wire_onearg(pl, h->len))
        return EINVAL;
    int err;
    struct node *n = readable_node(s, pl, &err);
    if (!n)
        return err;
    if (s->err)
        return s->err;
    reply(s->c, h, n->value, n->vlen);
    return 0;
}

static int op_write(struct store *s, const struct xsd_sockmsg *h,
                    const char *pl)
{
    const char *nul = memchr(pl, '\0', h->len);
    if (!nul)
        return EINVAL;
    const char *v = nul + 1;
    uint32_t vlen = (uint32_t)(h->len - (size_t)(v - pl));
    char *path = canon(s->c, pl);
    if (!path)
        return EINVAL;
    int err = 0;
    struct node *anc = NULL;
    struct node *n = get_checked(s, path, PERM_WRITE, &err, &anc);
    if (n) {
        if (over_node_size(s, n, vlen)) {
            err = ENOSPC;
        } else {
            st_update(s, n, v, vlen, NULL, 0);
            err = 0;
        }
    } else if (err == ENOENT) {
        err = over_node_size(s, NULL, vlen)
                  ? ENOSPC
                  : create_path(s, anc, path, v, vlen, &n);
    }
    if (!err)
        add_event(s, n, false, NULL, 0);
    free(path);
    return err ? err : s->err;
}

static int op_mkdir(struct store *s, const struct xsd_sockmsg *h,
                    const char *pl)
{
    char *path = path_arg(s, h, pl);
    if (!path)
        return EINVAL;
    int err = 0;
    struct node *anc = NULL;
    struct node *n = get_checked(s, path, PERM_WRITE, &err, &anc);
    if (n) {
        err = 0;
    } else if (err == ENOENT) {
        err = create_path(s, anc, path, "", 0, &n);
        if (!err)
            add_event(s, n, false, NULL, 0);
    }
    free(path);
    return err ? err : s->err;
}

static int op_rm(struct store *s, const struct xsd_sockmsg *h,
                 const char *pl)
{
    char *path = path_arg(s, h, pl);
    if (!path)
        return EINVAL;
    int err = 0;
    struct node *n = get_checked(s, path, PERM_WRITE, &err, NULL);
    if (!n) {
        if (err == ENOENT && strcmp(path, "/") != 0) {
            char *pp = path_parent(path);
            if (st_get(s, pp))
                err = 0; /* already gone and the parent exists: fine */
            free(pp);
        }
    } else if (strcmp(path, "/") == 0) {
        err = EINVAL;
    } else {
        add_event(s, n, true, NULL, 0);
        st_delete(s, n);
    }
    free(path);
    return err ? err : s->err;
}

static int op_directory(struct store *s, const struct xsd_sockmsg *h,
                        const char *pl)
{
    if (!wire_onearg(pl, h->len))
        return EINVAL;
    int err;
    struct node *n = readable_node(s, pl, &err);
    if (!n)
        return err;
    st_load_kids(s, n);
    if (s->err)
        return s->err;
    if (n->childbytes > XENSTORE_PAYLOAD_MAX)
        return E2BIG;
    char *buf = malloc(n->childbytes + 1);
    if (!buf)
        abort();
    size_t off = 0;
    for (uint32_t i = 0; i < n->nchildren; i++) {
        size_t l = strlen(n->children[i]) + 1;
        memcpy(buf + off, n->children[i], l);
        off += l;
    }
    reply(s->c, h, buf, off);
    free(buf);
    return 0;
}

static int op_directory_part(struct store *s, const struct xsd_sockmsg *h,
                             const char *pl)
{
    const char *argv[2];
    unsigned long offset;
    if (wire_split(pl, h->len, argv, 2) != 2 ||
        !wire_parse_uint(argv[1], UINT32_MAX, &offset))
        return EINVAL;
    int err;
    struct node *n = readable_node(s, argv[0], &err);
    if (!n)
        return err;
    st_load_kids(s, n);
    if (s->err)
        return s->err;
    char gen[24];
    int gl = snprintf(gen, sizeof(gen), "%" PRIu64, n->gen) + 1;
    char *buf = malloc(XENSTORE_PAYLOAD_MAX + 1);
    if (!buf)
        abort();
    memcpy(buf, gen, (size_t)gl);
    size_t used = (size_t)gl;
    /* Skip whole names up to the byte offset into the child list. */
    size_t pos = 0;
    uint32_t i = 0;
    while (i < n->nchildren && pos < offset)
        pos += strlen(n->children[i++]) + 1;
    if (pos != offset && i < n->nchildren) {
        free(buf);
        return EINVAL;
    }
    size_t maxlen = XENSTORE_PAYLOAD_MAX - (size_t)gl - 1;
    size_t len = 0;
    for (; i < n->nchildren; i++) {
        size_t l = strlen(n->children[i]) + 1;
        if (len + l > maxlen)
            break;
        memcpy(buf + used + len, n->children[i], l);
        len += l;
    }
    used += len;
    if (i == n->nchildren)
        buf[used++] = '\0'; /* end of list: an empty name */
    reply(s->c, h, buf, used);
    free(buf);
    return 0;
}

/* Index of a special node in xs->special_perms, or -1. */
static int special_idx(const char *name)
{
    return strcmp(name, "@introduceDomain") == 0  ? 0
           : strcmp(name, "@releaseDomain") == 0 ? 1
                                                 : -1;
}

static int op_get_perms(struct store *s, const struct xsd_sockmsg *h,
                        const char *pl)
{
    static const struct xs_perm n0 = { 0, PERM_NONE };
    const struct xs_perm *p;
    uint32_t np;
    if (!wire_onearg(pl, h->len))
        return EINVAL;
    if (pl[0] == '@') {
        int idx = special_idx(pl);
        if (idx < 0)
            return ENOENT;
        p = xs->special_nperms[idx] ? xs->special_perms[idx] : &n0;
        np = xs->special_nperms[idx] ? xs->special_nperms[idx] : 1;
    } else {
        int err;
        struct node *n = readable_node(s, pl, &err);
        if (!n)
            return err;
        if (s->err)
            return s->err;
        p = n->perms;
        np = n->nperms;
    }
    char buf[XENSTORE_PAYLOAD_MAX];
    size_t len = perms_format(p, np, buf, sizeof(buf));
    if (!len)
        return E2BIG;
    reply(s->c, h, buf, len);
    return 0;
}

static int op_set_perms(struct store *s, const struct xsd_sockmsg *h,
                        const char *pl)
{
    enum { MAXP = XENSTORE_PAYLOAD_MAX / 2 + 1 };
    /* Count first: sized for the request, not for the largest one. */
    unsigned argc = wire_split(pl, h->len, NULL, 0);
    if (argc < 2 || argc > MAXP)
        return EINVAL;
    const char **argv = malloc(argc * sizeof(*argv));
    struct xs_perm *p = malloc(argc * sizeof(*p));
    char *path = NULL;
    int err = 0;
    if (!argv || !p)
        abort();
    wire_split(pl, h->len, argv, argc);
    uint32_t np = argc - 1;
    if (!s->c->privileged && xs->quota[Q_PERMISSIONS] &&
        np > (uint32_t)xs->quota[Q_PERMISSIONS]) {
        err = ENOSPC;
        goto out;
    }
    for (uint32_t i = 0; i < np; i++) {
        if (!perm_parse(argv[i + 1], &p[i])) {
            err = EINVAL;
            goto out;
        }
    }
    if (argv[0][0] == '@') {
        int idx = special_idx(argv[0]);
        if (idx < 0) {
            err = EINVAL;
        } else if (!s->c->privileged) {
            err = EACCES;
        } else {
            free(xs->special_perms[idx]);
            xs->special_perms[idx] = p;
            xs->special_nperms[idx] = np;
            p = NULL;
        }
        goto out;
    }
    path = canon(s->c, argv[0]);
    if (!path) {
        err = EINVAL;
        goto out;
    }
    struct node *n =
        get_checked(s, path, PERM_WRITE | PERM_OWNER, &err, NULL);
    if (!n)
        goto out;
    err = 0;
    /* Only the privileged may change the owner. */
    if (!s->c->privileged && p[0].id != n->perms[0].id) {
        err = EPERM;
        goto out;
    }
    uint32_t nold = n->nperms;
    struct xs_perm *old = malloc(nold * sizeof(*old));
    if (!old)
        abort();
    memcpy(old, n->perms, nold * sizeof(*old));
    st_update(s, n, NULL, 0, p, np); /* n is changed in place */
    add_event(s, n, false, old, nold);
    free(old);
    err = s->err;
out:
    free(path);
    free(p);
    free(argv);
    return err;
}

/* ---- transactions ---- */

static struct txn *txn_find(struct conn *c, uint32_t id)
{
    for (struct txn *t = c->txns; t; t = t->next)
        if (t->id == id)
            return t;
    return NULL;
}

static void txn_unlink(struct conn *c, struct txn *t)
{
    for (struct txn **pp = &c->txns; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            c->ntxns--;
            return;
        }
    }
}

static int op_txn_start(struct conn *c, const struct xsd_sockmsg *h,
                        const char *pl)
{
    (void)pl;
    if (h->tx_id)
        return EBUSY;
    if (!c->privileged && xs->quota[Q_TRANSACTIONS] &&
        c->ntxns >= (unsigned)xs->quota[Q_TRANSACTIONS])
        return ENOSPC;
    if (!core_charge(c, (long)sizeof(struct txn), false))
        return ENOMEM;
    uint32_t id;
    do {
        id = c->next_txid++;
    } while (id == 0 || txn_find(c, id));
    struct txn *t = txn_new(id);
    t->mem = sizeof(struct txn);
    t->next = c->txns;
    c->txns = t;
    c->ntxns++;
    char buf[16];
    snprintf(buf, sizeof(buf), "%u", id);
    reply_str(c, h, buf);
    return 0;
}

static int op_txn_end(struct conn *c, const struct xsd_sockmsg *h,
                      const char *pl, struct txn *t)
{
    if (!wire_onearg(pl, h->len) ||
        (strcmp(pl, "T") != 0 && strcmp(pl, "F") != 0))
        return EINVAL;
    if (!t)
        return ENOENT;
    txn_unlink(c, t);
    int err = 0;
    if (pl[0] == 'T') {
        if (!c->privileged && xs->quota[Q_NODES] && t->owned_delta > 0 &&
            c->domid < TREE_MAX_DOMID &&
            (long)xs->tree.owned[c->domid] + t->owned_delta >
                (long)xs->quota[Q_NODES])
            err = ENOSPC;
        else
            err = txn_commit(t);
    }
    txn_drop(c, t);
    if (!err)
        reply_str(c, h, "OK");
    return err;
}

/* ---- watches ---- */

static int op_watch(struct conn *c, const struct xsd_sockmsg *h,
                    const char *pl, bool add)
{
    const char *argv[2];
    if (wire_split(pl, h->len, argv, 2) != 2)
        return EINVAL;
    char *path;
    size_t rel = 0;
    if (argv[0][0] == '@') {
        if (!wire_valid_special(argv[0]))
            return EINVAL;
        path = strdup(argv[0]);
        if (!path)
            abort();
    } else {
        path = canon(c, argv[0]);
        if (!path)
            return EINVAL;
        if (argv[0][0] != '/')
            rel = strlen(path) - strlen(argv[0]);
    }
    int err = add ? watch_add(c, path, argv[1], rel)
                  : watch_remove(c, path, argv[1]);
    if (!err) {
        reply_str(c, h, "OK");
        if (add) {
            /* Fire once at once. */
            watch_send(c->watches, path);
        }
    }
    free(path);
    return err;
}

/* ---- domains ---- */

static bool arg_domid(const struct xsd_sockmsg *h, const char *pl,
                      uint32_t *domid)
{
    unsigned long v;
    if (!wire_onearg(pl, h->len) || !wire_parse_uint(pl, UINT32_MAX, &v))
        return false;
    *domid = (uint32_t)v;
    return true;
}

static int op_introduce(struct conn *c, const struct xsd_sockmsg *h,
                        const char *pl)
{
    const char *argv[3];
    unsigned long domid, mfn, port;
    if (wire_split(pl, h->len, argv, 3) < 3)
        return EINVAL;
    /* The gfn is sent in signed decimal and, as in Xen, not needed: we
     * never map guest memory. Keep it for the record if it parses. */
    if (!wire_parse_uint(argv[1], UINT64_MAX, &mfn))
        mfn = 0;
    if (!wire_parse_uint(argv[0], UINT32_MAX, &domid) ||
        !wire_parse_uint(argv[2], UINT32_MAX, &port))
        return EINVAL;
    int err = domain_introduce((uint32_t)domid, mfn, (uint32_t)port);
    if (!err)
        reply_str(c, h, "OK");
    return err;
}

static int op_domain_misc(struct conn *c, const struct xsd_sockmsg *h,
                          const char *pl)
{
    uint32_t domid;
    if (!arg_domid(h, pl, &domid))
        return EINVAL;
    char buf[40];
    switch (h->type) {
    case XS_RELEASE: {
        int err = domain_release(domid);
        if (err)
            return err;
        reply_str(c, h, "OK");
        return 0;
    }
    case XS_RESUME: {
        const struct domain *d = domain_get(domid);
        if (!domid)
            return EINVAL;
        if (!d || !d->introduced)
            return ENOENT;
        reply_str(c, h, "OK");
        return 0;
    }
    case XS_GET_DOMAIN_PATH:
        snprintf(buf, sizeof(buf), "/local/domain/%u", domid);
        reply_str(c, h, buf);
        return 0;
    case XS_IS_DOMAIN_INTRODUCED: {
        const struct domain *d = domain_get(domid);
        bool yes = domid == 0 || domid == DOMID_SELF ||
                   (d && d->introduced);
        reply_str(c, h, yes ? "T" : "F");
        return 0;
    }
    }
    return EINVAL;
}

static int op_set_target(struct conn *c, const struct xsd_sockmsg *h,
                         const char *pl)
{
    const char *argv[2];
    unsigned long d, t;
    if (wire_split(pl, h->len, argv, 2) < 2 ||
        !wire_parse_uint(argv[0], UINT32_MAX, &d) ||
        !wire_parse_uint(argv[1], UINT32_MAX, &t))
        return EINVAL;
    int err = domain_set_target((uint32_t)d, (uint32_t)t);
    if (!err)
        reply_str(c, h, "OK");
    return err;
}

/* ---- control ---- */

static int control_quota(struct conn *c, const struct xsd_sockmsg *h,
                         const char **argv, unsigned argc)
{
    char buf[XENSTORE_PAYLOAD_MAX];
    size_t off = 0;
    if (argc == 0) {
        off += (size_t)snprintf(buf, sizeof(buf), "Quota settings:\n");
        for (int i = 0; i < Q_COUNT; i++)
            off += (size_t)snprintf(buf + off, sizeof(buf) - off,
                                    "%-17s: %8d %s\n", quota_names[i],
                                    xs->quota[i], quota_descr[i]);
        reply(c, h, buf, off + 1);
        return 0;
    }
    if (strcmp(argv[0], "set") == 0) {
        unsigned long v;
        if (argc != 3 || !wire_parse_uint(argv[2], INT32_MAX, &v) || v < 1)
            return EINVAL;
        int q = core_quota_id(argv[1], strlen(argv[1]));
        if (q < 0)
            return EINVAL;
        xs->quota[q] = (int)v;
        reply_str(c, h, "OK");
        return 0;
    }
    unsigned long domid;
    if (argc != 1 || !wire_parse_uint(argv[0], TREE_MAX_DOMID - 1, &domid))
        return EINVAL;
    const struct domain *d = domain_get((uint32_t)domid);
    if (!d)
        return ENOENT;
    unsigned nw = 0, nt = 0;
    size_t mem = core_domain_mem((uint32_t)domid);
    if (d->conn) {
        nw = d->conn->nwatches;
        nt = d->conn->ntxns;
    }
    snprintf(buf, sizeof(buf),
             "Domain: %lu\n%-17s: %8u\n%-17s: %8u\n%-17s: %8u\n"
             "%-17s: %8zu\n", domid,
             "nodes", xs->tree.owned[domid], "watches", nw, "transactions",
             nt, "memory", mem);
    reply_str(c, h, buf);
    return 0;
}

static int op_control(struct conn *c, const struct xsd_sockmsg *h,
                      const char *pl)
{
    const char *argv[8];
    unsigned argc = wire_split(pl, h->len, argv, 8);
    if (argc == 0)
        return EINVAL;
    if (argc > 8)
        return E2BIG;
    const char *cmd = argv[0];
    if (strcmp(cmd, "print") == 0) {
        if (argc != 2)
            return EINVAL;
        log_info("control: %s", argv[1]);
        reply_str(c, h, "OK");
        return 0;
    }
    if (strcmp(cmd, "log") == 0) {
        if (argc != 2)
            return EINVAL;
        if (strcmp(argv[1], "on") == 0)
            xs->verbose = true;
        else if (strcmp(argv[1], "off") == 0)
            xs->verbose = false;
        else
            return EINVAL;
        reply_str(c, h, "OK");
        return 0;
    }
    if (strcmp(cmd, "quota") == 0)
        return control_quota(c, h, argv + 1, argc - 1);
    if (strcmp(cmd, "compact") == 0) {
        /* Write a snapshot now (normally done when the journal grows). */
        if (journal_sync(&xs->journal) < 0 ||
            journal_maybe_compact(&xs->journal, &xs->tree, core_dump_domains,
                                  NULL, true) < 0)
            return EIO;
        reply_str(c, h, "OK");
        return 0;
    }
    if (strcmp(cmd, "check") == 0) {
        const char *bad = tree_check(&xs->tree);
        if (bad) {
            log_err("check: %s", bad);
            return EIO;
        }
        reply_str(c, h, "OK");
        return 0;
    }
    if (strcmp(cmd, "stats") == 0) {
        /* What the event loop holds and does: the stall scan visits only
         * connections with queued output (conn.c). */
        if (argc != 1)
            return EINVAL;
        char buf[512];
        snprintf(buf, sizeof(buf),
                 "connections: %lu\noutput-pending: %lu\nstall-scans: %llu\n"
                 "stall-scan-visited: %lu\nwatches: %lu\nrm-watch-visited: %lu\n"
                 "domains: %u\n",
                 xs->nconns, xs->out_pending,
                 (unsigned long long)xs->stall_scans, xs->stall_scan_visited,
                 xs->nwatches, xs->rm_watch_visited, xs->ndoms);
        reply_str(c, h, buf);
        return 0;
    }
    if (strcmp(cmd, "help") == 0) {
        reply_str(c, h, "check\ncompact\nlog\nprint\nquota\nring-attach\nstats\nhelp\n");
        return 0;
    }
    if (strcmp(cmd, "ring-attach") == 0) {
        /* An optional third argument is the first transaction id to hand
         * out: a VMM re-attaching after a restart gives one past the ids
         * its guest may still hold, so that a new transaction never takes
         * the id of one the restart ended. */
        unsigned long domid, first_tx = 1;
        if ((argc != 2 && argc != 3) ||
            !wire_parse_uint(argv[1], UINT32_MAX, &domid) ||
            (argc == 3 && (!wire_parse_uint(argv[2], UINT32_MAX, &first_tx) ||
                           first_tx == 0)))
            return EINVAL;
        if (c->dom)
            return EINVAL;
        struct domain *prev = domain_get((uint32_t)domid);
        if (prev && prev->proto_dropped) {
            /* Not an errno of Xen's table: only the VMM sees it. */
            static const char eproto[] = "EPROTO";
            conn_queue(c, XS_ERROR, h->req_id, h->tx_id, eproto,
                       sizeof(eproto), NULL, 0);
            return 0;
        }
        int err = domain_attach(c, (uint32_t)domid);
        if (err)
            return err;
        /* The reply goes to the VMM; from now on we talk to the guest. */
        reply_str(c, h, "OK");
        watch_remove_all(c);
        txns_free_all(c);
        c->domid = (uint32_t)domid;
        c->privileged = false;
        c->next_txid = (uint32_t)first_tx;
        return 0;
    }
    return EINVAL;
}

/* ---- dispatch ---- */

enum { F_PRIV = 1, F_NOTX = 2 };

static const uint8_t type_flags[XS_TYPE_COUNT] = {
    [XS_CONTROL] = F_PRIV, [XS_WATCH] = F_NOTX, [XS_UNWATCH] = F_NOTX,
    [XS_INTRODUCE] = F_PRIV, [XS_RELEASE] = F_PRIV,
    [XS_IS_DOMAIN_INTRODUCED] = F_PRIV, [XS_RESUME] = F_PRIV,
    [XS_SET_TARGET] = F_PRIV,
};

/* The request would append to the journal (refused while the disk is
 * full; reads and changes inside a transaction go on). */
static bool changes_store(const struct xsd_sockmsg *h, const char *pl,
                          const struct txn *t)
{
    switch (h->type) {
    case XS_WRITE: case XS_MKDIR: case XS_RM: case XS_SET_PERMS:
        return !h->tx_id;
    case XS_TRANSACTION_END:
        /* A commit with changes (an abort always goes through). */
        return t && t->seq && h->len >= 1 && pl[0] == 'T';
    case XS_INTRODUCE: case XS_RELEASE: case XS_SET_TARGET:
        return true;
    default:
        return false;
    }
}

void core_handle(struct conn *c, const struct xsd_sockmsg *h,
                 const char *pl)
{
    if (xs->verbose)
        log_info("dom%u %s req %u tx %u len %u", c->domid,
                 wire_typename(h->type), h->req_id, h->tx_id, h->len);
    if (h->type >= XS_TYPE_COUNT || h->type == XS_WATCH_EVENT ||
        h->type == XS_ERROR || h->type == XS_SET_TARGET + 1) {
        reply_err(c, h, ENOSYS);
        return;
    }
    if ((type_flags[h->type] & F_PRIV) && !c->privileged) {
        reply_err(c, h, EACCES);
        return;
    }
    struct txn *t = NULL;
    if (!(type_flags[h->type] & F_NOTX) && h->tx_id) {
        t = txn_find(c, h->tx_id);
        if (!t) {
            reply_err(c, h, ENOENT);
            return;
        }
        /* The request that went past transaction-nodes got ENOSPC, but
         * st_get() had already copied its nodes in. Refuse what follows
         * (until the end) so that a guest cannot grow the copy without
         * bound by reading ever new paths in one transaction. */
        if (h->type != XS_TRANSACTION_END && txn_over_quota(t, c)) {
            reply_err(c, h, ENOSPC);
            return;
        }
        if (h->type != XS_TRANSACTION_END && core_over_memory(c)) {
            reply_err(c, h, ENOMEM);
            return;
        }
    }
    if (journal_full(&xs->journal) && changes_store(h, pl, t)) {
        /* A refused commit ends its transaction, as a failed one does. */
        if (h->type == XS_TRANSACTION_END) {
            txn_unlink(c, t);
            txn_drop(c, t);
        }
        reply_err(c, h, ENOSPC);
        return;
    }
    struct evlist ev = { 0 };
    struct store s = { c, t, t ? &t->events : &ev, 0 };
    int err;
    journal_group_begin(&xs->journal);
    switch (h->type) {
    case XS_READ: err = op_read(&s, h, pl); break;
    case XS_WRITE: err = op_write(&s, h, pl); break;
    case XS_MKDIR: err = op_mkdir(&s, h, pl); break;
    case XS_RM: err = op_rm(&s, h, pl); break;
    case XS_DIRECTORY: err = op_directory(&s, h, pl); break;
    case XS_DIRECTORY_PART: err = op_directory_part(&s, h, pl); break;
    case XS_GET_PERMS: err = op_get_perms(&s, h, pl); break;
    case XS_SET_PERMS: err = op_set_perms(&s, h, pl); break;
    case XS_TRANSACTION_START: err = op_txn_start(c, h, pl); break;
    case XS_TRANSACTION_END: err = op_txn_end(c, h, pl, t); break;
    case XS_WATCH: err = op_watch(c, h, pl, true); break;
    case XS_UNWATCH: err = op_watch(c, h, pl, false); break;
    case XS_RESET_WATCHES:
        watch_remove_all(c);
        txns_free_all(c);
        reply_str(c, h, "OK");
        err = 0;
        break;
    case XS_INTRODUCE: err = op_introduce(c, h, pl); break;
    case XS_SET_TARGET: err = op_set_target(c, h, pl); break;
    case XS_CONTROL: err = op_control(c, h, pl); break;
    default: err = op_domain_misc(c, h, pl); break;
    }
    journal_group_end(&xs->journal);
    if (err) {
        /* A failed request inside a transaction may have left partial
         * copies behind; they are private, and its events are dropped
         * only if recorded for this request. */
        reply_err(c, h, err);
        evlist_free(&ev);
        return;
    }
    /* Node changes acknowledge with OK (the others replied already). */
    if (h->type == XS_WRITE || h->type == XS_MKDIR || h->type == XS_RM ||
        h->type == XS_SET_PERMS)
        reply_str(c, h, "OK");
    if (!t)
        evlist_fire(&ev);
    evlist_free(&ev);
}
