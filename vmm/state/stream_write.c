/* libxc's domain image, written (see stream.h for what and in which order). */
#include "stream.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xen/domctl.h>

#include "util.h"

static const uint8_t zero_pad[XEN_STREAM_REC_ALIGN];
/* Page aligned: as data (XCS_ZERO_AS_DATA) it may go to a direct write. */
const uint8_t xcs_zero_page[4096] __attribute__((aligned(4096)));
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

/* PAGE_DATA records filled a page at a time, written a batch at a time:
 * shared by the whole-memory walk and the dirty-bitmap walk.
 *
 * A batch's header (record header, PAGE_DATA header, the PFN words) is
 * built in one page-aligned buffer. Where the sink can write straight
 * from memory (set_direct: O_DIRECT on a file), batches are sized so that
 * every batch's page data lies at a page-aligned stream offset: the first
 * batch's PFN count makes its header end on a page boundary, and each
 * later one holds DIRECT_BATCH PFNs, whose header is exactly one page
 * (16 + 8 * 510 = 4096). The pages then go from guest memory to the disk
 * with no copy into the page cache and no writeback left for the fsync.
 * Every record stays an ordinary one (1 to 512 PFNs, within libxc's
 * MAX_BATCH_SIZE); only the last, partial batch is written through the
 * cache, with the records after it. */
#define BATCH_HDR (sizeof(struct xen_stream_rhdr) + sizeof(struct xc_page_data_hdr))
#define DIRECT_BATCH ((XC_PAGE_SIZE - BATCH_HDR) / sizeof(uint64_t))
_Static_assert(BATCH_HDR + DIRECT_BATCH * sizeof(uint64_t) == XC_PAGE_SIZE,
               "a direct batch's header is one page");
_Static_assert(STREAM_DIRECT_ALIGN == XC_PAGE_SIZE, "direct writes are page aligned");
_Static_assert(XC_PAGE_SIZE / sizeof(uint64_t) <= XC_PAGE_BATCH,
               "a first direct batch stays within libxc's batch");
#define HDR_BUF ALIGN_UP(BATCH_HDR + XC_PAGE_BATCH * sizeof(uint64_t), XC_PAGE_SIZE)

struct page_batch {
    struct stream_sink *out;
    unsigned flags;
    uint8_t *hdr;           /* page aligned: rhdr, PAGE_DATA header, PFNs */
    uint64_t *pfns;         /* hdr + BATCH_HDR */
    struct iovec *iov;      /* the header, then runs of data pages */
    unsigned count, nr_data, nr_iov, limit;
    bool aligned;           /* batches sized for page-aligned data */
    bool direct;            /* the sink's direct writes are on */
    uint64_t n_data, n_zero;
};

static uint64_t sink_pos(const struct page_batch *b)
{
    return b->out->origin + b->out->bytes;
}

/* PFNs in the batch about to start: XC_PAGE_BATCH, or, aligned, as many
 * as bring its header's end to a page boundary (510 from one; a stream
 * 16 bytes short of one takes 512, as a record needs one PFN at least). */
static unsigned batch_limit(const struct page_batch *b)
{
    if (!b->aligned)
        return XC_PAGE_BATCH;
    uint64_t end = (sink_pos(b) + BATCH_HDR) % XC_PAGE_SIZE;
    unsigned n = (unsigned)((XC_PAGE_SIZE - end) % XC_PAGE_SIZE / sizeof(uint64_t));
    return n ? n : XC_PAGE_SIZE / sizeof(uint64_t);
}

static void set_direct(struct page_batch *b, bool on)
{
    if (b->direct == on)
        return;
    if (on && b->out->set_direct(b->out->ctx, 1) < 0) {
        b->aligned = false;     /* the sink cannot: batch as libxc does */
        return;
    }
    if (!on)
        (void)b->out->set_direct(b->out->ctx, 0);
    b->direct = on;
}

/* The batch as one PAGE_DATA record: header, PFN words, the pages with
 * data, in gathered writes (the fd sink splits them at IOV_MAX). */
static int put_batch(struct page_batch *b)
{
    size_t hlen = BATCH_HDR + b->count * sizeof(uint64_t);
    struct xen_stream_rhdr rh = {
        XC_REC_PAGE_DATA,
        (uint32_t)(hlen - sizeof(rh) + (size_t)b->nr_data * XC_PAGE_SIZE) };
    struct xc_page_data_hdr ph = { b->count, 0 };
    memcpy(b->hdr, &rh, sizeof(rh));
    memcpy(b->hdr + sizeof(rh), &ph, sizeof(ph));
    b->iov[0] = (struct iovec){ b->hdr, hlen };
    struct iovec *v = b->iov;
    int n = (int)b->nr_iov + 1, rc = 0;
    uint64_t pos = sink_pos(b);
    bool data_aligned = b->aligned && (pos + hlen) % XC_PAGE_SIZE == 0;
    if (data_aligned && pos % XC_PAGE_SIZE) {
        /* The first batch: its header ends the page the stream was in,
         * through the cache; its data starts the direct run. */
        rc = stream_putv(b->out, v, 1);
        v++;
        n--;
    }
    if (rc == 0 && n > 0) {
        set_direct(b, data_aligned);
        rc = stream_putv(b->out, v, n);
    }
    b->count = b->nr_data = b->nr_iov = 0;
    b->limit = batch_limit(b);
    return rc;
}

static int batch_open(struct page_batch *b, struct stream_sink *out,
                      unsigned flags)
{
    _Static_assert((size_t)XC_PAGE_BATCH * 4096 + 1024 * 8 + 16 <=
                  XC_REC_LENGTH_MAX, "batch fits a record");
    *b = (struct page_batch){ .out = out, .flags = flags };
    b->hdr = aligned_alloc(XC_PAGE_SIZE, HDR_BUF);
    b->iov = malloc((XC_PAGE_BATCH + 1) * sizeof(*b->iov));
    if (!b->hdr || !b->iov)
        return -ENOMEM;
    b->pfns = (uint64_t *)(void *)(b->hdr + BATCH_HDR);
    /* Asked once up front, so that a sink that cannot (a pipe) gets
     * libxc's batches from the first. */
    b->aligned = out->set_direct && (out->origin + out->bytes) % sizeof(uint64_t) == 0 &&
                 out->set_direct(out->ctx, 1) == 0;
    if (b->aligned)
        (void)out->set_direct(out->ctx, 0);
    b->limit = batch_limit(b);
    return 0;
}

/* Adds page pfn, or nothing when page() gives NULL (not RAM). Data pages
 * adjacent in memory share one iovec. */
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
        struct iovec *last = &b->iov[b->nr_iov];
        if (b->nr_iov && (const uint8_t *)last->iov_base + last->iov_len == p)
            last->iov_len += XC_PAGE_SIZE;
        else
            b->iov[++b->nr_iov] = (struct iovec){ (void *)p, XC_PAGE_SIZE };
        b->nr_data++;
        b->n_data++;
    }
    return b->count < b->limit ? 0 : put_batch(b);
}

/* Writes what is left when the walk went well (rc 0), ends direct
 * writes, frees, counts. */
static int batch_close(struct page_batch *b, int rc, uint64_t *data,
                       uint64_t *zero)
{
    if (rc == 0 && b->count)
        rc = put_batch(b);
    set_direct(b, false);
    free(b->hdr);
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
