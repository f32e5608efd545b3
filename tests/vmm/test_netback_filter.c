/* Unit tests for netback's anti-spoofing filter (netback_filter.h): each
 * verdict on frames built here, and the parsing of the backend's mac and
 * ip nodes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "netback_filter.h"

static const uint8_t MAC[6] = { 0x00, 0x16, 0x3e, 0x12, 0x34, 0x56 };
static const uint8_t OTHER[6] = { 0x00, 0x16, 0x3e, 0x12, 0x34, 0x57 };

static void eth(uint8_t *b, const uint8_t src[6], uint16_t type)
{
    memset(b, 0xff, 6);
    memcpy(b + 6, src, 6);
    b[12] = (uint8_t)(type >> 8);
    b[13] = (uint8_t)type;
}

/* An Ethernet/IPv4 ARP frame (60 bytes) from src, sender sha/spa. */
static void arp(uint8_t *b, const uint8_t src[6], const uint8_t sha[6], const uint8_t spa[4],
                uint16_t htype)
{
    memset(b, 0, 60);
    eth(b, src, 0x0806);
    b[14] = (uint8_t)(htype >> 8);
    b[15] = (uint8_t)htype;
    b[16] = 0x08;
    b[18] = 6;
    b[19] = 4;
    b[21] = 1;
    memcpy(b + 22, sha, 6);
    memcpy(b + 28, spa, 4);
}

/* An IPv4 UDP frame (60 bytes) from src at saddr, sport -> dport. */
static void udp(uint8_t *b, const uint8_t src[6], const uint8_t saddr[4], uint16_t sport,
                uint16_t dport)
{
    memset(b, 0, 60);
    eth(b, src, 0x0800);
    b[14] = 0x45;
    b[17] = 46;
    b[23] = 17;
    memcpy(b + 26, saddr, 4);
    b[34] = (uint8_t)(sport >> 8);
    b[35] = (uint8_t)sport;
    b[36] = (uint8_t)(dport >> 8);
    b[37] = (uint8_t)dport;
}

static void mac_only(void **state)
{
    (void)state;
    struct netback_filter f;
    assert_int_equal(netback_filter_init(&f, "00:16:3E:12:34:56", NULL), 0);
    assert_int_equal(f.nr_nets, 0);
    uint8_t b[60];
    static const uint8_t any[4] = { 192, 168, 7, 7 };
    udp(b, MAC, any, 1000, 7);
    assert_int_equal(netback_filter_judge(&f, b, 60), NETBK_FILTER_PASS);
    udp(b, OTHER, any, 1000, 7);
    assert_int_equal(netback_filter_judge(&f, b, 60), NETBK_FILTER_SRC_MAC);
    arp(b, MAC, MAC, any, 1);
    assert_int_equal(netback_filter_judge(&f, b, 60), NETBK_FILTER_PASS);
    arp(b, MAC, OTHER, any, 1);
    assert_int_equal(netback_filter_judge(&f, b, 60), NETBK_FILTER_ARP_MAC);
    arp(b, MAC, OTHER, any, 6);                 /* IEEE 802 htype: Linux takes it */
    assert_int_equal(netback_filter_judge(&f, b, 60), NETBK_FILTER_ARP_MAC);
    assert_int_equal(netback_filter_judge(&f, b, 14 + 27), NETBK_FILTER_SHORT);
    assert_int_equal(netback_filter_judge(&f, b, 13), NETBK_FILTER_SHORT);
    eth(b, MAC, 0x8100);                        /* a tag could hide a forged ARP */
    assert_int_equal(netback_filter_judge(&f, b, 60), NETBK_FILTER_VLAN);
    eth(b, MAC, 0x86dd);                        /* IPv6: by its MAC */
    assert_int_equal(netback_filter_judge(&f, b, 60), NETBK_FILTER_PASS);
    eth(b, OTHER, 0x86dd);
    assert_int_equal(netback_filter_judge(&f, b, 60), NETBK_FILTER_SRC_MAC);
}

