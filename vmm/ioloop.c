#include "ioloop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

static int epfd = -1;

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
}

void ioloop_run(atomic_bool *stop)
{
    struct epoll_event ev[32];
    while (!atomic_load(stop)) {
        int n = epoll_wait(epfd, ev, 32, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        for (int i = 0; i < n && !atomic_load(stop); i++) {
            struct io_watch *w = ev[i].data.ptr;
            w->ready(w, ev[i].events);
        }
    }
}
