/*
 * Pre-copy: the memory part of a live migration (Clark et al., "Live
 * Migration of Virtual Machines", NSDI 2005), written as libxc's PAGE_DATA
 * records (stream.h) into a sink while the guest runs:
 *
 *   round 0    every page the domain has (zero pages as XALLOC)
 *   round k    the pages dirtied while round k-1 was being sent, with
 *              zero pages as data (XCS_ZERO_AS_DATA: the destination
 *              holds an older copy that may not be zero)
 *   ...        until the dirty set is at most stop_pages or max_rounds
 *              rounds have been sent (and then up to extra_rounds more
 *              while the set still shrinks: each is a smaller final
 *              round, the one sent with the guest stopped); then
 *   stop       ops->stop() ("stop the vCPUs now"), one last fetch, and
 *              the final round: what was dirty then, with zero as data.
 *
 * After precopy_run returns 0 the caller writes the rest of the image
 * (TSC_INFO, HVM_CONTEXT, HVM_PARAMS, END) with the vCPUs stopped: the
 * destination's memory then equals the source's.
 *
 * The engine owns no policy on logging: the caller starts dirty logging
 * before the call (platform_dirty_log_start) and stops it after, and its
 * fetch adds whatever else must go in a round (the VMM's own writes are in
 * platform_dirty_log_fetch already; pages mapped writable by a backend,
 * grant_mark_mapped_dirty(), before the final fetch).
 */
#ifndef XENON_PRECOPY_H
#define XENON_PRECOPY_H

#include <stdint.h>

#include "stream.h"

#define PRECOPY_MAX_ROUNDS 64       /* rounds reported, the final included */

struct precopy_ops {
    /* The host page at pfn, or NULL where the domain has none. */
    xcs_page_fn page;
    /* OR the pages dirtied since the previous fetch (or since logging
     * started) into bitmap (a bit per PFN below nr_pfns) and clear them:
     * platform_dirty_log_fetch() or a wrapper. 0 or a negative errno. */
    int (*fetch)(void *ctx, uint64_t *bitmap, uint64_t nr_pfns);
    /* Stop every vCPU; when it returns no guest code runs. 0 or a
     * negative errno (the run then fails, the guest still running). */
    int (*stop)(void *ctx);
    void *ctx;
};

struct precopy_params {
    uint64_t nr_pfns;               /* PFNs [0, nr_pfns) */
    uint64_t stop_pages;            /* stop when at most this many dirty */
    unsigned max_rounds;            /* live rounds after round 0 */
    unsigned extra_rounds;          /* more live rounds after those, each
                                       only while the dirty set is still
                                       smaller than the one sent last;
                                       max_rounds + extra_rounds at most
                                       PRECOPY_MAX_ROUNDS - 2 */
};

struct precopy_round {
    uint64_t dirty;                 /* pages in the set sent (round 0:
                                       every page the domain has) */
    uint64_t pages;                 /* pages written (data + zero) */
    uint64_t zero;                  /* of those, as XALLOC (round 0) */
    uint64_t bytes;                 /* stream bytes */
    uint64_t ns;                    /* wall time of the round */
};

struct precopy_report {
    unsigned nr_rounds;             /* round[nr_rounds - 1] is the final */
    struct precopy_round round[PRECOPY_MAX_ROUNDS];
    uint64_t bytes, ns;             /* all rounds */
    uint64_t stop_ns;               /* ops->stop() alone */
    uint64_t stop_to_end_ns;        /* from calling stop() to the final
                                       round's last byte */
    int stopped_by;                 /* PRECOPY_CONVERGED or _ROUND_LIMIT */
};

enum { PRECOPY_CONVERGED = 1, PRECOPY_ROUND_LIMIT = 2 };

/* The engine in two halves, for a caller that stops the vCPUs itself
 * between them (a live save: the toolstack asks the guest to suspend,
 * the backends are drained): precopy_live sends round 0 and the live
 * rounds and keeps the set fetched last (not yet sent); precopy_final,
 * once no guest code runs, fetches once more and sends the final round.
 * precopy_free after either (also on failure). ops->stop is not used. */
struct precopy {
    struct precopy_params p;
    struct precopy_ops ops;
    uint64_t *bitmap;
    uint64_t start;
    struct precopy_report rep;
};
int precopy_live(struct precopy *pc, struct stream_sink *out,
                 const struct precopy_params *p, const struct precopy_ops *ops);
int precopy_final(struct precopy *pc, struct stream_sink *out);
void precopy_free(struct precopy *pc);

/* Run the rounds into out. 0, -EINVAL for bad params, -ENOMEM, or the
 * sink's, fetch's or stop's negative errno. On failure *report holds the
 * rounds so far; whether the vCPUs were stopped is the caller's to know
 * (stop() is called at most once, and only once the live rounds end). */
int precopy_run(struct stream_sink *out, const struct precopy_params *p,
                const struct precopy_ops *ops, struct precopy_report *report);

#endif
