/*
 * net: a guest on the network through our netfront. It connects vif 0,
 * checks what the toolstack gave it (the MAC from the vif= line, the MTU
 * from the bridge), then answers as a tiny host at the IPv4 address on
 * its command line (ip=A.B.C.D): ARP requests for it, ICMP echo requests
 * (ping) and UDP on port 7 (echo; its replies go out with a blank
 * checksum for the backend to finish, exercising tx checksum offload).
 * A datagram "reconnect" makes it close its vif and connect it again.
 * With `split` its netfront asks for split event channels.
 * With peer=A.B.C.D it first finds that guest by ARP and pings it.
 * A UDP datagram "bye" to port 7 ends it: it closes the vif, prints its
 * counts and powers off. With `hotplug` on its command line it starts with
 * no vif: it waits for one to appear (xl network-attach), serves it until
 * its backend closes (xl network-detach), closes its end and waits for
 * the next, as a frontend follows hot-plugged devices. With `vifs=2` it
 * serves vifs 0 and 1 at once (ip= and ip1=), following each one's
 * detach and attach. With `queues=2` its vif 0 has two queues.
 *
 * UDP to port 9 is counted and dropped (the benchmark's floods); a datagram
 * "stats" to port 7 is answered with "sink=<datagrams> bytes=<payload
 * bytes>". A datagram "gso N" (N: 1-9) to port 7 makes it stream 64 KiB
 * TCP/IPv4 GSO packets (1448-byte segments, no TCP connection: a
 * one-way stream to port 5001 of the asker) for N seconds, then answer
 * "gso frames=<packets> bytes=<IP bytes>". Built with NET_RING3
 * (guest-bench-net-64) the whole guest runs in ring 3, native speed on the
 * build machines (the VMM must allow ring-3 hypercalls), spinning 100 us
 * on its rx ring before it blocks, and first prints "BENCH bare-exit ns=N".
 *
 * With `pvsuspend` it has PV control, as Linux's: it announces
 * control/feature-suspend and, asked by control/shutdown = "suspend",
 * calls SCHEDOP_shutdown(suspend). Resumed in a new domain (the call
 * returned 0: a restore or a migration) it maps shared info and its grant
 * table again and reconnects xenstore, its vif and its disk, as Linux's
 * xenbus resume does; resumed where it was (1: a checkpoint) it goes on.
 * With `disk` it also connects vbd 51712 (xvda): a datagram "disk N" to
 * port 7 writes block N (one page, 8 sectors) with N's pattern and reads
 * it back, "dchk N" reads it back only; either is answered "disk N ok" or
 * "disk N bad".
 */
#include "blkfront.h"
#include "guest.h"
#include "netfront.h"
#include "xs.h"
#ifdef NET_RING3
#include "ring3.h"
#endif

#include <xen/io/xs_wire.h>
#include <xen/sched.h>

#define ETH_ARP 0x0806
#define ETH_IP 0x0800

static uint8_t pkt[65536];
static uint8_t out[2048];
/* Each vif's address (ip= for vif 0, ip1= for vif 1); my_ip is the one of
 * the vif being served. */
/* Two vifs or queues at most (netfront's NF_MAX_VIFS: 1 in the bench build). */
#define NET_MAX_VIFS 2
static uint8_t ips[NET_MAX_VIFS][4] = { { 10, 99, 0, 2 }, { 10, 98, 0, 2 } };
static uint8_t *my_ip = ips[0];
static uint8_t peer_ip[4];          /* peer=A.B.C.D: a guest to ping */
static int have_peer;
static uint8_t peer_mac[6];
static int peer_mac_known;
static unsigned peer_replies;

static int pv_suspend, have_disk;
static struct blkfront disk;
static uint8_t disk_ring[4096] __attribute__((aligned(4096)));
static uint8_t disk_page[4096] __attribute__((aligned(4096)));
static unsigned suspends, resumes;

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static uint32_t sum(const uint8_t *p, unsigned n, uint32_t s)
{
    for (unsigned i = 0; i + 1 < n; i += 2)
        s += get16(p + i);
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    return s;
}

static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

