/* libxc's domain image, read as hostile input (see stream.h for the rules). */
#include "stream.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/domctl.h>

#include "hvm_context.h"
#include "util.h"

/* The most pages one PAGE_DATA record may carry: libxc writes 1024. */
#define XCS_READ_MAX_BATCH 4096u

static const char *const rec_names[] = {
    [XC_REC_END] = "END",
    [XC_REC_PAGE_DATA] = "PAGE_DATA",
    [XC_REC_X86_PV_INFO] = "X86_PV_INFO",
    [XC_REC_X86_PV_P2M_FRAMES] = "X86_PV_P2M_FRAMES",
    [XC_REC_X86_PV_VCPU_BASIC] = "X86_PV_VCPU_BASIC",
    [XC_REC_X86_PV_VCPU_EXTENDED] = "X86_PV_VCPU_EXTENDED",
    [XC_REC_X86_PV_VCPU_XSAVE] = "X86_PV_VCPU_XSAVE",
    [XC_REC_SHARED_INFO] = "SHARED_INFO",
    [XC_REC_X86_TSC_INFO] = "X86_TSC_INFO",
    [XC_REC_HVM_CONTEXT] = "HVM_CONTEXT",
    [XC_REC_HVM_PARAMS] = "HVM_PARAMS",
    [XC_REC_TOOLSTACK] = "TOOLSTACK",
    [XC_REC_X86_PV_VCPU_MSRS] = "X86_PV_VCPU_MSRS",
    [XC_REC_VERIFY] = "VERIFY",
    [XC_REC_CHECKPOINT] = "CHECKPOINT",
    [XC_REC_CHECKPOINT_DIRTY_PFN_LIST] = "CHECKPOINT_DIRTY_PFN_LIST",
    [XC_REC_STATIC_DATA_END] = "STATIC_DATA_END",
    [XC_REC_X86_CPUID_POLICY] = "X86_CPUID_POLICY",
    [XC_REC_X86_MSR_POLICY] = "X86_MSR_POLICY",
};

const char *xcs_record_name(uint32_t type)
{
    return type < ARRAY_SIZE(rec_names) ? rec_names[type] : NULL;
}

/* The HVM parameters libxc saves (xg_sr_save_x86_hvm.c), and whether each
 * is a PFN of the domain. */
static const struct { uint32_t index; bool pfn; } saved_params[] = {
    { HVM_PARAM_STORE_PFN, true }, { HVM_PARAM_IOREQ_PFN, true },
    { HVM_PARAM_BUFIOREQ_PFN, true }, { HVM_PARAM_PAGING_RING_PFN, true },
    { HVM_PARAM_MONITOR_RING_PFN, true }, { HVM_PARAM_SHARING_RING_PFN, true },
    { HVM_PARAM_VM86_TSS_SIZED, false }, { HVM_PARAM_CONSOLE_PFN, true },
    { HVM_PARAM_ACPI_IOPORTS_LOCATION, false }, { HVM_PARAM_VIRIDIAN, false },
    { HVM_PARAM_IDENT_PT, false }, { HVM_PARAM_VM_GENERATION_ID_ADDR, false },
    { HVM_PARAM_IOREQ_SERVER_PFN, true },
    { HVM_PARAM_NR_IOREQ_SERVER_PAGES, false },
    { HVM_PARAM_X87_FIP_WIDTH, false }, { HVM_PARAM_MCA_CAP, false },
};

enum phase { PH_STATIC, PH_MEMORY, PH_FINAL };

struct reader {
    struct stream_source *in;
    const struct xcs_limits *lim;
    struct xcs_result *out;
    char *err;
    size_t errlen;
    /* the record being read, for messages */
    const char *name;
    char unknown_name[24];
    unsigned index;
    uint64_t offset;
};

