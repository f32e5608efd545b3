/*
 * netback: the vif backend in this VMM (docs/net.md). A xenbus driver
 * (xenbus_be.h) serving 1 to NETBK_MAX_QUEUES queues of io/netif.h rings
 * per vif on the I/O thread (netback_queue.h, netback_mq.h), against the
 * tap the toolstack opened and passed with DEVICE_ATTACH. It publishes the
 * features Linux's netback publishes (sg, GSO TCPv4/TCPv6, rx-copy, no
 * rx-flip, split event channels, IPv6 checksum offload, multi-queue) and
 * connects when the frontend has written tx-ring-ref, rx-ring-ref and
 * event-channel (or event-channel-tx and -rx), at the root or per queue
 * under queue-N/, with request-rx-copy = 1. The guest sends nothing until
 * the toolstack wrote hotplug-status = connected; with antispoof = 1 its
 * frames are filtered (netback_filter.h).
 */
#ifndef XENON_NETBACK_H
#define XENON_NETBACK_H

/* Register the driver (kind XENON_DEV_VIF) with xenbus_be. */
void netback_register(void);

#endif
