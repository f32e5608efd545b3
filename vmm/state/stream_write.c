/* libxc's domain image, written (see stream.h for what and in which order). */
#include "stream.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xen/domctl.h>

#include "util.h"

static const uint8_t zero_pad[XEN_STREAM_REC_ALIGN];
const uint8_t xcs_zero_page[4096];
_Static_assert(sizeof(xcs_zero_page) == XC_PAGE_SIZE, "a page");

int xcs_write_headers(struct stream_sink *out, uint32_t xen_major,
                      uint32_t xen_minor)
{
    struct xc_stream_ihdr ih = {
        .marker = htobe64(XC_STREAM_MARKER),
        .id = htobe32(XC_STREAM_ID),
        .version = htobe32(XC_STREAM_VERSION),
        .options = htobe16(0),      /* little-endian */
    };
    struct xc_stream_dhdr dh = {
        .type = XC_DOMAIN_TYPE_X86_HVM,
        .page_shift = XC_PAGE_SHIFT,
        .xen_major = xen_major,
        .xen_minor = xen_minor,
    };
    struct iovec iov[2] = { { &ih, sizeof(ih) }, { &dh, sizeof(dh) } };
    return stream_putv(out, iov, 2);
}

/* A record from up to three pieces of body, padded to 8 octets. */
static int put_record(struct stream_sink *out, uint32_t type,
                      const struct iovec *body, int nbody)
{
    size_t len = 0;
    for (int i = 0; i < nbody; i++)
        len += body[i].iov_len;
    if (len > XC_REC_LENGTH_MAX)
        return -EINVAL;
    struct xen_stream_rhdr rh = { type, (uint32_t)len };
    struct iovec iov[5] = { { &rh, sizeof(rh) } };
    int n = 1;
    for (int i = 0; i < nbody; i++)
        if (body[i].iov_len)
            iov[n++] = body[i];
    size_t pad = ALIGN_UP(len, XEN_STREAM_REC_ALIGN) - len;
    if (pad)
        iov[n++] = (struct iovec){ (void *)zero_pad, pad };
    return stream_putv(out, iov, n);
}

int xcs_write_record(struct stream_sink *out, uint32_t type,
                     const void *body, size_t len)
{
    struct iovec b = { (void *)body, len };
    return put_record(out, type, &b, 1);
}

int xcs_write_cpuid_policy(struct stream_sink *out,
                           const xen_cpuid_leaf_t *leaves, size_t n)
{
    if (n == 0 || n > XCS_MAX_CPUID_LEAVES)
        return -EINVAL;
    return xcs_write_record(out, XC_REC_X86_CPUID_POLICY, leaves,
                            n * sizeof(*leaves));
}

int xcs_write_msr_policy(struct stream_sink *out,
                         const xen_msr_entry_t *msrs, size_t n)
{
    if (n == 0 || n > XCS_MAX_MSRS)
        return -EINVAL;
    return xcs_write_record(out, XC_REC_X86_MSR_POLICY, msrs,
                            n * sizeof(*msrs));
}

static bool page_is_zero(const void *page)
{
    const uint64_t *w = page;
    for (size_t i = 0; i < XC_PAGE_SIZE / sizeof(*w); i += 4)
        if (w[i] | w[i + 1] | w[i + 2] | w[i + 3])
            return false;
    return true;
}

/* One PAGE_DATA record: header, pfn words, the pages with data. Written
 * with one gathered write (the fd sink splits it at IOV_MAX). */
static int put_batch(struct stream_sink *out, const uint64_t *pfns,
                     unsigned count, struct iovec *pages, unsigned nr_data)
{
    struct xc_page_data_hdr ph = { count, 0 };
    size_t len = sizeof(ph) + count * sizeof(*pfns) +
                 (size_t)nr_data * XC_PAGE_SIZE;
    struct xen_stream_rhdr rh = { XC_REC_PAGE_DATA, (uint32_t)len };
    /* the three slots before pages[] were left free by the caller */
    pages[-3] = (struct iovec){ &rh, sizeof(rh) };
    pages[-2] = (struct iovec){ &ph, sizeof(ph) };
    pages[-1] = (struct iovec){ (void *)pfns, count * sizeof(*pfns) };
    return stream_putv(out, pages - 3, nr_data + 3);
}

/* PAGE_DATA records filled a page at a time, written a batch at a time:
 * shared by the whole-memory walk and the dirty-bitmap walk. */
struct page_batch {
    struct stream_sink *out;
    unsigned flags;
    uint64_t *pfns;
    struct iovec *iov;      /* three free slots, then the data pages */
    unsigned count, nr_data;
    uint64_t n_data, n_zero;
};

