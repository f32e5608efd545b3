/*
 * libFuzzer target: libxc's domain image (state/stream.h) and Xen's HVM
 * save blob (state/hvm_context.h), which come from a file or another
 * host. The first byte picks the reader (0: a whole image, 1: an HVM blob
 * alone); the rest is the input. Whatever the reader accepts must hold
 * what it promises: PFNs inside the domain, data exactly for NOTAB pages,
 * vCPU records only for vCPUs below the limit, vCPU 0 present, variable
 * records inside the blob. The image is read twice, by xcs_read (a bounce
 * buffer) and by xcs_read_pages (in place, as a restore reads it): both
 * must give the same verdict, and on acceptance the same counts and the
 * same bytes consumed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xen/domctl.h>

#include "hvm_context.h"
#include "stream.h"

#define NR_PFNS 0x100000u
#define NR_VCPUS 4u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int page_in(void *ctx, uint64_t pfn, uint32_t type, const void *p)
{
    uint64_t *sum = ctx;
    if (pfn >= NR_PFNS)
        abort();
    if ((type == XEN_DOMCTL_PFINFO_NOTAB) != (p != NULL))
        abort();
    if (type != XEN_DOMCTL_PFINFO_NOTAB && type != XEN_DOMCTL_PFINFO_XALLOC &&
        type != XEN_DOMCTL_PFINFO_XTAB)
        abort();
    if (p)
        *sum += ((const uint8_t *)p)[0] + ((const uint8_t *)p)[XC_PAGE_SIZE - 1];
    return 0;
}

/* In-place destinations: a few pages, adjacent for adjacent PFNs (so that
 * the reader merges them) and reused (their contents are not compared). */
#define SCRATCH_PAGES 64u
static uint8_t scratch[SCRATCH_PAGES][XC_PAGE_SIZE];

static void *page_dest(void *ctx, uint64_t pfn)
{
    (void)ctx;
    if (pfn >= NR_PFNS)
        abort();
    return pfn % 7 == 3 ? NULL : scratch[pfn % SCRATCH_PAGES];  /* some passed over */
}

static int page_in_place(void *ctx, uint64_t pfn, uint32_t type, const void *p)
{
    (void)ctx;
    if (pfn >= NR_PFNS || (p && type != XEN_DOMCTL_PFINFO_NOTAB))
        abort();
    if (type == XEN_DOMCTL_PFINFO_NOTAB && p != page_dest(NULL, pfn))
        abort();
    return 0;
}

static void check_hvm(const struct hvm_ctx *h, const uint8_t *blob, size_t len)
{
    unsigned present = 0;
    if (!h->vcpu[0].present || h->nr_vcpus != NR_VCPUS)
        abort();
    for (unsigned i = 0; i < HVM_CTX_MAX_VCPUS; i++) {
        const struct hvm_ctx_vcpu *v = &h->vcpu[i];
        if (!v->present) {
            if (v->has_lapic || v->has_lapic_regs || v->has_mtrr ||
                v->xsave_len || v->msrs_len)
                abort();
            continue;
        }
        if (i >= NR_VCPUS)
            abort();
        present++;
        if (v->xsave_len && (v->xsave < blob || v->xsave_len > len ||
                             v->xsave - blob > (ptrdiff_t)(len - v->xsave_len)))
            abort();
        if (v->msrs_len && (v->msrs < blob || v->msrs_len > len ||
                            v->msrs - blob > (ptrdiff_t)(len - v->msrs_len)))
            abort();
    }
    if (present != h->nr_present)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    if (size < 1)
        return 0;
    if (data[0] & 1) {
        static struct hvm_ctx h;
        if (hvm_ctx_parse(data + 1, size - 1, NR_VCPUS, &h, err,
                          sizeof(err)) == 0)
            check_hvm(&h, data + 1, size - 1);
        return 0;
    }
    struct stream_memsrc ms = { data + 1, size - 1, 0 };
    struct stream_source src;
    struct xcs_limits lim = { NR_PFNS, NR_VCPUS };
    struct xcs_result r;
    uint64_t sum = 0;
    stream_source_mem(&src, &ms);
    struct stream_memsrc ms2 = { data + 1, size - 1, 0 };
    struct stream_source src2;
    struct xcs_pages pages = { page_dest, page_in_place, NULL, NULL };
    struct xcs_result r2;
    stream_source_mem(&src2, &ms2);
    int rc2 = xcs_read_pages(&src2, &lim, &pages, &r2, err, sizeof(err));
    if (rc2 && err[0] == '\0')
        abort();
    int rc = xcs_read(&src, &lim, page_in, &sum, &r, err, sizeof(err));
    if ((rc == 0) != (rc2 == 0))
        abort();                    /* the two readers disagree */
    if (rc == 0 && (ms.off != ms2.off || r.pages_data != r2.pages_data ||
                    r.pages_alloc != r2.pages_alloc || r.pages_invalid != r2.pages_invalid))
        abort();
    if (rc2 == 0)
        xcs_result_free(&r2);
    if (rc == 0) {
        if (!r.hvm || !r.hvm_blob || ms.off > ms.len)
            abort();
        check_hvm(r.hvm, r.hvm_blob, r.hvm_blob_len);
        for (size_t i = 0; i < r.nr_params; i++)
            if (r.params[i].index >= HVM_NR_PARAMS)
                abort();
        xcs_result_free(&r);
    } else if (err[0] == '\0') {
        abort();                    /* every refusal says why */
    }
    return 0;
}
