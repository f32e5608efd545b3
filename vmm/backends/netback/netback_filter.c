/* A vif's anti-spoofing filter: see netback_filter.h. */
#include "netback_filter.h"
#include "net_bytes.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define ETH_HLEN 14
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ARP_ETH_IPV4_LEN 28         /* htype..tpa for Ethernet/IPv4 */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
    if (!s || strlen(s) != 17)
        return -1;
    for (int i = 0; i < 6; i++) {
        int h = hexval(s[3 * i]), l = hexval(s[3 * i + 1]);
        if (h < 0 || l < 0 || (i < 5 && s[3 * i + 2] != ':'))
            return -1;
        mac[i] = (uint8_t)(h << 4 | l);
    }
    return 0;
}

/* One A.B.C.D or A.B.C.D/N from *s (advanced past it). */
static int parse_net(const char **s, uint32_t *addr, uint32_t *mask)
{
    const char *c = *s;
    uint32_t a = 0;
    for (int i = 0; i < 4; i++) {
        if (*c < '0' || *c > '9')
            return -1;
        unsigned v = 0;
        for (int d = 0; *c >= '0' && *c <= '9'; d++, c++) {
            if (d == 3)
                return -1;
            v = v * 10 + (unsigned)(*c - '0');
        }
        if (v > 255 || (i < 3 && *c++ != '.'))
            return -1;
        a = a << 8 | v;
    }
    unsigned bits = 32;
    if (*c == '/') {
        c++;
        if (*c < '0' || *c > '9')
            return -1;
        bits = 0;
        for (int d = 0; *c >= '0' && *c <= '9'; d++, c++) {
            if (d == 2)
                return -1;
            bits = bits * 10 + (unsigned)(*c - '0');
        }
        if (bits > 32)
            return -1;
    }
    *mask = bits ? ~0u << (32 - bits) : 0;
    *addr = a & *mask;
    *s = c;
    return 0;
}

int netback_filter_init(struct netback_filter *f, const char *mac, const char *ip)
{
    memset(f, 0, sizeof(*f));
    if (parse_mac(mac, f->mac) < 0)
        return -1;
    const char *c = ip ? ip : "";
    for (;;) {
        while (*c == ' ' || *c == ',')
            c++;
        if (!*c)
            return 0;
        if (f->nr_nets == NETBK_FILTER_MAX_NETS)
            return -1;
        if (parse_net(&c, &f->nets[f->nr_nets].addr, &f->nets[f->nr_nets].mask) < 0 ||
            (*c && *c != ' ' && *c != ','))
            return -1;
        f->nr_nets++;
    }
}

static bool addr_ok(const struct netback_filter *f, uint32_t a)
{
    for (unsigned i = 0; i < f->nr_nets; i++)
        if ((a & f->nets[i].mask) == f->nets[i].addr)
            return true;
    return false;
}

/* vif-common.sh's exception: a DHCP client's request, from any address. */
static bool is_dhcp_request(const uint8_t *ip, uint32_t len)
{
    unsigned ihl = (ip[0] & 0xfu) * 4u;
    if (ip[9] != 17 || ihl < 20 || len < ihl + 8)
        return false;
    if (net_be16(ip + 6) & 0x1fff)
        return false;               /* a later fragment has no UDP header */
    return net_be16(ip + ihl) == 68 && net_be16(ip + ihl + 2) == 67;
}

enum netback_filter_verdict netback_filter_judge(const struct netback_filter *f,
                                                 const uint8_t *frame, uint32_t len)
{
    if (len < ETH_HLEN)
        return NETBK_FILTER_SHORT;
    if (memcmp(frame + 6, f->mac, 6) != 0)
        return NETBK_FILTER_SRC_MAC;
    uint16_t type = net_be16(frame + 12);
    const uint8_t *l3 = frame + ETH_HLEN;
    uint32_t l3len = len - ETH_HLEN;
    switch (type) {
    case 0x8100:
    case 0x88a8:
    case 0x9100:
        return NETBK_FILTER_VLAN;
    case ETHERTYPE_ARP:
        if (l3len < 8)
            return NETBK_FILTER_SHORT;
        /* IPv4-over-Ethernet ARP (ptype IPv4, hlen 6, plen 4, whatever the
         * htype: Linux takes 802 as well as Ethernet): its sender addresses
         * are judged. Any other kind binds no address of this network's. */
        if (net_be16(l3 + 2) != ETHERTYPE_IPV4 || l3[4] != 6 || l3[5] != 4)
            return NETBK_FILTER_PASS;
        if (l3len < ARP_ETH_IPV4_LEN)
            return NETBK_FILTER_SHORT;
        if (memcmp(l3 + 8, f->mac, 6) != 0)
            return NETBK_FILTER_ARP_MAC;
        if (f->nr_nets && net_be32(l3 + 14) != 0 && !addr_ok(f, net_be32(l3 + 14)))
            return NETBK_FILTER_ARP_IP;
        return NETBK_FILTER_PASS;
    case ETHERTYPE_IPV4:
        if (!f->nr_nets)
            return NETBK_FILTER_PASS;
        if (l3len < 20)
            return NETBK_FILTER_SHORT;
        if (addr_ok(f, net_be32(l3 + 12)) || is_dhcp_request(l3, l3len))
            return NETBK_FILTER_PASS;
        return NETBK_FILTER_IP;
    default:
        return NETBK_FILTER_PASS;
    }
}

const char *netback_filter_why(enum netback_filter_verdict v)
{
    static const char *const why[NETBK_FILTER_NR] = {
        [NETBK_FILTER_PASS] = "passed",
        [NETBK_FILTER_SHORT] = "too short for its headers",
        [NETBK_FILTER_SRC_MAC] = "Ethernet source not the vif's MAC",
        [NETBK_FILTER_ARP_MAC] = "ARP sender hardware address not the vif's MAC",
        [NETBK_FILTER_ARP_IP] = "ARP sender address not the vif's ip",
        [NETBK_FILTER_IP] = "IPv4 source not the vif's ip",
        [NETBK_FILTER_VLAN] = "VLAN-tagged",
    };
    return (unsigned)v < NETBK_FILTER_NR ? why[v] : "?";
}