static int fail(struct reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(struct reader *r, const char *fmt, ...)
{
    if (r->err && r->errlen) {
        int n = snprintf(r->err, r->errlen, "%s (record %u, offset %llu): ",
                         r->name, r->index, (unsigned long long)r->offset);
        if (n >= 0 && (size_t)n < r->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(r->err + n, r->errlen - n, fmt, ap);
            va_end(ap);
        }
    }
    return -EINVAL;
}

/* A stream error, named (stream_io.h's returns). */
static int named(struct reader *r, int rc)
{
    if (rc == -ENODATA)
        return fail(r, "truncated");
    if (rc == -EBADMSG)
        return fail(r, "non-zero padding");
    return rc;
}

/* An exact read; a short stream is refused by name. */
static int get(struct reader *r, void *buf, size_t len)
{
    return named(r, stream_get(r->in, buf, len));
}

static int check_padding(struct reader *r, uint32_t len)
{
    return named(r, stream_get_padding(r->in, len));
}

static int read_headers(struct reader *r)
{
    struct xc_stream_ihdr ih;
    struct xc_stream_dhdr dh;
    int rc;

    r->name = "image header";
    if ((rc = get(r, &ih, sizeof(ih))))
        return rc;
    if (be64toh(ih.marker) != XC_STREAM_MARKER)
        return fail(r, "bad marker 0x%llx (a legacy image?)",
                    (unsigned long long)be64toh(ih.marker));
    if (be32toh(ih.id) != XC_STREAM_ID)
        return fail(r, "bad id 0x%x", be32toh(ih.id));
    uint32_t version = be32toh(ih.version);
    if (version < 2 || version > XC_STREAM_VERSION)
        return fail(r, "version %u, we read 2 and 3", version);
    uint16_t options = be16toh(ih.options);
    if (options & XC_STREAM_OPT_BIG_ENDIAN)
        return fail(r, "a big-endian image");
    if (options || ih._res1 || ih._res2)
        return fail(r, "reserved bits set");
    r->out->version = version;

    r->name = "domain header";
    r->offset = r->in->bytes;
    if ((rc = get(r, &dh, sizeof(dh))))
        return rc;
    if (dh.type == XC_DOMAIN_TYPE_X86_PV)
        return fail(r, "an x86 PV domain: only HVM (and PVH) are restored");
    if (dh.type != XC_DOMAIN_TYPE_X86_HVM)
        return fail(r, "unknown domain type 0x%x", dh.type);
    if (dh.page_shift != XC_PAGE_SHIFT)
        return fail(r, "page shift %u, expected %u", dh.page_shift,
                    XC_PAGE_SHIFT);
    if (dh._res1)
        return fail(r, "reserved bits set");
    r->out->xen_major = dh.xen_major;
    r->out->xen_minor = dh.xen_minor;
    return 0;
}

/* The largest body a record of this type may have. */
static uint32_t max_length(uint32_t type)
{
    switch (type) {
    case XC_REC_PAGE_DATA:
        return sizeof(struct xc_page_data_hdr) +
               XCS_READ_MAX_BATCH * (8 + XC_PAGE_SIZE);
    case XC_REC_X86_TSC_INFO:
        return sizeof(struct xc_tsc_info);
    case XC_REC_HVM_CONTEXT:
        return HVM_CTX_MAX_LEN;
    case XC_REC_HVM_PARAMS:
        return sizeof(struct xc_hvm_params_hdr) +
               ARRAY_SIZE(saved_params) * sizeof(struct xc_hvm_param);
    case XC_REC_X86_CPUID_POLICY:
        return XCS_MAX_CPUID_LEAVES * sizeof(xen_cpuid_leaf_t);
    case XC_REC_X86_MSR_POLICY:
        return XCS_MAX_MSRS * sizeof(xen_msr_entry_t);
    case XC_REC_END:
    case XC_REC_STATIC_DATA_END:
        return 0;
    default:
        return XC_REC_LENGTH_MAX;
    }
}

static int skip_optional(struct reader *r, uint32_t len)
{
    int rc = named(r, stream_skip_record(r->in, len));
    if (rc == 0)
        r->out->optional_skipped++;
    return rc;
}

/* A PAGE_DATA header against the record's length: 0 or refused. */
static int check_page_hdr(struct reader *r, const struct xc_page_data_hdr *hp, uint32_t len)
{
    struct xc_page_data_hdr h = *hp;
    if (h.count == 0)
        return fail(r, "count is 0");
    if (h.count > XCS_READ_MAX_BATCH)
        return fail(r, "count %u over our bound %u", h.count,
                    XCS_READ_MAX_BATCH);
    if (h._res1)
        return fail(r, "reserved field set");
    size_t pfn_end = sizeof(h) + (size_t)h.count * 8;
    if (len < pfn_end)
        return fail(r, "length %u, too short for its %u PFNs", len, h.count);
    return 0;
}

/* The PFN words of a PAGE_DATA record (count of them at words) against the
 * domain and the record's length: 0 or refused. */
static int check_page_words(struct reader *r, const uint8_t *words, uint32_t count,
                            uint32_t len)
{
    size_t pfn_end = sizeof(struct xc_page_data_hdr) + (size_t)count * 8;
    size_t nr_data = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t w;
        memcpy(&w, words + i * 8, 8);
        uint64_t pfn = w & XC_PAGE_PFN_MASK;
        uint32_t type = (uint32_t)(w >> 32) & XEN_DOMCTL_PFINFO_LTAB_MASK;
        if (w & XC_PAGE_RES_MASK)
            return fail(r, "pfn[%u]: reserved bits set (0x%016llx)", i,
                        (unsigned long long)w);
        if (pfn >= r->lim->nr_pfns)
            return fail(r, "pfn[%u] 0x%llx outside the domain's 0x%llx PFNs",
                        i, (unsigned long long)pfn,
                        (unsigned long long)r->lim->nr_pfns);
        switch (type) {
        case XEN_DOMCTL_PFINFO_NOTAB:
            nr_data++;
            break;
        case XEN_DOMCTL_PFINFO_XALLOC:
        case XEN_DOMCTL_PFINFO_XTAB:
            break;
        case XEN_DOMCTL_PFINFO_BROKEN:
            return fail(r, "pfn[%u] 0x%llx: a broken page", i,
                        (unsigned long long)pfn);
        default:
            return fail(r, "pfn[%u] 0x%llx: type 0x%x is %s", i,
                        (unsigned long long)pfn, type >> 28,
                        (type & XEN_DOMCTL_PFINFO_LTABTYPE_MASK) &&
                        (type & XEN_DOMCTL_PFINFO_LTABTYPE_MASK) <=
                            XEN_DOMCTL_PFINFO_L4TAB
                        ? "a PV page table" : "not a page type");
        }
    }
    if (len != pfn_end + nr_data * XC_PAGE_SIZE)
        return fail(r, "length %u, expected %zu for %u PFNs, %zu with data",
                    len, pfn_end + nr_data * XC_PAGE_SIZE, count, nr_data);
    return 0;
}

