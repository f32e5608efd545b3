/*
 * xenstore: a guest speaking xs_wire on its xenstore ring, relayed by the
 * VMM to xenon-xenstored. It writes, reads, lists, watches, uses a
 * transaction, hits permission and existence errors, and waits for a key
 * the host writes with Debian's xenstore-write while it watches.
 */
#include "guest.h"
#include "xs.h"

#include <xen/hvm/params.h>
#include <xen/io/xs_wire.h>

void guest_main(void)
{
    CHECK_EQ("store ring and port", xs_init(), 0);
    char r[512];

    CHECK_EQ("write", xs_request(XS_WRITE, 0, "data/greeting", "hello from the ring", 1, r, sizeof(r)), XS_WRITE);
    CHECK_EQ("read", xs_request(XS_READ, 0, "data/greeting", NULL, 0, r, sizeof(r)), XS_READ);
    CHECK("read value", strcmp(r, "hello from the ring") == 0);
    CHECK_EQ("read missing", xs_request(XS_READ, 0, "data/missing", NULL, 0, r, sizeof(r)), XS_ERROR);
    CHECK("ENOENT", strcmp(r, "ENOENT") == 0);
    CHECK_EQ("absolute path", xs_request(XS_READ, 0, "/local/domain/1/data/greeting", NULL, 0, r, sizeof(r)), XS_READ);
    CHECK_EQ("directory", xs_request(XS_DIRECTORY, 0, "data", NULL, 0, r, sizeof(r)), XS_DIRECTORY);
    CHECK("directory lists greeting", strcmp(r, "greeting") == 0);
    CHECK_EQ("write outside our home", xs_request(XS_WRITE, 0, "/local/domain/0/intruder", "x", 1, r, sizeof(r)), XS_ERROR);
    CHECK("EACCES", strcmp(r, "EACCES") == 0);

    /* A transaction commits atomically. */
    CHECK_EQ("transaction start", xs_request(XS_TRANSACTION_START, 0, "", NULL, 0, r, sizeof(r)), XS_TRANSACTION_START);
    uint32_t tx = 0;
    for (const char *c = r; *c >= '0' && *c <= '9'; c++)
        tx = tx * 10 + (uint32_t)(*c - '0');
    CHECK("transaction id", tx != 0);
    xs_request(XS_WRITE, tx, "data/in-tx", "committed", 1, r, sizeof(r));
    CHECK_EQ("invisible before commit", xs_request(XS_READ, 0, "data/in-tx", NULL, 0, r, sizeof(r)), XS_ERROR);
    CHECK_EQ("transaction end", xs_request(XS_TRANSACTION_END, tx, "T", NULL, 0, r, sizeof(r)), XS_TRANSACTION_END);
    CHECK("visible after commit", xs_request(XS_READ, 0, "data/in-tx", NULL, 0, r, sizeof(r)) == XS_READ &&
                                  strcmp(r, "committed") == 0);

    /* Watches: the first event fires at once; then the host writes. */
    CHECK_EQ("watch", xs_request(XS_WATCH, 0, "data/from-host", "tok", 0, r, sizeof(r)), XS_WATCH);
    xs_wait_event("data/from-host", 100000);
    CHECK("watch fires at once", xs_has_event("data/from-host"));
    xs_forget_events();
    printk("xenstore: waiting for the host to write data/from-host\n");
    /* Events carry the path as the watch was set: relative here. */
    xs_wait_event("data/from-host", 2000000);
    CHECK("watch event for the host's write", xs_has_event("data/from-host"));
    CHECK("host's value", xs_request(XS_READ, 0, "data/from-host", NULL, 0, r, sizeof(r)) == XS_READ &&
                          strcmp(r, "written by the host") == 0);
    finish("xenstore");
}
