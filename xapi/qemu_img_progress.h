/* qemu-img's progress output (`-p`: "    (12.34/100%)\r" each time the
 * figure moves), read from a pipe in chunks that can split a figure. */
#ifndef XAPI_QEMU_IMG_PROGRESS_H
#define XAPI_QEMU_IMG_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>

struct qimg_progress {
    char tail[24];      /* the end of the chunks so far: a figure cut in two */
    size_t ntail;
};

/* Feed n bytes of output; true with *pct (0-100) when they complete at
 * least one figure, the last one. Anything else (error text, garbage,
 * figures outside 0-100) is not a figure. */
bool qimg_progress_feed(struct qimg_progress *st, const char *buf, size_t n, double *pct);

#endif
