#include "ioloop.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <unistd.h>

static int epfd = -1;

/* The batch epoll_wait returned, while the loop dispatches it: a callback
 * that removes (and frees) another watch must not leave that watch's
 * event behind in the batch, to be dispatched into freed memory. */
static struct epoll_event batch[32];
static int batch_next, batch_len;
static pthread_t loop_thread;
static bool looping;

int ioloop_init(void)
{
    epfd = epoll_create1(EPOLL_CLOEXEC);
    return epfd < 0 ? -errno : 0;
}

int ioloop_add(struct io_watch *w, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = w };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0 ? -errno : 0;
}

int ioloop_mod(struct io_watch *w, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = w };
    return epoll_ctl(epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0 ? -errno : 0;
}

void ioloop_del(struct io_watch *w)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, w->fd, NULL);
    if (looping && pthread_equal(pthread_self(), loop_thread))
        for (int i = batch_next; i < batch_len; i++)
            if (batch[i].data.ptr == w)
                batch[i].data.ptr = NULL;
}

void ioloop_run(atomic_bool *stop)
{
    loop_thread = pthread_self();
    looping = true;
    while (!atomic_load(stop)) {
        int n = epoll_wait(epfd, batch, 32, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        batch_len = n;
        for (batch_next = 0; batch_next < n && !atomic_load(stop);) {
            struct epoll_event *e = &batch[batch_next++];
            struct io_watch *w = e->data.ptr;
            if (w)              /* NULL: removed by an earlier callback */
                w->ready(w, e->events);
        }
        batch_len = batch_next = 0;
    }
    looping = false;
}
