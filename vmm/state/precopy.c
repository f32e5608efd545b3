#include "precopy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dirty.h"

static uint64_t now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int send_round(struct stream_sink *out, const struct precopy_params *p,
                      const struct precopy_ops *ops, const uint64_t *bitmap,
                      struct precopy_report *rep)
{
    struct precopy_round *r = &rep->round[rep->nr_rounds];
    uint64_t t0 = now(), b0 = out->bytes, data = 0, zero = 0;
    int rc;
    if (!bitmap) {
        rc = xcs_write_memory(out, p->nr_pfns, ops->page, ops->ctx, 0,
                              &data, &zero);
    } else {
        /* Only the set bits are visited: a late round's few pages out
         * of the whole domain (65,536 PFNs for 256 MiB). */
        rc = xcs_write_memory_set(out, bitmap, p->nr_pfns, ops->page, ops->ctx,
                                  XCS_ZERO_AS_DATA, &data, &zero);
        r->dirty = dirty_count(bitmap, p->nr_pfns);
    }
    r->pages = data + zero;
    if (!bitmap)
        r->dirty = r->pages;
    r->zero = zero;
    r->bytes = out->bytes - b0;
    r->ns = now() - t0;
    rep->bytes += r->bytes;
    rep->nr_rounds++;
    return rc;
}

int precopy_live(struct precopy *pc, struct stream_sink *out,
                 const struct precopy_params *p, const struct precopy_ops *ops)
{
    memset(pc, 0, sizeof(*pc));
    if (!p->nr_pfns || p->max_rounds > PRECOPY_MAX_ROUNDS - 2 ||
        p->extra_rounds > PRECOPY_MAX_ROUNDS - 2 - p->max_rounds || !ops->page || !ops->fetch)
        return -EINVAL;
    pc->p = *p;
    pc->ops = *ops;
    size_t bytes = DIRTY_WORDS(p->nr_pfns) * sizeof(uint64_t);
    pc->bitmap = malloc(bytes);
    if (!pc->bitmap)
        return -ENOMEM;
    pc->start = now();
    struct precopy_report *rep = &pc->rep;

    /* Round 0 sends everything, so what was dirtied before it (logging
     * started before the call) is sent: drop it. */
    memset(pc->bitmap, 0, bytes);
    int rc = ops->fetch(ops->ctx, pc->bitmap, p->nr_pfns);
    if (rc == 0)
        rc = send_round(out, p, ops, NULL, rep);
    uint64_t last = UINT64_MAX;         /* the set sent last (round 0: all) */
    for (unsigned live = 0; rc == 0; live++) {
        memset(pc->bitmap, 0, bytes);
        rc = ops->fetch(ops->ctx, pc->bitmap, p->nr_pfns);
        if (rc < 0)
            break;
        uint64_t n = dirty_count(pc->bitmap, p->nr_pfns);
        if (n <= p->stop_pages) {
            rep->stopped_by = PRECOPY_CONVERGED;
            break;
        }
        /* Past max_rounds a round is worth sending only while the set
         * shrinks: a set that holds steady is the guest's dirty rate
         * times a round, and sending it again shortens nothing. */
        if (live >= p->max_rounds &&
            (live == p->max_rounds + p->extra_rounds || n >= last)) {
            rep->stopped_by = PRECOPY_ROUND_LIMIT;
            break;
        }
        rc = send_round(out, p, ops, pc->bitmap, rep);
        last = n;
    }
    rep->ns = now() - pc->start;
    return rc;
}

/* Stop and copy: the set fetched last (not yet sent) and whatever was
 * dirtied until the vCPUs stopped. */
int precopy_final(struct precopy *pc, struct stream_sink *out)
{
    if (!pc->bitmap)
        return -EINVAL;
    int rc = pc->ops.fetch(pc->ops.ctx, pc->bitmap, pc->p.nr_pfns);
    if (rc == 0)
        rc = send_round(out, &pc->p, &pc->ops, pc->bitmap, &pc->rep);
    pc->rep.ns = now() - pc->start;
    return rc;
}

void precopy_free(struct precopy *pc)
{
    free(pc->bitmap);
    pc->bitmap = NULL;
}

int precopy_run(struct stream_sink *out, const struct precopy_params *p,
                const struct precopy_ops *ops, struct precopy_report *rep)
{
    memset(rep, 0, sizeof(*rep));
    if (!ops->stop)
        return -EINVAL;
    struct precopy *pc = malloc(sizeof(*pc));
    if (!pc)
        return -ENOMEM;
    int rc = precopy_live(pc, out, p, ops);
    if (rc == 0) {
        uint64_t t_stop = now();
        rc = ops->stop(ops->ctx);
        pc->rep.stop_ns = now() - t_stop;
        if (rc == 0)
            rc = precopy_final(pc, out);
        pc->rep.stop_to_end_ns = now() - t_stop;
    }
    *rep = pc->rep;
    precopy_free(pc);
    free(pc);
    return rc;
}
