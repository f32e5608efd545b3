#include "byteq.h"
#include "lazy_pages.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int byteq_init(struct byteq *q, size_t cap)
{
    /* A queue mostly holds little: only the pages it has used are resident
     * (it restarts at the front whenever it empties). */
    *q = (struct byteq){ .buf = lazy_pages_alloc(cap), .cap = cap };
    return q->buf ? 0 : -ENOMEM;
}

void byteq_fini(struct byteq *q)
{
    lazy_pages_free(q->buf, q->cap);
    *q = (struct byteq){ 0 };
}

size_t byteq_push(struct byteq *q, const void *data, size_t n)
{
    const uint8_t *p = data;
    if (n > q->cap - q->len)
        n = q->cap - q->len;
    for (size_t done = 0; done < n;) {
        size_t at = (q->head + q->len) % q->cap;
        size_t k = q->cap - at < n - done ? q->cap - at : n - done;
        memcpy(q->buf + at, p + done, k);
        q->len += k;
        done += k;
    }
    return n;
}

void byteq_push_latest(struct byteq *q, const void *data, size_t n)
{
    const uint8_t *p = data;
    if (n > q->cap) {
        p += n - q->cap;
        n = q->cap;
    }
    size_t excess = q->len + n > q->cap ? q->len + n - q->cap : 0;
    q->head = (q->head + excess) % q->cap;
    q->len -= excess;
    byteq_push(q, p, n);
}

size_t byteq_pop(struct byteq *q, void *out, size_t n)
{
    uint8_t *o = out;
    if (n > q->len)
        n = q->len;
    for (size_t done = 0; done < n;) {
        size_t k = q->cap - q->head < n - done ? q->cap - q->head : n - done;
        memcpy(o + done, q->buf + q->head, k);
        q->head = (q->head + k) % q->cap;
        q->len -= k;
        done += k;
    }
    if (!q->len)
        q->head = 0;
    return n;
}
