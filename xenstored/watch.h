/* watch: watch registration and event delivery.
 *
 * Watches live in a hash table keyed by their path, so an event on P is
 * matched by looking up P and each of its ancestors. Removal events
 * (recurse) also reach watches below P, reported with the watch's path.
 * An unprivileged watcher only gets events for nodes it may read (checked
 * against the node's permissions, or its old ones for removals and
 * permission changes). Special paths (@introduceDomain, @releaseDomain)
 * match exactly and go to privileged watchers and domains allowed by the
 * special node's permissions.
 */
#ifndef XENSTORED_WATCH_H
#define XENSTORED_WATCH_H

#include "core.h"

struct event {
    char *path;
    struct xs_perm *perms;
    uint32_t np;
    struct xs_perm *old;
    uint32_t nold;
    bool recurse;
};

struct evlist {
    struct event *v;
    size_t n, cap;
};

void evlist_add(struct evlist *l, const char *path, const struct xs_perm *p,
                uint32_t np, const struct xs_perm *old, uint32_t nold,
                bool recurse);
/* Deliver every event, then empty the list. */
void evlist_fire(struct evlist *l);
void evlist_free(struct evlist *l);

/* 0, EEXIST (same path and token), E2BIG (watches quota) or ENOMEM
 * (memory quota). */
int watch_add(struct conn *c, const char *path, const char *token,
              size_t rel_prefix);
int watch_remove(struct conn *c, const char *path, const char *token);
void watch_remove_all(struct conn *c);
/* Queue one WATCH_EVENT for w about path. */
void watch_send(struct watch *w, const char *path);
void watch_fire_special(const char *name);

#endif