/* key=A.B.C.D on the command line into ip; whether it was there. */
static int parse_ipv4(const char *key, uint8_t ip[4])
{
    const char *c = start_info->cmdline_paddr ?
        (const char *)(uintptr_t)start_info->cmdline_paddr : "";
    size_t kl = strlen(key);
    for (; *c; c++) {
        if (memcmp(c, key, kl) == 0 && (c == (const char *)(uintptr_t)start_info->cmdline_paddr ||
                                        c[-1] == ' ')) {
            c += kl;
            for (int i = 0; i < 4; i++) {
                unsigned v = 0;
                while (*c >= '0' && *c <= '9')
                    v = v * 10 + (unsigned)(*c++ - '0');
                ip[i] = (uint8_t)v;
                if (*c == '.')
                    c++;
            }
            return 1;
        }
    }
    return 0;
}

/* One netfront a vif; the responder below answers on `nf`, the one being
 * served (cur). */
static struct netfront nfs[NET_MAX_VIFS];
static struct netfront *cur = &nfs[0];
#define nf (*cur)
static unsigned arps, pings, echoes;
static uint64_t sink_packets, sink_bytes;

static void reply_eth(uint8_t *o, const uint8_t *in)
{
    memcpy(o, in + 6, 6);
    memcpy(o + 6, nf.mac, 6);
    memcpy(o + 12, in + 12, 2);
}

static void on_arp(const uint8_t *p, unsigned len)
{
    if (have_peer && len >= 42 && get16(p + 20) == 2 && memcmp(p + 28, peer_ip, 4) == 0) {
        memcpy(peer_mac, p + 22, 6);
        peer_mac_known = 1;
        return;
    }
    if (len < 42 || get16(p + 14) != 1 || get16(p + 16) != ETH_IP ||
        get16(p + 20) != 1 || memcmp(p + 38, my_ip, 4) != 0)
        return;
    reply_eth(out, p);
    memcpy(out + 14, p + 14, 6);            /* htype, ptype, hlen, plen */
    put16(out + 20, 2);                     /* reply */
    memcpy(out + 22, nf.mac, 6);
    memcpy(out + 28, my_ip, 4);
    memcpy(out + 32, p + 22, 10);           /* to the asker */
    memset(out + 42, 0, 18);
    if (netfront_send(&nf, out, 60, 0) == 0)
        arps++;
}

/* The IPv4 reply header over the request's: addresses swapped. */
static unsigned ip_reply(uint8_t *o, const uint8_t *ip, unsigned l4len, uint8_t proto)
{
    uint8_t *h = o + 14;
    memset(h, 0, 20);
    h[0] = 0x45;
    put16(h + 2, (uint16_t)(20 + l4len));
    h[8] = 64;
    h[9] = proto;
    memcpy(h + 12, my_ip, 4);
    memcpy(h + 16, ip + 12, 4);
    put16(h + 10, (uint16_t)~fold(sum(h, 20, 0)));
    return 14 + 20 + l4len;
}

#define GSO_MSS 1448
#define GSO_PAYLOAD (GSO_MSS * 44)

/* See the top: stream to the asker of request p (its frame) for secs.
 * Each of netfront's in-place GSO frames gets the packet once; each send
 * then writes only the sequence number and the checksum's pseudo-header
 * sum into a frame the backend has given back, and grants it as it is. */
