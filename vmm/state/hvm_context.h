/*
 * HVM_CONTEXT: Xen's HVM save blob (xen/hvm/save.h), as XEN_DOMCTL_
 * gethvmcontext returns it and libxc carries it in the HVM_CONTEXT record.
 * The blob is a run of entries, each a struct hvm_save_descriptor
 * (typecode, instance, length) and `length` bytes of the record named by
 * the typecode: HEADER first, then the per-domain and per-vCPU records
 * (instance = vCPU id), then END (typecode 0, length 0).
 *
 * The builder takes Xen's own structs from the caller (struct hvm_hw_cpu
 * and friends): converting a platform vCPU state into them is a separate
 * job. The parser treats a blob as hostile and hands back copies of the
 * validated records.
 */
#ifndef XENON_HVM_CONTEXT_H
#define XENON_HVM_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/hvm/save.h>

#include "stream_io.h"

#define HVM_CTX_MAX_VCPUS 128       /* Xen's HVM_MAX_VCPUS */
#define HVM_CTX_MAX_XSAVE (64u << 10)   /* one vCPU's CPU_XSAVE payload */
#define HVM_CTX_MAX_MSRS 64u        /* entries in one CPU_MSR record */
#define HVM_CTX_MAX_LEN (16u << 20) /* a whole blob */

/* One vCPU's records. xsave (a struct hvm_hw_cpu_xsave and its save area)
 * and msrs (a struct hvm_msr) are variable-length and optional. */
struct hvm_ctx_vcpu {
    bool present;                   /* parser: a CPU record was seen */
    struct hvm_hw_cpu cpu;
    bool has_lapic, has_lapic_regs, has_mtrr, has_tsc_adjust;
    struct hvm_hw_lapic lapic;
    struct hvm_hw_lapic_regs lapic_regs;
    struct hvm_hw_mtrr mtrr;
    struct hvm_tsc_adjust tsc_adjust;
    const uint8_t *xsave;           /* parser: points into the blob */
    uint32_t xsave_len;
    const uint8_t *msrs;
    uint32_t msrs_len;
};

/* Append a blob: HEADER, each vCPU's records (vcpus[i] is instance i and
 * must have present set; vCPUs without it are left out, as Xen leaves out
 * a vCPU that is down), END. 0 or a negative errno (-EINVAL for a record
 * too large or a malformed xsave/msrs payload). */
int hvm_ctx_build(struct stream_membuf *out, const struct hvm_save_header *hdr,
                  const struct hvm_ctx_vcpu *vcpus, unsigned nr_vcpus);

/* Validated content of a blob. The xsave/msrs pointers point into the
 * parsed blob, which must outlive it. */
struct hvm_ctx {
    struct hvm_save_header header;
    unsigned nr_vcpus;              /* the limit given to the parser */
    unsigned nr_present;            /* vCPUs with a CPU record */
    struct hvm_ctx_vcpu vcpu[HVM_CTX_MAX_VCPUS];
    /* Per-domain records we carry but do not interpret (an emulated PIC,
     * IOAPIC, PIT, ... a PVH domain does not have): counted only. */
    unsigned nr_domain_records;
};

/* Parse a blob for a domain of nr_vcpus vCPUs. Refuses (-EINVAL, with a
 * message naming the record and the problem in err) a truncated entry, a
 * length that is not its type's, an unknown typecode, a per-vCPU record
 * whose instance is not below nr_vcpus, a duplicate (type, instance), a
 * missing or bad HEADER, no CPU record for vCPU 0, per-vCPU records for a
 * vCPU without a CPU record, bytes after END or no END. */
int hvm_ctx_parse(const uint8_t *blob, size_t len, unsigned nr_vcpus,
                  struct hvm_ctx *out, char *err, size_t errlen);

#endif
