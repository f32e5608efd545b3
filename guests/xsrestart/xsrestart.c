/*
 * xsrestart: keeps writing, reading, committing transactions and watching
 * data/go while the host restarts xenon-xenstored under it (SIGKILL, same
 * data directory). Every answer must be one Xen's xenstored could give:
 *  - a write is acknowledged, or gets EAGAIN (its fate unknown: the read
 *    that follows shows either value);
 *  - a read returns what was last written;
 *  - in a transaction, a read gets the transaction's write or EAGAIN, and
 *    the commit succeeds (the value is then there) or gets EAGAIN;
 *  - its watch survives: after the restarts the host writes data/go and
 *    the guest must see the event and read "go";
 *  - a transaction open across the first restart (the host restarts
 *    xenstored when told, then writes data/restarted): a read in it gets
 *    EAGAIN, a write OK, the commit EAGAIN, nothing of it is made, and the
 *    next transaction gets another id.
 */
#include "guest.h"
#include "xs.h"

#include <xen/io/xs_wire.h>

static unsigned long wrong, eagain, tx_retries;

static int is_eagain(uint32_t t, const char *r)
{
    return t == XS_ERROR && strcmp(r, "EAGAIN") == 0;
}

static void bad(const char *what, uint32_t t, const char *r)
{
    wrong++;
    printk("xsrestart: wrong answer to %s: type %u '%s'\n", what, t, r);
}

static uint32_t parse_u32(const char *s)
{
    uint32_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        v = v * 10 + (uint32_t)(*s - '0');
    return v;
}

/* One transaction writing data/t = v; the value now in data/t, checked,
 * is left in cur. */
static void transaction(const char *v, char *cur, size_t size)
{
    char r[128];
    uint32_t t = xs_request(XS_TRANSACTION_START, 0, "", NULL, 0, r, sizeof(r));
    if (t != XS_TRANSACTION_START) {
        bad("transaction start", t, r);
        return;
    }
    uint32_t tx = parse_u32(r);
    t = xs_request(XS_WRITE, tx, "data/t", v, 1, r, sizeof(r));
    if (t != XS_WRITE)
        bad("write in a transaction", t, r);
    t = xs_request(XS_READ, tx, "data/t", NULL, 0, r, sizeof(r));
    if (!(t == XS_READ && strcmp(r, v) == 0) && !is_eagain(t, r))
        bad("read in a transaction", t, r);
    t = xs_request(XS_TRANSACTION_END, tx, "T", NULL, 0, r, sizeof(r));
    int committed = t == XS_TRANSACTION_END;
    if (!committed && !is_eagain(t, r))
        bad("commit", t, r);
    if (!committed)
        tx_retries++;
    t = xs_request(XS_READ, 0, "data/t", NULL, 0, r, sizeof(r));
    if (t != XS_READ || (strcmp(r, v) != 0 && (committed || strcmp(r, cur) != 0)))
        bad("read after a commit", t, r);
    else
        snprintf(cur, size, "%s", r);
}

void guest_main(void)
{
    CHECK_EQ("store ring and port", xs_init(), 0);
    char r[128], v[32], cur[32] = "v0", tcur[32] = "v0";
    CHECK_EQ("first write", xs_write("data/k", cur), 0);
    CHECK_EQ("first transaction value", xs_write("data/t", tcur), 0);
    CHECK_EQ("watch data/go", xs_watch("data/go", "go"), 0);

    /* A transaction open across the first restart: it ends as a
     * conflicting one does under Xen, and a new one gets a new id. */
    uint32_t rt = xs_request(XS_TRANSACTION_START, 0, "", NULL, 0, r, sizeof(r));
    uint32_t tx = rt == XS_TRANSACTION_START ? parse_u32(r) : 0;
    CHECK("transaction before the restart", tx != 0);
    CHECK_EQ("write in it", xs_request(XS_WRITE, tx, "data/t", "lost", 1, r, sizeof(r)), XS_WRITE);
    printk("xsrestart: in a transaction\n");
    while (xs_read("data/restarted", r, sizeof(r)) < 0)
        xs_wait_ring();         /* until the host says it restarted xenstored */
    rt = xs_request(XS_READ, tx, "data/t", NULL, 0, r, sizeof(r));
    CHECK("read in the ended transaction: EAGAIN", is_eagain(rt, r));
    CHECK_EQ("write in it: OK", xs_request(XS_WRITE, tx, "data/t", "lost2", 1, r, sizeof(r)), XS_WRITE);
    rt = xs_request(XS_TRANSACTION_END, tx, "T", NULL, 0, r, sizeof(r));
    CHECK("its commit: EAGAIN", is_eagain(rt, r));
    CHECK("nothing of it was made", xs_read("data/t", r, sizeof(r)) == 0 && strcmp(r, tcur) == 0);
    rt = xs_request(XS_TRANSACTION_START, 0, "", NULL, 0, r, sizeof(r));
    uint32_t tx2 = rt == XS_TRANSACTION_START ? parse_u32(r) : 0;
    CHECK("a new transaction, with a new id", tx2 != 0 && tx2 != tx);
    CHECK_EQ("its commit", xs_request(XS_TRANSACTION_END, tx2, "T", NULL, 0, r, sizeof(r)), XS_TRANSACTION_END);

    printk("xsrestart: looping\n");
    unsigned long i, ops = 0;
    int go = 0;
    for (i = 1; !go && i < 1000000; i++) {
        snprintf(v, sizeof(v), "v%lu", i);
        uint32_t t = xs_request(XS_WRITE, 0, "data/k", v, 1, r, sizeof(r));
        int written = t == XS_WRITE;
        if (!written && is_eagain(t, r))
            eagain++;
        else if (!written)
            bad("write", t, r);
        t = xs_request(XS_READ, 0, "data/k", NULL, 0, r, sizeof(r));
        if (t != XS_READ || (strcmp(r, v) != 0 && (written || strcmp(r, cur) != 0)))
            bad("read", t, r);
        else
            snprintf(cur, sizeof(cur), "%s", r);
        ops += 2;
        if (i % 8 == 0) {
            transaction(v, tcur, sizeof(tcur));
            ops += 5;
        }
        if (xs_has_event("data/go")) {
            xs_forget_events();
            t = xs_request(XS_READ, 0, "data/go", NULL, 0, r, sizeof(r));
            go = t == XS_READ && strcmp(r, "go") == 0;
            ops++;
        }
        if (wrong > 10)
            break;
    }
    printk("xsrestart: %lu requests, %lu writes answered EAGAIN, %lu commits "
           "answered EAGAIN\n", ops, eagain, tx_retries);
    CHECK("no wrong answer", wrong == 0);
    CHECK("the watch fired after the restarts and data/go reads go", go);
    finish("xsrestart");
}
