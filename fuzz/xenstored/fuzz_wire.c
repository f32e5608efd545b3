/* libFuzzer target: the xs_wire framing and payload validators (wire.c,
 * perms.c). The input is a byte stream as a client would send it, after
 * one leading byte that is ignored (it lets this target share its seed
 * corpus with fuzz_core.c, which uses that byte). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perms.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 1;
    while (off < size) {
        struct xsd_sockmsg h;
        size_t ml;
        enum wire_frame_status st = wire_frame(data + off, size - off, &h, &ml);
        if (st != WIRE_MSG)
            break;
        if (ml < WIRE_HDR_LEN || ml > size - off ||
            ml - WIRE_HDR_LEN > XENSTORE_PAYLOAD_MAX)
            abort();
        /* Copy so ASan catches any read past the payload. */
        size_t len = h.len;
        char *pl = malloc(len ? len : 1);
        if (!pl)
            abort();
        memcpy(pl, data + off + WIRE_HDR_LEN, len);
        const char *argv[16];
        unsigned n = wire_split(pl, len, argv, 16);
        for (unsigned i = 0; i < n && i < 16; i++) {
            struct xs_perm p;
            unsigned long v;
            if (wire_valid_path(argv[i], XENSTORE_REL_PATH_MAX) &&
                argv[i][0] != '/')
                abort(); /* valid paths are absolute */
            (void)wire_valid_special(argv[i]);
            if (perm_parse(argv[i], &p)) {
                char buf[32];
                if (!perms_format(&p, 1, buf, sizeof(buf)))
                    abort();
            }
            (void)wire_parse_uint(argv[i], 65535, &v);
        }
        if (wire_onearg(pl, len) && n != 1)
            abort();
        (void)wire_typename(h.type);
        free(pl);
        off += ml;
    }
    return 0;
}
