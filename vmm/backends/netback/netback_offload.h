/*
 * Checksum and segmentation offload between io/netif.h's flags and extra
 * info and the tap's struct virtio_net_hdr (IFF_VNET_HDR). Pure.
 *
 * Guest to tap (netback's checksum_setup, skb_checksum_setup): a packet
 * marked NETTXF_csum_blank, or carrying a GSO extra, has a partial
 * checksum: its IPv4 or IPv6 header (with hop-by-hop, routing, destination
 * and AH extension headers) is parsed to find the TCP or UDP header, and
 * the header says VIRTIO_NET_HDR_F_NEEDS_CSUM with that csum_start and
 * csum_offset. A GSO packet without csum_blank (a buggy peer) gets its
 * pseudo-header checksum recomputed, as netback does. Fragments, other
 * protocols, VLAN tags and headers that run past the packet make the
 * packet undeliverable (-1: dropped). GSO needs TCP of the matching IP
 * version. NETTXF_data_validated alone is VIRTIO_NET_HDR_F_DATA_VALID.
 *
 * Tap to guest: NEEDS_CSUM is NETRXF_csum_blank | NETRXF_data_validated,
 * DATA_VALID is NETRXF_data_validated, TCPv4/TCPv6 GSO becomes a GSO extra
 * (only offered to a frontend that asked for it: TUNSETOFFLOAD follows the
 * frontend's features). Any other GSO type (UDP, ECN) is refused (-1).
 */
#ifndef XENON_NETBACK_OFFLOAD_H
#define XENON_NETBACK_OFFLOAD_H

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netif_ring.h"

/* pkt is the backend's own copy and may be changed (the recomputed
 * pseudo-header checksum). gso is NULL when the packet has none. */
int netback_tx_offload(uint8_t *pkt, size_t len, uint16_t nettxf,
                       const struct netif_extra_info *gso,
                       struct virtio_net_hdr *h);

/* The same judged from the packet's first `have` bytes alone (a head the
 * backend copied; the rest stays in the guest's pages): only pkt[0, have)
 * is read or written, lengths are checked against the whole len. -2 when
 * the headers reach past the head (the caller copies the packet whole and
 * asks netback_tx_offload()), -1 as above. */
int netback_tx_offload_head(uint8_t *pkt, size_t have, size_t len, uint16_t nettxf,
                            const struct netif_extra_info *gso,
                            struct virtio_net_hdr *h);

/* Flags for the first rx response, and whether a GSO extra follows. */
int netback_rx_offload(const struct virtio_net_hdr *h, uint16_t *netrxf,
                       bool *has_gso, struct netif_extra_info *gso);

/* Finish a partial checksum (NEEDS_CSUM) in software, for a frontend that
 * cannot take it blank: the sum from csum_start to the end, stored at
 * csum_start + csum_offset. -1 when those lie outside the packet. */
int netback_csum_finish(uint8_t *pkt, size_t len, const struct virtio_net_hdr *h);

/* The TUNSETOFFLOAD flags for a frontend's rx features. */
unsigned netback_tap_offloads(bool rx_csum, bool gso_tcpv4, bool gso_tcpv6);

#endif
