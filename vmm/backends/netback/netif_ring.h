/*
 * io/netif.h's rings for C11 code: ring.h wants the kernel's barrier
 * names, which we give as C11 fences (the guest is another CPU).
 */
#ifndef XENON_NETIF_RING_H
#define XENON_NETIF_RING_H

#include <stddef.h>
#include <string.h>
#include <xen/grant_table.h>

#ifndef xen_mb
#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif

#include <xen/io/netif.h>

#define NETIF_PAGE_SIZE 4096u
#define NETIF_TX_RING_SIZE __CONST_RING_SIZE(netif_tx, NETIF_PAGE_SIZE)
#define NETIF_RX_RING_SIZE __CONST_RING_SIZE(netif_rx, NETIF_PAGE_SIZE)

#endif
