/*
 * libFuzzer target: netback's control ring messages (netback_ctrl.h).
 * Input: byte 0 the queue count (1..4), then 12-byte requests (as the
 * frontend writes them) until 64 bytes are left, whose first part serves
 * as the granted page (refs 1 and 2 copy from it, others fail) and the
 * rest as a frame to steer. Checked after every message: the table size
 * within NETBK_HASH_MAPPING_MAX, every entry a queue that exists, the
 * algorithm and flags ones netback offers, the id and type echoed, a
 * status of io/netif.h's; then the steered queue within the count, and
 * the flow hash (the default steering) over the same frame.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netback_ctrl.h"
#include "netback_mq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *page;
static size_t page_len;

static int copy(void *opaque, grant_ref_t ref, void *buf, uint16_t len)
{
    (void)opaque;
    if ((ref != 1 && ref != 2) || len > page_len)
        return -1;
    memcpy(buf, page, len);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 + 64)
        return 0;
    unsigned nq = 1 + data[0] % 4;
    size_t nreq = (size - 1 - 64) / sizeof(struct xen_netif_ctrl_request);
    const uint8_t *tail = data + 1 + nreq * sizeof(struct xen_netif_ctrl_request);
    page = tail;
    page_len = (size_t)(data + size - tail);
    struct netback_hash h;
    memset(&h, 0, sizeof(h));
    for (size_t i = 0; i < nreq; i++) {
        struct xen_netif_ctrl_request req;
        memcpy(&req, data + 1 + i * sizeof(req), sizeof(req));
        struct xen_netif_ctrl_response rsp;
        netback_ctrl_handle(&h, nq, &req, &rsp, copy, NULL);
        if (rsp.id != req.id || rsp.type != req.type ||
            rsp.status > XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW)
            abort();
        if (h.size > NETBK_HASH_MAPPING_MAX || h.alg > XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ ||
            (h.flags & ~(uint32_t)NETBK_HASH_FLAGS))
            abort();
        for (uint32_t k = 0; k < h.size; k++)
            if (h.mapping[k] >= nq)
                abort();
    }
    size_t flen = page_len;
    uint8_t *frame = malloc(flen);
    if (!frame)
        return 0;
    memcpy(frame, tail, flen);
    int q = netback_hash_queue(&h, nq, frame, (uint32_t)flen);
    if (q < -1 || q >= (int)nq)
        abort();
    (void)netback_flow_hash(frame, (uint32_t)flen);    /* the default steering: any frame */
    free(frame);
    return 0;
}
