/* Xen's HVM save blob: build from Xen's structs, parse as hostile input.
 * Record layouts are those of xen/hvm/save.h and xen/arch-x86/hvm/save.h. */
#include "hvm_context.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* What we know of each typecode: its name, its fixed length (0: variable,
 * checked by its own rule), whether its instance is a vCPU id, and the
 * instances a per-domain record may have. */
struct hvm_type {
    const char *name;
    uint32_t len;
    bool per_vcpu;
    unsigned max_instances;
};

#define T(x, pv, inst) [HVM_SAVE_CODE(x)] = { #x, HVM_SAVE_LENGTH(x), pv, inst }
static const struct hvm_type hvm_types[HVM_SAVE_CODE_MAX + 1] = {
    T(END, false, 1),
    T(HEADER, false, 1),
    T(CPU, true, 0),
    T(PIC, false, 2),               /* master and slave 8259 */
    T(IOAPIC, false, 1),
    T(LAPIC, true, 0),
    T(LAPIC_REGS, true, 0),
    T(PCI_IRQ, false, 1),
    T(ISA_IRQ, false, 1),
    T(PCI_LINK, false, 1),
    T(PIT, false, 1),
    T(RTC, false, 1),
    T(HPET, false, 1),
    T(PMTIMER, false, 1),
    T(MTRR, true, 0),
    T(VIRIDIAN_DOMAIN, false, 1),
    [CPU_XSAVE_CODE] = { "CPU_XSAVE", 0, true, 0 },
    T(VIRIDIAN_VCPU, true, 0),
    T(VMCE_VCPU, true, 0),
    T(TSC_ADJUST, true, 0),
    [CPU_MSR_CODE] = { "CPU_MSR", 0, true, 0 },
};
#undef T

static int put_entry(struct stream_membuf *out, uint16_t code,
                     uint16_t instance, const void *p, uint32_t len)
{
    struct stream_sink s;
    struct hvm_save_descriptor d = { code, instance, len };
    struct iovec iov[2] = { { &d, sizeof(d) }, { (void *)p, len } };
    stream_sink_mem(&s, out);
    return stream_putv(&s, iov, len ? 2 : 1);
}

static int xsave_ok(const uint8_t *p, uint32_t len)
{
    (void)p;
    return len >= sizeof(struct hvm_hw_cpu_xsave) && len <= HVM_CTX_MAX_XSAVE;
}

/* A CPU_MSR payload: count, reserved, count entries with zero _rsvd. */
static const char *msrs_problem(const uint8_t *p, uint32_t len)
{
    uint32_t count;
    const size_t hdr = offsetof(struct hvm_msr, msr);
    if (len < hdr)
        return "shorter than its count";
    memcpy(&count, p, sizeof(count));
    if (count > HVM_CTX_MAX_MSRS)
        return "more MSRs than we carry";
    if (len != hdr + (size_t)count * sizeof(struct hvm_one_msr))
        return "length does not match its MSR count";
    for (uint32_t i = 0; i < count; i++) {
        struct hvm_one_msr m;
        memcpy(&m, p + hdr + i * sizeof(m), sizeof(m));
        if (m._rsvd)
            return "reserved field of an MSR entry is not zero";
    }
    return NULL;
}

