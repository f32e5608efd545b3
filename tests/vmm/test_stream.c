/* libxc's domain image and Xen's HVM save blob: what the writer writes the
 * reader hands back; every lie, tear and misorder is refused by name. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <xen/domctl.h>

#include "hvm_context.h"
#include "stream.h"

#define NR_PFNS 16u
#define NR_VCPUS 2u

static uint8_t src_mem[NR_PFNS][XC_PAGE_SIZE];
static uint8_t dst_mem[NR_PFNS][XC_PAGE_SIZE];
static uint32_t dst_type[NR_PFNS];
static unsigned dst_calls;

/* PFNs 3 and 4 are a hole, 5 is zero, the rest hold a pattern. */
static const void *src_page(void *ctx, uint64_t pfn)
{
    (void)ctx;
    return pfn == 3 || pfn == 4 ? NULL : src_mem[pfn];
}

static int dst_page(void *ctx, uint64_t pfn, uint32_t type, const void *data)
{
    (void)ctx;
    assert_true(pfn < NR_PFNS);
    dst_type[pfn] = type | 1;       /* seen */
    if (data && data != dst_mem[pfn])   /* xcs_read_pages read it in place */
        memcpy(dst_mem[pfn], data, XC_PAGE_SIZE);
    dst_calls++;
    return 0;
}

static const xen_cpuid_leaf_t leaves[2] = {
    { 0, XEN_CPUID_NO_SUBLEAF, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69 },
    { 1, XEN_CPUID_NO_SUBLEAF, 0x806ec, 0, 0x80000000, 0 },
};
static const xen_msr_entry_t msrs[1] = { { 0xce, 0, 0x80000000 } };
static const struct xc_tsc_info tsc = { 0, 2400000, 123456789, 1, 0 };
static const struct xc_hvm_param params[2] = {
    { HVM_PARAM_STORE_PFN, 14 }, { HVM_PARAM_CONSOLE_PFN, 15 },
};

static struct hvm_ctx_vcpu vcpus[NR_VCPUS];
static uint8_t xsave_area[sizeof(struct hvm_hw_cpu_xsave) + 256];

static void make_hvm_blob(struct stream_membuf *blob, unsigned nr)
{
    struct hvm_save_header h = { HVM_FILE_MAGIC, HVM_FILE_VERSION, 0,
                                 0x806ec, 2400000 };
    memset(vcpus, 0, sizeof(vcpus));
    for (unsigned i = 0; i < NR_VCPUS; i++) {
        vcpus[i].present = true;
        vcpus[i].cpu.rip = 0x100000 + i;
        vcpus[i].cpu.rsp = 0x8000;
        vcpus[i].cpu.cr0 = 0x11;
        vcpus[i].has_lapic = true;
        vcpus[i].lapic.apic_base_msr = 0xfee00900 & ~(i ? 0x100u : 0);
        vcpus[i].has_lapic_regs = true;
        vcpus[i].lapic_regs.data[0x20] = i;     /* APIC ID */
        vcpus[i].has_mtrr = true;
        vcpus[i].mtrr.msr_pat_cr = 0x0007040600070406ull;
    }
    struct hvm_hw_cpu_xsave *x = (void *)xsave_area;
    x->xcr0 = 3;
    vcpus[0].xsave = xsave_area;
    vcpus[0].xsave_len = sizeof(xsave_area);
    assert_int_equal(hvm_ctx_build(blob, &h, vcpus, nr), 0);
}

static void rec(struct stream_sink *s, uint32_t type, const void *b, size_t n)
{
    assert_int_equal(xcs_write_record(s, type, b, n), 0);
}

/* A stream from a recipe, one letter a record:
 *   C cpuid, M msr, S STATIC_DATA_END, P memory, T tsc, H HVM_CONTEXT,
 *   X HVM_PARAMS, E END, O an unknown optional record, V a PV record,
 *   K CHECKPOINT, U an unknown mandatory record, Z TOOLSTACK. */