static void stream_gso(const uint8_t *p, unsigned secs, uint64_t *frames, uint64_t *bytes)
{
    const uint8_t *ip = p + 14;
    unsigned tot = 20 + 20 + GSO_PAYLOAD;
    for (unsigned k = 0; k < NF_GSO_FRAMES; k++) {
        uint8_t *f = netfront_gso_frame(&nf, k);
        memcpy(f, p + 6, 6);
        memcpy(f + 6, nf.mac, 6);
        put16(f + 12, ETH_IP);
        uint8_t *h = f + 14, *tcp = h + 20;
        memset(h, 0, 40);
        h[0] = 0x45;
        put16(h + 2, (uint16_t)tot);
        h[6] = 0x40;                        /* DF */
        h[8] = 64;
        h[9] = 6;
        memcpy(h + 12, my_ip, 4);
        memcpy(h + 16, ip + 12, 4);
        put16(h + 10, (uint16_t)~fold(sum(h, 20, 0)));
        put16(tcp, 40000);
        put16(tcp + 2, 5001);
        tcp[12] = 5 << 4;
        tcp[13] = 0x18;                     /* PSH, ACK */
        put16(tcp + 14, 65535);
        for (unsigned i = 0; i < GSO_PAYLOAD; i++)
            tcp[20 + i] = (uint8_t)i;
    }
    /* A blank checksum: the pseudo-header sum (netback's tap header asks
     * the host to finish each segment's). */
    uint32_t ps = sum(my_ip, 4, 0);
    ps = sum(ip + 12, 4, ps) + 6 + 20 + GSO_PAYLOAD;
    uint32_t seq = 1;
    uint64_t end = xen_system_time() + secs * 1000000000ull;
    *frames = *bytes = 0;
    while (xen_system_time() < end) {
        int k = netfront_gso_frame_free(&nf);
        if (k < 0) {
            __asm__ volatile("pause");
            continue;
        }
        uint8_t *tcp = netfront_gso_frame(&nf, (unsigned)k) + 14 + 20;
        tcp[4] = (uint8_t)(seq >> 24), tcp[5] = (uint8_t)(seq >> 16);
        tcp[6] = (uint8_t)(seq >> 8), tcp[7] = (uint8_t)seq;
        put16(tcp + 16, fold(ps));
        if (netfront_send_gso_frame(&nf, (unsigned)k, 14 + tot, GSO_MSS) < 0)
            continue;
        seq += GSO_PAYLOAD;
        (*frames)++;
        *bytes += tot;
    }
}

static uint8_t block_byte(unsigned long block, unsigned i)
{
    return (uint8_t)(block * 131u + i * 7u + (i >> 9));
}

/* "disk N" / "dchk N" (see the top): the answer's length in answer, or 0
 * when msg is neither. */
static int disk_command(const uint8_t *msg, unsigned len, char *answer, size_t cap)
{
    int write = len > 5 && memcmp(msg, "disk ", 5) == 0;
    if (!have_disk || (!write && !(len > 5 && memcmp(msg, "dchk ", 5) == 0)))
        return 0;
    unsigned long block = 0;
    unsigned i = 5;
    for (; i < len && i < 12 && msg[i] >= '0' && msg[i] <= '9'; i++)
        block = block * 10 + (unsigned long)(msg[i] - '0');
    int ok = i == len && i > 5 && (block + 1) * 8 <= disk.sectors;
    if (ok && write) {
        for (unsigned j = 0; j < 4096; j++)
            disk_page[j] = block_byte(block, j);
        ok = blkfront_rw(&disk, 1, block * 8, disk_page, 0, 7) == 0;
    }
    if (ok) {
        memset(disk_page, 0, sizeof(disk_page));
        ok = blkfront_rw(&disk, 0, block * 8, disk_page, 0, 7) == 0;
        for (unsigned j = 0; ok && j < 4096; j++)
            ok = disk_page[j] == block_byte(block, j);
    }
    return snprintf(answer, cap, "disk %lu %s", block, ok ? "ok" : "bad");
}