static void with_addresses(void **state)
{
    (void)state;
    struct netback_filter f;
    assert_int_equal(netback_filter_init(&f, "00:16:3e:12:34:56", "10.0.0.5 192.168.4.0/24"),
                     0);
    assert_int_equal(f.nr_nets, 2);
    uint8_t b[60];
    static const uint8_t mine[4] = { 10, 0, 0, 5 }, net[4] = { 192, 168, 4, 200 },
                         theirs[4] = { 10, 0, 0, 6 }, zero[4] = { 0, 0, 0, 0 };
    udp(b, MAC, mine, 1000, 7);
    assert_int_equal(netback_filter_judge(&f, b, 60), NETBK_FILTER_PASS);
    udp(b, MAC, net, 1000, 7);
    assert_int_equal(netback_filter_judge(&f, b, 60), NETBK_FILTER_PASS);
    udp(b, MAC, theirs, 1000, 7);
    assert_int_equal(netback_filter_judge(&f, b, 60), NETBK_FILTER_IP);
    udp(b, MAC, zero, 68, 67);                  /* DHCP, as vif-common.sh lets it */
    assert_int_equal(netback_filter_judge(&f, b, 60), NETBK_FILTER_PASS);
    b[20] = 0x00;
    b[21] = 0x08;                               /* a later fragment: no UDP header */
    assert_int_equal(netback_filter_judge(&f, b, 60), NETBK_FILTER_IP);
    udp(b, MAC, zero, 68, 68);
    assert_int_equal(netback_filter_judge(&f, b, 60), NETBK_FILTER_IP);
    udp(b, MAC, mine, 1000, 7);
    assert_int_equal(netback_filter_judge(&f, b, 14 + 19), NETBK_FILTER_SHORT);
    arp(b, MAC, MAC, mine, 1);
    assert_int_equal(netback_filter_judge(&f, b, 60), NETBK_FILTER_PASS);
    arp(b, MAC, MAC, zero, 1);                  /* a probe */
    assert_int_equal(netback_filter_judge(&f, b, 60), NETBK_FILTER_PASS);
    arp(b, MAC, MAC, theirs, 1);
    assert_int_equal(netback_filter_judge(&f, b, 60), NETBK_FILTER_ARP_IP);
    udp(b, OTHER, mine, 1000, 7);
    assert_int_equal(netback_filter_judge(&f, b, 60), NETBK_FILTER_SRC_MAC);
}

static void malformed_nodes_are_refused(void **state)
{
    (void)state;
    struct netback_filter f;
    static const char *const macs[] = { NULL, "", "00:16:3e:12:34", "00:16:3e:12:34:5g",
                                        "00-16-3e-12-34-56", "00:16:3e:12:34:567" };
    for (size_t i = 0; i < sizeof(macs) / sizeof(macs[0]); i++)
        assert_int_equal(netback_filter_init(&f, macs[i], NULL), -1);
    static const char *const ips[] = { "10.0.0", "10.0.0.256", "10.0.0.1/33", "10.0.0.1/",
                                       "1.2.3.4x", "a.b.c.d", "10.0.0.0001",
                                       "1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4 5.5.5.5 6.6.6.6 "
                                       "7.7.7.7 8.8.8.8 9.9.9.9 1.1.1.2 1.1.1.3 1.1.1.4 "
                                       "1.1.1.5 1.1.1.6 1.1.1.7 1.1.1.8 1.1.1.9" };
    for (size_t i = 0; i < sizeof(ips) / sizeof(ips[0]); i++)
        assert_int_equal(netback_filter_init(&f, "00:16:3e:12:34:56", ips[i]), -1);
    assert_int_equal(netback_filter_init(&f, "00:16:3e:12:34:56", "10.1.2.3/0,  "), 0);
    assert_int_equal(f.nr_nets, 1);
    assert_int_equal(f.nets[0].mask, 0);
    assert_string_equal(netback_filter_why(NETBK_FILTER_SRC_MAC),
                        "Ethernet source not the vif's MAC");
    assert_string_equal(netback_filter_why(NETBK_FILTER_NR), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mac_only),
        cmocka_unit_test(with_addresses),
        cmocka_unit_test(malformed_nodes_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