int hvm_ctx_build(struct stream_membuf *out, const struct hvm_save_header *hdr,
                  const struct hvm_ctx_vcpu *vcpus, unsigned nr_vcpus)
{
    if (nr_vcpus > HVM_CTX_MAX_VCPUS)
        return -EINVAL;
    int rc = put_entry(out, HVM_SAVE_CODE(HEADER), 0, hdr, sizeof(*hdr));
    /* Xen writes records grouped by typecode, every vCPU's in turn. */
    for (unsigned code = 0; rc == 0 && code <= HVM_SAVE_CODE_MAX; code++) {
        for (unsigned i = 0; rc == 0 && i < nr_vcpus; i++) {
            const struct hvm_ctx_vcpu *v = &vcpus[i];
            if (!v->present)
                continue;
            switch (code) {
            case HVM_SAVE_CODE(CPU):
                rc = put_entry(out, code, i, &v->cpu, sizeof(v->cpu));
                break;
            case HVM_SAVE_CODE(LAPIC):
                if (v->has_lapic)
                    rc = put_entry(out, code, i, &v->lapic, sizeof(v->lapic));
                break;
            case HVM_SAVE_CODE(LAPIC_REGS):
                if (v->has_lapic_regs)
                    rc = put_entry(out, code, i, &v->lapic_regs,
                                   sizeof(v->lapic_regs));
                break;
            case HVM_SAVE_CODE(MTRR):
                if (v->has_mtrr)
                    rc = put_entry(out, code, i, &v->mtrr, sizeof(v->mtrr));
                break;
            case CPU_XSAVE_CODE:
                if (v->xsave_len) {
                    if (!xsave_ok(v->xsave, v->xsave_len))
                        return -EINVAL;
                    rc = put_entry(out, code, i, v->xsave, v->xsave_len);
                }
                break;
            case HVM_SAVE_CODE(TSC_ADJUST):
                if (v->has_tsc_adjust)
                    rc = put_entry(out, code, i, &v->tsc_adjust,
                                   sizeof(v->tsc_adjust));
                break;
            case CPU_MSR_CODE:
                if (v->msrs_len) {
                    if (msrs_problem(v->msrs, v->msrs_len))
                        return -EINVAL;
                    rc = put_entry(out, code, i, v->msrs, v->msrs_len);
                }
                break;
            }
        }
    }
    if (rc == 0)
        rc = put_entry(out, HVM_SAVE_CODE(END), 0, NULL, 0);
    return rc;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        int n = snprintf(err, errlen, "HVM_CONTEXT: ");
        va_start(ap, fmt);
        if (n >= 0 && (size_t)n < errlen)
            vsnprintf(err + n, errlen - n, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

int hvm_ctx_parse(const uint8_t *blob, size_t len, unsigned nr_vcpus,
                  struct hvm_ctx *out, char *err, size_t errlen)
{
    /* Which (type, instance) pairs we have seen: per-domain types by
     * instance, per-vCPU types by vCPU. */
    _Static_assert(HVM_CTX_MAX_VCPUS <= 128, "seen bitmap");
    uint64_t seen[HVM_SAVE_CODE_MAX + 1][2] = { { 0 } };
    size_t off = 0;
    bool have_header = false, have_end = false;

    memset(out, 0, sizeof(*out));
    if (nr_vcpus == 0 || nr_vcpus > HVM_CTX_MAX_VCPUS)
        return fail(err, errlen, "a domain of %u vCPUs cannot be restored",
                    nr_vcpus);
    if (len > HVM_CTX_MAX_LEN)
        return fail(err, errlen, "%zu bytes, more than we accept", len);
    out->nr_vcpus = nr_vcpus;

    while (!have_end) {
        struct hvm_save_descriptor d;
        if (len - off < sizeof(d))
            return fail(err, errlen, off == len ? "no END record"
                        : "truncated descriptor at offset %zu", off);
        memcpy(&d, blob + off, sizeof(d));
        off += sizeof(d);
        if (d.typecode > HVM_SAVE_CODE_MAX || !hvm_types[d.typecode].name)
            return fail(err, errlen, "unknown record type %u at offset %zu",
                        d.typecode, off - sizeof(d));
        const struct hvm_type *t = &hvm_types[d.typecode];
        if (!have_header && d.typecode != HVM_SAVE_CODE(HEADER))
            return fail(err, errlen, "%s before HEADER", t->name);
        if (d.length > len - off)
            return fail(err, errlen, "%s instance %u: length %u runs past "
                        "the blob", t->name, d.instance, d.length);
        if (t->len && d.length != t->len)
            return fail(err, errlen, "%s instance %u: length %u, expected %u",
                        t->name, d.instance, d.length, t->len);
        const uint8_t *p = blob + off;
        off += d.length;

        if (t->per_vcpu ? d.instance >= nr_vcpus
                        : d.instance >= t->max_instances)
            return fail(err, errlen, t->per_vcpu
                        ? "%s instance %u: vCPU id not below the domain's %u"
                        : "%s instance %u: no such instance (%u allowed)",
                        t->name, d.instance,
                        t->per_vcpu ? nr_vcpus : t->max_instances);
        uint64_t bit = 1ull << (d.instance % 64);
        if (seen[d.typecode][d.instance / 64] & bit)
            return fail(err, errlen, "%s instance %u: duplicate record",
                        t->name, d.instance);
        seen[d.typecode][d.instance / 64] |= bit;

        /* the vCPU a per-vCPU record is for (unused for the others) */
        struct hvm_ctx_vcpu *v = &out->vcpu[t->per_vcpu ? d.instance : 0];
        if (t->per_vcpu && d.typecode != HVM_SAVE_CODE(CPU) && !v->present)
            return fail(err, errlen, "%s instance %u: before that vCPU's CPU "
                        "record", t->name, d.instance);
        switch (d.typecode) {
        case HVM_SAVE_CODE(END):
            have_end = true;
            break;
        case HVM_SAVE_CODE(HEADER):
            memcpy(&out->header, p, sizeof(out->header));
            if (out->header.magic != HVM_FILE_MAGIC)
                return fail(err, errlen, "HEADER: bad magic 0x%x",
                            out->header.magic);
            if (out->header.version != HVM_FILE_VERSION)
                return fail(err, errlen, "HEADER: unknown version %u",
                            out->header.version);
            have_header = true;
            break;
        case HVM_SAVE_CODE(CPU):
            memcpy(&v->cpu, p, sizeof(v->cpu));
            v->present = true;
            out->nr_present++;
            break;
        case HVM_SAVE_CODE(LAPIC):
            memcpy(&v->lapic, p, sizeof(v->lapic));
            v->has_lapic = true;
            break;
        case HVM_SAVE_CODE(LAPIC_REGS):
            memcpy(&v->lapic_regs, p, sizeof(v->lapic_regs));
            v->has_lapic_regs = true;
            break;
        case HVM_SAVE_CODE(MTRR):
            memcpy(&v->mtrr, p, sizeof(v->mtrr));
            v->has_mtrr = true;
            break;
        case HVM_SAVE_CODE(TSC_ADJUST):
            memcpy(&v->tsc_adjust, p, sizeof(v->tsc_adjust));
            v->has_tsc_adjust = true;
            break;
        case CPU_XSAVE_CODE:
            if (!xsave_ok(p, d.length))
                return fail(err, errlen, "CPU_XSAVE instance %u: length %u "
                            "outside %zu..%u", d.instance, d.length,
                            sizeof(struct hvm_hw_cpu_xsave), HVM_CTX_MAX_XSAVE);
            v->xsave = p;
            v->xsave_len = d.length;
            break;
        case CPU_MSR_CODE: {
            const char *why = msrs_problem(p, d.length);
            if (why)
                return fail(err, errlen, "CPU_MSR instance %u: %s",
                            d.instance, why);
            v->msrs = p;
            v->msrs_len = d.length;
            break;
        }
        default:
            if (!t->per_vcpu)
                out->nr_domain_records++;
            /* VIRIDIAN_VCPU, VMCE_VCPU: carried by length only */
            break;
        }
    }
    if (off != len)
        return fail(err, errlen, "%zu bytes after END", len - off);
    if (!out->vcpu[0].present)
        return fail(err, errlen, "no CPU record for vCPU 0");
    return 0;
}
