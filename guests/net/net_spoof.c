/*
 * net-spoof: a guest that pretends to be another one. On a bridge beside
 * the victim (the net guest at 10.99.0.2, MAC 00:16:3e:12:34:56, as
 * tests/xl/net_spoof.py starts it) it sends, each three times, broadcast:
 *   1. a UDP datagram with the victim's MAC and address as its source;
 *   2. a gratuitous ARP from its own MAC claiming the victim's address;
 *   3. an ARP whose sender hardware address is the victim's MAC;
 *   4. a UDP datagram from its own MAC with the victim's address;
 *   5. a VLAN-tagged ARP claiming the victim's address;
 * then, as controls, a UDP datagram and a gratuitous ARP that are its own
 * (10.99.0.66) and a DHCP discover (from 0.0.0.0), and last a "DONE"
 * datagram. Every frame carries a marker ("SPOOF-n", "LEGIT-n") the test's
 * capture looks for: with anti-spoofing asked for, no SPOOF frame may be
 * seen anywhere on the host and every LEGIT one must. It closes its vif and
 * powers off.
 */
#include "guest.h"
#include "netfront.h"
#include "xs.h"

static struct netfront nf;
static uint8_t f[128];
static uint8_t rxbuf[4096];         /* what comes back, unread */

static const uint8_t victim_mac[6] = { 0x00, 0x16, 0x3e, 0x12, 0x34, 0x56 };
static const uint8_t victim_ip[4] = { 10, 99, 0, 2 };
static const uint8_t my_ip[4] = { 10, 99, 0, 66 };
static const uint8_t host_ip[4] = { 10, 99, 0, 1 };
static const uint8_t zero_ip[4] = { 0, 0, 0, 0 };
static const uint8_t bcast_ip[4] = { 255, 255, 255, 255 };

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static unsigned sent;

static void send(unsigned len)
{
    for (int tries = 0; tries < 100; tries++) {
        if (netfront_send(&nf, f, len, 0) == 0) {
            sent++;
            return;
        }
        /* No tx buffer free: let the responses come back. */
        netfront_recv(&nf, rxbuf, sizeof(rxbuf), 10, NULL);
    }
    printk("net-spoof: could not send\n");
}

static void eth(const uint8_t src[6], uint16_t type)
{
    memset(f, 0, sizeof(f));
    memset(f, 0xff, 6);
    memcpy(f + 6, src, 6);
    put16(f + 12, type);
}

/* ARP (at off) claiming spa is at sha; the marker in the padding. */
static unsigned arp_at(unsigned off, const uint8_t sha[6], const uint8_t spa[4],
                       const char *mark)
{
    uint8_t *a = f + off;
    put16(a, 1);
    put16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, 2);                    /* reply: gratuitous */
    memcpy(a + 8, sha, 6);
    memcpy(a + 14, spa, 4);
    memset(a + 18, 0xff, 6);
    memcpy(a + 24, spa, 4);
    memcpy(a + 28, mark, strlen(mark));
    return off + 28 + 18;
}

static uint32_t sum(const uint8_t *p, unsigned n, uint32_t s)
{
    for (unsigned i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    return s;
}

/* IPv4 UDP from saddr:sport to daddr:dport with the marker as payload. */
static unsigned udp(const uint8_t saddr[4], const uint8_t daddr[4], uint16_t sport,
                    uint16_t dport, const char *mark)
{
    unsigned plen = (unsigned)strlen(mark) + 1, ulen = 8 + plen;
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(20 + ulen));
    ip[8] = 64;
    ip[9] = 17;
    memcpy(ip + 12, saddr, 4);
    memcpy(ip + 16, daddr, 4);
    uint32_t s = sum(ip, 20, 0);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    put16(ip + 10, (uint16_t)~s);
    uint8_t *u = ip + 20;
    put16(u, sport);
    put16(u + 2, dport);
    put16(u + 4, (uint16_t)ulen);       /* checksum 0: none, as IPv4 allows */
    memcpy(u + 8, mark, plen);
    unsigned n = 14 + 20 + ulen;
    return n < 60 ? 60 : n;
}

void guest_main(void)
{
    printk("net-spoof: %d-bit guest\n", GUEST_BITS);
    if (!shared_info)
        map_shared_info();
    CHECK("xenstore", xs_init() == 0);
    int rc = netfront_connect(&nf, 0);
    CHECK("netfront connected", rc == 0);
    if (rc < 0)
        finish("net-spoof");
    printk("net-spoof: mac %02x:%02x:%02x:%02x:%02x:%02x ready\n", nf.mac[0], nf.mac[1],
           nf.mac[2], nf.mac[3], nf.mac[4], nf.mac[5]);
    for (int round = 0; round < 3; round++) {
        eth(victim_mac, 0x0800);
        send(udp(victim_ip, host_ip, 9999, 9999, "SPOOF-1 the victim's MAC"));
        eth(nf.mac, 0x0806);
        send(arp_at(14, nf.mac, victim_ip, "SPOOF-2"));
        eth(nf.mac, 0x0806);
        send(arp_at(14, victim_mac, my_ip, "SPOOF-3"));
        eth(nf.mac, 0x0800);
        send(udp(victim_ip, host_ip, 9999, 9999, "SPOOF-4 the victim's address"));
        eth(nf.mac, 0x8100);
        put16(f + 14, 0);                   /* VLAN 0 */
        put16(f + 16, 0x0806);
        send(arp_at(18, nf.mac, victim_ip, "SPOOF-5"));
    }
    printk("net-spoof: %u forged frames sent\n", sent);
    for (int round = 0; round < 3; round++) {
        eth(nf.mac, 0x0800);
        send(udp(my_ip, host_ip, 9999, 9999, "LEGIT-1 its own"));
        eth(nf.mac, 0x0806);
        send(arp_at(14, nf.mac, my_ip, "LEGIT-2"));
        eth(nf.mac, 0x0800);
        send(udp(zero_ip, bcast_ip, 68, 67, "LEGIT-3 a DHCP discover"));
    }
    eth(nf.mac, 0x0800);
    send(udp(my_ip, host_ip, 9999, 9999, "LEGIT-DONE"));
    /* Let the last responses come back, then leave. */
    netfront_recv(&nf, rxbuf, sizeof(rxbuf), 200, NULL);
    CHECK_EQ("netfront closed", netfront_close(&nf), 0);
    finish("net-spoof");
}
