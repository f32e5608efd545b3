/* See ctl_proto.h. Every field of a message is checked here, before any
 * handler sees it. */
#include "ctl_proto.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <xen/sched.h>

enum ctl_frame_result ctl_frame(const uint8_t *buf, size_t len,
                                struct xenon_ctl_hdr *hdr, size_t *total,
                                int *err)
{
    uint32_t magic;
    if (len >= sizeof(magic)) {
        memcpy(&magic, buf, sizeof(magic));
        if (magic != XENON_CTL_MAGIC) {
            *err = -EPROTO;
            return CTL_FRAME_BAD;
        }
    }
    if (len < sizeof(*hdr))
        return CTL_FRAME_MORE;
    memcpy(hdr, buf, sizeof(*hdr));
    if (hdr->version != XENON_CONTRACT_VERSION) {
        *err = -EPROTONOSUPPORT;
        return CTL_FRAME_BAD;
    }
    if (hdr->len > XENON_CTL_MAX_PAYLOAD) {
        *err = -EMSGSIZE;
        return CTL_FRAME_BAD;
    }
    *total = sizeof(*hdr) + hdr->len;
    return len >= *total ? CTL_FRAME_OK : CTL_FRAME_MORE;
}

/* The exact payload size of each request type. */
static int payload_size(uint16_t type)
{
    switch (type) {
    case XENON_CTL_HELLO:
        return sizeof(struct xenon_ctl_hello);
    case XENON_CTL_SHUTDOWN:
        return sizeof(struct xenon_ctl_shutdown);
    case XENON_CTL_DEVICE_ATTACH:
        return sizeof(struct xenon_ctl_device_attach);
    case XENON_CTL_DEVICE_DETACH:
        return sizeof(struct xenon_ctl_device_detach);
    case XENON_CTL_SAVE:
    case XENON_CTL_RESTORE:
        return sizeof(struct xenon_ctl_save);
    case XENON_CTL_PAUSE:
    case XENON_CTL_RESUME:
    case XENON_CTL_UNPAUSE:
    case XENON_CTL_INFO:
    case XENON_CTL_GO:
    case XENON_CTL_STATE_CHECK:
        return 0;
    default:
        return -1;
    }
}

/* The backend path of an attach: NUL-terminated, NUL after it, and a
 * plain xenstore path under dom0's backend directory. */
static bool backend_path_ok(const char *p, size_t cap)
{
    static const char prefix[] = "/local/domain/0/backend/";
    size_t n = strnlen(p, cap);
    if (n == cap || n <= sizeof(prefix) - 1 || strncmp(p, prefix, sizeof(prefix) - 1))
        return false;
    for (size_t i = n; i < cap; i++)
        if (p[i])
            return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '/';
        if (!ok || (c == '/' && p[i + 1] == '/'))
            return false;
    }
    return p[n - 1] != '/';
}

static int check_attach(const struct xenon_ctl_device_attach *a)
{
    if (a->reserved || (a->kind != XENON_DEV_VBD && a->kind != XENON_DEV_VIF) ||
        (a->flags & ~XENON_DEV_F_ALL) || a->devid > INT32_MAX)
        return -EINVAL;
    if ((a->flags & XENON_DEV_F_EMPTY) && !(a->flags & XENON_DEV_F_CDROM))
        return -EINVAL;
    /* An NBD socket is a medium: never with EMPTY. */
    if ((a->flags & XENON_DEV_F_NBD) && (a->flags & XENON_DEV_F_EMPTY))
        return -EINVAL;
    if (a->kind == XENON_DEV_VIF && a->flags)
        return -EINVAL;
    return backend_path_ok(a->backend, sizeof(a->backend)) ? 0 : -EINVAL;
}

