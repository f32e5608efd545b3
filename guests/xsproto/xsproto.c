/*
 * xsproto: breaks the xenstore protocol (a request header announcing more
 * than XENSTORE_PAYLOAD_MAX bytes). xenstored drops the guest for it and
 * the VMM must say so in the ring's error field (XENSTORE_ERROR_PROTO) and
 * signal the port, as Xen's docs/misc/xenstore-ring.txt has it.
 */
#include "guest.h"
#include "xs.h"

#include <xen/io/xs_wire.h>

void guest_main(void)
{
    CHECK_EQ("store ring and port", xs_init(), 0);
    CHECK_EQ("a good request first", xs_write("data/x", "1"), 0);
    CHECK_EQ("no error yet", xs_ring_error(), XENSTORE_ERROR_NONE);
    struct xsd_sockmsg h = { .type = XS_READ, .req_id = 77,
                             .len = XENSTORE_PAYLOAD_MAX + 1 };
    xs_send_raw(&h, sizeof(h));
    printk("xsproto: sent a header of %u bytes\n", h.len);
    for (int i = 0; i < 60 && xs_ring_error() == XENSTORE_ERROR_NONE; i++)
        xs_wait_ring();
    CHECK_EQ("ring error", xs_ring_error(), XENSTORE_ERROR_PROTO);
    finish("xsproto");
}
