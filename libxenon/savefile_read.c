/* xl's save-file header and libxl's stream, read as hostile input. */
#include "savefile.h"
#include "xenon/contract.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "xenon/xen_stream_format.h"

struct reader {
    struct stream_source *in;
    char *err;
    size_t errlen;
    const char *part;               /* for messages */
    unsigned index;
    uint64_t offset;
};

static int fail(struct reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(struct reader *r, const char *fmt, ...)
{
    if (r->err && r->errlen) {
        int n = r->index
            ? snprintf(r->err, r->errlen, "libxl %s (record %u, offset %llu): ",
                       r->part, r->index, (unsigned long long)r->offset)
            : snprintf(r->err, r->errlen, "%s: ", r->part);
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

static int get(struct reader *r, void *buf, size_t len)
{
    return named(r, stream_get(r->in, buf, len));
}

static int read_xl_header(struct reader *r, struct savefile_info *out)
{
    struct xl_savefile_header h;
    int rc;

    r->part = "xl header";
    if ((rc = get(r, &h, sizeof(h))))
        return rc;
    if (memcmp(h.magic, XL_SAVEFILE_MAGIC, XL_SAVEFILE_MAGIC_LEN))
        return fail(r, "wrong magic: not an xl save file");
    if (h.byteorder != XL_SAVEFILE_BYTEORDER)
        return fail(r, "byte order 0x%08x, not this host's", h.byteorder);
    if (h.mandatory_flags & ~XL_MANDATORY_FLAGS_KNOWN)
        return fail(r, "unknown mandatory flags 0x%x",
                    h.mandatory_flags & ~XL_MANDATORY_FLAGS_KNOWN);
    if (!(h.mandatory_flags & XL_MANDATORY_FLAG_STREAMV2))
        return fail(r, "a legacy (pre-v2) stream");
    if (h.optional_flags)
        return fail(r, "unknown optional flags 0x%x", h.optional_flags);
    if (h.optional_data_len > SAVEFILE_MAX_CONFIG)
        return fail(r, "%u bytes of optional data, over our bound %u",
                    h.optional_data_len, SAVEFILE_MAX_CONFIG);
    out->mandatory_flags = h.mandatory_flags;

    bool json = h.mandatory_flags & XL_MANDATORY_FLAG_JSON;
    if (h.optional_data_len == 0) {
        if (json)
            return fail(r, "JSON flag set but no config");
        return 0;
    }
    r->part = "xl optional data";
    uint8_t *opt = malloc(h.optional_data_len);
    if (!opt)
        return -ENOMEM;
    if ((rc = get(r, opt, h.optional_data_len)))
        goto out;
    uint32_t config_len;
    rc = -EINVAL;
    if (h.optional_data_len < sizeof(config_len)) {
        fail(r, "%u bytes, too short for the config length",
             h.optional_data_len);
        goto out;
    }
    memcpy(&config_len, opt, sizeof(config_len));
    if (config_len > h.optional_data_len - sizeof(config_len)) {
        fail(r, "config length %u overruns the %u bytes of optional data",
             config_len, h.optional_data_len);
        goto out;
    }
    /* Bytes after the config are data a newer xl added: skipped, as xl
     * skips them. */
    if (config_len == 0) {
        rc = json ? fail(r, "JSON flag set but no config") : 0;
        goto out;
    }
    if (!json) {
        fail(r, "config is not JSON (pre-4.5 xl text configs are not read)");
        goto out;
    }
    const char *cfg = (const char *)opt + sizeof(config_len);
    size_t slen = strnlen(cfg, config_len);
    if (slen == config_len) {
        fail(r, "config is not NUL-terminated");
        goto out;
    }
    if (slen != config_len - 1) {
        fail(r, "config has a NUL at byte %zu of %u", slen, config_len);
        goto out;
    }
    out->config_json = malloc(config_len);
    if (!out->config_json) {
        rc = -ENOMEM;
        goto out;
    }
    memcpy(out->config_json, cfg, config_len);
    out->config_len = slen;
    rc = 0;
out:
    free(opt);
    return rc;
}

static int read_libxl_header(struct reader *r, struct savefile_info *out)
{
    struct libxl_stream_hdr h;
    int rc;

    r->part = "libxl header";
    if ((rc = get(r, &h, sizeof(h))))
        return rc;
    if (be64toh(h.ident) != LIBXL_STREAM_IDENT)
        return fail(r, "bad ident 0x%llx", (unsigned long long)be64toh(h.ident));
    if (be32toh(h.version) != LIBXL_STREAM_VERSION)
        return fail(r, "version %u, expected %u", be32toh(h.version),
                    LIBXL_STREAM_VERSION);
    uint32_t options = be32toh(h.options);
    if (options & LIBXL_STREAM_OPT_BIG_ENDIAN)
        return fail(r, "a big-endian stream");
    if (options & ~LIBXL_STREAM_OPT_LEGACY)
        return fail(r, "reserved option bits 0x%x",
                    options & ~LIBXL_STREAM_OPT_LEGACY);
    out->legacy = options & LIBXL_STREAM_OPT_LEGACY;
    return 0;
}

static const char *libxl_record_name(uint32_t type)
{
    switch (type) {
    case LIBXL_REC_END: return "END";
    case LIBXL_REC_LIBXC_CONTEXT: return "LIBXC_CONTEXT";
    case LIBXL_REC_EMULATOR_XENSTORE_DATA: return "EMULATOR_XENSTORE_DATA";
    case LIBXL_REC_EMULATOR_CONTEXT: return "EMULATOR_CONTEXT";
    case LIBXL_REC_CHECKPOINT_END: return "CHECKPOINT_END";
    case LIBXL_REC_CHECKPOINT_STATE: return "CHECKPOINT_STATE";
    default: return NULL;
    }
}

int savefile_read(struct stream_source *in, savefile_libxc_fn libxc,
                  void *ctx, struct savefile_info *out, char *err,
                  size_t errlen)
{
    return savefile_read_ex(in, libxc, NULL, ctx, out, err, errlen);
}

int savefile_read_ex(struct stream_source *in, savefile_libxc_fn libxc,
                     savefile_emulator_fn emulator, void *ctx,
                     struct savefile_info *out, char *err, size_t errlen)
{
    bool have_emulator = false;
    struct reader r = { in, err, errlen, "xl header", 0, 0 };
    bool have_libxc = false;
    char name[24];
    int rc;

    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = '\0';
    if ((rc = read_xl_header(&r, out)) || (rc = read_libxl_header(&r, out)))
        goto out;

    for (;;) {
        struct xen_stream_rhdr rh;
        r.index++;
        r.offset = in->bytes;
        r.part = "record header";
        if ((rc = get(&r, &rh, sizeof(rh))))
            goto out;
        r.part = libxl_record_name(rh.type);
        if (!r.part) {
            snprintf(name, sizeof(name), "record 0x%x", rh.type);
            r.part = name;
        }
        if (rh.type & XEN_STREAM_REC_OPTIONAL) {
            /* One we do not know: its body and padding, discarded. */
            if ((rc = named(&r, stream_skip_record(in, rh.length))))
                goto out;
            continue;
        }
        switch (rh.type) {
        case LIBXL_REC_LIBXC_CONTEXT:
            if (rh.length)
                rc = fail(&r, "length %u, expected 0", rh.length);
            else if (have_libxc)
                rc = fail(&r, "twice");
            else if (!libxc)
                rc = fail(&r, "no reader for libxc's image");
            else
                rc = libxc(ctx, in, err, errlen);
            have_libxc = true;
            break;
        case LIBXL_REC_END:
            if (rh.length)
                rc = fail(&r, "length %u, expected 0", rh.length);
            else if (!have_libxc)
                rc = fail(&r, "before LIBXC_CONTEXT");
            goto out;
        case LIBXL_REC_EMULATOR_CONTEXT:
            if (!emulator) {
                rc = fail(&r, "a device model's state: our domains have none");
            } else if (!have_libxc) {
                rc = fail(&r, "before LIBXC_CONTEXT");
            } else if (have_emulator) {
                rc = fail(&r, "twice");
            } else if (rh.length < sizeof(struct libxl_emulator_hdr) ||
                       rh.length > XENON_SAVE_MAX_DEVICES) {
                rc = fail(&r, "length %u out of bounds", rh.length);
            } else {
                rc = emulator(ctx, in, rh.length, err, errlen);
                out->have_emulator = true;
            }
            have_emulator = true;
            break;
        case LIBXL_REC_EMULATOR_XENSTORE_DATA:
            rc = fail(&r, "a device model's state: our domains have none");
            break;
        case LIBXL_REC_CHECKPOINT_END:
        case LIBXL_REC_CHECKPOINT_STATE:
            rc = fail(&r, "checkpointed streams (Remus, COLO) are not restored");
            break;
        default:
            rc = fail(&r, "unknown mandatory record type 0x%x", rh.type);
            break;
        }
        if (rc)
            goto out;
    }
out:
    if (rc)
        savefile_info_free(out);
    return rc;
}

void savefile_info_free(struct savefile_info *info)
{
    free(info->config_json);
    memset(info, 0, sizeof(*info));
}