static int page_data(struct reader *r, const uint8_t *b, uint32_t len,
                     xcs_page_in_fn page, void *ctx)
{
    struct xc_page_data_hdr h;
    if (len < sizeof(h))
        return fail(r, "length %u, shorter than its header", len);
    memcpy(&h, b, sizeof(h));
    int rc = check_page_hdr(r, &h, len);
    if (rc == 0)
        rc = check_page_words(r, b + sizeof(h), h.count, len);
    if (rc)
        return rc;
    size_t pfn_end = sizeof(h) + (size_t)h.count * 8;
    /* The record is sound: hand its pages over. */
    const uint8_t *data = b + pfn_end;
    for (uint32_t i = 0; i < h.count; i++) {
        uint64_t w;
        memcpy(&w, b + sizeof(h) + i * 8, 8);
        uint32_t type = (uint32_t)(w >> 32) & XEN_DOMCTL_PFINFO_LTAB_MASK;
        const void *p = NULL;
        if (type == XEN_DOMCTL_PFINFO_NOTAB) {
            p = data;
            data += XC_PAGE_SIZE;
            r->out->pages_data++;
        } else if (type == XEN_DOMCTL_PFINFO_XALLOC) {
            r->out->pages_alloc++;
        } else {
            r->out->pages_invalid++;
        }
        if (page && (rc = page(ctx, w & XC_PAGE_PFN_MASK, type, p)))
            return rc;
    }
    return 0;
}

