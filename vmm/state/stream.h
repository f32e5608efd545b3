/*
 * libxc's domain image (docs/specs/libxc-migration-stream.pandoc, v3), as
 * the VMM writes and reads it: the part of a Xen save file or migration
 * stream that holds the domain itself (the xl header and libxl's records
 * around it are libxenon's, libxenon/savefile.h). Layouts:
 * include/xenon/xen_stream_format.h.
 *
 * We write, as libxc writes an HVM (and PVH) domain:
 *   image header, domain header (type HVM), X86_CPUID_POLICY,
 *   X86_MSR_POLICY, STATIC_DATA_END, PAGE_DATA..., X86_TSC_INFO,
 *   HVM_CONTEXT, HVM_PARAMS, END.
 * Memory: each PFN the domain has is written once. A page of zeroes is
 * written as XEN_DOMCTL_PFINFO_XALLOC (populate, no data: 8 bytes instead
 * of 4 KiB; a restorer's fresh pages are zero, Xen's as ours), unless the
 * caller asks for data (a later round of a live migration, where the
 * destination may hold an older, non-zero copy). PFNs the domain does not
 * have (the MMIO hole) are not written at all.
 */
#ifndef XENON_STREAM_H
#define XENON_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/hvm/params.h>

#include "stream_io.h"
#include "xenon/xen_stream_format.h"

struct hvm_ctx;

/* ---- writer ----------------------------------------------------------- */

/* The host page at pfn, or NULL if the domain has no page there. A page
 * the callback knows to be zero (a hole of the memfd) it may give as
 * xcs_zero_page: the writer then takes it as zero without reading it. */
typedef const void *(*xcs_page_fn)(void *ctx, uint64_t pfn);
extern const uint8_t xcs_zero_page[4096];

#define XCS_ZERO_AS_DATA (1u << 0)  /* send zero pages with their data */

/* Each returns 0 or a negative errno from the sink (-EINVAL for a body
 * the format cannot hold). */
int xcs_write_headers(struct stream_sink *out, uint32_t xen_major,
                      uint32_t xen_minor);
int xcs_write_record(struct stream_sink *out, uint32_t type,
                     const void *body, size_t len);
int xcs_write_cpuid_policy(struct stream_sink *out,
                           const xen_cpuid_leaf_t *leaves, size_t n);
int xcs_write_msr_policy(struct stream_sink *out,
                         const xen_msr_entry_t *msrs, size_t n);
/* PAGE_DATA records for PFNs [0, nr_pfns), batched as libxc batches. The
 * counts of pages written with data and as XALLOC go to *data, *zero. */
int xcs_write_memory(struct stream_sink *out, uint64_t nr_pfns,
                     xcs_page_fn page, void *ctx, unsigned flags,
                     uint64_t *data, uint64_t *zero);
/* The same for the PFNs set in bitmap (nr_pfns bits) only, visiting the
 * set bits alone: a pre-copy round's few dirty pages out of many. */
int xcs_write_memory_set(struct stream_sink *out, const uint64_t *bitmap,
                         uint64_t nr_pfns, xcs_page_fn page, void *ctx,
                         unsigned flags, uint64_t *data, uint64_t *zero);
int xcs_write_tsc_info(struct stream_sink *out, const struct xc_tsc_info *t);
int xcs_write_hvm_params(struct stream_sink *out,
                         const struct xc_hvm_param *p, size_t n);

/* ---- reader ----------------------------------------------------------- */

struct xcs_limits {
    uint64_t nr_pfns;               /* PFNs must be below this */
    unsigned nr_vcpus;              /* HVM_CONTEXT's vCPU ids below this */
};

/* Called for each validated PFN of a PAGE_DATA record, in stream order:
 * type is XEN_DOMCTL_PFINFO_NOTAB (data: PAGE_SIZE bytes), _XALLOC (data
 * NULL: the page exists, zero) or _XTAB (data NULL: the page no longer
 * exists). 0, or a negative errno that stops the read. */
