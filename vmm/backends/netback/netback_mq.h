/*
 * Multi-queue receive (io/netif.h "Multi-queue support"): a vif's one tap
 * read by the vif, each packet handed to the queue its flow hashes to, so
 * that a flow stays on one queue (in order) as Linux's netback keeps it by
 * the skb's hash. Each queue reads its packets from a datagram socketpair
 * that stands in for its tap (netback_queue.h reads vnet header + frame
 * from it as from a tap); its transmissions go to the tap itself (tx_fd).
 * A queue whose socketpair is full (its frontend posts no pages) loses the
 * packet, as a full wire would, and the other queues go on.
 */
#ifndef XENON_NETBACK_MQ_H
#define XENON_NETBACK_MQ_H

#include <stdint.h>

/* The queue count netback offers (multi-queue-max-queues). */
#define NETBK_MAX_QUEUES 4u

/* A hash of the frame's flow: IPv4/IPv6 addresses and, for TCP and UDP
 * (unfragmented), the ports, symmetric in neither; other frames hash
 * their Ethernet addresses. Pure; any length. */
uint32_t netback_flow_hash(const uint8_t *frame, uint32_t len);

struct netback_mq_stats {
    uint64_t pumped, dropped;
};

/* The frontend's own steering (netback_ctrl.h): a queue below n, or -1 to
 * leave the packet to the flow hash. */
typedef int netback_mq_pick_fn(void *opaque, const uint8_t *frame, uint32_t len);

/* Read up to a batch of packets (vnet header + frame) from tap_fd and send
 * each to the queue pick chooses (when given and it chooses), else to
 * fds[hash % n] (non-blocking). buf holds at least hdr_len + 65536 bytes.
 * 1 when the batch was full (more may wait), 0 when the tap is empty. */
int netback_mq_pump(int tap_fd, const int *fds, unsigned n, uint8_t *buf, unsigned hdr_len,
                    netback_mq_pick_fn *pick, void *opaque, struct netback_mq_stats *st);

#endif