/* Pages read straight into their destinations (xcs_read_pages). The data
 * of adjacent destinations is read with one piece of a scattered read;
 * what is pending is read (or passed over) before any callback that must
 * see it, and before a non-data PFN's callback, so that the callbacks and
 * the bytes in memory follow the stream's order exactly. */
struct direct {
    struct reader *r;
    const struct xcs_pages *pg;
    const uint64_t *words;
    void **dst;
    struct iovec *iov;
    int niov;
    uint64_t skip;                  /* bytes to pass over, pending */
    int run_fd;                     /* a run copied into a descriptor, pending */
    uint64_t run_off, run_len;
    uint32_t done;                  /* PFNs whose callbacks were made */
};

enum pending { P_NONE, P_SKIP, P_IOV, P_RUN };

static enum pending pending(const struct direct *x)
{
    return x->skip ? P_SKIP : x->niov ? P_IOV : x->run_len ? P_RUN : P_NONE;
}

static int direct_flush(struct direct *x, uint32_t upto)
{
    int rc = 0;
    if (x->niov)
        rc = named(x->r, stream_getv(x->r->in, x->iov, x->niov));
    else if (x->skip)
        rc = named(x->r, stream_skip(x->r->in, x->skip));
    else if (x->run_len)
        rc = named(x->r, stream_copy_to_fd(x->r->in, x->run_fd, x->run_off, x->run_len));
    x->niov = 0;
    x->skip = 0;
    x->run_len = 0;
    for (; rc == 0 && x->done < upto; x->done++) {
        uint64_t w = x->words[x->done];
        uint32_t type = (uint32_t)(w >> 32) & XEN_DOMCTL_PFINFO_LTAB_MASK;
        if (x->pg->page)
            rc = x->pg->page(x->pg->ctx, w & XC_PAGE_PFN_MASK, type, x->dst[x->done]);
    }
    return rc;
}

static int page_data_direct(struct reader *r, uint32_t len, const struct xcs_pages *pg)
{
    struct xc_page_data_hdr h;
    if (len < sizeof(h))
        return fail(r, "length %u, shorter than its header", len);
    int rc = get(r, &h, sizeof(h));
    if (rc == 0)
        rc = check_page_hdr(r, &h, len);
    if (rc)
        return rc;
    struct direct x = { .r = r, .pg = pg };
    uint64_t *words = malloc((size_t)h.count * sizeof(*words));
    x.dst = malloc((size_t)h.count * sizeof(*x.dst));
    x.iov = malloc((size_t)h.count * sizeof(*x.iov));
    x.words = words;
    if (!words || !x.dst || !x.iov)
        rc = -ENOMEM;
    if (rc == 0)
        rc = get(r, words, (size_t)h.count * 8);
    if (rc == 0)
        rc = check_page_words(r, (const uint8_t *)words, h.count, len);
    for (uint32_t i = 0; rc == 0 && i < h.count; i++) {
        uint64_t pfn = words[i] & XC_PAGE_PFN_MASK;
        uint32_t type = (uint32_t)(words[i] >> 32) & XEN_DOMCTL_PFINFO_LTAB_MASK;
        x.dst[i] = NULL;
        if (type != XEN_DOMCTL_PFINFO_NOTAB) {
            if (type == XEN_DOMCTL_PFINFO_XALLOC)
                r->out->pages_alloc++;
            else
                r->out->pages_invalid++;
            rc = direct_flush(&x, i + 1);
            continue;
        }
        r->out->pages_data++;
        uint8_t *d = pg->dest ? pg->dest(pg->ctx, pfn) : NULL;
        uint64_t off = 0;
        int fd = d && pg->dest_fd && r->in->copy_to_fd ? pg->dest_fd(pg->ctx, pfn, &off) : -1;
        enum pending kind = !d ? P_SKIP : fd >= 0 ? P_RUN : P_IOV;
        enum pending now = pending(&x);
        x.dst[i] = d;
        if (now != P_NONE && (now != kind || (kind == P_RUN &&
                              (fd != x.run_fd || off != x.run_off + x.run_len))))
            rc = direct_flush(&x, i);
        if (rc)
            break;
        if (!d) {
            x.skip += XC_PAGE_SIZE;
        } else if (fd >= 0) {
            if (!x.run_len) {
                x.run_fd = fd;
                x.run_off = off;
            }
            x.run_len += XC_PAGE_SIZE;
        } else if (x.niov && (uint8_t *)x.iov[x.niov - 1].iov_base +
                                 x.iov[x.niov - 1].iov_len == d) {
            x.iov[x.niov - 1].iov_len += XC_PAGE_SIZE;
        } else {
            x.iov[x.niov++] = (struct iovec){ d, XC_PAGE_SIZE };
        }
    }
    if (rc == 0)
        rc = direct_flush(&x, h.count);
    free(words);
    free(x.dst);
    free(x.iov);
    return rc;
}