static int batch_open(struct page_batch *b, struct stream_sink *out,
                      unsigned flags)
{
    _Static_assert((size_t)XC_PAGE_BATCH * 4096 + 1024 * 8 + 16 <=
                  XC_REC_LENGTH_MAX, "batch fits a record");
    *b = (struct page_batch){ .out = out, .flags = flags };
    b->pfns = malloc(XC_PAGE_BATCH * sizeof(*b->pfns));
    b->iov = malloc((XC_PAGE_BATCH + 3) * sizeof(*b->iov));
    return b->pfns && b->iov ? 0 : -ENOMEM;
}

/* Adds page pfn, or nothing when page() gives NULL (not RAM). */
static int batch_add(struct page_batch *b, uint64_t pfn, xcs_page_fn page,
                     void *ctx)
{
    if (pfn > XC_PAGE_PFN_MASK)
        return -EINVAL;
    const void *p = page(ctx, pfn);
    if (!p)
        return 0;
    if (!(b->flags & XCS_ZERO_AS_DATA) &&
        (p == xcs_zero_page || page_is_zero(p))) {
        b->pfns[b->count++] = pfn | XC_PAGE_TYPE(XEN_DOMCTL_PFINFO_XALLOC);
        b->n_zero++;
    } else {
        b->pfns[b->count++] = pfn | XC_PAGE_TYPE(XEN_DOMCTL_PFINFO_NOTAB);
        b->iov[3 + b->nr_data++] = (struct iovec){ (void *)p, XC_PAGE_SIZE };
        b->n_data++;
    }
    if (b->count < XC_PAGE_BATCH)
        return 0;
    int rc = put_batch(b->out, b->pfns, b->count, b->iov + 3, b->nr_data);
    b->count = b->nr_data = 0;
    return rc;
}

/* Writes what is left when the walk went well (rc 0), frees, counts. */
static int batch_close(struct page_batch *b, int rc, uint64_t *data,
                       uint64_t *zero)
{
    if (rc == 0 && b->count)
        rc = put_batch(b->out, b->pfns, b->count, b->iov + 3, b->nr_data);
    free(b->pfns);
    free(b->iov);
    if (data)
        *data = b->n_data;
    if (zero)
        *zero = b->n_zero;
    return rc;
}

int xcs_write_memory(struct stream_sink *out, uint64_t nr_pfns,
                     xcs_page_fn page, void *ctx, unsigned flags,
                     uint64_t *data, uint64_t *zero)
{
    struct page_batch b;
    int rc = batch_open(&b, out, flags);
    for (uint64_t pfn = 0; pfn < nr_pfns && rc == 0; pfn++)
        rc = batch_add(&b, pfn, page, ctx);
    return batch_close(&b, rc, data, zero);
}

int xcs_write_tsc_info(struct stream_sink *out, const struct xc_tsc_info *t)
{
    struct xc_tsc_info c = *t;
    c._res1 = 0;
    return xcs_write_record(out, XC_REC_X86_TSC_INFO, &c, sizeof(c));
}

int xcs_write_hvm_params(struct stream_sink *out,
                         const struct xc_hvm_param *p, size_t n)
{
    /* libxc leaves the record out when no parameter is set. */
    if (n == 0)
        return 0;
    if (n > HVM_NR_PARAMS)
        return -EINVAL;
    struct xc_hvm_params_hdr h = { (uint32_t)n, 0 };
    struct iovec body[2] = { { &h, sizeof(h) },
                             { (void *)p, n * sizeof(*p) } };
    return put_record(out, XC_REC_HVM_PARAMS, body, 2);
}

int xcs_write_memory_set(struct stream_sink *out, const uint64_t *bitmap,
                         uint64_t nr_pfns, xcs_page_fn page, void *ctx,
                         unsigned flags, uint64_t *data, uint64_t *zero)
{
    struct page_batch b;
    int rc = batch_open(&b, out, flags);
    for (uint64_t w = 0; w < (nr_pfns + 63) / 64 && rc == 0; w++) {
        uint64_t word = bitmap[w];
        if (w * 64 + 64 > nr_pfns && nr_pfns % 64)
            word &= (1ull << (nr_pfns % 64)) - 1;
        while (word && rc == 0) {
            uint64_t pfn = w * 64 + (unsigned)__builtin_ctzll(word);
            word &= word - 1;
            rc = batch_add(&b, pfn, page, ctx);
        }
    }
    return batch_close(&b, rc, data, zero);
}