static int on_ip(const uint8_t *p, unsigned len)
{
    if (len < 34)
        return 0;
    const uint8_t *ip = p + 14;
    unsigned ihl = (ip[0] & 0xf) * 4u, tot = get16(ip + 2);
    if ((ip[0] >> 4) != 4 || ihl < 20 || tot < ihl || 14 + tot > len ||
        memcmp(ip + 16, my_ip, 4) != 0)
        return 0;
    const uint8_t *l4 = ip + ihl;
    unsigned l4len = tot - ihl;
    if (ip[9] == 1 && l4len >= 8 && l4[0] == 0 && have_peer &&
        memcmp(ip + 12, peer_ip, 4) == 0 && get16(l4 + 4) == 0x4e54) {   /* our echo's reply */
        if (fold(sum(l4, l4len, 0)) == 0xffff)
            peer_replies++;
    } else if (ip[9] == 1 && l4len >= 8 && l4[0] == 8) {            /* echo request */
        if (l4len > sizeof(out) - 34)
            return 0;
        reply_eth(out, p);
        uint8_t *icmp = out + 34;
        memcpy(icmp, l4, l4len);
        icmp[0] = 0;
        put16(icmp + 2, 0);
        put16(icmp + 2, (uint16_t)~fold(sum(icmp, l4len, 0)));
        unsigned n = ip_reply(out, ip, l4len, 1);
        if (netfront_send(&nf, out, n < 60 ? 60 : n, 0) == 0)
            pings++;
    } else if (ip[9] == 17 && l4len >= 8 && get16(l4 + 2) == 9) {    /* UDP sink */
        unsigned ulen = get16(l4 + 4);
        if (ulen >= 8 && ulen <= l4len) {
            sink_packets++;
            sink_bytes += ulen - 8;
        }
    } else if (ip[9] == 17 && l4len >= 8 && get16(l4 + 2) == 7) {    /* UDP echo */
        unsigned ulen = get16(l4 + 4);
        if (ulen < 8 || ulen > l4len || ulen > sizeof(out) - 34)
            return 0;
        if (ulen == 11 && memcmp(l4 + 8, "bye", 3) == 0)
            return 1;
        if (ulen == 17 && memcmp(l4 + 8, "reconnect", 9) == 0)
            return 2;
        reply_eth(out, p);
        uint8_t *udp = out + 34;
        memcpy(udp, l4, ulen);
        if (ulen == 13 && memcmp(l4 + 8, "gso ", 4) == 0 && l4[12] >= '1' && l4[12] <= '9') {
            uint64_t frames, bytes;
            stream_gso(p, (unsigned)(l4[12] - '0'), &frames, &bytes);
            int k = snprintf((char *)udp + 8, 64, "gso frames=%llu bytes=%llu",
                             (unsigned long long)frames, (unsigned long long)bytes);
            ulen = 8 + (unsigned)k;
            put16(udp + 4, (uint16_t)ulen);
        }
        if (ulen == 13 && memcmp(l4 + 8, "stats", 5) == 0) {
            int k = snprintf((char *)udp + 8, 64, "sink=%llu bytes=%llu",
                             (unsigned long long)sink_packets, (unsigned long long)sink_bytes);
            ulen = 8 + (unsigned)k;
            put16(udp + 4, (uint16_t)ulen);
        }
        int k = disk_command(l4 + 8, ulen - 8, (char *)udp + 8, 64);
        if (k > 0) {
            ulen = 8 + (unsigned)k;
            put16(udp + 4, (uint16_t)ulen);
        }
        put16(udp, 7);
        put16(udp + 2, get16(l4));
        /* A blank checksum: the pseudo-header sum only (netback's tap
         * header asks the host to finish it). */
        uint32_t ps = sum(my_ip, 4, 0);
        ps = sum(ip + 12, 4, ps) + 17 + ulen;
        put16(udp + 6, fold(ps));
        unsigned n = ip_reply(out, ip, ulen, 17);
        /* Right after a GSO stream every tx buffer may still be the
         * backend's: wait for one (bounded) rather than drop the answer. */
        for (unsigned tries = 0; tries < 1000000; tries++) {
            if (netfront_send(&nf, out, n < 60 ? 60 : n, 1) == 0) {
                echoes++;
                break;
            }
            __asm__ volatile("pause");
        }
    }
    return 0;
}

static void dispatch(int n)
{
    if (n <= 0)
        return;
    uint16_t type = get16(pkt + 12);
    if (type == ETH_ARP)
        on_arp(pkt, (unsigned)n);
    else if (type == ETH_IP)
        on_ip(pkt, (unsigned)n);
}

/* Ask for the peer's MAC (ARP), then ping it: replies counted. */
static void ping_peer(unsigned count)
{
    for (unsigned tries = 0; tries < 20 && !peer_mac_known; tries++) {
        memset(out, 0xff, 6);
        memcpy(out + 6, nf.mac, 6);
        put16(out + 12, ETH_ARP);
        put16(out + 14, 1);
        put16(out + 16, ETH_IP);
        out[18] = 6;
        out[19] = 4;
        put16(out + 20, 1);
        memcpy(out + 22, nf.mac, 6);
        memcpy(out + 28, my_ip, 4);
        memset(out + 32, 0, 6);
        memcpy(out + 38, peer_ip, 4);
        memset(out + 42, 0, 18);
        netfront_send(&nf, out, 60, 0);
        uint64_t end = xen_system_time() + 500000000ull;
        while (!peer_mac_known && xen_system_time() < end)
            dispatch(netfront_recv(&nf, pkt, sizeof(pkt), 100, NULL));
    }
    CHECK("the peer answered ARP", peer_mac_known);
    for (unsigned seq = 0; seq < count && peer_mac_known; seq++) {
        unsigned before = peer_replies;
        memcpy(out, peer_mac, 6);
        memcpy(out + 6, nf.mac, 6);
        put16(out + 12, ETH_IP);
        uint8_t *icmp = out + 34;
        memset(icmp, 0, 40);
        icmp[0] = 8;
        put16(icmp + 4, 0x4e54);            /* id "NT" */
        put16(icmp + 6, (uint16_t)seq);
        for (unsigned i = 8; i < 40; i++)
            icmp[i] = (uint8_t)i;
        put16(icmp + 2, (uint16_t)~fold(sum(icmp, 40, 0)));
        uint8_t fake[20];                   /* ip_reply takes the asker's header */
        memset(fake, 0, sizeof(fake));
        memcpy(fake + 12, peer_ip, 4);
        unsigned n = ip_reply(out, fake, 40, 1);
        netfront_send(&nf, out, n, 0);
        uint64_t end = xen_system_time() + 2000000000ull;
        while (peer_replies == before && xen_system_time() < end)
            dispatch(netfront_recv(&nf, pkt, sizeof(pkt), 100, NULL));
    }
    CHECK_EQ("pinged the peer guest", peer_replies, count);
}