static int hvm_params(struct reader *r, const uint8_t *b, uint32_t len)
{
    struct xc_hvm_params_hdr h;
    uint64_t seen = 0;
    _Static_assert(HVM_NR_PARAMS <= 64, "seen bitmap");

    if (len < sizeof(h))
        return fail(r, "length %u, shorter than its header", len);
    memcpy(&h, b, sizeof(h));
    if (h._res1)
        return fail(r, "reserved field set");
    if (len != sizeof(h) + (size_t)h.count * sizeof(struct xc_hvm_param))
        return fail(r, "length %u does not match its count %u", len, h.count);
    struct xc_hvm_param *p = malloc(h.count ? h.count * sizeof(*p) : 1);
    if (!p)
        return -ENOMEM;
    memcpy(p, b + sizeof(h), h.count * sizeof(*p));
    r->out->params = p;
    r->out->nr_params = h.count;
    for (uint32_t i = 0; i < h.count; i++) {
        size_t k;
        for (k = 0; k < ARRAY_SIZE(saved_params); k++)
            if (saved_params[k].index == p[i].index)
                break;
        if (k == ARRAY_SIZE(saved_params))
            return fail(r, "param[%u]: index %llu is not one libxc saves", i,
                        (unsigned long long)p[i].index);
        if (seen & (1ull << p[i].index))
            return fail(r, "param[%u]: index %llu twice", i,
                        (unsigned long long)p[i].index);
        seen |= 1ull << p[i].index;
        if (saved_params[k].pfn && p[i].value >= r->lim->nr_pfns)
            return fail(r, "param[%u] (index %llu): PFN 0x%llx outside the "
                        "domain", i, (unsigned long long)p[i].index,
                        (unsigned long long)p[i].value);
    }
    return 0;
}

static int policy(struct reader *r, uint32_t type, const uint8_t *b,
                  uint32_t len)
{
    size_t sz = type == XC_REC_X86_CPUID_POLICY ? sizeof(xen_cpuid_leaf_t)
                                                : sizeof(xen_msr_entry_t);
    if (len == 0 || len % sz)
        return fail(r, "length %u, not a non-zero multiple of %zu", len, sz);
    void *copy = malloc(len);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, b, len);
    if (type == XC_REC_X86_CPUID_POLICY) {
        r->out->cpuid = copy;
        r->out->nr_cpuid = len / sz;
        return 0;
    }
    r->out->msrs = copy;
    r->out->nr_msrs = len / sz;
    for (size_t i = 0; i < r->out->nr_msrs; i++)
        if (r->out->msrs[i].flags)
            return fail(r, "entry %zu (MSR 0x%x): reserved flags set", i,
                        r->out->msrs[i].idx);
    return 0;
}

