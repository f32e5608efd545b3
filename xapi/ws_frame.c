/* RFC 6455 frame parser and writer (ws_frame.h). */
#include "ws_frame.h"

#include <string.h>

void ws_parser_init(struct ws_parser *p)
{
    memset(p, 0, sizeof(*p));
    p->in_header = true;
}

/* UTF-8 (RFC 3629) one byte at a time, so a character may straddle
 * frames and reads. false on the first bad byte. */
static bool utf8_step(struct ws_parser *p, uint8_t b)
{
    if (p->u8_need) {
        if (b < p->u8_lo || b > p->u8_hi)
            return false;
        p->u8_need--;
        p->u8_lo = 0x80;
        p->u8_hi = 0xbf;
        return true;
    }
    p->u8_lo = 0x80;
    p->u8_hi = 0xbf;
    if (b < 0x80)
        return true;
    if (b >= 0xc2 && b <= 0xdf) {
        p->u8_need = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
        p->u8_need = 2;
        if (b == 0xe0)
            p->u8_lo = 0xa0;        /* overlong */
        if (b == 0xed)
            p->u8_hi = 0x9f;        /* surrogates */
    } else if (b >= 0xf0 && b <= 0xf4) {
        p->u8_need = 3;
        if (b == 0xf0)
            p->u8_lo = 0x90;        /* overlong */
        if (b == 0xf4)
            p->u8_hi = 0x8f;        /* above U+10FFFF */
    } else {
        return false;
    }
    return true;
}

static bool utf8_valid(const uint8_t *s, size_t n)
{
    struct ws_parser t = { 0 };
    for (size_t i = 0; i < n; i++)
        if (!utf8_step(&t, s[i]))
            return false;
    return t.u8_need == 0;
}

/* Codes a peer may send (RFC 6455 7.4): 1000-1003, 1007-1011, and the
 * ranges for libraries and applications. */
static bool close_code_ok(unsigned c)
{
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1011) || (c >= 3000 && c <= 4999);
}

static int end(struct ws_parser *p, int code)
{
    p->done = code;
    return code;
}

/* The header is whole: check it. 0 or a close code. */
static int header_done(struct ws_parser *p)
{
    uint8_t b0 = p->hdr[0], b1 = p->hdr[1];
    p->fin = b0 & 0x80;
    p->opcode = b0 & 0x0f;
    uint64_t len = b1 & 0x7f;
    size_t at = 2;
    if (len == 126) {
        len = (uint64_t)p->hdr[2] << 8 | p->hdr[3];
        if (len < 126)
            return WS_CLOSE_PROTOCOL;       /* not the minimal encoding */
        at = 4;
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p->hdr[2 + i];
        if (len >> 63 || len <= 0xffff)
            return WS_CLOSE_PROTOCOL;       /* top bit set, or not minimal */
        at = 10;
    }
    memcpy(p->mask, p->hdr + at, 4);
    p->mpos = 0;
    p->left = len;
    switch (p->opcode) {
    case WS_CLOSE: case WS_PING: case WS_PONG:
        if (!p->fin || len > WS_MAX_CONTROL)
            return WS_CLOSE_PROTOCOL;
        p->ctl_len = 0;
        return 0;
    case WS_CONT:
        if (!p->in_message)
            return WS_CLOSE_PROTOCOL;
        break;
    case WS_TEXT: case WS_BINARY:
        if (p->in_message)
            return WS_CLOSE_PROTOCOL;
        p->in_message = true;
        p->text = p->opcode == WS_TEXT;
        p->message_len = 0;
        p->u8_need = 0;
        break;
    default:
        return WS_CLOSE_PROTOCOL;
    }
    if (len > WS_MAX_MESSAGE - p->message_len)
        return WS_CLOSE_TOO_BIG;
    p->message_len += len;
    return 0;
}

/* Header bytes needed so far: 2, then what the length and mask need. */
static size_t header_size(const struct ws_parser *p)
{
    if (p->hlen < 2)
        return 2;
    unsigned l = p->hdr[1] & 0x7f;
    return 2 + (l == 126 ? 2 : l == 127 ? 8 : 0) + 4;
}

