#include "hcall_patch.h"

#include <string.h>

#include "hypercall.h"

static const uint8_t VMCALL[3] = { 0x0f, 0x01, 0xc1 };
static const uint8_t VMMCALL[3] = { 0x0f, 0x01, 0xd9 };
static const uint8_t ENDBR64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };

/* A return: ret, or jmp rel32 (to the return thunk under retpolines). */
static int is_return(const uint8_t *p, size_t avail)
{
    return (avail >= 1 && p[0] == 0xc3) || (avail >= 5 && p[0] == 0xe9);
}

unsigned hcall_patch_segment(uint8_t *seg, size_t len, uint64_t paddr)
{
    unsigned patched = 0;
    /* Function starts are 16-byte aligned in the guest's address space. */
    size_t first = (size_t)((16 - (paddr & 15)) & 15);
    for (size_t off = first; off + 4 <= len; off += 16) {
        uint8_t *p = seg + off;
        size_t avail = len - off;
        if (avail >= 8 && memcmp(p, ENDBR64, 4) == 0) {
            p += 4;
            avail -= 4;
        }
        if (avail < 4 || (memcmp(p, VMCALL, 3) != 0 && memcmp(p, VMMCALL, 3) != 0))
            continue;
        if (!is_return(p + 3, avail - 3))
            continue;
        p[0] = 0xe7;                    /* out %eax, $imm8 */
        p[1] = XEN_HYPERCALL_PORT;
        p[2] = 0x90;                    /* nop */
        patched++;
    }
    return patched;
}
