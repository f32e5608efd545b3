/* libFuzzer: the WebSocket frame parser (what a console client sends
 * xenon-xapi after the upgrade). The first byte picks how the rest is cut
 * into reads; the parse must give the same events, payload bytes and end
 * as one read of it all and as one byte at a time, and never hand out a
 * data piece or control payload above its bound. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct trace {
    uint64_t h;
    uint64_t bytes;
    unsigned events;
};

static void mix(struct trace *t, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        t->h = (t->h ^ p[i]) * 0x100000001b3ull;
}

/* Data pieces are hashed as one stream (their cuts depend on the reads);
 * every other event with its kind and payload. */
static int sink(void *arg, enum ws_event ev, unsigned code, const uint8_t *d, size_t n)
{
    struct trace *t = arg;
    if (ev == WS_EV_DATA) {
        if (n > 512)
            abort();
        mix(t, d, n);
        t->bytes += n;
        return 0;
    }
    if (n > WS_MAX_CONTROL)
        abort();
    uint8_t k[3] = { (uint8_t)(0xf0 | ev), (uint8_t)(code >> 8), (uint8_t)code };
    mix(t, k, 3);
    mix(t, d, n);
    t->events++;
    return 0;
}

static int run(const uint8_t *d, size_t n, size_t step, struct trace *t)
{
    struct ws_parser p;
    ws_parser_init(&p);
    memset(t, 0, sizeof(*t));
    t->h = 0xcbf29ce484222325ull;
    int rc = 0;
    for (size_t at = 0; at < n && !rc; at += step)
        rc = ws_feed(&p, d + at, n - at < step ? n - at : step, sink, t);
    if (rc && ws_feed(&p, (const uint8_t *)"x", 1, sink, t) != rc)
        abort();                    /* ended stays ended */
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = data[0] ? data[0] : 1;
    data++;
    size--;
    struct trace a, b, c;
    int ra = run(data, size, size ? size : 1, &a);
    int rb = run(data, size, step, &b);
    int rc = run(data, size, 1, &c);
    if (ra != rb || ra != rc || a.h != b.h || a.h != c.h || a.bytes != b.bytes ||
        a.events != c.events)
        abort();
    if (a.bytes > size)
        abort();
    uint8_t h[10];
    size_t hn = ws_frame_header(h, WS_BINARY, size);
    if (hn != (size < 126 ? 2u : size <= 0xffff ? 4u : 10u))
        abort();
    return 0;
}
