/* core: the daemon state and the request handlers.
 *
 * core_handle() executes one validated-length request for a connection and
 * queues its reply (and any watch events it causes) with conn_queue().
 * Changes are recorded in the journal buffer; the event loop makes them
 * durable (journal_sync) before any queued byte reaches a socket.
 *
 * Connections: socket clients are domain 0 (privileged). A connection that
 * sent CONTROL "ring-attach" <domid> becomes that domain's connection
 * (unprivileged, paths relative to /local/domain/<domid>).
 */
#ifndef XENSTORED_CORE_H
#define XENSTORED_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.h"
#include "perms.h"
#include "tree.h"
#include "wire.h"

struct conn;
struct txn;

struct watch {
    struct watch *cnext;    /* per-connection list */
    struct watch *hnext;    /* hash chain by path */
    struct conn *conn;
    char *path;             /* absolute, or @special */
    char *token;
    size_t rel_prefix;      /* bytes to strip from event paths (relative) */
    /* Its entries in the index by ancestor (watch.c): one per strict
     * ancestor of an absolute path but "/". */
    struct wanc *anc;
    unsigned nanc;
};

struct domain {
    uint32_t domid;
    bool introduced;
    uint64_t mfn;
    uint32_t port;
    long target;            /* -1: none */
    struct conn *conn;      /* attached ring connection, if any */
    /* Its ring connection was dropped for breaking the protocol: a
     * ring-attach is refused with EPROTO (the VMM's cue to set the ring's
     * error field) until the domain is released. Not journaled. */
    bool proto_dropped;
};

struct outmsg {
    struct outmsg *next;
    size_t len, off;
    bool reply;             /* counts as outstanding request */
    uint64_t expires_ns;    /* watch event to a guest: dropped unsent
                               after this (0: never) */
    uint8_t data[];
};

struct conn {
    struct conn *next, *prev;
    int fd;
    uint32_t domid;
    bool privileged;
    struct domain *dom;
    /* input */
    uint8_t *in;
    size_t in_len, in_cap;
    /* output */
    struct outmsg *out_head, *out_tail;
    size_t out_bytes;
    unsigned out_replies;
    /* Memory this connection makes the daemon hold (queued output,
     * watches, transactions): a guest's counts against its "memory"
     * quota, as in Xen 4.17 (XSA-326). */
    size_t mem;
    bool mem_over;          /* over the quota (logged once per episode) */
    uint64_t events_dropped;
    /* state */
    struct watch *watches;
    unsigned nwatches;
    struct txn *txns;
    unsigned ntxns;
    uint32_t next_txid;
    /* event loop bookkeeping */
    bool dead;
    bool flush_pending;
    struct conn *flush_next;
    bool ready_pending;     /* input buffered, not yet processed */
    struct conn *ready_next;
    uint32_t ev_mask;
    bool out_blocked;       /* socket full: waiting for EPOLLOUT */
    uint64_t last_progress_ns;
    /* On conn.c's list of connections with queued output (out_head set),
     * the only ones the once-a-second stall scan looks at. */
    bool out_listed;
    struct conn *out_next, *out_prev;
};

enum quota_id {
    Q_NODES, Q_WATCHES, Q_TRANSACTIONS, Q_OUTSTANDING, Q_TXN_NODES,
    Q_NODE_SIZE, Q_PATH_MAX, Q_PERMISSIONS, Q_MEMORY, Q_COUNT
};

#define WATCH_BUCKETS 16384

struct xs_state {
    struct tree tree;
    struct journal journal;
    struct domain *doms[TREE_MAX_DOMID];
    unsigned ndoms;         /* non-NULL entries in doms[] */
    struct watch *whash[WATCH_BUCKETS];
    unsigned long nwatches;
    /* Absolute watches by each strict ancestor of their path: a removal
     * finds the watches below it without a walk of them all (watch.c). */
    struct wpfx *wphash[WATCH_BUCKETS];
    struct conn *conns;
    int quota[Q_COUNT];
    /* permissions of the special watch nodes */
    struct xs_perm *special_perms[2];
    uint32_t special_nperms[2];
    size_t out_hard_limit;  /* drop a client whose queue exceeds this */
    uint64_t stall_ns;      /* drop a client whose full queue has not
                               moved for this long (0: never) */
    uint64_t event_timeout_ns; /* a guest's undelivered watch event is
                                  dropped after this (0: never) */
    bool verbose;
    /* Counts for CONTROL stats. */
    unsigned long nconns;           /* live connections */
    unsigned long out_pending;      /* of them, with queued output */
    uint64_t stall_scans;           /* stall scans run */
    unsigned long stall_scan_visited; /* connections the last one looked at */
    unsigned long rm_watch_visited; /* watches the last removal looked at */
};

extern struct xs_state *xs;

/* Provided by the connection layer (conn.c, or a test double). */
void conn_queue(struct conn *c, uint32_t type, uint32_t req_id,
                uint32_t tx_id, const void *a, size_t alen, const void *b,
                size_t blen);
/* Drop a connection: removes its watches and transactions now, frees it
 * later (safe to call while iterating). */
void conn_kill(struct conn *c, const char *why);

/* The quota called name[0..len) (Xen's names: "nodes", "path-max", ...),
 * or -1. */
int core_quota_id(const char *name, size_t len);

/* Set up the state (quotas default, initial tree, journal from dir or
 * in-memory when dir is NULL; o as for journal_open). 0 or -1. */
int core_init(const char *data_dir, const struct journal_opts *o);
void core_fini(void);

/* Handle one complete message. payload holds hdr->len bytes. */
void core_handle(struct conn *c, const struct xsd_sockmsg *hdr,
                 const char *payload);

/* Charge (or with a negative delta give back) bytes held for c. Returns
 * false, charging nothing, if c is a guest that would go past its memory
 * quota (the caller fails the request with ENOMEM); with force the charge
 * is made regardless. */
bool core_charge(struct conn *c, long delta, bool force);
/* c is a guest at or over its memory quota (its connection's bytes plus
 * the nodes its domain owns). */
bool core_over_memory(const struct conn *c);
/* Bytes held for domid: its connection's and its nodes'. */
size_t core_domain_mem(uint32_t domid);
/* A request of c may make owner's nodes grow by bytes: true if c is
 * privileged (dom0 is exempt, as in Xen), owner is domain 0, or owner stays
 * within its memory quota. */
bool core_mem_room(const struct conn *c, uint32_t owner, size_t bytes);

/* Connection lifecycle hooks. */
void core_conn_init(struct conn *c);
void core_conn_gone(struct conn *c);

/* Journal dump of the introduced domains (for snapshots). */
void core_dump_domains(void *arg, struct journal *j);

#endif