static struct stream_membuf build(const char *recipe)
{
    struct stream_membuf m = { 0 }, blob = { 0 };
    struct stream_sink s;
    stream_sink_mem(&s, &m);
    make_hvm_blob(&blob, NR_VCPUS);
    assert_int_equal(xcs_write_headers(&s, 4, 17), 0);
    for (const char *c = recipe; *c; c++) {
        uint64_t data, zero;
        switch (*c) {
        case 'C': assert_int_equal(xcs_write_cpuid_policy(&s, leaves, 2), 0); break;
        case 'M': assert_int_equal(xcs_write_msr_policy(&s, msrs, 1), 0); break;
        case 'S': rec(&s, XC_REC_STATIC_DATA_END, NULL, 0); break;
        case 'P':
            assert_int_equal(xcs_write_memory(&s, NR_PFNS, src_page, NULL, 0,
                                              &data, &zero), 0);
            assert_int_equal(data, NR_PFNS - 3);
            assert_int_equal(zero, 1);
            break;
        case 'T': assert_int_equal(xcs_write_tsc_info(&s, &tsc), 0); break;
        case 'H': rec(&s, XC_REC_HVM_CONTEXT, blob.data, blob.len); break;
        case 'X': assert_int_equal(xcs_write_hvm_params(&s, params, 2), 0); break;
        case 'E': rec(&s, XC_REC_END, NULL, 0); break;
        case 'O': rec(&s, 0x80001234, "abc", 3); break;
        case 'V': rec(&s, XC_REC_X86_PV_INFO, "\x08\x04\0\0\0\0\0\0", 8); break;
        case 'K': rec(&s, XC_REC_CHECKPOINT, NULL, 0); break;
        case 'U': rec(&s, 0x13, NULL, 0); break;
        case 'Z': rec(&s, XC_REC_TOOLSTACK, "x", 1); break;
        default: fail();
        }
    }
    free(blob.data);
    return m;
}

#define FULL "CMSPTHXE"

static char err[256];

/* Which reader read_buf uses: xcs_read (0), xcs_read_pages into dst_mem
 * (1), or xcs_read_pages passing every page over (2). The tests of
 * refusals run with each. */
static int reader_mode;

static void *dst_dest(void *ctx, uint64_t pfn)
{
    (void)ctx;
    assert_true(pfn < NR_PFNS);
    return dst_mem[pfn];
}

static int read_buf(const uint8_t *p, size_t len, struct xcs_result *r,
                    unsigned nr_vcpus)
{
    struct stream_memsrc ms = { p, len, 0 };
    struct stream_source src;
    struct xcs_limits lim = { NR_PFNS, nr_vcpus };
    stream_source_mem(&src, &ms);
    memset(dst_mem, 0, sizeof(dst_mem));
    memset(dst_type, 0, sizeof(dst_type));
    dst_calls = 0;
    struct xcs_pages pages = { reader_mode == 1 ? dst_dest : NULL,
                               reader_mode == 1 ? dst_page : NULL, NULL, NULL };
    int rc = reader_mode ? xcs_read_pages(&src, &lim, &pages, r, err, sizeof(err))
                         : xcs_read(&src, &lim, dst_page, NULL, r, err, sizeof(err));
    if (rc == 0)
        assert_int_equal(ms.off, len);     /* read exactly to END */
    return rc;
}

static void expect_refused(struct stream_membuf m, const char *what)
{
    struct xcs_result r;
    int rc = read_buf(m.data, m.len, &r, NR_VCPUS);
    if (rc != -EINVAL || !strstr(err, what))
        fail_msg("expected a refusal naming \"%s\", got %d: %s", what, rc, err);
    free(m.data);
}

static void setup_memory(void)
{
    for (unsigned p = 0; p < NR_PFNS; p++)
        for (unsigned i = 0; i < XC_PAGE_SIZE; i++)
            src_mem[p][i] = p == 5 ? 0 : (uint8_t)(p * 31 + i * 7 + 1);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct stream_membuf m = build(FULL);
    struct xcs_result r;
    assert_int_equal(read_buf(m.data, m.len, &r, NR_VCPUS), 0);
    assert_int_equal(r.version, 3);
    assert_int_equal(r.xen_major, 4);
    assert_int_equal(r.xen_minor, 17);
    assert_int_equal(r.nr_cpuid, 2);
    assert_memory_equal(r.cpuid, leaves, sizeof(leaves));
    assert_int_equal(r.nr_msrs, 1);
    assert_memory_equal(r.msrs, msrs, sizeof(msrs));
    assert_true(r.have_tsc);
    assert_memory_equal(&r.tsc, &tsc, sizeof(tsc));
    assert_int_equal(r.nr_params, 2);
    assert_memory_equal(r.params, params, sizeof(params));
    assert_int_equal(r.pages_data, NR_PFNS - 3);
    assert_int_equal(r.pages_alloc, 1);
    assert_int_equal(dst_calls, NR_PFNS - 2);
    for (unsigned p = 0; p < NR_PFNS; p++) {
        if (p == 3 || p == 4) {
            assert_int_equal(dst_type[p], 0);
            continue;
        }
        assert_int_equal(dst_type[p], (p == 5 ? XEN_DOMCTL_PFINFO_XALLOC
                                               : XEN_DOMCTL_PFINFO_NOTAB) | 1);
        assert_memory_equal(dst_mem[p], src_mem[p], XC_PAGE_SIZE);
    }
    assert_non_null(r.hvm);
    assert_int_equal(r.hvm->nr_present, NR_VCPUS);
    assert_int_equal(r.hvm->header.gtsc_khz, 2400000);
    for (unsigned i = 0; i < NR_VCPUS; i++) {
        const struct hvm_ctx_vcpu *v = &r.hvm->vcpu[i];
        assert_true(v->present && v->has_lapic && v->has_lapic_regs && v->has_mtrr);
        assert_memory_equal(&v->cpu, &vcpus[i].cpu, sizeof(v->cpu));
        assert_memory_equal(&v->lapic, &vcpus[i].lapic, sizeof(v->lapic));
        assert_memory_equal(&v->lapic_regs, &vcpus[i].lapic_regs,
                            sizeof(v->lapic_regs));
        assert_memory_equal(&v->mtrr, &vcpus[i].mtrr, sizeof(v->mtrr));
    }
    assert_int_equal(r.hvm->vcpu[0].xsave_len, sizeof(xsave_area));
    assert_memory_equal(r.hvm->vcpu[0].xsave, xsave_area, sizeof(xsave_area));
    assert_int_equal(r.hvm->vcpu[1].xsave_len, 0);
    xcs_result_free(&r);
    free(m.data);
}

