/* Unit tests for netback's control ring messages and hash (netback_ctrl.h):
 * the Toeplitz hash against the published RSS verification values, every
 * message's answers, and the queue a frame is steered to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "netback_ctrl.h"

/* The RSS verification key (Microsoft's "Verifying the RSS Hash
 * Calculation"), and two of its IPv4 cases. */
static const uint8_t KEY[40] = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

static void toeplitz_matches_the_rss_vectors(void **state)
{
    (void)state;
    /* src 66.9.149.187:2794, dst 161.142.100.80:1766 */
    const uint8_t a[12] = { 66, 9, 149, 187, 161, 142, 100, 80, 2794 >> 8, 2794 & 255,
                            1766 >> 8, 1766 & 255 };
    assert_int_equal(netback_toeplitz(KEY, 40, a, 8), 0x323e8fc2);
    assert_int_equal(netback_toeplitz(KEY, 40, a, 12), 0x51ccc178);
    /* src 199.92.111.2:14230, dst 65.69.140.83:4739 */
    const uint8_t b[12] = { 199, 92, 111, 2, 65, 69, 140, 83, 14230 >> 8, 14230 & 255,
                            4739 >> 8, 4739 & 255 };
    assert_int_equal(netback_toeplitz(KEY, 40, b, 8), 0xd718262a);
    assert_int_equal(netback_toeplitz(KEY, 40, b, 12), 0xc626b0ea);
    assert_int_equal(netback_toeplitz(KEY, 0, a, 12), 0);      /* no key: zero */
}

/* The fake grant table: refs 1 and 2 copy from these, others fail. */
static uint8_t page1[4096], page2[4096];
static int copies;

static int fake_copy(void *opaque, grant_ref_t ref, void *buf, uint16_t len)
{
    (void)opaque;
    copies++;
    if ((ref != 1 && ref != 2) || len > 4096)
        return -1;
    memcpy(buf, ref == 1 ? page1 : page2, len);
    return 0;
}

static uint32_t req(struct netback_hash *h, unsigned nq, uint16_t type, uint32_t d0,
                    uint32_t d1, uint32_t d2, uint32_t *data)
{
    struct xen_netif_ctrl_request r = { .id = 0x4242, .type = type, .data = { d0, d1, d2 } };
    struct xen_netif_ctrl_response rsp;
    memset(&rsp, 0xee, sizeof(rsp));
    netback_ctrl_handle(h, nq, &r, &rsp, fake_copy, NULL);
    assert_int_equal(rsp.id, 0x4242);
    assert_int_equal(rsp.type, type);
    if (data)
        *data = rsp.data;
    return rsp.status;
}