static int tsc_info(struct reader *r, const uint8_t *b, uint32_t len)
{
    if (len != sizeof(r->out->tsc))
        return fail(r, "length %u, expected %zu", len, sizeof(r->out->tsc));
    memcpy(&r->out->tsc, b, sizeof(r->out->tsc));
    if (r->out->tsc._res1)
        return fail(r, "reserved field set");
    if (r->out->tsc.mode > 2)
        return fail(r, "unknown TSC mode %u", r->out->tsc.mode);
    r->out->have_tsc = true;
    return 0;
}

static int hvm_context(struct reader *r, uint8_t *b, uint32_t len)
{
    r->out->hvm_blob = b;           /* owned by *out from here on */
    r->out->hvm_blob_len = len;
    if (len == 0)
        return fail(r, "empty");
    r->out->hvm = malloc(sizeof(*r->out->hvm));
    if (!r->out->hvm)
        return -ENOMEM;
    char why[200];
    if (hvm_ctx_parse(b, len, r->lim->nr_vcpus, r->out->hvm, why,
                      sizeof(why)))
        return fail(r, "%s", why + strlen("HVM_CONTEXT: "));
    return 0;
}

static int read_image(struct stream_source *in, const struct xcs_limits *lim,
                      xcs_page_in_fn page, void *ctx, const struct xcs_pages *direct,
                      struct xcs_result *out, char *err, size_t errlen)
{
    struct reader r = { in, lim, out, err, errlen, "image header", "", 0,
                        in->bytes };
    enum phase phase;
    bool have_cpuid = false, have_msr = false, have_params = false;
    uint8_t *body = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = '\0';
    if ((rc = read_headers(&r)))
        goto out;
    phase = out->version >= 3 ? PH_STATIC : PH_MEMORY;

