/* libFuzzer target: the VMM's control-channel parser (vmm/control/
 * ctl_proto.c) fed a hostile byte stream in pieces, as the server's
 * receive buffer sees it. Every reply the handlers encode must decode
 * again with the toolstack's checks (libxenon/vmm_control.c), and the
 * toolstack's INFO decoder gets the raw bytes too. Input: one byte that
 * sets the piece size, then the stream. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_proto.h"
#include "vmm_control.h"

static void reply_checked(uint16_t type, uint32_t id, int32_t status)
{
    uint8_t msg[CTL_MAX_MESSAGE];
    struct xenon_ctl_hello_reply body = { .version = XENON_CONTRACT_VERSION };
    size_t n = ctl_encode_reply(msg, sizeof(msg), type, id, status, &body, sizeof(body));
    if (!n)
        abort();
    int32_t st;
    const uint8_t *b;
    size_t blen;
    if (vmmctl_decode_reply(msg, n, type & ~XENON_CTL_REPLY, id, &st, &b, &blen) != 0 ||
        st != status || blen != (status ? 0 : sizeof(body)))
        abort();
}

static void on_request(void *o, const struct ctl_request *r)
{
    (void)o;
    if (r->type == XENON_CTL_SHUTDOWN && r->u.shutdown.reason > 5)
        abort();                /* a check let a bad reason through */
    if (r->type == XENON_CTL_DEVICE_ATTACH) {
        const struct xenon_ctl_device_attach *a = &r->u.attach;
        if (a->reserved || (a->kind != XENON_DEV_VBD && a->kind != XENON_DEV_VIF) ||
            (a->flags & ~XENON_DEV_F_ALL) ||
            strnlen(a->backend, sizeof(a->backend)) == sizeof(a->backend) ||
            strncmp(a->backend, "/local/domain/0/backend/", 24) != 0)
            abort();            /* an attach the backends must not see */
    }
    reply_checked(r->type, r->id, 0);
}

static void on_error(void *o, uint16_t type, uint32_t id, int err)
{
    (void)o;
    if (err >= 0)
        abort();
    reply_checked(type & ~XENON_CTL_REPLY, id, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t piece = (size_t)data[0] * 17 + 1;
    data++;
    size--;
    struct vmmctl_info info;
    (void)vmmctl_decode_info(data, size, &info);

    static uint8_t rx[CTL_MAX_MESSAGE];
    size_t rx_len = 0, at = 0;
    struct ctl_sink sink = { on_request, on_error, NULL };
    while (at < size) {
        size_t room = sizeof(rx) - rx_len;
        size_t n = size - at < piece ? size - at : piece;
        if (n > room)
            n = room;
        if (n == 0)
            abort();            /* a full buffer must always be consumable */
        memcpy(rx + rx_len, data + at, n);
        rx_len += n;
        at += n;
        bool close = false;
        size_t used = ctl_consume(rx, rx_len, &sink, &close);
        if (used > rx_len)
            abort();
        if (close)
            return 0;
        memmove(rx, rx + used, rx_len - used);
        rx_len -= used;
    }
    return 0;
}
