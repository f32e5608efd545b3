/*
 * libFuzzer target: netback's anti-spoofing filter (netback_filter.h).
 * Input: a NUL-terminated `mac` node, a NUL-terminated `ip` node, then the
 * frame a guest sends. Checked: parsing never reads past the strings and
 * gives at most NETBK_FILTER_MAX_NETS networks with canonical masks; the
 * verdict is one of the enum's; a frame that passes starts with the vif's
 * MAC as its source; and the verdict on a frame depends on nothing past
 * its length (the same bytes with other trailing memory judge the same).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netback_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *mac_end = memchr(data, 0, size);
    if (!mac_end)
        return 0;
    size_t off = (size_t)(mac_end - data) + 1;
    const uint8_t *ip_end = memchr(data + off, 0, size - off);
    if (!ip_end)
        return 0;
    const char *mac = (const char *)data, *ip = (const char *)data + off;
    off = (size_t)(ip_end - data) + 1;
    struct netback_filter f;
    if (netback_filter_init(&f, mac, ip) < 0) {
        /* Any MAC will do for judging frames, the addresses as given. */
        if (netback_filter_init(&f, "00:16:3e:00:00:01", NULL) < 0)
            abort();
    }
    if (f.nr_nets > NETBK_FILTER_MAX_NETS)
        abort();
    for (unsigned i = 0; i < f.nr_nets; i++)
        if ((f.nets[i].addr & ~f.nets[i].mask) || (f.nets[i].mask & (~f.nets[i].mask >> 1)))
            abort();            /* not a prefix mask, or bits outside it */
    size_t len = size - off;
    /* The frame in a buffer of its own exact size (ASan sees any overread). */
    uint8_t *frame = malloc(len ? len : 1);
    if (!frame)
        return 0;
    memcpy(frame, data + off, len);
    enum netback_filter_verdict v = netback_filter_judge(&f, frame, (uint32_t)len);
    if ((unsigned)v >= NETBK_FILTER_NR)
        abort();
    if (v == NETBK_FILTER_PASS && (len < 14 || memcmp(frame + 6, f.mac, 6) != 0))
        abort();
    if (!netback_filter_why(v))
        abort();
    free(frame);
    return 0;
}