static int has_word(const char *w)
{
    const char *c = start_info->cmdline_paddr ?
        (const char *)(uintptr_t)start_info->cmdline_paddr : "";
    size_t n = strlen(w);
    for (; *c; c++)
        if (memcmp(c, w, n) == 0 && (c[n] == 0 || c[n] == ' '))
            return 1;
    return 0;
}

static int backend_closing(void)
{
    char path[160], v[16];
    snprintf(path, sizeof(path), "%s/state", nf.be);
    return xs_read(path, v, sizeof(v)) < 0 || v[0] >= '5';
}

static void maybe_suspend(void);

/* Answer until "bye" (1), "reconnect" (2) or the backend closes (0). */
static int serve(void)
{
    for (;;) {
        if (pv_suspend)
            maybe_suspend();
        int n = netfront_recv(&nf, pkt, sizeof(pkt), pv_suspend ? 100 : 1000, NULL);
        if (n <= 0) {
            if (n == 0 && backend_closing())
                return 0;
            continue;
        }
        uint16_t type = get16(pkt + 12);
        int r = 0;
        if (type == ETH_ARP)
            on_arp(pkt, (unsigned)n);
        else if (type == ETH_IP)
            r = on_ip(pkt, (unsigned)n);
        if (r)
            return r;
    }
}

static void print_ready(unsigned devid);

/* PV control and the disk: what a fresh domain needs of them. 0 or -1. */
static int connect_control_and_disk(void)
{
    if (pv_suspend && (xs_write("control/feature-suspend", "1") < 0 ||
                       xs_watch("control/shutdown", "shutdown") < 0))
        return -1;
    return have_disk ? blkfront_connect(&disk, 51712, disk_ring) : 0;
}

/* control/shutdown = "suspend": acknowledge it and suspend. In a new
 * domain everything Xen held for us is gone: shared info, the grant
 * table, event channels, the backends' view of our rings. */
static void maybe_suspend(void)
{
    long rc = xs_suspend_if_asked();
    if (rc < 0)
        return;
    suspends++;
    if (rc != 0) {
        printk("net: suspend returned %ld: resumed where it was\n", rc);
        return;
    }
    resumes++;
    gnt_forget();
    int ok = map_shared_info() == 0 && xs_init() == 0 && connect_control_and_disk() == 0;
    ok = ok && netfront_connect(&nf, 0) == 0;
    check("resumed in a new domain: devices reconnected", ok, "resume %u", resumes);
    if (!ok)
        finish("net");
    printk("net: suspend returned 0: resumed in a new domain (%u)\n", resumes);
    print_ready(0);
}

/* The frontend closes its end and connects again (the backend must go
 * back to InitWait and serve the new rings). */
static void reconnect(void)
{
    int rc = netfront_close(&nf);
    char path[64];
    snprintf(path, sizeof(path), "device/vif/0/state");
    xs_write(path, "1");
    rc |= netfront_connect(&nf, 0);
    check("reconnected", rc == 0, "rc %d", rc);
    print_ready(0);
}

