/*
 * Guest-virtual to guest-physical translation by walking the guest's page
 * tables in guest memory, as the MMU would (4-level long mode, 3-level PAE,
 * 2-level 32-bit with PSE). Every table read goes through gmem, so a guest
 * pointing its tables anywhere only gets a fault. Walking ourselves avoids
 * an ioctl per hypercall pointer; 5-level paging is left to the caller.
 */
#ifndef XENON_GVA_H
#define XENON_GVA_H

#include <stdbool.h>
#include <stdint.h>

#include "gmem.h"

struct paging {
    uint64_t cr0, cr3, cr4, efer;
    bool user;          /* access made at CPL 3 */
};

enum gva_result { GVA_OK, GVA_FAULT, GVA_UNSUPPORTED };

/* Translate gva for a read or write; on GVA_OK *gpa is set. */
enum gva_result gva_translate(const struct gmem *gm, const struct paging *pg,
                              uint64_t gva, bool write, uint64_t *gpa);

#endif
