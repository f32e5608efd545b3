/*
 * Anti-spoofing for a vif's transmit path, the job Xen leaves to the
 * hotplug script's firewall rules (ebtables/nftables on a bridge port, or
 * vif-common.sh's iptables rules from `ip=`), done here where there are
 * none (docs/net.md, "MAC filtering"). Pure: it judges one frame, the
 * VMM's own copy of it after the grant copy, so the guest cannot change
 * it after the verdict.
 *
 * With a filter on, a frame passes only when:
 * - its Ethernet source is the vif's MAC (the backend's `mac` node);
 * - an ARP frame (0x0806) of IPv4 over 6-byte hardware addresses (any
 *   htype: Linux takes 802 as well as Ethernet) is whole and its sender
 *   hardware address is the vif's MAC too;
 * - when addresses were given (`ip=`, space- or comma-separated IPv4
 *   addresses or A.B.C.D/N networks, as Xen's scripts take it): an IPv4
 *   frame's source is in them (or it is a DHCP request, UDP 68 -> 67, which
 *   vif-common.sh always lets through), an ARP frame's sender protocol
 *   address is in them (or 0.0.0.0, an ARP probe);
 * - it is not VLAN-tagged (0x8100, 0x88a8, 0x9100): the addresses inside
 *   a tag are not judged here, so a tag could carry a forged ARP.
 * Other ethertypes (IPv6 among them, which Xen's iptables rules do not see
 * either) are judged by their Ethernet source only.
 */
#ifndef XENON_NETBACK_FILTER_H
#define XENON_NETBACK_FILTER_H

#include <stdbool.h>
#include <stdint.h>

#define NETBK_FILTER_MAX_NETS 16

struct netback_filter {
    uint8_t mac[6];
    unsigned nr_nets;               /* 0: no address check */
    struct { uint32_t addr, mask; } nets[NETBK_FILTER_MAX_NETS];  /* host order */
};

enum netback_filter_verdict {
    NETBK_FILTER_PASS,
    NETBK_FILTER_SHORT,             /* shorter than its headers */
    NETBK_FILTER_SRC_MAC,           /* Ethernet source not the vif's */
    NETBK_FILTER_ARP_MAC,           /* ARP sender hardware address not it */
    NETBK_FILTER_ARP_IP,            /* ARP sender address not in ip= */
    NETBK_FILTER_IP,                /* IPv4 source not in ip= */
    NETBK_FILTER_VLAN,              /* VLAN-tagged */
    NETBK_FILTER_NR
};

/* Set f from the backend's `mac` ("xx:xx:xx:xx:xx:xx") and `ip` (NULL or ""
 * for none). 0, or -1 when either is malformed (then f is unusable, and
 * the caller must not let the vif send: the script asked for filtering). */
int netback_filter_init(struct netback_filter *f, const char *mac, const char *ip);

/* The verdict on one frame (len bytes from its Ethernet header). */
enum netback_filter_verdict netback_filter_judge(const struct netback_filter *f,
                                                 const uint8_t *frame, uint32_t len);

/* A few words for the log. */
const char *netback_filter_why(enum netback_filter_verdict v);

#endif