typedef int (*xcs_page_in_fn)(void *ctx, uint64_t pfn, uint32_t type,
                              const void *data);

#define XCS_MAX_CPUID_LEAVES 512u
#define XCS_MAX_MSRS 512u

/* What a stream carried, validated. Free with xcs_result_free(). */
struct xcs_result {
    uint32_t version;               /* of the image: 2 or 3 */
    uint32_t xen_major, xen_minor;
    xen_cpuid_leaf_t *cpuid;
    size_t nr_cpuid;
    xen_msr_entry_t *msrs;
    size_t nr_msrs;
    bool have_tsc;
    struct xc_tsc_info tsc;
    uint8_t *hvm_blob;              /* the HVM_CONTEXT record */
    size_t hvm_blob_len;
    struct hvm_ctx *hvm;            /* its parse (points into hvm_blob) */
    struct xc_hvm_param *params;
    size_t nr_params;
    uint64_t pages_data, pages_alloc, pages_invalid;
    uint64_t optional_skipped;      /* optional records we do not know */
};

/* Read one image, up to and including its END record and not a byte
 * beyond. Refuses, with -EINVAL and a message naming the record and the
 * problem in err: a bad header, a truncated record, a length over its
 * record's bound or not its record's size, non-zero padding or reserved
 * fields, a PAGE_DATA whose count and length disagree or with a PFN at or
 * above nr_pfns or of a type an HVM domain cannot have, HVM_PARAMS that
 * disagree with their count, repeat or are not ones libxc saves, an
 * HVM_CONTEXT that hvm_ctx_parse() refuses, an unknown mandatory record
 * or one we do not restore (PV, checkpoint, TOOLSTACK), records out of
 * order (policies after STATIC_DATA_END, PAGE_DATA after the vCPU state)
 * or twice, and an END with no HVM_CONTEXT before it; a stream that
 * ends early is refused the same way ("truncated"). Another read error is
 * passed on as its negative errno, as is the page callback's. On failure
 * *out is freed. */
int xcs_read(struct stream_source *in, const struct xcs_limits *lim,
             xcs_page_in_fn page, void *ctx, struct xcs_result *out,
             char *err, size_t errlen);
void xcs_result_free(struct xcs_result *r);

/* Where the contents of a PAGE_DATA page go, read straight from the
 * stream with no bounce buffer: PAGE_SIZE writable bytes for pfn, or NULL
 * to pass over them unread (a seek, on a regular file). */
typedef void *(*xcs_page_dest_fn)(void *ctx, uint64_t pfn);

struct xcs_pages {
    xcs_page_dest_fn dest;          /* NULL: every page passed over */
    xcs_page_in_fn page;            /* NULL: none; data is dest's (or NULL) */
    void *ctx;
    /* Optional: a descriptor holding the page dest names, at *off (guest
     * memory's memfd), or -1. Where the source can copy into a descriptor
     * itself (stream_copy_to_fd: a regular file), runs of such pages are
     * copied there, not read through dest's mapping. */
    int (*dest_fd)(void *ctx, uint64_t pfn, uint64_t *off);
};

/* xcs_read, with PAGE_DATA contents read into pages->dest in place, and
 * pages->page called for each PFN in stream order (a page with data once
 * its data is in; none before the PFNs ahead of it are done). The same
 * refusals, and a record's header and PFNs are checked before any of its
 * data is read; but a record cut short, or one refused later, leaves the
 * pages read so far written: the caller throws them away (a restore
 * destroys the held domain). */
int xcs_read_pages(struct stream_source *in, const struct xcs_limits *lim,
                   const struct xcs_pages *pages, struct xcs_result *out,
                   char *err, size_t errlen);

/* The record type's name as the spec spells it ("PAGE_DATA"), or NULL. */
const char *xcs_record_name(uint32_t type);

#endif
