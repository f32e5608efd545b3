/*
 * net-mq-hostile: a frontend that lies about its queues (io/netif.h
 * multi-queue). Each lie must make netback refuse the connection as
 * Linux's netback does (the backend goes Closing with the reason in its
 * error node) and leave the vif able to connect again:
 *   1. multi-queue-num-queues = 9, over the multi-queue-max-queues offered;
 *   2. multi-queue-num-queues = 2 with the ring keys at the root, none
 *      under queue-0/ or queue-1/ (netback must not fall back to them);
 *   3. multi-queue-num-queues = 0;
 *   4. multi-queue-num-queues = 2 with queue-1/ lacking its event channel.
 * Between the attempts it closes and starts again (Closed, Initialising);
 * at last it connects properly with two queues and a packet on each queue
 * is answered OKAY.
 */
#include "guest.h"
#include "netfront.h"
#include "xs.h"

#include <xen/io/xenbus.h>
#include <xen/sched.h>

static struct netfront qs[2];
static char be[128];

static void sleep_ms(unsigned ms)
{
    struct sched_poll sp = { .nr_ports = 0, .timeout = xen_system_time() + ms * 1000000ull };
    HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_poll, &sp);
}

static int be_state(void)
{
    char p[160], v[16];
    snprintf(p, sizeof(p), "%s/state", be);
    return xs_read(p, v, sizeof(v)) < 0 ? -1 : v[0] - '0';
}

static int wait_be(int want)
{
    for (int i = 0; i < 2500; i++) {
        if (be_state() == want)
            return 1;
        sleep_ms(4);
    }
    printk("net-mq-hostile: backend state %d, wanted %d\n", be_state(), want);
    return 0;
}

static int contains(const char *s, const char *w)
{
    for (; *s; s++) {
        size_t i = 0;
        while (w[i] && s[i] == w[i])
            i++;
        if (!w[i])
            return 1;
    }
    return 0;
}

static void fe_write(const char *key, const char *v)
{
    char p[96];
    snprintf(p, sizeof(p), "device/vif/0/%s", key);
    xs_write(p, v);
}

/* Connect with what is written, expect Closing and the error node. */
static int refused(const char *what, const char *expect)
{
    fe_write("request-rx-copy", "1");
    fe_write("state", "4");
    int ok = wait_be(XenbusStateClosing);
    char p[160], err[160] = "";
    snprintf(p, sizeof(p), "%s/error", be);
    ok &= xs_read(p, err, sizeof(err)) == 0 && contains(err, expect);
    printk("net-mq-hostile: %s: backend error \"%s\"\n", what, err);
    /* Closed, then Initialising: the backend goes back to InitWait. */
    fe_write("state", "6");
    ok &= wait_be(XenbusStateClosed);
    fe_write("state", "1");
    ok &= wait_be(XenbusStateInitWait);
    return ok;
}

void guest_main(void)
{
    printk("net-mq-hostile: %d-bit guest\n", GUEST_BITS);
    if (!shared_info)
        map_shared_info();
    CHECK("xenstore", xs_init() == 0);
    CHECK("a backend", xs_read("device/vif/0/backend", be, sizeof(be)) == 0);
    CHECK("backend in InitWait", wait_be(XenbusStateInitWait));
    char v[16];
    char p[160];
    snprintf(p, sizeof(p), "%s/multi-queue-max-queues", be);
    CHECK("the backend offers more than one queue", xs_read(p, v, sizeof(v)) == 0 && v[0] > '1');

    fe_write("multi-queue-num-queues", "9");
    fe_write("tx-ring-ref", "600");
    fe_write("rx-ring-ref", "601");
    fe_write("event-channel", "5");
    CHECK("9 queues: refused", refused("9 queues", "requested 9 queues"));
    fe_write("multi-queue-num-queues", "2");
    CHECK("2 queues, keys at the root only: refused", refused("keys at the root", "queue 0: no ring refs"));
    fe_write("multi-queue-num-queues", "0");
    CHECK("0 queues: refused", refused("0 queues", "requested 0 queues"));
    fe_write("multi-queue-num-queues", "2");
    fe_write("queue-0/tx-ring-ref", "600");
    fe_write("queue-0/rx-ring-ref", "601");
    fe_write("queue-0/event-channel", "5");
    fe_write("queue-1/tx-ring-ref", "602");
    fe_write("queue-1/rx-ring-ref", "603");
    CHECK("queue-1 without an event channel: refused", refused("queue-1 incomplete", "queue 1: no ring refs"));

    /* And properly, with two queues. */
    int rc = netfront_connect_queues(qs, 2, 0);
    CHECK("then two queues connect", rc == 0);
    if (rc == 0) {
        static uint8_t frame[60];
        memset(frame, 0xff, 6);
        memcpy(frame + 6, qs[0].mac, 6);
        frame[12] = 0x88;                   /* a local experimental ethertype */
        frame[13] = 0xb5;
        for (unsigned i = 0; i < 2; i++) {
            netfront_send(&qs[i], frame, sizeof(frame), 0);
            netif_tx_response_t r;
            CHECK("a packet on each queue answered",
                  netfront_next_tx_response(&qs[i], &r, 2000) == 0 &&
                  r.status == NETIF_RSP_OKAY);
        }
        CHECK_EQ("closed", netfront_close(&qs[0]), 0);
    }
    finish("net-mq-hostile");
}