/* The current frame's payload has all come. 0 or a close code. */
static int frame_done(struct ws_parser *p, ws_sink sink, void *arg)
{
    if (p->opcode == WS_PING || p->opcode == WS_PONG)
        return sink(arg, p->opcode == WS_PING ? WS_EV_PING : WS_EV_PONG, 0, p->ctl, p->ctl_len);
    if (p->opcode == WS_CLOSE) {
        unsigned code = WS_CLOSE_NO_STATUS;
        if (p->ctl_len == 1)
            return WS_CLOSE_PROTOCOL;
        if (p->ctl_len >= 2) {
            code = (unsigned)p->ctl[0] << 8 | p->ctl[1];
            if (!close_code_ok(code))
                return WS_CLOSE_PROTOCOL;
            if (!utf8_valid(p->ctl + 2, p->ctl_len - 2))
                return WS_CLOSE_BAD_DATA;
        }
        int rc = sink(arg, WS_EV_CLOSE, code, p->ctl_len >= 2 ? p->ctl + 2 : p->ctl,
                      p->ctl_len >= 2 ? p->ctl_len - 2 : 0);
        return rc ? rc : code == WS_CLOSE_NO_STATUS ? WS_CLOSE_NORMAL : (int)code;
    }
    if (p->fin) {
        p->in_message = false;
        if (p->text && p->u8_need)
            return WS_CLOSE_BAD_DATA;       /* ends inside a character */
        if (p->message_len == 0)
            return sink(arg, WS_EV_DATA, 0, NULL, 0);
    }
    return 0;
}

int ws_feed(struct ws_parser *p, const uint8_t *in, size_t n, ws_sink sink, void *arg)
{
    uint8_t chunk[512];
    while (!p->done && n) {
        if (p->in_header) {
            size_t want = header_size(p);
            while (n && p->hlen < want) {
                p->hdr[p->hlen++] = *in++;
                n--;
                if (p->hlen == 2) {
                    if (p->hdr[0] & 0x70)
                        return end(p, WS_CLOSE_PROTOCOL);   /* RSV without an extension */
                    if (!(p->hdr[1] & 0x80))
                        return end(p, WS_CLOSE_PROTOCOL);   /* client frames are masked */
                    want = header_size(p);
                }
            }
            if (p->hlen < want)
                break;
            int rc = header_done(p);
            if (rc)
                return end(p, rc);
            p->in_header = false;
            p->hlen = 0;
        }
        /* Payload: unmasked in pieces of at most sizeof(chunk). */
        size_t k = p->left < n ? (size_t)p->left : n;
        if (k > sizeof(chunk))
            k = sizeof(chunk);
        for (size_t i = 0; i < k; i++)
            chunk[i] = in[i] ^ p->mask[p->mpos++ & 3];
        in += k;
        n -= k;
        p->left -= k;
        if (k) {
            if (p->opcode >= WS_CLOSE) {
                memcpy(p->ctl + p->ctl_len, chunk, k);      /* left <= 125 - ctl_len */
                p->ctl_len += k;
            } else {
                /* What comes before a bad byte is handed out, so the
                 * events do not depend on how the input was cut. */
                size_t good = k;
                for (size_t i = 0; p->text && i < k; i++)
                    if (!utf8_step(p, chunk[i])) {
                        good = i;
                        break;
                    }
                int rc = good ? sink(arg, WS_EV_DATA, 0, chunk, good) : 0;
                if (!rc && good < k)
                    rc = WS_CLOSE_BAD_DATA;
                if (rc)
                    return end(p, rc);
            }
        }
        if (p->left == 0) {
            int rc = frame_done(p, sink, arg);
            p->in_header = true;
            if (rc)
                return end(p, rc);
        }
    }
    return p->done;
}

size_t ws_frame_header(uint8_t out[10], enum ws_opcode op, uint64_t len)
{
    out[0] = (uint8_t)(0x80 | op);
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}
