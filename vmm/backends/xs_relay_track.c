/* See xs_relay_track.h. */
#include "xs_relay_track.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

static int find_watch(const struct xs_track *t, const void *p, size_t len)
{
    for (unsigned i = 0; i < t->nwatches; i++)
        if (t->watches[i].len == len && memcmp(t->watches[i].payload, p, len) == 0)
            return (int)i;
    return -1;
}

static void drop_watch(struct xs_track *t, unsigned i)
{
    free(t->watches[i].payload);
    t->watches[i] = t->watches[--t->nwatches];
}

void xs_track_add_watch(struct xs_track *t, const void *p, size_t len)
{
    if (find_watch(t, p, len) >= 0)
        return;
    char *copy = t->nwatches < XS_TRACK_MAX_WATCHES ? malloc(len) : NULL;
    if (!copy) {
        if (!t->warned_watches)
            log_warn("dom%u: more than %d watches: the rest are not "
                     "re-registered if xenstored restarts", t->domid,
                     XS_TRACK_MAX_WATCHES);
        t->warned_watches = true;
        return;
    }
    memcpy(copy, p, len);
    t->watches[t->nwatches++] = (struct xs_watch_rec){ len, copy };
}

void xs_track_drop_watch(struct xs_track *t, const void *p, size_t len)
{
    int i = find_watch(t, p, len);
    if (i >= 0)
        drop_watch(t, (unsigned)i);
}

void xs_track_reset(struct xs_track *t)
{
    while (t->nwatches)
        drop_watch(t, 0);
    t->ntxns = 0;
}

const struct xs_txn_rec *xs_track_txn(const struct xs_track *t, uint32_t id)
{
    for (unsigned i = 0; i < t->ntxns; i++)
        if (t->txns[i].id == id)
            return &t->txns[i];
    return NULL;
}

void xs_track_txn_started(struct xs_track *t, const uint8_t *body, size_t blen,
                          uint32_t gen)
{
    unsigned long id = 0;
    size_t i = 0;
    while (i < blen && body[i] >= '0' && body[i] <= '9' && id < UINT32_MAX)
        id = id * 10 + (unsigned long)(body[i++] - '0');
    if (!id || id > UINT32_MAX)
        return;
    if (id > t->max_tx)
        t->max_tx = (uint32_t)id;
    if (t->ntxns < XS_TRACK_MAX_TXNS && !xs_track_txn(t, (uint32_t)id))
        t->txns[t->ntxns++] = (struct xs_txn_rec){ (uint32_t)id, gen };
}

void xs_track_txn_ended(struct xs_track *t, uint32_t id)
{
    for (unsigned i = 0; i < t->ntxns; i++)
        if (t->txns[i].id == id) {
            t->txns[i] = t->txns[--t->ntxns];
            return;
        }
}

void xs_track_fini(struct xs_track *t)
{
    while (t->nwatches)
        drop_watch(t, 0);
}