/* Zero pages go as data when asked (a later live-migration round). */
static void test_zero_as_data(void **state)
{
    (void)state;
    struct stream_membuf m = { 0 };
    struct stream_sink s;
    uint64_t data, zero;
    stream_sink_mem(&s, &m);
    assert_int_equal(xcs_write_memory(&s, NR_PFNS, src_page, NULL,
                                      XCS_ZERO_AS_DATA, &data, &zero), 0);
    assert_int_equal(data, NR_PFNS - 2);
    assert_int_equal(zero, 0);
    assert_int_equal(m.len, 8 + 8 + 8 * (NR_PFNS - 2) +
                            (NR_PFNS - 2) * XC_PAGE_SIZE);
    free(m.data);
}

/* The writer batches as libxc: 1024 PFNs a record. */
static const void *big_page(void *ctx, uint64_t pfn)
{
    (void)pfn;
    return ctx;
}

static void test_batches(void **state)
{
    (void)state;
    struct stream_membuf m = { 0 };
    struct stream_sink s;
    uint64_t data, zero;
    static uint8_t zpage[XC_PAGE_SIZE];
    stream_sink_mem(&s, &m);
    assert_int_equal(xcs_write_memory(&s, 2500, big_page, zpage, 0, &data,
                                      &zero), 0);
    assert_int_equal(zero, 2500);
    /* three records: 1024 + 1024 + 452 PFNs, no data */
    assert_int_equal(m.len, 3 * 16 + 2500 * 8);
    uint32_t count;
    memcpy(&count, m.data + 8, 4);
    assert_int_equal(count, 1024);
    memcpy(&count, m.data + 2 * (16 + 1024 * 8) + 8, 4);
    assert_int_equal(count, 452);
    free(m.data);
}

/* Only the set PFNs: the same records, byte for byte, as the whole walk
 * with a page function that skips the clear ones; bits past nr_pfns in
 * the bitmap's last word are not PFNs of the domain. */
struct set_filter {
    const uint64_t *bits;
    uint8_t *page;
};

static const void *filtered_page(void *ctx, uint64_t pfn)
{
    const struct set_filter *f = ctx;
    return (f->bits[pfn / 64] >> (pfn % 64)) & 1 ? f->page : NULL;
}

