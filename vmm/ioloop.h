/*
 * The domain's I/O thread: one epoll loop serving timers, the PV console,
 * the xenstore relay and signals, so vCPU threads never block on I/O.
 */
#ifndef XENON_IOLOOP_H
#define XENON_IOLOOP_H

#include <stdatomic.h>
#include <stdint.h>

struct io_watch {
    int fd;
    void (*ready)(struct io_watch *w, uint32_t events);
    void *opaque;
};

int ioloop_init(void);
int ioloop_add(struct io_watch *w, uint32_t events);
int ioloop_mod(struct io_watch *w, uint32_t events);
/* Removes w; from a callback on the loop's thread, also any event of w
 * still waiting in the batch being dispatched, so w may be freed at once. */
void ioloop_del(struct io_watch *w);
/* Dispatch events until *stop becomes true. */
void ioloop_run(atomic_bool *stop);

#endif
