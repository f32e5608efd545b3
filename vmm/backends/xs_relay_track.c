/* See xs_relay_track.h. */
#include "xs_relay_track.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xen/io/xs_wire.h>

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

bool xs_track_has_watch(const struct xs_track *t, const void *payload, size_t len)
{
    return find_watch(t, payload, len) >= 0;
}

/* One watch's bytes: "path\0token\0" with a path. */
static bool watch_ok(const uint8_t *w, size_t len)
{
    if (len < 3 || len > XENSTORE_PAYLOAD_MAX || w[0] == 0 || w[len - 1] != 0)
        return false;
    size_t nuls = 0;
    for (size_t i = 0; i < len; i++)
        nuls += w[i] == 0;
    return nuls == 2;
}

int xs_track_save_watches(const struct xs_track *t, uint8_t **out, size_t *len)
{
    /* Only what a xenstored can have accepted (path and token, nothing
     * more): a record this VMM writes is always one it reads back. */
    size_t n = sizeof(uint32_t);
    uint32_t count = 0;
    for (unsigned i = 0; i < t->nwatches; i++)
        if (watch_ok((const uint8_t *)t->watches[i].payload, t->watches[i].len)) {
            n += sizeof(uint32_t) + t->watches[i].len;
            count++;
        }
    uint8_t *b = malloc(n), *at = b;
    if (!b)
        return -ENOMEM;
    memcpy(at, &count, sizeof(count));
    at += sizeof(count);
    for (unsigned i = 0; i < t->nwatches; i++) {
        if (!watch_ok((const uint8_t *)t->watches[i].payload, t->watches[i].len))
            continue;
        uint32_t l = (uint32_t)t->watches[i].len;
        memcpy(at, &l, sizeof(l));
        memcpy(at + sizeof(l), t->watches[i].payload, l);
        at += sizeof(l) + l;
    }
    *out = b;
    *len = n;
    return 0;
}

int xs_track_load_watches(const uint8_t *p, size_t len,
                          void (*add)(void *ctx, const void *payload, size_t len),
                          void *ctx)
{
    for (int pass = 0; pass < 2; pass++) {
        uint32_t count;
        if (len < sizeof(count))
            return -EINVAL;
        memcpy(&count, p, sizeof(count));
        if (count > XS_TRACK_MAX_WATCHES)
            return -EINVAL;
        size_t at = sizeof(count);
        for (uint32_t i = 0; i < count; i++) {
            uint32_t l;
            if (len - at < sizeof(l))
                return -EINVAL;
            memcpy(&l, p + at, sizeof(l));
            at += sizeof(l);
            if (l > len - at || !watch_ok(p + at, l))
                return -EINVAL;
            if (pass == 1)
                add(ctx, p + at, l);
            at += l;
        }
        if (at != len)
            return -EINVAL;
    }
    return 0;
}