static void print_ready(unsigned devid)
{
    printk("net: vif %u mac %02x:%02x:%02x:%02x:%02x:%02x mtu %u ip %u.%u.%u.%u ready\n",
           devid, nf.mac[0], nf.mac[1], nf.mac[2], nf.mac[3], nf.mac[4], nf.mac[5], nf.mtu,
           my_ip[0], my_ip[1], my_ip[2], my_ip[3]);
}

/* A vif whose frontend is still Initialising: its devid, or -1. */
static int new_vif(void)
{
    char body[256];
    memset(body, 0, sizeof(body));
    if (xs_request(XS_DIRECTORY, 0, "device/vif", NULL, 0, body, sizeof(body) - 1) !=
        XS_DIRECTORY)
        return -1;
    for (const char *p = body; *p && p < body + sizeof(body); p += strlen(p) + 1) {
        unsigned id = 0;
        for (const char *q = p; *q >= '0' && *q <= '9'; q++)
            id = id * 10 + (unsigned)(*q - '0');
        char path[64], v[16];
        snprintf(path, sizeof(path), "device/vif/%u/state", id);
        if (xs_read(path, v, sizeof(v)) == 0 && v[0] == '1' && v[1] == 0)
            return (int)id;
    }
    return -1;
}

/* `vifs=2`: vifs 0 and 1 at once (each on a bridge of its own, at ip= and
 * ip1=), served in turn. A vif whose backend closes (xl network-detach) is
 * closed here and connected again when it comes back (network-attach);
 * "bye" on either ends it. */
static void two_vifs_main(void)
{
    int up[NET_MAX_VIFS] = { 0 };
    unsigned idle[NET_MAX_VIFS] = { 0 }, reattached = 0;
    for (unsigned i = 0; i < NET_MAX_VIFS; i++) {
        cur = &nfs[i];
        my_ip = ips[i];
        int rc = netfront_connect(cur, i);
        check("vif connected", rc == 0, "vif %u", i);
        if (rc < 0)
            finish("net");
        up[i] = 1;
        print_ready(i);
    }
    for (int bye = 0; !bye;) {
        for (unsigned i = 0; i < NET_MAX_VIFS && !bye; i++) {
            cur = &nfs[i];
            my_ip = ips[i];
            if (!up[i]) {
                /* Now and then (xenstore is slow from here), whether it
                 * came back; a short wait when no vif is up at all. */
                if (++idle[i] % 8 == 0 && new_vif() == (int)i) {
                    int rc = netfront_connect(cur, i);
                    check("vif connected again", rc == 0, "vif %u", i);
                    up[i] = rc == 0;
                    reattached += rc == 0;
                    if (up[i])
                        print_ready(i);
                } else if (!up[0] && !up[1]) {
                    struct sched_poll sp = { .nr_ports = 0,
                                             .timeout = xen_system_time() + 20000000ull };
                    HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_poll, &sp);
                }
                continue;
            }
            /* Up to a batch from this vif: the first waited for briefly,
             * the rest only while they are there. */
            for (unsigned k = 0; k < 64 && !bye; k++) {
                int n = netfront_recv(cur, pkt, sizeof(pkt), k ? 0 : 20, NULL);
                if (n == 0) {
                    /* Idle: now and then, whether its backend is going. */
                    if (k == 0 && ++idle[i] % 10 == 0 && backend_closing()) {
                        int rc = netfront_close(cur);
                        printk("net: vif %u went away, closed (%d)\n", i, rc);
                        up[i] = 0;
                    }
                    break;
                }
                idle[i] = 0;
                if (n > 0 && get16(pkt + 12) == ETH_IP)
                    bye = on_ip(pkt, (unsigned)n) == 1;
                else
                    dispatch(n);
            }
        }
    }
    printk("net: answered %u arp, %u ping, %u udp echo over two vifs, %u reattached\n",
           arps, pings, echoes, reattached);
    CHECK("answered pings", pings > 0);
    CHECK("answered udp", echoes > 0);
    for (unsigned i = 0; i < NET_MAX_VIFS; i++) {
        cur = &nfs[i];
        CHECK_EQ("tx errors", nf.tx_errors, 0);
        if (up[i])
            CHECK_EQ("netfront closed", netfront_close(cur), 0);
    }
    finish("net");
}

/* `queues=2`: vif 0 with two queues (io/netif.h multi-queue). Each packet
 * is answered on the queue it came in on; "bye" ends it, after checking
 * that both queues carried traffic both ways. */
