/* libFuzzer target: reading a whole journal file back, with and without
 * salvage (jreplay.c: torn tails, damage, resynchronisation, groups).
 *
 * The leading byte (shared with the other xenstored targets) picks the
 * file version: bit 0 set, version 2 (records keyed), else version 1. The
 * rest is a list of chunks: u8 control, u16 length, then that many bytes. A chunk
 * with control bit 0 set becomes a record with a correct length and CRC
 * (bit 1: a group whose members are the next chunks up to bit 2's end,
 * each sealed as a group member); a chunk without it is copied raw, so
 * damage and torn tails land between intact records. Checked: both scans
 * keep the tree consistent, the salvaging one applies at least what the
 * strict one did, and the reported offsets lie in the file. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "jreplay.h"
#include "log.h"
#include "tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct img {
    uint8_t *p;
    size_t len, cap;
};

static void put(struct img *m, const void *d, size_t n)
{
    if (m->len + n > m->cap) {
        m->cap = (m->len + n) * 2;
        m->p = realloc(m->p, m->cap);
        if (!m->p)
            abort();
    }
    memcpy(m->p + m->len, d, n);
    m->len += n;
}

static const uint32_t fuzz_key = 0x5eed5eedu;

static void seal(struct img *m, size_t off, const uint32_t *key,
                 uint32_t crc_xor)
{
    uint32_t len = (uint32_t)(m->len - off - JREC_HDR);
    uint32_t crc = jrec_crc(key, m->p + off + JREC_HDR, len) ^ crc_xor;
    memcpy(m->p + off, &len, 4);
    memcpy(m->p + off + 4, &crc, 4);
}

static void dom_cb(void *arg, enum jrec_type type, const struct jdomain_rec *d)
{
    (void)arg, (void)type, (void)d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool once;
    if (!once) {
        /* Damage is logged at error level: not to the fuzzer's output. */
        log_init("fuzz", fopen("/dev/null", "w"), LOG_ERR);
        once = true;
    }
    struct img m = { 0 };
    const uint32_t *key = size && (data[0] & 1) ? &fuzz_key : NULL;
    static const uint8_t hdr[JHDR_LEN] = { 'X', 'S', 'J', '1', 1, 0, 0, 0,
                                           1, 0, 0, 0, 0, 0, 0, 0 };
    put(&m, hdr, sizeof(hdr));
    if (key) {
        m.p[4] = 2;
        put(&m, key, 4);
        put(&m, "\0\0\0\0", 4);
    }
    size_t start = m.len;
    size_t off = 1, group = SIZE_MAX;
    while (size > off && size - off >= 3) {
        uint8_t ctl = data[off];
        size_t n = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
        off += 3;
        if (n > size - off)
            n = size - off;
        if (!(ctl & 1)) {
            put(&m, data + off, n);
        } else if ((ctl & 2) && group == SIZE_MAX) {
            group = m.len;
            put(&m, "\0\0\0\0\0\0\0\0\5", 9);
        } else {
            size_t r = m.len;
            put(&m, "\0\0\0\0\0\0\0\0", 8);
            put(&m, data + off, n);
            seal(&m, r, key, group == SIZE_MAX ? 0 : 0xffffffffu);
        }
        if (group != SIZE_MAX && (ctl & 4)) {
            seal(&m, group, key, 0);
            group = SIZE_MAX;
        }
        off += n;
    }
    struct jscan strict, salvage;
    struct tree a, b;
    tree_init(&a);
    tree_init(&b);
    bool ok = jscan(m.p, m.len, start, key, false, "fuzz", &a, dom_cb, NULL,
                    &strict);
    if (!jscan(m.p, m.len, start, key, true, "fuzz", &b, dom_cb, NULL,
               &salvage))
        abort();                /* salvage always gets through */
    if (tree_check(&a) || tree_check(&b))
        abort();
    if (salvage.applied < strict.applied || strict.end > m.len ||
        salvage.end > m.len || salvage.dropped > m.len ||
        (ok && strict.ndamaged) || (!ok && !strict.ndamaged) ||
        (strict.ndamaged && (strict.bad_off < start ||
                             strict.bad_end > m.len ||
                             strict.bad_off >= strict.bad_end)))
        abort();
    tree_free(&a);
    tree_free(&b);
    free(m.p);
    return 0;
}
