/* xl's save-file header and libxl's stream records, written. */
#include "savefile.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "xenon/xen_stream_format.h"

int savefile_write_start(struct stream_sink *out, const char *config_json)
{
    struct xl_savefile_header h = {
        .byteorder = XL_SAVEFILE_BYTEORDER,
        .mandatory_flags = XL_MANDATORY_FLAG_STREAMV2,
    };
    struct libxl_stream_hdr lh = {
        .ident = htobe64(LIBXL_STREAM_IDENT),
        .version = htobe32(LIBXL_STREAM_VERSION),
        .options = htobe32(0),      /* little-endian, not legacy */
    };
    uint32_t config_len = 0;
    struct iovec iov[4];
    int n = 0;

    memcpy(h.magic, XL_SAVEFILE_MAGIC, XL_SAVEFILE_MAGIC_LEN);
    if (config_json) {
        size_t len = strlen(config_json) + 1;   /* xl counts the NUL */
        if (len > SAVEFILE_MAX_CONFIG - sizeof(config_len))
            return -EINVAL;
        config_len = (uint32_t)len;
        h.mandatory_flags |= XL_MANDATORY_FLAG_JSON;
    }
    /* xl always writes the length word, even for no config. */
    h.optional_data_len = sizeof(config_len) + config_len;
    iov[n++] = (struct iovec){ &h, sizeof(h) };
    iov[n++] = (struct iovec){ &config_len, sizeof(config_len) };
    if (config_len)
        iov[n++] = (struct iovec){ (void *)config_json, config_len };
    iov[n++] = (struct iovec){ &lh, sizeof(lh) };
    return stream_putv(out, iov, n);
}

static int put_empty_record(struct stream_sink *out, uint32_t type)
{
    struct xen_stream_rhdr rh = { type, 0 };
    return stream_put(out, &rh, sizeof(rh));
}

int savefile_write_libxc_context(struct stream_sink *out)
{
    return put_empty_record(out, LIBXL_REC_LIBXC_CONTEXT);
}

int savefile_write_end(struct stream_sink *out)
{
    return put_empty_record(out, LIBXL_REC_END);
}
