/* qemu-img's progress figures (qemu_img_progress.h). */
#include "qemu_img_progress.h"

#include <stdlib.h>
#include <string.h>

/* The figure whose "/100%)" ends at s[end], if "(" and a number precede it. */
static bool figure_before(const char *s, size_t end, double *pct)
{
    size_t open = end;
    while (open > 0 && s[open - 1] != '(' && end - open < 16)
        open--;
    if (open == 0 || s[open - 1] != '(')
        return false;
    char num[20];
    size_t len = end - open;
    if (len == 0 || len >= sizeof(num))
        return false;
    memcpy(num, s + open, len);
    num[len] = 0;
    if (strspn(num, "0123456789.") != len)
        return false;
    char *e;
    double v = strtod(num, &e);
    if (*e || v < 0 || v > 100)
        return false;
    *pct = v;
    return true;
}

bool qimg_progress_feed(struct qimg_progress *st, const char *buf, size_t n, double *pct)
{
    static const char mark[] = "/100%)";
    const size_t ml = sizeof(mark) - 1;
    bool found = false;
    /* The tail and the chunk's start, where a figure may span the two. */
    char join[2 * sizeof(st->tail)];
    size_t head = n < sizeof(st->tail) ? n : sizeof(st->tail);
    memcpy(join, st->tail, st->ntail);
    memcpy(join + st->ntail, buf, head);
    size_t jl = st->ntail + head;
    for (size_t i = 0; i + ml <= jl; i++)
        if (!memcmp(join + i, mark, ml) && i + ml > st->ntail)
            found |= figure_before(join, i, pct);
    /* The rest of the chunk (figures wholly within it). */
    for (size_t i = 0; i + ml <= n; i++)
        if (!memcmp(buf + i, mark, ml) && i + ml > head)
            found |= figure_before(buf, i, pct);
    /* Keep the end for the next chunk. */
    if (n >= sizeof(st->tail)) {
        memcpy(st->tail, buf + n - sizeof(st->tail), sizeof(st->tail));
        st->ntail = sizeof(st->tail);
    } else {
        size_t keep = st->ntail + n > sizeof(st->tail) ? sizeof(st->tail) - n : st->ntail;
        memmove(st->tail, st->tail + st->ntail - keep, keep);
        memcpy(st->tail + keep, buf, n);
        st->ntail = keep + n;
    }
    return found;
}