static void messages_as_netback_answers_them(void **state)
{
    (void)state;
    struct netback_hash h;
    memset(&h, 0, sizeof(h));
    uint32_t d;
    enum { OK = XEN_NETIF_CTRL_STATUS_SUCCESS, NS = XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED,
           INV = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER,
           OVF = XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW };
    assert_int_equal(req(&h, 2, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, NULL), NS);
    assert_int_equal(req(&h, 2, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, 1, 0, 0, NULL), NS);
    assert_int_equal(req(&h, 2, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, 2, 0, 0, NULL), INV);
    assert_int_equal(req(&h, 2, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
                         XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0, NULL), OK);
    assert_int_equal(req(&h, 2, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, &d), OK);
    assert_int_equal(d, NETBK_HASH_FLAGS);
    assert_int_equal(req(&h, 2, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, 1u << 4, 0, 0, NULL), INV);
    assert_int_equal(req(&h, 2, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
                         XEN_NETIF_CTRL_HASH_TYPE_IPV4 | XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP, 0, 0,
                         NULL), OK);
    memcpy(page1, KEY, 40);
    assert_int_equal(req(&h, 2, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 1, 41, 0, NULL), OVF);
    assert_int_equal(req(&h, 2, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 7, 40, 0, NULL), INV);
    assert_int_equal(req(&h, 2, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 1, 40, 0, NULL), OK);
    assert_memory_equal(h.key, KEY, 40);
    assert_int_equal(req(&h, 2, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 1, 4, 0, NULL), OK);
    assert_memory_equal(h.key, KEY, 4);
    assert_int_equal(h.key[4], 0);                  /* the rest is zero */
    assert_int_equal(req(&h, 2, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 1, 40, 0, NULL), OK);
    assert_int_equal(req(&h, 2, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0, &d), OK);
    assert_int_equal(d, NETBK_HASH_MAPPING_MAX);
    assert_int_equal(req(&h, 2, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 129, 0, 0, NULL),
                     INV);
    assert_int_equal(req(&h, 2, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 8, 0, 0, NULL), OK);
    uint32_t *m = (uint32_t *)page2;
    for (int i = 0; i < 8; i++)
        m[i] = 1;
    assert_int_equal(req(&h, 2, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 2, 8, 1, NULL), INV);
    assert_int_equal(req(&h, 2, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 2, 1, 0xffffffffu, NULL),
                     INV);                          /* off + len wraps */
    assert_int_equal(req(&h, 2, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 9, 8, 0, NULL), INV);
    m[3] = 2;                                       /* a queue that does not exist */
    assert_int_equal(req(&h, 2, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 2, 8, 0, NULL), INV);
    assert_int_equal(h.mapping[0], 0);              /* unchanged */
    m[3] = 1;
    assert_int_equal(req(&h, 2, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 2, 8, 0, NULL), OK);
    assert_int_equal(h.mapping[7], 1);
    assert_int_equal(req(&h, 2, XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE, 0, 0, 0, NULL), NS);
    assert_int_equal(req(&h, 2, XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING, 1, 1, 0, NULL), NS);
    assert_int_equal(req(&h, 2, XEN_NETIF_CTRL_TYPE_INVALID, 0, 0, 0, NULL), NS);
    assert_int_equal(req(&h, 2, 0xffff, 0, 0, 0, NULL), NS);
}

/* An IPv4 TCP frame: src 66.9.149.187:2794 -> 161.142.100.80:1766. */
static void tcp_frame(uint8_t *f)
{
    memset(f, 0, 60);
    f[12] = 0x08;
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    ip[9] = 6;
    const uint8_t addrs[8] = { 66, 9, 149, 187, 161, 142, 100, 80 };
    memcpy(ip + 12, addrs, 8);
    ip[20] = 2794 >> 8;
    ip[21] = 2794 & 255;
    ip[22] = 1766 >> 8;
    ip[23] = 1766 & 255;
}

static void frames_steered_by_the_settings(void **state)
{
    (void)state;
    struct netback_hash h;
    memset(&h, 0, sizeof(h));
    uint8_t f[60];
    tcp_frame(f);
    assert_int_equal(netback_hash_queue(&h, 4, f, 60), -1);    /* NONE: ours */
    h.alg = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
    memcpy(h.key, KEY, 40);
    assert_int_equal(netback_hash_queue(&h, 4, f, 60), -1);    /* no flags */
    h.flags = XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP;
    assert_int_equal(netback_hash_queue(&h, 4, f, 60), (int)(0x51ccc178u % 4));
    h.flags = XEN_NETIF_CTRL_HASH_TYPE_IPV4;
    assert_int_equal(netback_hash_queue(&h, 4, f, 60), (int)(0x323e8fc2u % 4));
    h.size = 8;
    for (int i = 0; i < 8; i++)
        h.mapping[i] = 3;
    assert_int_equal(netback_hash_queue(&h, 4, f, 60), 3);
    assert_int_equal(netback_hash_queue(&h, 3, f, 60), -1);    /* beyond the queues */
    h.flags = XEN_NETIF_CTRL_HASH_TYPE_IPV6;
    assert_int_equal(netback_hash_queue(&h, 4, f, 60), -1);    /* not a type asked for */
    assert_int_equal(netback_hash_queue(&h, 4, f, 13), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(toeplitz_matches_the_rss_vectors),
        cmocka_unit_test(messages_as_netback_answers_them),
        cmocka_unit_test(frames_steered_by_the_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
