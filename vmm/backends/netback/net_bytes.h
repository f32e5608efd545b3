/*
 * Big-endian fields of a frame (Ethernet, IP, ARP, the control ring's
 * Toeplitz key), read byte by byte: a guest's packet is not aligned.
 * Callers check the length first.
 */
#ifndef XENON_NET_BYTES_H
#define XENON_NET_BYTES_H

#include <stdint.h>

static inline uint16_t net_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t net_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif
