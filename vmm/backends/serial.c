#include "serial.h"
#include "byteq.h"
#include "domain.h"
#include "ioloop.h"
#include "stdout_sink.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"

struct serial_sink {
    pthread_mutex_t lock;       /* the queue and the counters */
    struct byteq q;
    unsigned long long dropped;
    bool wake_pending;
    struct io_watch wake;       /* eventfd: the queue has bytes */
    struct logfile log;
    bool has_log, stdio;
};

/* I/O thread: write out everything queued, in chunks, without the lock
 * held while writing. */
static void drain(struct serial_sink *s)
{
    char buf[4096];
    for (;;) {
        pthread_mutex_lock(&s->lock);
        size_t n = byteq_pop(&s->q, buf, sizeof(buf));
        unsigned long long dropped = s->dropped;
        s->dropped = 0;
        if (!n)
            __atomic_store_n(&s->wake_pending, false, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&s->lock);
        if (dropped)
            log_limited(LOG_WARN, "serial output: %llu bytes dropped (the guest "
                        "wrote faster than the host could take)", dropped);
        if (!n)
            return;
        if (s->has_log)
            logfile_write(&s->log, buf, n);
        if (s->stdio)
            stdout_sink_write(buf, n);
    }
}

static void on_wake(struct io_watch *w, uint32_t events)
{
    uint64_t n;
    if (read(w->fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        return;
    drain(w->opaque);
}

int serial_init(struct domain *d, const char *log_path, bool stdio,
                const struct log_limits *lim)
{
    struct serial_sink *s = calloc(1, sizeof(*s));
    if (!s || byteq_init(&s->q, SERIAL_QUEUE_SIZE) < 0) {
        free(s);
        return -ENOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    s->stdio = stdio;
    s->log.fd = -1;
    d->serial = s;
    if (log_path) {
        int rc = logfile_open(&s->log, log_path, lim);
        if (rc < 0) {
            log_err("%s: %s", log_path, strerror(-rc));
            return rc;
        }
        s->has_log = true;
    }
    s->wake = (struct io_watch){ .fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC),
                                 .ready = on_wake, .opaque = s };
    if (s->wake.fd < 0)
        return -errno;
    return ioloop_add(&s->wake, EPOLLIN);
}

void serial_write(struct domain *d, const void *buf, size_t n)
{
    struct serial_sink *s = d->serial;
    if (!s || (!s->has_log && !s->stdio))
        return;
    pthread_mutex_lock(&s->lock);
    size_t taken = byteq_push(&s->q, buf, n);
    s->dropped += n - taken;
    pthread_mutex_unlock(&s->lock);
    /* One wake-up until the I/O thread has emptied the queue. */
    if (!__atomic_exchange_n(&s->wake_pending, true, __ATOMIC_ACQ_REL)) {
        uint64_t one = 1;
        if (write(s->wake.fd, &one, sizeof(one)) < 0) {
            /* a saturated counter: the loop is awake anyway */
        }
    }
}

void serial_fini(struct domain *d)
{
    struct serial_sink *s = d->serial;
    if (!s)
        return;
    drain(s);
    if (s->wake.fd >= 0) {
        ioloop_del(&s->wake);
        close(s->wake.fd);
    }
    if (s->has_log)
        logfile_close(&s->log);
    byteq_fini(&s->q);
    pthread_mutex_destroy(&s->lock);
    free(s);
    d->serial = NULL;
}
