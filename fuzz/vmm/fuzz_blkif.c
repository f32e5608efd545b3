/* libFuzzer target: blkback's request parser and checks (vmm/backends/
 * blkback/blkif_req.c) on any slot bytes, in either layout, for any disk
 * size. A request the checks pass must be one blkback can carry out
 * without leaving the disk or a granted page. Input: a flags byte (bit 0:
 * x86_32, bit 1: read-only), 8 bytes of disk size in sectors, the slot. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blkif_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 9)
        return 0;
    enum blkif_abi abi = data[0] & 1 ? BLKIF_ABI_X86_32 : BLKIF_ABI_X86_64;
    bool ro = data[0] & 2;
    uint64_t disk;
    memcpy(&disk, data + 1, 8);
    uint8_t slot[sizeof(union blkif_sring_entry)] = { 0 };
    size_t n = size - 9 < blkif_slot_size(abi) ? size - 9 : blkif_slot_size(abi);
    memcpy(slot, data + 9, n);
    struct blk_req r;
    blkif_parse(slot, abi, &r);
    int st = blkif_check(&r, disk, ro);
    if (st != BLKIF_RSP_OKAY)
        return 0;
    if (r.op == BLKIF_OP_DISCARD) {
        if (ro || r.sector + r.nr_sectors < r.sector || r.sector + r.nr_sectors > disk)
            abort();
        return 0;
    }
    if (r.op != BLKIF_OP_READ && r.op != BLKIF_OP_WRITE &&
        r.op != BLKIF_OP_FLUSH_DISKCACHE && r.op != BLKIF_OP_WRITE_BARRIER)
        abort();
    if (r.nr_segments > BLKIF_MAX_SEGMENTS_PER_REQUEST || (ro && r.op != BLKIF_OP_READ))
        abort();
    uint64_t sum = 0;
    for (unsigned i = 0; i < r.nr_segments; i++) {
        if (r.seg[i].first_sect > r.seg[i].last_sect || r.seg[i].last_sect > 7)
            abort();
        sum += r.seg[i].last_sect - r.seg[i].first_sect + 1u;
    }
    if (sum != r.nr_sectors || (sum && (r.sector + sum < r.sector || r.sector + sum > disk)))
        abort();
    uint8_t rsp[sizeof(union blkif_sring_entry)];
    blkif_put_response(rsp, r.id, r.op, (int16_t)st);
    return 0;
}
