/*
 * The control channel's wire format, VMM side: framing and checking of
 * requests, encoding of replies and notices. Pure functions over byte
 * buffers (no sockets, no domain), so unit tests and the libFuzzer target
 * (fuzz/vmm/fuzz_ctl.c) drive exactly what the server runs. The messages
 * themselves are defined in include/xenon/contract.h.
 */
#ifndef XENON_CTL_PROTO_H
#define XENON_CTL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xenon/contract.h"

/* The largest message either side sends or accepts. */
#define CTL_MAX_MESSAGE (sizeof(struct xenon_ctl_hdr) + XENON_CTL_MAX_PAYLOAD)

/* A request that passed every check. */
struct ctl_request {
    uint16_t type;                  /* XENON_CTL_HELLO ... XENON_CTL_GO */
    uint32_t id;
    union {
        struct xenon_ctl_hello hello;
        struct xenon_ctl_shutdown shutdown;
        struct xenon_ctl_device_attach attach;
        struct xenon_ctl_device_detach detach;
        struct xenon_ctl_save save;         /* SAVE, RESTORE */
    } u;
};

enum ctl_frame_result {
    CTL_FRAME_MORE,     /* no whole message yet: read more */
    CTL_FRAME_OK,       /* a whole message starts the buffer */
    CTL_FRAME_BAD,      /* the header is unacceptable: reply *err, close */
};

/* Frame the message at the start of buf[0..len). CTL_FRAME_OK fills *hdr
 * and *total (header + payload bytes). CTL_FRAME_BAD sets *err: -EPROTO
 * (bad magic), -EPROTONOSUPPORT (another contract version), -EMSGSIZE
 * (payload above XENON_CTL_MAX_PAYLOAD). A bad magic is reported as soon
 * as its 4 bytes are there. */
enum ctl_frame_result ctl_frame(const uint8_t *buf, size_t len,
                                struct xenon_ctl_hdr *hdr, size_t *total,
                                int *err);

/* Check a framed request (payload hdr->len bytes): 0 with *req filled, or
 * the -errno its error reply carries: -ENOSYS (unknown type, a reply or a
 * notice sent to the VMM), -EOPNOTSUPP (reserved for save, migrate),
 * -EINVAL (wrong payload size, nonzero reserved field, a value out of
 * range; for DEVICE_ATTACH also an unknown kind or flag, EMPTY without
 * CDROM or on a vif, a backend path that is not NUL-terminated and
 * NUL-padded or not under /local/domain/0/backend/). */
int ctl_check_request(const struct xenon_ctl_hdr *hdr, const uint8_t *payload,
                      struct ctl_request *req);

/* Encode a reply to request `type`/`id`: header, status, then `body`
 * (only when status is 0). Bytes written, or 0 when it does not fit `cap`
 * or the body is too large. */
size_t ctl_encode_reply(uint8_t *out, size_t cap, uint16_t type, uint32_t id,
                        int32_t status, const void *body, size_t body_len);

/* Encode a notice (no payload). Bytes written, or 0 when cap is short. */
size_t ctl_encode_notice(uint8_t *out, size_t cap, uint16_t type);

/* What the server does with each message of a stream. */
struct ctl_sink {
    /* A valid request; the handler writes its reply. */
    void (*request)(void *opaque, const struct ctl_request *req);
    /* A request that failed ctl_check_request or ctl_frame: reply with
     * `err` to `type`/`id` (both 0 when the header was unreadable). */
    void (*error)(void *opaque, uint16_t type, uint32_t id, int err);
    void *opaque;
};

/* Feed the received bytes buf[0..len): every whole message is taken apart
 * and handed to `sink`, in order. Returns the bytes consumed (the caller
 * keeps the rest for the next read); sets *close when the stream must end
 * (a bad header: after its error was reported). */
size_t ctl_consume(const uint8_t *buf, size_t len, const struct ctl_sink *sink,
                   bool *close);

#endif
