/* Multi-queue receive: see netback_mq.h. */
#include "netback_mq.h"
#include "net_bytes.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#define PUMP_BATCH 64

static uint32_t mix(uint32_t h, uint32_t x)
{
    h ^= x;
    h *= 0x9e3779b1u;
    return h ^ (h >> 15);
}

uint32_t netback_flow_hash(const uint8_t *f, uint32_t len)
{
    uint32_t h = 0x12345678u;
    if (len < 14)
        return h;
    uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
    const uint8_t *l3 = f + 14;
    uint32_t l3len = len - 14;
    const uint8_t *l4 = NULL;
    uint8_t proto = 0;
    if (type == 0x0800 && l3len >= 20 && (l3[0] >> 4) == 4) {
        unsigned ihl = (l3[0] & 0xfu) * 4u;
        h = mix(mix(h, net_be32(l3 + 12)), net_be32(l3 + 16));
        proto = l3[9];
        if (ihl >= 20 && l3len >= ihl + 4 && !((l3[6] << 8 | l3[7]) & 0x3fff))
            l4 = l3 + ihl;
    } else if (type == 0x86dd && l3len >= 40 && (l3[0] >> 4) == 6) {
        for (unsigned i = 8; i < 40; i += 4)
            h = mix(h, net_be32(l3 + i));
        proto = l3[6];
        if (l3len >= 44)
            l4 = l3 + 40;
    } else {
        return mix(mix(mix(h, net_be32(f)), net_be32(f + 4)), net_be32(f + 8));
    }
    if (l4 && (proto == 6 || proto == 17))
        h = mix(mix(h, proto), net_be32(l4));
    return h;
}

int netback_mq_pump(int tap_fd, const int *fds, unsigned n, uint8_t *buf, unsigned hdr_len,
                    netback_mq_pick_fn *pick, void *opaque, struct netback_mq_stats *st)
{
    for (unsigned k = 0; k < PUMP_BATCH; k++) {
        ssize_t r = read(tap_fd, buf, hdr_len + 65536);
        if (r < 0)
            return 0;               /* EAGAIN, or the tap failed: the owner sees it */
        if ((size_t)r < hdr_len + 14) {
            st->dropped++;
            continue;
        }
        uint32_t len = (uint32_t)(r - hdr_len);
        int picked = pick ? pick(opaque, buf + hdr_len, len) : -1;
        unsigned q = picked >= 0 && (unsigned)picked < n ? (unsigned)picked
                                                         : netback_flow_hash(buf + hdr_len, len) % n;
        if (send(fds[q], buf, (size_t)r, MSG_DONTWAIT) != r)
            st->dropped++;
        else
            st->pumped++;
    }
    return 1;
}