/* `ctrl`: through the control ring, every IPv4 packet to queue 1. */
static void steer_to_queue_1(void)
{
    uint32_t d = 0;
    CHECK_EQ("ctrl: an unknown message is not supported",
             netfront_ctrl_request(0x99, 0, 0, 0, NULL), XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED);
    CHECK_EQ("ctrl: flags need an algorithm first",
             netfront_ctrl_request(XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, NULL),
             XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED);
    CHECK_EQ("ctrl: Toeplitz", netfront_ctrl_request(XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
                                                     XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ,
                                                     0, 0, NULL), XEN_NETIF_CTRL_STATUS_SUCCESS);
    CHECK("ctrl: IPv4 hashing offered",
          netfront_ctrl_request(XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, &d) ==
          XEN_NETIF_CTRL_STATUS_SUCCESS && (d & XEN_NETIF_CTRL_HASH_TYPE_IPV4));
    CHECK_EQ("ctrl: IPv4 and IPv4/TCP hashing",
             netfront_ctrl_request(XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
                                   XEN_NETIF_CTRL_HASH_TYPE_IPV4 |
                                   XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP, 0, 0, NULL),
             XEN_NETIF_CTRL_STATUS_SUCCESS);
    grant_ref_t ref;
    uint8_t *page = netfront_ctrl_data(&ref);
    for (unsigned i = 0; i < 40; i++)
        page[i] = (uint8_t)(i * 37 + 1);
    CHECK_EQ("ctrl: a key over 40 bytes overflows",
             netfront_ctrl_request(XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, ref, 41, 0, NULL),
             XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW);
    CHECK_EQ("ctrl: the key", netfront_ctrl_request(XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, ref, 40,
                                                    0, NULL), XEN_NETIF_CTRL_STATUS_SUCCESS);
    CHECK("ctrl: a mapping table offered",
          netfront_ctrl_request(XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0, &d) ==
          XEN_NETIF_CTRL_STATUS_SUCCESS && d >= 8);
    CHECK_EQ("ctrl: an 8-entry table",
             netfront_ctrl_request(XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 8, 0, 0, NULL),
             XEN_NETIF_CTRL_STATUS_SUCCESS);
    uint32_t *m = (uint32_t *)page;
    for (unsigned i = 0; i < 8; i++)
        m[i] = 1;
    m[5] = 2;                               /* no queue 2 */
    CHECK_EQ("ctrl: a table naming a queue that is not there is refused",
             netfront_ctrl_request(XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, ref, 8, 0, NULL),
             XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
    CHECK_EQ("ctrl: a table past its size is refused",
             netfront_ctrl_request(XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, ref, 8, 1, NULL),
             XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
    m[5] = 1;
    CHECK_EQ("ctrl: every entry queue 1",
             netfront_ctrl_request(XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, ref, 8, 0, NULL),
             XEN_NETIF_CTRL_STATUS_SUCCESS);
}

static void queues_main(void)
{
    int use_ctrl = has_word("ctrl");
    netfront_ctrl = use_ctrl;
    int rc = netfront_connect_queues(nfs, 2, 0);
    CHECK("netfront connected with two queues", rc == 0);
    if (rc < 0)
        finish("net");
    if (use_ctrl)
        steer_to_queue_1();
    print_ready(0);
    unsigned ipv4_rx[2] = { 0, 0 };
    for (int bye = 0; !bye;) {
        for (unsigned i = 0; i < 2 && !bye; i++) {
            cur = &nfs[i];
            for (unsigned k = 0; k < 64 && !bye; k++) {
                int n = netfront_recv(cur, pkt, sizeof(pkt), k ? 0 : 20, NULL);
                if (n == 0)
                    break;
                if (n > 0 && get16(pkt + 12) == ETH_IP) {
                    ipv4_rx[i]++;
                    bye = on_ip(pkt, (unsigned)n) == 1;
                } else {
                    dispatch(n);
                }
            }
        }
    }
    printk("net: ipv4 received on queue 0: %u, on queue 1: %u\n", ipv4_rx[0], ipv4_rx[1]);
    if (use_ctrl)
        CHECK("ctrl: every IPv4 packet came on queue 1", ipv4_rx[0] == 0 && ipv4_rx[1] > 0);
    for (unsigned i = 0; i < 2; i++)
        printk("net: queue %u rx %llu tx %llu\n", i, (unsigned long long)nfs[i].rx_packets,
               (unsigned long long)nfs[i].tx_packets);
    if (!use_ctrl)
        CHECK("both queues received", nfs[0].rx_packets > 0 && nfs[1].rx_packets > 0);
    if (!use_ctrl)
        CHECK("both queues sent", nfs[0].tx_packets > 0 && nfs[1].tx_packets > 0);
    CHECK_EQ("tx errors", nfs[0].tx_errors + nfs[1].tx_errors, 0);
    CHECK("answered udp", echoes > 0);
    cur = &nfs[0];
    CHECK_EQ("netfront closed", netfront_close(cur), 0);
    finish("net");
}

static void hotplug_main(void)
{
    unsigned sessions = 0;
    for (;;) {
        int id;
        while ((id = new_vif()) < 0) {
            struct sched_poll sp = { .nr_ports = 0,
                                     .timeout = xen_system_time() + 50000000ull };
            HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_poll, &sp);
        }
        int rc = netfront_connect(&nf, (unsigned)id);
        check("hotplugged vif connected", rc == 0, "vif %d", id);
        if (rc < 0)
            finish("net");
        print_ready((unsigned)id);
        sessions++;
        int bye = serve();
        rc = netfront_close(&nf);
        printk("net: vif %d %s, closed (%d)\n", id, bye ? "said bye" : "went away", rc);
        if (bye)
            break;
    }
    CHECK("served more than one hotplugged vif", sessions > 1);
    finish("net");
}

static void net_main(void)
{
#ifdef NET_RING3
    printk("net: %d-bit guest in ring 3\n", GUEST_BITS);
    /* Long enough for the next request of an echo or ping (about 10 us
     * here), short enough to give the core back: with 1 ms, a flood's
     * sender and this spinning vCPU held both cores (all SCHED_FIFO in
     * the benchmark) while netback's thread waited to refill the ring. */
    netfront_spin_us = 100;
#else
    printk("net: %d-bit guest\n", GUEST_BITS);
#endif
    parse_ipv4("ip=", ips[0]);
    parse_ipv4("ip1=", ips[1]);
    have_peer = parse_ipv4("peer=", peer_ip);
    if (!shared_info)
        map_shared_info();
    CHECK("xenstore", xs_init() == 0);
    netfront_split = has_word("split");
    if (has_word("hotplug"))
        hotplug_main();
    if ((has_word("vifs=2") || has_word("queues=2")) && NF_MAX_VIFS < 2) {
        CHECK("two vifs or queues need a netfront built for them", 0);
        finish("net");
    }
    if (has_word("vifs=2"))
        two_vifs_main();
    if (has_word("queues=2"))
        queues_main();
    pv_suspend = has_word("pvsuspend");
    have_disk = has_word("disk");
    CHECK("PV control and disk", connect_control_and_disk() == 0);
    int rc = netfront_connect(&nf, 0);
    CHECK("netfront connected", rc == 0);
    if (rc < 0)
        finish("net");
#ifdef NET_RING3
    printk("BENCH bare-exit ns=%llu\n", (unsigned long long)ring3_bare_exit_ns(2000));
#endif
    print_ready(0);
    if (have_peer)
        ping_peer(3);
    while (serve() == 2)
        reconnect();
    printk("net: answered %u arp, %u ping, %u udp echo; rx %llu tx %llu, "
           "%llu rx errors, %llu tx errors\n", arps, pings, echoes,
           (unsigned long long)nf.rx_packets, (unsigned long long)nf.tx_packets,
           (unsigned long long)nf.rx_errors, (unsigned long long)nf.tx_errors);
    CHECK("answered pings", pings > 0);
    CHECK("answered udp", echoes > 0);
    CHECK_EQ("tx errors", nf.tx_errors, 0);
    if (pv_suspend)
        printk("net: suspended %u times, resumed in a new domain %u times\n", suspends, resumes);
    if (have_disk)
        CHECK_EQ("blkfront closed", blkfront_close(&disk), 0);
    CHECK_EQ("netfront closed", netfront_close(&nf), 0);
    finish("net");
}

void guest_main(void)
{
#ifdef NET_RING3
    ring3_run(net_main);
#else
    net_main();
#endif
}
