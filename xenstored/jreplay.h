/* jreplay: reading journal and snapshot files back (untrusted input).
 *
 * A file is a 16-byte header and then records: u32 body length, u32 CRC-32
 * of the body, body = u8 type + fields (see journal.h). jscan() applies the
 * intact records of such a file to a tree and says what it found beside
 * them:
 *  - a torn tail: a bad record with no intact record after it. That is
 *    what an interrupted append leaves (it was never acknowledged); the
 *    caller cuts the file there.
 *  - damage: a bad stretch with intact records after it (a flipped byte,
 *    a bad sector). Nothing after it is applied unless salvaging, when the
 *    scan skips to the next intact record and goes on. Either way every
 *    damaged stretch is logged at error level with its offsets.
 * An intact record is one whose length fits the file and whose CRC
 * matches; after a bad record the next one is looked for at every later
 * byte offset (bounded work: a hostile file cannot make this quadratic).
 */
#ifndef XENSTORED_JREPLAY_H
#define XENSTORED_JREPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.h"

#define JHDR_LEN 16     /* version 1 */
#define JHDR2_LEN 24    /* version 2 (with the key) */
#define JREC_HDR 8
#define JREC_MAX (64u * 1024 * 1024)

struct jscan {
    size_t end;         /* end of the last intact record (torn tail cut) */
    size_t applied;     /* records applied */
    size_t ndamaged;    /* damaged stretches */
    size_t bad_off, bad_end;    /* the first damaged stretch */
    size_t dropped;     /* bytes in damaged stretches */
    size_t intact_after;        /* intact records after the first damage */
    bool torn;          /* a torn tail was cut at end */
};

/* Scan data[start..len) (see above); key as for jrec_crc. name is the
 * file's name for the log.
 * Returns true unless damage was found without salvage (then nothing
 * after the first damage was applied). */
bool jscan(const uint8_t *data, size_t len, size_t start,
           const uint32_t *key, bool salvage, const char *name, struct tree *t, journal_domain_cb cb, void *arg,
           struct jscan *r);

#endif