static void test_memory_set(void **state)
{
    (void)state;
    enum { N = 2500 };
    static uint64_t bits[(N + 63) / 64];
    static uint8_t page[XC_PAGE_SIZE];
    memset(page, 0x5a, sizeof(page));
    unsigned set = 0;
    for (unsigned pfn = 0; pfn < N; pfn++)
        if (pfn % 3 == 0 || (pfn > 1100 && pfn < 2200)) {
            bits[pfn / 64] |= 1ull << (pfn % 64);
            set++;
        }
    bits[N / 64] |= ~0ull << (N % 64);      /* beyond the domain */
    struct set_filter f = { bits, page };
    struct stream_membuf a = { 0 }, b = { 0 };
    struct stream_sink sa, sb;
    uint64_t da, za, db, zb;
    stream_sink_mem(&sa, &a);
    stream_sink_mem(&sb, &b);
    assert_int_equal(xcs_write_memory(&sa, N, filtered_page, &f, XCS_ZERO_AS_DATA, &da,
                                      &za), 0);
    assert_int_equal(xcs_write_memory_set(&sb, bits, N, big_page, page, XCS_ZERO_AS_DATA,
                                          &db, &zb), 0);
    assert_int_equal(da, set);
    assert_int_equal(db, set);
    assert_int_equal(zb, 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    free(a.data);
    free(b.data);
}

static void test_optional_skipped(void **state)
{
    (void)state;
    struct stream_membuf m = build("CMSOPTHOXE");
    struct xcs_result r;
    assert_int_equal(read_buf(m.data, m.len, &r, NR_VCPUS), 0);
    assert_int_equal(r.optional_skipped, 2);
    xcs_result_free(&r);
    free(m.data);
}

/* Every proper prefix of a good stream is refused as truncated. */
static void test_truncated(void **state)
{
    (void)state;
    struct stream_membuf m = build(FULL);
    struct xcs_result r;
    for (size_t len = 0; len < m.len; len += (len < 200 || m.len - len < 2000) ? 1 : 61) {
        int rc = read_buf(m.data, len, &r, NR_VCPUS);
        if (rc != -EINVAL || !strstr(err, "truncated"))
            fail_msg("prefix of %zu bytes: %d %s", len, rc, err);
    }
    free(m.data);
}

static void test_order(void **state)
{
    (void)state;
    expect_refused(build("CMSPTHPXE"), "PAGE_DATA (record 7, offset");
    expect_refused(build("CMSPTHPXE"), "after the vCPU state");
    expect_refused(build("CMPSTHXE"), "PAGE_DATA (record 3");
    expect_refused(build("CMPSTHXE"), "before STATIC_DATA_END");
    /* no memory at all is a (strange) but sound image */
    struct stream_membuf m = build("CMSTHE");
    struct xcs_result r;
    assert_int_equal(read_buf(m.data, m.len, &r, NR_VCPUS), 0);
    xcs_result_free(&r);
    free(m.data);
}

static void test_order2(void **state)
{
    (void)state;
    expect_refused(build("CMSPTHHXE"), "HVM_CONTEXT (record 7");
    expect_refused(build("CMSPTHHXE"), "twice");
    expect_refused(build("CCMSPTHXE"), "X86_CPUID_POLICY (record 2");
    expect_refused(build("CMSMPTHXE"), "X86_MSR_POLICY (record 4");
    expect_refused(build("CMSMPTHXE"), "after STATIC_DATA_END");
    expect_refused(build("CMSSPTHXE"), "STATIC_DATA_END (record 4");
    expect_refused(build("CMSPTXE"), "END (record 7");
    expect_refused(build("CMSPTXE"), "no HVM_CONTEXT");
    expect_refused(build("CMSPTTHXE"), "X86_TSC_INFO (record 6");
    expect_refused(build("CMSPTHXXE"), "HVM_PARAMS (record 8");
    expect_refused(build("CMSE"), "no HVM_CONTEXT");
    expect_refused(build("CME"), "before STATIC_DATA_END");
}

static void test_unsupported_records(void **state)
{
    (void)state;
    expect_refused(build("CMSVPTHXE"), "X86_PV_INFO (record 4");
    expect_refused(build("CMSPKTHXE"), "CHECKPOINT (record 5");
    expect_refused(build("CMSPUTHXE"), "unknown mandatory record type 0x13");
    expect_refused(build("CMSZPTHXE"), "TOOLSTACK");
}

/* The byte offset of record i (0: the first after the headers). */
static size_t rec_at(const struct stream_membuf *m, unsigned i)
{
    size_t off = sizeof(struct xc_stream_ihdr) + sizeof(struct xc_stream_dhdr);
    while (i--) {
        struct xen_stream_rhdr rh;
        memcpy(&rh, m->data + off, sizeof(rh));
        off += sizeof(rh) + ((rh.length + 7) & ~7u);
    }
    return off;
}

static void put32(struct stream_membuf *m, size_t off, uint32_t v)
{
    memcpy(m->data + off, &v, 4);
}

static void put64(struct stream_membuf *m, size_t off, uint64_t v)
{
    memcpy(m->data + off, &v, 8);
}

static void test_headers(void **state)
{
    (void)state;
    struct stream_membuf m;
    m = build(FULL); m.data[0] = 0; expect_refused(m, "image header");
    m = build(FULL); m.data[0] = 0; expect_refused(m, "legacy");
    m = build(FULL); m.data[8] ^= 1; expect_refused(m, "bad id");
    m = build(FULL); m.data[15] = 4; expect_refused(m, "version 4");
    m = build(FULL); m.data[17] = 1; expect_refused(m, "big-endian");
    m = build(FULL); m.data[19] = 1; expect_refused(m, "reserved bits");
    m = build(FULL); m.data[23] = 1; expect_refused(m, "image header");
    m = build(FULL); put32(&m, 24, 1); expect_refused(m, "PV domain");
    m = build(FULL); put32(&m, 24, 3); expect_refused(m, "unknown domain type 0x3");
    m = build(FULL); m.data[28] = 13; expect_refused(m, "page shift 13");
    m = build(FULL); m.data[30] = 1; expect_refused(m, "domain header");
}

static void test_lengths(void **state)
{
    (void)state;
    struct stream_membuf m;
    /* TSC_INFO (record 4) claiming 32 bytes */
    m = build(FULL); put32(&m, rec_at(&m, 4) + 4, 32);
    expect_refused(m, "X86_TSC_INFO (record 5, offset");
    m = build(FULL); put32(&m, rec_at(&m, 4) + 4, 32);
    expect_refused(m, "over its bound 24");
    m = build(FULL); put32(&m, rec_at(&m, 4) + 4, 16);
    expect_refused(m, "X86_TSC_INFO");
    /* a record claiming more than the stream holds */
    m = build(FULL); put32(&m, rec_at(&m, 5) + 4, 1u << 20);
    expect_refused(m, "HVM_CONTEXT");
    m = build(FULL); put32(&m, rec_at(&m, 7) + 4, 8);
    expect_refused(m, "END (record 8");
    /* optional record (index 3 in CMSO...) with a non-zero pad byte */
    m = build("CMSOPTHXE"); m.data[rec_at(&m, 3) + 8 + 5] = 1;
    expect_refused(m, "non-zero padding");
    m = build(FULL); put32(&m, rec_at(&m, 0) + 4, 20);
    expect_refused(m, "X86_CPUID_POLICY");
    m = build(FULL); put32(&m, rec_at(&m, 1) + 8 + 4, 1);
    expect_refused(m, "reserved flags");
}

static void test_page_data(void **state)
{
    (void)state;
    struct stream_membuf m;
    size_t p;
#define PD(mutation, what) \
    m = build(FULL); p = rec_at(&m, 3); mutation; expect_refused(m, what)
    PD(put32(&m, p + 8, 0), "count is 0");
    PD(put32(&m, p + 8, 15), "PAGE_DATA (record 4");        /* lies: 14 */
    PD(put32(&m, p + 8, 13), "for 13 PFNs, 12 with data");
    PD(put32(&m, p + 12, 1), "reserved field");
    PD(put64(&m, p + 16, NR_PFNS), "outside the domain's 0x10 PFNs");
    PD(put64(&m, p + 16, 1ull << 52), "reserved bits");
    PD(put64(&m, p + 16, 0x1ull << 60), "a PV page table");
    PD(put64(&m, p + 16, 0x5ull << 60), "not a page type");
    PD(put64(&m, p + 16, 0xdull << 60), "a broken page");
    /* NOTAB -> XALLOC: one page of data too many for the count */
    PD(put64(&m, p + 16, 0xeull << 60), "with data");
    PD(put32(&m, p + 8, 5000), "count 5000 over our bound");
#undef PD
}

static void test_params_and_tsc(void **state)
{
    (void)state;
    struct stream_membuf m;
    size_t x;
#define PX(mutation, what) \
    m = build(FULL); x = rec_at(&m, 6) + 8; mutation; expect_refused(m, what)
    PX(put32(&m, x, 3), "does not match its count");
    PX(put32(&m, x + 4, 1), "HVM_PARAMS (record 7");
    PX(put64(&m, x + 8, 2), "index 2 is not one libxc saves");
    PX(put64(&m, x + 24, HVM_PARAM_STORE_PFN), "twice");
    PX(put64(&m, x + 16, NR_PFNS), "PFN 0x10 outside");
#undef PX
    size_t t;
    m = build(FULL); t = rec_at(&m, 4) + 8; put32(&m, t + 20, 1);
    expect_refused(m, "X86_TSC_INFO (record 5");
    m = build(FULL); t = rec_at(&m, 4) + 8; put32(&m, t, 7);
    expect_refused(m, "unknown TSC mode 7");
}

/* The HVM blob, through the stream and directly. */
static void test_hvm_context(void **state)
{
    (void)state;
    struct stream_membuf m = build(FULL);
    struct xcs_result r;
    /* two vCPUs' records for a one-vCPU domain */
    assert_int_equal(read_buf(m.data, m.len, &r, 1), -EINVAL);
    assert_non_null(strstr(err, "HVM_CONTEXT (record 6"));
    assert_non_null(strstr(err, "CPU instance 1: vCPU id not below the domain's 1"));
    free(m.data);

    struct stream_membuf b = { 0 };
    static struct hvm_ctx ctx;
    make_hvm_blob(&b, NR_VCPUS);
    assert_int_equal(hvm_ctx_parse(b.data, b.len, NR_VCPUS, &ctx, err,
                                   sizeof(err)), 0);
    assert_int_equal(ctx.nr_present, 2);
    /* Offsets: HEADER at 0 (8 + 24), CPU 0 at 32. */
    size_t cpu0 = 8 + sizeof(struct hvm_save_header);
    struct { const char *what; size_t off; uint32_t val; int width; size_t cut;
    } cases[] = {
        { "HEADER: bad magic", 8, 1, 4, 0 },
        { "HEADER: unknown version 2", 12, 2, 4, 0 },
        { "CPU before HEADER", 0, HVM_SAVE_CODE(CPU), 2, 0 },
        { "CPU instance 0: length 8, expected", cpu0 + 4, 8, 4, 0 },
        { "unknown record type 99", cpu0, 99, 2, 0 },
        { "unknown record type 21", cpu0, 21, 2, 0 },
        { "CPU instance 0: duplicate record", cpu0 + 8 + sizeof(struct hvm_hw_cpu) + 2, 0, 2, 0 },
        { "CPU instance 9: vCPU id not below", cpu0 + 2, 9, 2, 0 },
        { "HEADER instance 1: no such instance", 2, 1, 2, 0 },
        { "runs past the blob", cpu0 + 4, 1u << 30, 4, 0 },
        { "no END record", 0, 0, 0, 8 },
        { "truncated descriptor", 0, 0, 0, 4 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t *c = malloc(b.len);
        memcpy(c, b.data, b.len);
        if (cases[i].width == 2) { uint16_t v = cases[i].val; memcpy(c + cases[i].off, &v, 2); }
        if (cases[i].width == 4) memcpy(c + cases[i].off, &cases[i].val, 4);
        int rc = hvm_ctx_parse(c, b.len - cases[i].cut, NR_VCPUS, &ctx, err,
                               sizeof(err));
        if (rc != -EINVAL || !strstr(err, cases[i].what))
            fail_msg("case %zu: expected \"%s\", got %d: %s", i, cases[i].what,
                     rc, err);
        free(c);
    }
    /* bytes after END */
    uint8_t *c = calloc(1, b.len + 8);
    memcpy(c, b.data, b.len);
    assert_int_equal(hvm_ctx_parse(c, b.len + 8, NR_VCPUS, &ctx, err,
                                   sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "8 bytes after END"));
    free(c);
    /* vCPU 1 only: no CPU record for vCPU 0 */
    struct stream_membuf b1 = { 0 };
    struct hvm_save_header h = { HVM_FILE_MAGIC, HVM_FILE_VERSION, 0, 0, 0 };
    vcpus[0].present = false;
    assert_int_equal(hvm_ctx_build(&b1, &h, vcpus, NR_VCPUS), 0);
    assert_int_equal(hvm_ctx_parse(b1.data, b1.len, NR_VCPUS, &ctx, err,
                                   sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "no CPU record for vCPU 0"));
    free(b1.data);
    /* a LAPIC record for a vCPU with no CPU record */
    struct stream_membuf b2 = { 0 };
    struct stream_sink s2;
    struct hvm_save_descriptor d;
    stream_sink_mem(&s2, &b2);
    d = (struct hvm_save_descriptor){ HVM_SAVE_CODE(HEADER), 0, sizeof(h) };
    stream_put(&s2, &d, sizeof(d)); stream_put(&s2, &h, sizeof(h));
    d = (struct hvm_save_descriptor){ HVM_SAVE_CODE(CPU), 0, sizeof(struct hvm_hw_cpu) };
    stream_put(&s2, &d, sizeof(d)); stream_put(&s2, &vcpus[1].cpu, sizeof(vcpus[1].cpu));
    d = (struct hvm_save_descriptor){ HVM_SAVE_CODE(LAPIC), 1, sizeof(struct hvm_hw_lapic) };
    stream_put(&s2, &d, sizeof(d)); stream_put(&s2, &vcpus[1].lapic, sizeof(vcpus[1].lapic));
    d = (struct hvm_save_descriptor){ 0, 0, 0 };
    stream_put(&s2, &d, sizeof(d));
    assert_int_equal(hvm_ctx_parse(b2.data, b2.len, NR_VCPUS, &ctx, err,
                                   sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "LAPIC instance 1: before that vCPU's CPU record"));
    free(b2.data);
    free(b.data);
}

/* A CPU_MSR payload must agree with its count; the builder refuses a bad one. */
static void test_hvm_msrs(void **state)
{
    (void)state;
    struct hvm_save_header h = { HVM_FILE_MAGIC, HVM_FILE_VERSION, 0, 0, 0 };
    struct { uint32_t count, pad; struct hvm_one_msr m[2]; } msr = {
        2, 0, { { 0xc0000080, 0, 0x500 }, { 0x10, 0, 1234 } } };
    struct stream_membuf b = { 0 };
    static struct hvm_ctx ctx;
    make_hvm_blob(&b, 0);
    free(b.data);
    b = (struct stream_membuf){ 0 };
    vcpus[0].msrs = (const uint8_t *)&msr;
    vcpus[0].msrs_len = sizeof(msr);
    assert_int_equal(hvm_ctx_build(&b, &h, vcpus, 1), 0);
    assert_int_equal(hvm_ctx_parse(b.data, b.len, 1, &ctx, err, sizeof(err)), 0);
    assert_int_equal(ctx.vcpu[0].msrs_len, sizeof(msr));
    free(b.data);
    b = (struct stream_membuf){ 0 };
    vcpus[0].msrs_len = sizeof(msr) - 16;   /* count 2, one entry */
    assert_int_equal(hvm_ctx_build(&b, &h, vcpus, 1), -EINVAL);
    free(b.data);
    b = (struct stream_membuf){ 0 };
    vcpus[0].msrs_len = sizeof(msr);
    msr.m[1]._rsvd = 1;
    assert_int_equal(hvm_ctx_build(&b, &h, vcpus, 1), -EINVAL);
    free(b.data);
}

/* The fd source reads exactly the image and not a byte more. */
static void test_fd_exact(void **state)
{
    (void)state;
    struct stream_membuf m = build(FULL);
    char path[] = "/tmp/xenon-test-stream-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, m.data, m.len), (ssize_t)m.len);
    assert_int_equal(write(fd, "TAIL", 4), 4);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    struct stream_source src;
    struct xcs_limits lim = { NR_PFNS, NR_VCPUS };
    struct xcs_result r;
    stream_source_fd(&src, &fd);
    assert_int_equal(xcs_read(&src, &lim, NULL, NULL, &r, err, sizeof(err)), 0);
    char tail[5] = { 0 };
    assert_int_equal(read(fd, tail, 4), 4);
    assert_string_equal(tail, "TAIL");
    xcs_result_free(&r);
    close(fd);
    free(m.data);
}

/* A test run with xcs_read_pages, in place (1) or passing over (2). */
#define WITH_MODE(name, mode, test)                                      \
    static void name(void **state)                                       \
    {                                                                    \
        reader_mode = mode;                                              \
        test(state);                                                     \
        reader_mode = 0;                                                 \
    }
WITH_MODE(test_direct_truncated, 1, test_truncated)
WITH_MODE(test_direct_order, 1, test_order)
WITH_MODE(test_direct_lengths, 1, test_lengths)
WITH_MODE(test_direct_page_data, 1, test_page_data)
WITH_MODE(test_skip_truncated, 2, test_truncated)
WITH_MODE(test_skip_page_data, 2, test_page_data)
WITH_MODE(test_skip_lengths, 2, test_lengths)

/* In place: the same pages and callbacks as through the bounce buffer. */
static void test_direct_round_trip(void **state)
{
    (void)state;
    struct stream_membuf m = build(FULL);
    struct xcs_result r;
    reader_mode = 1;
    assert_int_equal(read_buf(m.data, m.len, &r, NR_VCPUS), 0);
    reader_mode = 0;
    assert_int_equal(r.pages_data, NR_PFNS - 3);
    assert_int_equal(r.pages_alloc, 1);
    assert_int_equal(dst_calls, NR_PFNS - 2);
    for (unsigned p = 0; p < NR_PFNS; p++) {
        if (p == 3 || p == 4) {
            assert_int_equal(dst_type[p], 0);
            continue;
        }
        assert_memory_equal(dst_mem[p], src_mem[p], XC_PAGE_SIZE);
        assert_int_equal(dst_type[p], (p == 5 ? XEN_DOMCTL_PFINFO_XALLOC
                                              : XEN_DOMCTL_PFINFO_NOTAB) | 1);
    }
    xcs_result_free(&r);
    /* Passed over: nothing written, the same counts, read to END. */
    reader_mode = 2;
    assert_int_equal(read_buf(m.data, m.len, &r, NR_VCPUS), 0);
    reader_mode = 0;
    assert_int_equal(r.pages_data, NR_PFNS - 3);
    assert_int_equal(dst_calls, 0);
    for (unsigned p = 0; p < NR_PFNS; p++)
        for (unsigned i = 0; i < XC_PAGE_SIZE; i++)
            assert_int_equal(dst_mem[p][i], 0);
    xcs_result_free(&r);
    free(m.data);
}

/* The descriptor source seeks over page data in a regular file, stops
 * exactly at END, and refuses a file cut inside a page as truncated. */
static void test_fd_skip(void **state)
{
    (void)state;
    struct stream_membuf m = build(FULL);
    char path[] = "/tmp/xenon-test-stream-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, m.data, m.len), (ssize_t)m.len);
    assert_int_equal(write(fd, "TAIL", 4), 4);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    struct stream_source src;
    struct xcs_limits lim = { NR_PFNS, NR_VCPUS };
    struct xcs_pages none = { NULL, NULL, NULL, NULL };
    struct xcs_result r;
    stream_source_fd(&src, &fd);
    assert_int_equal(xcs_read_pages(&src, &lim, &none, &r, err, sizeof(err)), 0);
    assert_int_equal(r.pages_data, NR_PFNS - 3);
    char tail[5] = { 0 };
    assert_int_equal(read(fd, tail, 4), 4);
    assert_string_equal(tail, "TAIL");
    xcs_result_free(&r);
    /* Cut in the middle of the memory: the seek would pass the end. */
    size_t cut = m.len / 2;
    assert_int_equal(ftruncate(fd, (off_t)cut), 0);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    stream_source_fd(&src, &fd);
    assert_int_equal(xcs_read_pages(&src, &lim, &none, &r, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "PAGE_DATA"));
    assert_non_null(strstr(err, "truncated"));
    close(fd);
    free(m.data);
}

/* Guest memory as a memfd and its mapping, for the copy into a descriptor. */
static uint8_t *map_mem;
static int map_fd = -1;
static unsigned map_calls;

static void *map_dest(void *ctx, uint64_t pfn)
{
    (void)ctx;
    assert_true(pfn < NR_PFNS);
    return map_mem + pfn * XC_PAGE_SIZE;
}

static int map_dest_fd(void *ctx, uint64_t pfn, uint64_t *off)
{
    (void)ctx;
    *off = pfn * XC_PAGE_SIZE;
    return map_fd;
}

static int map_page(void *ctx, uint64_t pfn, uint32_t type, const void *data)
{
    (void)ctx;
    if (type == XEN_DOMCTL_PFINFO_NOTAB)
        assert_ptr_equal(data, map_mem + pfn * XC_PAGE_SIZE);
    map_calls++;
    return 0;
}

/* From a regular file the pages are copied into the memfd by the source
 * (sendfile) and seen through the mapping; from a pipe they are read into
 * the mapping; a file cut inside a run is refused as truncated. */
static void test_fd_copy(void **state)
{
    (void)state;
    struct stream_membuf m = build(FULL);
    char path[] = "/tmp/xenon-test-stream-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, m.data, m.len), (ssize_t)m.len);
    assert_int_equal(write(fd, "TAIL", 4), 4);
    map_fd = memfd_create("test-stream", MFD_CLOEXEC);
    assert_true(map_fd >= 0);
    assert_int_equal(ftruncate(map_fd, NR_PFNS * XC_PAGE_SIZE), 0);
    map_mem = mmap(NULL, NR_PFNS * XC_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                   map_fd, 0);
    assert_true(map_mem != MAP_FAILED);
    struct xcs_limits lim = { NR_PFNS, NR_VCPUS };
    struct xcs_pages pages = { map_dest, map_page, NULL, map_dest_fd };
    struct stream_source src;
    struct xcs_result r;
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    for (int pass = 0; pass < 2; pass++) {
        memset(map_mem, 0, NR_PFNS * XC_PAGE_SIZE);
        map_calls = 0;
        int in = fd;
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        if (pass == 1) {            /* a pipe, fed by a writer as a migration's */
            pid_t child = fork();
            assert_true(child >= 0);
            if (child == 0) {
                close(pfd[0]);
                _exit(write(pfd[1], m.data, m.len) == (ssize_t)m.len ? 0 : 1);
            }
            close(pfd[1]);
            in = pfd[0];
        }
        stream_source_fd(&src, &in);
        assert_true(pass == 0 ? src.copy_to_fd != NULL : src.copy_to_fd == NULL);
        assert_int_equal(xcs_read_pages(&src, &lim, &pages, &r, err, sizeof(err)), 0);
        assert_int_equal(src.bytes, m.len);
        assert_int_equal(map_calls, NR_PFNS - 2);
        for (unsigned p = 0; p < NR_PFNS; p++)
            if (p != 3 && p != 4)
                assert_memory_equal(map_mem + p * XC_PAGE_SIZE, src_mem[p], XC_PAGE_SIZE);
        xcs_result_free(&r);
        if (pass == 0) {
            char tail[5] = { 0 };
            assert_int_equal(read(fd, tail, 4), 4);
            assert_string_equal(tail, "TAIL");
        } else {
            int status;
            assert_true(wait(&status) > 0);
            assert_int_equal(status, 0);
            close(pfd[0]);
        }
    }
    /* Cut a page into the memory. */
    size_t cut = m.len / 2;
    assert_int_equal(ftruncate(fd, (off_t)cut), 0);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    stream_source_fd(&src, &fd);
    assert_int_equal(xcs_read_pages(&src, &lim, &pages, &r, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "PAGE_DATA"));
    assert_non_null(strstr(err, "truncated"));
    munmap(map_mem, NR_PFNS * XC_PAGE_SIZE);
    close(map_fd);
    close(fd);
    free(m.data);
}

int main(void)
{
    setup_memory();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_direct_round_trip),
        cmocka_unit_test(test_direct_truncated),
        cmocka_unit_test(test_direct_order),
        cmocka_unit_test(test_direct_lengths),
        cmocka_unit_test(test_direct_page_data),
        cmocka_unit_test(test_skip_truncated),
        cmocka_unit_test(test_skip_page_data),
        cmocka_unit_test(test_skip_lengths),
        cmocka_unit_test(test_fd_skip),
        cmocka_unit_test(test_fd_copy),
        cmocka_unit_test(test_zero_as_data),
        cmocka_unit_test(test_batches),
        cmocka_unit_test(test_memory_set),
        cmocka_unit_test(test_optional_skipped),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_order2),
        cmocka_unit_test(test_unsupported_records),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_page_data),
        cmocka_unit_test(test_params_and_tsc),
        cmocka_unit_test(test_hvm_context),
        cmocka_unit_test(test_hvm_msrs),
        cmocka_unit_test(test_fd_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
