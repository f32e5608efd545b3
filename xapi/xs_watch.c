/* The watch-only xenstore connection (xs_watch.h), on xenstore's wire
 * format (xen/io/xs_wire.h). Replies are read and bounded, never
 * trusted: only the type matters here. */
#include "xs_watch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>

#include "log.h"

struct watcher {
    char socket[108];
    const char *const *paths;
    void (*fn)(void);
};

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n)
{
    char *c = p;
    while (n) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

static int connect_to(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static int watch(int fd, const char *path, uint32_t id)
{
    char body[XENSTORE_PAYLOAD_MAX];
    size_t pl = strlen(path) + 1;
    if (pl + 2 > sizeof(body))
        return -1;
    memcpy(body, path, pl);
    memcpy(body + pl, "x", 2);      /* the token: one is enough */
    struct xsd_sockmsg h = { .type = XS_WATCH, .req_id = id, .len = (uint32_t)(pl + 2) };
    return write_all(fd, &h, sizeof(h)) || write_all(fd, body, h.len) ? -1 : 0;
}

static void *run(void *arg)
{
    struct watcher *w = arg;
    bool warned = false;
    for (;;) {
        int fd = connect_to(w->socket);
        if (fd < 0) {
            if (!warned)
                log_msg(LOG_WARN, "xenstored at %s not reachable; retrying", w->socket);
            warned = true;
            sleep(1);
            continue;
        }
        warned = false;
        uint32_t id = 1;
        bool ok = true;
        for (int i = 0; w->paths[i] && ok; i++)
            ok = watch(fd, w->paths[i], id++) == 0;
        w->fn();        /* whatever happened while we were not watching */
        while (ok) {
            struct xsd_sockmsg h;
            char body[XENSTORE_PAYLOAD_MAX];
            if (read_all(fd, &h, sizeof(h)) < 0 || h.len > sizeof(body) ||
                read_all(fd, body, h.len) < 0)
                break;
            if (h.type == XS_WATCH_EVENT)
                w->fn();
        }
        close(fd);
        sleep(1);
    }
    return NULL;
}

int xs_watch_start(const char *socket, const char *const *paths, void (*fn)(void))
{
    struct watcher *w = calloc(1, sizeof(*w));
    if (!w)
        return -1;
    snprintf(w->socket, sizeof(w->socket), "%s", socket);
    w->paths = paths;
    w->fn = fn;
    pthread_t t;
    if (pthread_create(&t, NULL, run, w)) {
        free(w);
        return -1;
    }
    return 0;
}
