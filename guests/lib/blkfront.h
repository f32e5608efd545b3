/*
 * A small blkfront for test guests (io/blkif.h over xenbus, as Linux's and
 * Mini-OS's blkfronts connect): the guest's own grant table, a ring of 1
 * or more pages (or several queues) in the guest's native layout (x86_32
 * or x86_64, named in `protocol`), indirect requests, persistent grants,
 * one request at a time, responses polled (test guests take no
 * interrupts). The hostile guest uses the raw ring to send what a
 * well-behaved frontend never would.
 */
#ifndef GUEST_BLKFRONT_H
#define GUEST_BLKFRONT_H

#include <stdint.h>

/* io/ring.h's barriers, which the public headers leave to their user. */
#ifndef xen_mb
#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif
#include <xen/grant_table.h>
#include <xen/io/blkif.h>

struct blkfront {
    char fe[48];                    /* device/vbd/<devid> (relative) */
    unsigned devid;
    char be[128];                   /* its backend directory */
    struct blkif_sring *sring;
    blkif_front_ring_t ring;
    grant_ref_t ring_ref;
    uint32_t port;
    uint64_t sectors;
    unsigned sector_size, info;
    int flush, discard;             /* features the backend published */
    unsigned ring_order;            /* pages of the ring: 1 << ring_order */
    unsigned max_indirect;          /* feature-max-indirect-segments */
    int persistent;                 /* persistent grants negotiated */
};

/* Map grant frame 0 (once). 0 or -1. */
int gnt_init(void);
/* After a resume in a new domain (SCHEDOP_shutdown(suspend) returned 0)
 * the grant table is that domain's, fresh: forget every ref handed out
 * and map the table again at the next gnt_init. */
void gnt_forget(void);
/* Grant a page of ours to domain 0: its ref (refs 16.. are handed out in
 * turn, up to 500), or 0 when none is left. */
grant_ref_t gnt_grant(const void *page, int readonly);
/* Revoke a grant (no check that the backend unmapped it). */
void gnt_revoke(grant_ref_t ref);
/* For the hostile guest: rewrite a live entry as a lying frontend does
 * (another frame, other flags; the frame first, then the flags), and read
 * its flags back (the backend's GTF_reading / GTF_writing). */
void gnt_set(grant_ref_t ref, const void *page, uint16_t flags);
uint16_t gnt_flags(grant_ref_t ref);

/* Sleep, without an event to wake us (SCHEDOP_poll on no port). */
void guest_sleep_ms(unsigned ms);

/* List device/vbd: up to max devids into ids. The count, or -1. */
int blkfront_list(unsigned *ids, int max);

/* Connect to device/vbd/<devid>: wait for the backend's InitWait, publish
 * ring-ref, event-channel and protocol, go Initialised, wait for
 * Connected, read sectors/info/sector-size and the features, go
 * Connected. ring_page: one page of ours for the ring. 0 or -1 (printed). */
int blkfront_connect(struct blkfront *f, unsigned devid, void *ring_page);
/* The same with a ring of 1 << order pages (ring_pages: that many
 * contiguous pages of ours) when the backend offers that order
 * (max-ring-page-order), else of the largest it offers. */
int blkfront_connect_order(struct blkfront *f, unsigned devid, void *ring_pages,
                           unsigned order);
/* The same, asking for persistent grants (feature-persistent) when
 * `persistent`: data then moves through one bounce page whose grant never
 * changes (the backend keeps it mapped), as Linux's blkfront does with its
 * persistent pool. Indirect requests are not used on such a disk. */
int blkfront_connect_opts(struct blkfront *f, unsigned devid, void *ring_pages,
                          unsigned order, int persistent);
/* Connect with nq queues (multi-queue-num-queues, queue-N/ring-ref and
 * queue-N/event-channel), one page each (ring_pages: nq pages): fs[i] is
 * queue i, each used as a blkfront of its own. 0 or -1. */
int blkfront_connect_queues(struct blkfront *fs, unsigned nq, unsigned devid,
                            void *ring_pages);
/* Put one raw request on the ring and kick (no wait). */
void blkfront_push(struct blkfront *f, const blkif_request_t *req);
/* Wait up to ms for a response: 0 with *rsp, or -1. */
int blkfront_wait(struct blkfront *f, blkif_response_t *rsp, unsigned ms);
/* One request and its response's status (-100: no response in 5 s). */
int blkfront_request(struct blkfront *f, const blkif_request_t *req);
/* One page-sized (or part: sectors first..last of the page) read or write
 * at `sector`: the status. */
int blkfront_rw(struct blkfront *f, int write, uint64_t sector, void *page,
                unsigned first, unsigned last);
int blkfront_flush(struct blkfront *f);
/* n contiguous pages at `sector` in one indirect request (n <= 512): the
 * status. */
int blkfront_rw_indirect(struct blkfront *f, int write, uint64_t sector, void *pages,
                         unsigned n);
int blkfront_discard(struct blkfront *f, uint64_t sector, uint64_t n);
/* Close as a frontend does (Closing, wait for the backend, Closed). */
int blkfront_close(struct blkfront *f);
/* The backend's state (XenbusState*), -1 unreadable. */
int blkfront_backend_state(struct blkfront *f);

#endif
