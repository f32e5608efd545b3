/*
 * net-hostile: a frontend that sends netback what a well-behaved netfront
 * never would, over a real VMM. Each bad request must be answered as
 * Linux's netback answers it (NETIF_RSP_ERROR for a grant that does not
 * copy, a packet over the slot limit or shorter than an Ethernet header),
 * and a slot across its page must disable the vif (no answer, the reason
 * in the backend's error node) while the VMM goes on: the test beside it
 * pings another guest on the same bridge meanwhile.
 */
#include "guest.h"
#include "netfront.h"
#include "xs.h"

static struct netfront nf;
static uint8_t page[4096] __attribute__((aligned(4096)));
static uint8_t revoked[4096] __attribute__((aligned(4096)));

static netif_tx_request_t req(grant_ref_t ref, uint16_t off, uint16_t flags, uint16_t id,
                              uint16_t size)
{
    netif_tx_request_t r = { .gref = ref, .offset = off, .flags = flags, .id = id,
                             .size = size };
    return r;
}

/* Every response of the n slots just pushed: all `want` (by status). */
static int all_answered(unsigned n, int16_t want, uint16_t first_id)
{
    int ok = 1;
    for (unsigned i = 0; i < n; i++) {
        netif_tx_response_t r;
        if (netfront_next_tx_response(&nf, &r, 2000) < 0)
            return 0;
        ok &= r.status == want && r.id == (uint16_t)(first_id + i);
    }
    return ok;
}

void guest_main(void)
{
    printk("net-hostile: %d-bit guest\n", GUEST_BITS);
    if (!shared_info)
        map_shared_info();
    CHECK("xenstore", xs_init() == 0);
    int rc = netfront_connect(&nf, 0);
    CHECK("netfront connected", rc == 0);
    if (rc < 0)
        finish("net-hostile");
    memset(page, 0xff, 64);
    grant_ref_t good = netfront_grant(page, 1);
    grant_ref_t gone = netfront_grant(revoked, 1);
    netfront_revoke(gone);

    netif_tx_request_t r[24];
    r[0] = req(2000, 0, 0, 100, 60);                    /* beyond the table */
    netfront_push_raw_tx(&nf, r, 1);
    CHECK("a ref beyond the grant table: error", all_answered(1, NETIF_RSP_ERROR, 100));
    r[0] = req(gone, 0, 0, 101, 60);                    /* revoked */
    netfront_push_raw_tx(&nf, r, 1);
    CHECK("a revoked grant: error", all_answered(1, NETIF_RSP_ERROR, 101));
    r[0] = req(good, 0, 0, 102, 10);                    /* shorter than a header */
    netfront_push_raw_tx(&nf, r, 1);
    CHECK("a 10-byte packet: error", all_answered(1, NETIF_RSP_ERROR, 102));
    for (unsigned i = 0; i < 20; i++)                   /* 20 slots: over the limit */
        r[i] = req(good, 0, i < 19 ? NETTXF_more_data : 0, (uint16_t)(110 + i),
                   i == 0 ? 2000 : 100);
    netfront_push_raw_tx(&nf, r, 20);
    CHECK("20 slots: every one an error", all_answered(20, NETIF_RSP_ERROR, 110));
    r[0] = req(good, 0, NETTXF_more_data, 140, 600);   /* wrapped 16-bit size */
    r[1] = req(good, 0, 0, 141, 4000);
    netfront_push_raw_tx(&nf, r, 2);
    CHECK("a slot larger than the packet: error", all_answered(2, NETIF_RSP_ERROR, 140));
    r[0] = req(good, 0, 0, 150, 60);                    /* and a good one still goes */
    netfront_push_raw_tx(&nf, r, 1);
    CHECK("a good packet after them: okay", all_answered(1, NETIF_RSP_OKAY, 150));

    r[0] = req(good, 4000, 0, 160, 200);                /* across the page: fatal */
    netfront_push_raw_tx(&nf, r, 1);
    netif_tx_response_t rsp;
    CHECK("a slot across its page: no answer", netfront_next_tx_response(&nf, &rsp, 1000) < 0);
    char path[192], err[128];
    snprintf(path, sizeof(path), "%s/error", nf.be);
    CHECK("the backend says why it disabled the vif",
          xs_read(path, err, sizeof(err)) == 0 && memcmp(err, "netback: ", 9) == 0);
    printk("net-hostile: backend error: %s\n", err);
    r[0] = req(good, 0, 0, 170, 60);
    netfront_push_raw_tx(&nf, r, 1);
    CHECK("disabled: later packets get no answer",
          netfront_next_tx_response(&nf, &rsp, 1000) < 0);
    finish("net-hostile");
}
