/*
 * A device backend in this VMM, acting as domain 0 for one guest ring: an
 * event channel port bound to it, and an eventfd through which a guest's
 * send wakes the I/O thread to service the ring. The console, the xenstore
 * relay and (later) block and network backends are built on it.
 *
 * Wake-ups are coalesced: a send while a wake-up is pending costs nothing,
 * and a backend can say (has_work, called on the sending vCPU's thread with
 * the domain lock held) that a send finds nothing to do.
 */
#ifndef XENON_BACKEND_H
#define XENON_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "evtchn.h"
#include "ioloop.h"

struct domain;

struct backend {
    struct domain *d;
    struct evtchn_backend be;
    struct io_watch wake;
    uint32_t port;                  /* the guest's end */
    bool wake_pending;
    bool (*has_work)(void *opaque); /* NULL: every send has work */
    void (*service)(void *opaque);  /* on the I/O thread, no lock held */
    void *opaque;
};

/* Bind the guest port (`port`, fixed by the contract, or 0 for any free
 * one) and the wake-up; 0 or a negative errno. */
int backend_init(struct domain *d, struct backend *b, uint32_t port,
                 bool (*has_work)(void *), void (*service)(void *),
                 void *opaque);
void backend_fini(struct backend *b);

#endif