int ctl_check_request(const struct xenon_ctl_hdr *hdr, const uint8_t *payload,
                      struct ctl_request *req)
{
    memset(req, 0, sizeof(*req));
    req->type = hdr->type;
    req->id = hdr->id;
    /* A type this VMM serves has a payload size; of the others, those
     * the contract reserves are "not yet" and the rest unknown. */
    int size = payload_size(hdr->type);
    if (size < 0)
        return hdr->type >= XENON_CTL_RESERVED_FIRST &&
               hdr->type <= XENON_CTL_RESERVED_LAST ? -EOPNOTSUPP : -ENOSYS;
    if (hdr->len != (uint32_t)size)
        return -EINVAL;
    switch (hdr->type) {
    case XENON_CTL_HELLO:
        memcpy(&req->u.hello, payload, sizeof(req->u.hello));
        /* Any version is answered (the reply names ours); the header
         * already had to carry ours. */
        if (req->u.hello.reserved)
            return -EINVAL;
        break;
    case XENON_CTL_SHUTDOWN:
        memcpy(&req->u.shutdown, payload, sizeof(req->u.shutdown));
        if (req->u.shutdown.reserved || req->u.shutdown.reason > SHUTDOWN_MAX)
            return -EINVAL;
        break;
    case XENON_CTL_DEVICE_ATTACH:
        memcpy(&req->u.attach, payload, sizeof(req->u.attach));
        return check_attach(&req->u.attach);
    case XENON_CTL_SAVE:
    case XENON_CTL_RESTORE: {
        struct xenon_ctl_save *sv = &req->u.save;
        memcpy(sv, payload, sizeof(*sv));
        if (sv->part != XENON_SAVE_PART_IMAGE && sv->part != XENON_SAVE_PART_DEVICES)
            return -EINVAL;
        /* Live is a way of saving the image, nothing else. */
        uint32_t allowed = hdr->type == XENON_CTL_SAVE && sv->part == XENON_SAVE_PART_IMAGE
                               ? XENON_SAVE_F_LIVE : 0;
        if (sv->flags & ~allowed)
            return -EINVAL;
        /* Only a restore of the devices part names a length. */
        bool wants_len = hdr->type == XENON_CTL_RESTORE &&
                         sv->part == XENON_SAVE_PART_DEVICES;
        if (wants_len ? sv->length > XENON_SAVE_MAX_DEVICES : sv->length != 0)
            return -EINVAL;
        break;
    }
    case XENON_CTL_DEVICE_DETACH:
        memcpy(&req->u.detach, payload, sizeof(req->u.detach));
        if (req->u.detach.kind != XENON_DEV_VBD && req->u.detach.kind != XENON_DEV_VIF)
            return -EINVAL;
        break;
    }
    return 0;
}

size_t ctl_encode_reply(uint8_t *out, size_t cap, uint16_t type, uint32_t id,
                        int32_t status, const void *body, size_t body_len)
{
    if (status != 0)
        body_len = 0;
    size_t len = sizeof(struct xenon_ctl_status) + body_len;
    if (len > XENON_CTL_MAX_PAYLOAD || sizeof(struct xenon_ctl_hdr) + len > cap)
        return 0;
    struct xenon_ctl_hdr h = { .magic = XENON_CTL_MAGIC,
                               .version = XENON_CONTRACT_VERSION,
                               .type = (uint16_t)(type | XENON_CTL_REPLY),
                               .id = id, .len = (uint32_t)len };
    struct xenon_ctl_status st = { .status = status };
    memcpy(out, &h, sizeof(h));
    memcpy(out + sizeof(h), &st, sizeof(st));
    if (body_len)
        memcpy(out + sizeof(h) + sizeof(st), body, body_len);
    return sizeof(h) + len;
}

size_t ctl_encode_notice(uint8_t *out, size_t cap, uint16_t type)
{
    struct xenon_ctl_hdr h = { .magic = XENON_CTL_MAGIC,
                               .version = XENON_CONTRACT_VERSION,
                               .type = type };
    if (cap < sizeof(h))
        return 0;
    memcpy(out, &h, sizeof(h));
    return sizeof(h);
}

size_t ctl_consume(const uint8_t *buf, size_t len, const struct ctl_sink *sink,
                   bool *close)
{
    size_t used = 0;
    *close = false;
    for (;;) {
        struct xenon_ctl_hdr hdr;
        size_t total = 0;
        int err = 0;
        enum ctl_frame_result r = ctl_frame(buf + used, len - used, &hdr, &total, &err);
        if (r == CTL_FRAME_MORE)
            return used;
        if (r == CTL_FRAME_BAD) {
            /* Name the request when its header could be read. */
            bool whole = len - used >= sizeof(hdr) && err != -EPROTO;
            sink->error(sink->opaque, whole ? hdr.type : 0, whole ? hdr.id : 0, err);
            *close = true;
            return len;
        }
        struct ctl_request req;
        int rc = ctl_check_request(&hdr, buf + used + sizeof(hdr), &req);
        if (rc < 0)
            sink->error(sink->opaque, hdr.type, hdr.id, rc);
        else
            sink->request(sink->opaque, &req);
        used += total;
    }
}
