/* libFuzzer target: journal replay. The input (after the leading byte the
 * xenstored targets ignore or use) is a sequence of records as they appear
 * in a journal file (u32 length, u32 CRC, body) but with the CRC not
 * checked, so the fuzzer reaches the record parser; every record is
 * applied to a tree, which must stay consistent (tree_check). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "log.h"
#include "tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void dom_cb(void *arg, enum jrec_type type, const struct jdomain_rec *d)
{
    (void)arg, (void)type, (void)d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool once;
    if (!once) {
        log_init("fuzz", NULL, LOG_ERR);
        once = true;
    }
    struct tree t;
    tree_init(&t);
    size_t off = 1;
    while (size > off && size - off >= 8) {
        uint32_t len;
        memcpy(&len, data + off, 4);
        off += 8;
        if (len > size - off)
            break;
        uint8_t *body = malloc(len ? len : 1);
        if (!body)
            abort();
        memcpy(body, data + off, len);
        (void)journal_apply(body, len, &t, dom_cb, NULL);
        free(body);
        off += len;
    }
    if (tree_check(&t))
        abort();
    tree_free(&t);
    return 0;
}
