/*
 * libFuzzer target: xl's migration handshake as each side reads it
 * (libxenon/migrate_proto.c). The first byte picks the reader's position
 * in the exchange; the rest is what the peer sent. A reader must never
 * take more than its message (nor more than the input), must accept only
 * the exact message, and must say why it refused.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct stream_memsrc ms = { data + 1, size - 1, 0 };
    struct stream_source src;
    stream_source_mem(&src, &ms);
    char err[256];
    uint8_t status;
    /* From the receiver's first message on, as the sender reads them, or
     * the receiver's one read (the go). */
    for (unsigned step = data[0] % 5; step < 5; step++) {
        int rc;
        const char *msg;
        switch (step) {
        case 0: rc = migrate_recv_go(&src, err, sizeof(err)); msg = migrate_go; break;
        case 1: rc = migrate_recv_banner(&src, err, sizeof(err)); msg = migrate_banner; break;
        case 2: rc = migrate_recv_ready(&src, err, sizeof(err)); msg = migrate_ready; break;
        case 3: rc = migrate_recv_report(&src, &status, err, sizeof(err));
                msg = migrate_report_msg; break;
        default: rc = migrate_recv_resume(&src, err, sizeof(err)); msg = migrate_go; break;
        }
        if (ms.off > ms.len)
            abort();
        if (rc) {
            if (!err[0] || (rc != -EPROTO && rc != -ENODATA))
                abort();
            break;
        }
        /* Accepted: the bytes just taken are the message. */
        size_t n = migrate_msg_len(msg) + (step == 3);
        if (ms.off < n || memcmp(ms.data + ms.off - n, msg, migrate_msg_len(msg)))
            abort();
        if (step == 0)
            break;
    }
    return 0;
}