    for (;;) {
        struct xen_stream_rhdr rh;
        r.index++;
        r.offset = in->bytes;
        r.name = "record header";
        if ((rc = get(&r, &rh, sizeof(rh))))
            goto out;
        r.name = xcs_record_name(rh.type);
        if (!r.name) {
            snprintf(r.unknown_name, sizeof(r.unknown_name), "record 0x%x",
                     rh.type);
            r.name = r.unknown_name;
        }
        if (rh.type & XEN_STREAM_REC_OPTIONAL) {
            if (rh.length > XC_REC_LENGTH_MAX) {
                rc = fail(&r, "length %u over %u", rh.length,
                          XC_REC_LENGTH_MAX);
                goto out;
            }
            if ((rc = skip_optional(&r, rh.length)))
                goto out;
            continue;
        }
        if (!xcs_record_name(rh.type)) {
            rc = fail(&r, "unknown mandatory record type 0x%x", rh.type);
            goto out;
        }
        switch (rh.type) {
        case XC_REC_X86_PV_INFO: case XC_REC_X86_PV_P2M_FRAMES:
        case XC_REC_X86_PV_VCPU_BASIC: case XC_REC_X86_PV_VCPU_EXTENDED:
        case XC_REC_X86_PV_VCPU_XSAVE: case XC_REC_X86_PV_VCPU_MSRS:
        case XC_REC_SHARED_INFO:
            rc = fail(&r, "a PV record in an HVM image");
            goto out;
        case XC_REC_TOOLSTACK:
            rc = fail(&r, "deprecated record, refused");
            goto out;
        case XC_REC_VERIFY: case XC_REC_CHECKPOINT:
        case XC_REC_CHECKPOINT_DIRTY_PFN_LIST:
            rc = fail(&r, "checkpointed (Remus, COLO) and verify streams "
                      "are not restored");
            goto out;
        }
        if (rh.length > max_length(rh.type)) {
            rc = fail(&r, "length %u over its bound %u", rh.length,
                      max_length(rh.type));
            goto out;
        }
        /* The order: policies, STATIC_DATA_END, memory, vCPU state, END. */
        switch (rh.type) {
        case XC_REC_X86_CPUID_POLICY:
        case XC_REC_X86_MSR_POLICY:
        case XC_REC_STATIC_DATA_END:
            if (out->version < 3)
                rc = fail(&r, "not in a version 2 image");
            else if (phase != PH_STATIC)
                rc = fail(&r, "after STATIC_DATA_END");
            else if ((rh.type == XC_REC_X86_CPUID_POLICY && have_cpuid) ||
                     (rh.type == XC_REC_X86_MSR_POLICY && have_msr))
                rc = fail(&r, "twice");
            break;
        case XC_REC_PAGE_DATA:
            if (phase == PH_STATIC)
                rc = fail(&r, "before STATIC_DATA_END");
            else if (phase == PH_FINAL)
                rc = fail(&r, "after the vCPU state (X86_TSC_INFO, "
                          "HVM_CONTEXT, HVM_PARAMS)");
            break;
        case XC_REC_X86_TSC_INFO:
        case XC_REC_HVM_CONTEXT:
        case XC_REC_HVM_PARAMS:
        case XC_REC_END:
            if (phase == PH_STATIC)
                rc = fail(&r, "before STATIC_DATA_END");
            else if ((rh.type == XC_REC_X86_TSC_INFO && out->have_tsc) ||
                     (rh.type == XC_REC_HVM_CONTEXT && out->hvm_blob) ||
                     (rh.type == XC_REC_HVM_PARAMS && have_params))
                rc = fail(&r, "twice");
            else if (rh.type == XC_REC_END && !out->hvm_blob)
                rc = fail(&r, "no HVM_CONTEXT before it");
            break;
        }
        if (rc)
            goto out;

        if (rh.type == XC_REC_PAGE_DATA && direct) {
            if ((rc = page_data_direct(&r, rh.length, direct)) ||
                (rc = check_padding(&r, rh.length)))
                goto out;
            continue;
        }
        body = malloc(rh.length ? rh.length : 1);
        if (!body) {
            rc = -ENOMEM;
            goto out;
        }
        if ((rc = get(&r, body, rh.length)) || (rc = check_padding(&r, rh.length)))
            goto out;

        switch (rh.type) {
        case XC_REC_END:
            rc = 0;
            goto out;
        case XC_REC_STATIC_DATA_END:
            phase = PH_MEMORY;
            break;
        case XC_REC_X86_CPUID_POLICY:
            have_cpuid = true;
            rc = policy(&r, rh.type, body, rh.length);
            break;
        case XC_REC_X86_MSR_POLICY:
            have_msr = true;
            rc = policy(&r, rh.type, body, rh.length);
            break;
        case XC_REC_PAGE_DATA:
            rc = page_data(&r, body, rh.length, page, ctx);
            break;
        case XC_REC_X86_TSC_INFO:
            phase = PH_FINAL;
            rc = tsc_info(&r, body, rh.length);
            break;
        case XC_REC_HVM_CONTEXT:
            phase = PH_FINAL;
            rc = hvm_context(&r, body, rh.length);
            body = NULL;            /* now out->hvm_blob */
            break;
        case XC_REC_HVM_PARAMS:
            phase = PH_FINAL;
            have_params = true;
            rc = hvm_params(&r, body, rh.length);
            break;
        }
        free(body);
        body = NULL;
        if (rc)
            goto out;
    }
out:
    free(body);
    if (rc)
        xcs_result_free(out);
    return rc;
}

int xcs_read(struct stream_source *in, const struct xcs_limits *lim,
             xcs_page_in_fn page, void *ctx, struct xcs_result *out,
             char *err, size_t errlen)
{
    return read_image(in, lim, page, ctx, NULL, out, err, errlen);
}

int xcs_read_pages(struct stream_source *in, const struct xcs_limits *lim,
                   const struct xcs_pages *pages, struct xcs_result *out,
                   char *err, size_t errlen)
{
    return read_image(in, lim, NULL, NULL, pages, out, err, errlen);
}

void xcs_result_free(struct xcs_result *r)
{
    free(r->cpuid);
    free(r->msrs);
    free(r->hvm_blob);
    free(r->hvm);
    free(r->params);
    memset(r, 0, sizeof(*r));
}
