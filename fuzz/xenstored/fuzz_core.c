/* libFuzzer target: whole requests through the daemon's request handler
 * (in memory, no journal). The first input byte picks the connection kind
 * (dom0 or a guest); the rest is the client's byte stream. Every reply must
 * respect XENSTORE_PAYLOAD_MAX, and the tree's invariants (tree_check) must
 * hold afterwards. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

void conn_queue(struct conn *c, uint32_t type, uint32_t req_id,
                uint32_t tx_id, const void *a, size_t alen, const void *b,
                size_t blen)
{
    (void)c, (void)type, (void)req_id, (void)tx_id, (void)a, (void)b;
    if (alen + blen > XENSTORE_PAYLOAD_MAX)
        abort();
}

void conn_kill(struct conn *c, const char *why)
{
    (void)why;
    c->dead = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool once;
    if (!once) {
        log_init("fuzz", NULL, LOG_ERR);
        once = true;
    }
    if (size < 1 || core_init(NULL, NULL) < 0)
        return 0;
    struct conn c;
    memset(&c, 0, sizeof(c));
    c.fd = -1;
    core_conn_init(&c);
    /* A second, watching connection so events have somewhere to go. */
    struct conn w;
    memset(&w, 0, sizeof(w));
    w.fd = -1;
    core_conn_init(&w);
    /* Both are live connections of the daemon's list. */
    c.next = &w;
    w.prev = &c;
    xs->conns = &c;
    static const char wmsg[] = "/\0tok";
    struct xsd_sockmsg wh = { XS_WATCH, 1, 0, sizeof(wmsg) };
    core_handle(&w, &wh, wmsg);
    if (data[0] & 1) {
        static const char att[] = "ring-attach\0" "5";
        struct xsd_sockmsg ah = { XS_CONTROL, 1, 0, sizeof(att) };
        core_handle(&c, &ah, att);
    }
    size_t off = 1;
    while (off < size && !c.dead) {
        struct xsd_sockmsg h;
        size_t ml;
        if (wire_frame(data + off, size - off, &h, &ml) != WIRE_MSG)
            break;
        char *pl = malloc(h.len ? h.len : 1);
        if (!pl)
            abort();
        memcpy(pl, data + off + WIRE_HDR_LEN, h.len);
        core_handle(&c, &h, pl);
        free(pl);
        off += ml;
    }
    const char *bad = tree_check(&xs->tree);
    if (bad) {
        log_err("tree invariant broken: %s", bad);
        abort();
    }
    core_conn_gone(&c);
    core_conn_gone(&w);
    xs->conns = NULL;
    core_fini();
    return 0;
}
