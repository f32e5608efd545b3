/* libFuzzer target: the VMM's own xenstore connection (vmm/backends/
 * xs_conn.c) reading whatever "xenstored" sends: replies to requests it
 * made (req_ids 1..4), watch events for its watch (token xb0), and
 * garbage. Every callback must get a NUL-terminated body within the
 * payload limit, a reply only for a request made, each request at most
 * one reply, and a broken stream must end every pending request. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>

#include "ioloop.h"
#include "xs_conn.h"

static unsigned replies[4];

static void on_reply(void *opaque, uint32_t type, const char *body, uint32_t len)
{
    unsigned i = (unsigned)(uintptr_t)opaque;
    (void)type;
    if (i >= 4 || replies[i]++ || len > XENSTORE_PAYLOAD_MAX || body[len] != 0)
        abort();
}

static void on_watch(void *opaque, const char *path)
{
    (void)opaque;
    if (strlen(path) > XENSTORE_PAYLOAD_MAX)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        ioloop_init();
        ready = 1;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return 0;
    struct xs_conn *c = xs_conn_adopt(sv[0]);
    if (!c) {
        close(sv[1]);
        return 0;
    }
    memset(replies, 0, sizeof(replies));
    int owner;
    xs_conn_watch(c, "/local/domain/1/device/vbd/51712/state", &owner, on_watch, NULL);
    for (uintptr_t i = 1; i < 4; i++)
        xs_conn_read(c, "/local/domain/1/device/vbd/51712/ring-ref", &owner, on_reply,
                     (void *)i);
    /* Feed the input in pieces the socket takes, serving between them. */
    size_t at = 0;
    while (at < size) {
        ssize_t n = send(sv[1], data + at, size - at, MSG_DONTWAIT);
        if (n <= 0)
            break;
        at += (size_t)n;
        xs_conn_service(c);
        char drain[4096];
        while (recv(sv[1], drain, sizeof(drain), MSG_DONTWAIT) > 0)
            ;
    }
    shutdown(sv[1], SHUT_WR);
    xs_conn_service(c);         /* end of file: every pending one hears EIO */
    for (unsigned i = 1; i < 4; i++)
        if (replies[i] != 1)
            abort();
    xs_conn_forget(c, &owner);
    xs_conn_close(c);
    close(sv[1]);
    return 0;
}
