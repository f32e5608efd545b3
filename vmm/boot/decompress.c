/*
 * Kernel payload decompression (see decompress.h): one function per
 * format, all writing through one bounded output buffer.
 */
#include "decompress.h"

#include <bzlib.h>
#include <errno.h>
#include <limits.h>
#include <lz4.h>
#include <lzma.h>
#include <lzo/lzo1x.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "loader.h"

#define MiB (1024u * 1024u)

/* What a crafted xz/lzma header may make liblzma allocate, and the largest
 * zstd window accepted (2^27 = 128 MiB, what `zstd --ultra -22` uses). */
#define LZMA_MEMLIMIT   (256ull * MiB)
#define ZSTD_WINDOW_LOG 27

/* Linux's lz4 payload: the legacy frame, blocks of at most 8 MiB. */
#define LZ4_LEGACY_MAGIC 0x184c2102u
#define LZ4_LEGACY_BLOCK (8u * MiB)

/* lzop framing (lzop's own format; liblzo2 decodes the blocks). */
#define LZOP_MAGIC_LEN 9
#define LZOP_F_ADLER32_D 0x001u
#define LZOP_F_ADLER32_C 0x002u
#define LZOP_F_H_EXTRA   0x040u
#define LZOP_F_CRC32_D   0x100u
#define LZOP_F_CRC32_C   0x200u
#define LZOP_F_H_FILTER  0x800u
#define LZOP_MAX_BLOCK   (64u * MiB)

/* The output: grows by doubling up to limit, which is one byte more than
 * the caller's max_out so that a stream ending exactly at max_out is told
 * apart from one that goes on. */
struct obuf {
    uint8_t *p;
    size_t len, cap, limit;
};

/* At least one free byte at the end (want more if possible); -EFBIG at the
 * limit, -ENOMEM. */
static int room(struct obuf *b, size_t want)
{
    if (b->cap - b->len >= want && b->cap > b->len)
        return 0;
    if (b->cap >= b->limit)
        return b->cap > b->len ? 0 : -EFBIG;    /* what is left, then no more */
    size_t ncap = b->cap ? b->cap : MiB;
    while (ncap < b->limit && ncap - b->len < want)
        ncap = ncap > b->limit / 2 ? b->limit : ncap * 2;
    if (ncap > b->limit)
        ncap = b->limit;
    uint8_t *n = realloc(b->p, ncap);
    if (!n)
        return -ENOMEM;
    b->p = n;
    b->cap = ncap;
    return 0;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

#define TRUNCATED(what) loader_fail(err, errlen, -ENOEXEC, "%s payload ends early", what)
#define CORRUPT(what, detail) \
    loader_fail(err, errlen, -ENOEXEC, "%s payload is corrupt (%s)", what, detail)

static int full(char *err, size_t errlen, const struct obuf *b)
{
    return loader_fail(err, errlen, -EFBIG,
                       "decompressed kernel would exceed %zu bytes (the guest's RAM)",
                       b->limit - 1);
}

static int gunzip(const uint8_t *in, size_t len, struct obuf *b, char *err, size_t errlen)
{
    if (len > UINT_MAX)
        return CORRUPT("gzip", "larger than 4 GiB");
    z_stream zs = { .next_in = (Bytef *)in, .avail_in = (uInt)len };
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return loader_fail(err, errlen, -ENOMEM, "zlib: cannot start inflating");
    int rc;
    for (;;) {
        if ((rc = room(b, MiB)) < 0)
            break;
        size_t avail = b->cap - b->len;
        zs.next_out = b->p + b->len;
        zs.avail_out = avail > UINT_MAX ? UINT_MAX : (uInt)avail;
        uInt before = zs.avail_out;
        int z = inflate(&zs, Z_NO_FLUSH);
        b->len += before - zs.avail_out;
        if (z == Z_STREAM_END) {
            rc = 0;
            break;
        }
        if (z == Z_OK && zs.avail_out == 0)
            continue;                       /* more output to come */
        rc = z == Z_OK || z == Z_BUF_ERROR ? TRUNCATED("gzip")
           : z == Z_MEM_ERROR ? -ENOMEM
           : CORRUPT("gzip", zs.msg ? zs.msg : "inflate failed");
        break;
    }
    inflateEnd(&zs);
    return rc == -EFBIG ? full(err, errlen, b) : rc;
}

static int bunzip2(const uint8_t *in, size_t len, struct obuf *b, char *err, size_t errlen)
{
    if (len > UINT_MAX)
        return CORRUPT("bzip2", "larger than 4 GiB");
    bz_stream bs = { .next_in = (char *)in, .avail_in = (unsigned)len };
    if (BZ2_bzDecompressInit(&bs, 0, 0) != BZ_OK)
        return loader_fail(err, errlen, -ENOMEM, "libbz2: cannot start decompressing");
    int rc;
    for (;;) {
        if ((rc = room(b, MiB)) < 0)
            break;
        size_t avail = b->cap - b->len;
        bs.next_out = (char *)b->p + b->len;
        bs.avail_out = avail > UINT_MAX ? UINT_MAX : (unsigned)avail;
        unsigned before = bs.avail_out;
        int z = BZ2_bzDecompress(&bs);
        b->len += before - bs.avail_out;
        if (z == BZ_STREAM_END) {
            rc = 0;
            break;
        }
        if (z == BZ_OK && bs.avail_out == 0)
            continue;
        rc = z == BZ_OK ? TRUNCATED("bzip2")
           : z == BZ_MEM_ERROR ? -ENOMEM : CORRUPT("bzip2", "bad block data");
        break;
    }
    BZ2_bzDecompressEnd(&bs);
    return rc == -EFBIG ? full(err, errlen, b) : rc;
}

/* xz (.xz container) and lzma (the older "alone" format). */
static int unxz(const uint8_t *in, size_t len, bool alone, struct obuf *b,
                char *err, size_t errlen)
{
    const char *what = alone ? "lzma" : "xz";
    lzma_stream ls = LZMA_STREAM_INIT;
    lzma_ret r = alone ? lzma_alone_decoder(&ls, LZMA_MEMLIMIT)
                       : lzma_stream_decoder(&ls, LZMA_MEMLIMIT, 0);
    if (r != LZMA_OK)
        return loader_fail(err, errlen, -ENOMEM, "liblzma: cannot start decoding %s", what);
    ls.next_in = in;
    ls.avail_in = len;
    int rc;
    for (;;) {
        if ((rc = room(b, MiB)) < 0)
            break;
        ls.next_out = b->p + b->len;
        ls.avail_out = b->cap - b->len;
        size_t before = ls.avail_out;
        r = lzma_code(&ls, ls.avail_in ? LZMA_RUN : LZMA_FINISH);
        b->len += before - ls.avail_out;
        if (r == LZMA_STREAM_END) {
            rc = 0;
            break;
        }
        if (r == LZMA_OK)
            continue;
        rc = r == LZMA_BUF_ERROR ? TRUNCATED(what)
           : r == LZMA_MEM_ERROR ? -ENOMEM
           : r == LZMA_MEMLIMIT_ERROR ? CORRUPT(what, "needs more than 256 MiB to decode")
           : CORRUPT(what, "bad stream data");
        break;
    }
    lzma_end(&ls);
    return rc == -EFBIG ? full(err, errlen, b) : rc;
}

static int unzstd(const uint8_t *in, size_t len, struct obuf *b, char *err, size_t errlen)
{
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    if (!dc)
        return -ENOMEM;
    if (ZSTD_isError(ZSTD_DCtx_setParameter(dc, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG))) {
        ZSTD_freeDCtx(dc);
        return loader_fail(err, errlen, -ENOMEM, "libzstd: cannot limit its window");
    }
    ZSTD_inBuffer ib = { in, len, 0 };
    int rc;
    for (;;) {
        if ((rc = room(b, MiB)) < 0)
            break;
        ZSTD_outBuffer ob = { b->p + b->len, b->cap - b->len, 0 };
        size_t z = ZSTD_decompressStream(dc, &ob, &ib);
        b->len += ob.pos;
        if (ZSTD_isError(z)) {
            rc = CORRUPT("zstd", ZSTD_getErrorName(z));
            break;
        }
        if (z == 0) {                   /* the frame is complete */
            rc = 0;
            break;
        }
        if (ib.pos == ib.size && ob.pos < ob.size) {
            rc = TRUNCATED("zstd");
            break;
        }
    }
    ZSTD_freeDCtx(dc);
    return rc == -EFBIG ? full(err, errlen, b) : rc;
}

/* Linux's lz4: the legacy frame (magic, then blocks of a 32-bit LE size
 * and that many bytes, each at most 8 MiB decompressed). The size Linux
 * appends after the payload reads as a block header with nothing after. */
static int unlz4(const uint8_t *in, size_t len, struct obuf *b, char *err, size_t errlen)
{
    size_t off = 4;
    while (len - off >= 4) {
        uint32_t csize = le32(in + off);
        off += 4;
        if (csize == LZ4_LEGACY_MAGIC)
            continue;                   /* frames may be concatenated */
        if (off == len)
            break;                      /* the appended size */
        if (csize > (uint32_t)LZ4_compressBound(LZ4_LEGACY_BLOCK) || csize > len - off)
            return CORRUPT("lz4", "block runs past the end");
        int rc = room(b, LZ4_LEGACY_BLOCK);
        if (rc < 0)
            return rc == -EFBIG ? full(err, errlen, b) : rc;
        size_t avail = b->cap - b->len;
        int space = (int)(avail < LZ4_LEGACY_BLOCK ? avail : LZ4_LEGACY_BLOCK);
        int n = LZ4_decompress_safe((const char *)in + off, (char *)b->p + b->len,
                                    (int)csize, space);
        if (n < 0)
            return space < (int)LZ4_LEGACY_BLOCK && b->cap == b->limit
                       ? full(err, errlen, b) : CORRUPT("lz4", "bad block data");
        b->len += (size_t)n;
        off += csize;
    }
    return 0;
}

/* lzop: a header (version-dependent fields, flags, a name), then blocks of
 * [dst_len][src_len][checksums][data] ending with dst_len 0. Checksums are
 * skipped, not verified: the ELF loader checks what comes out. */
static int unlzo(const uint8_t *in, size_t len, struct obuf *b, char *err, size_t errlen)
{
    size_t off = LZOP_MAGIC_LEN;
#define NEED(n) do { if (len - off < (size_t)(n)) return TRUNCATED("lzo"); } while (0)
    NEED(4);
    unsigned version = (unsigned)in[off] << 8 | in[off + 1];
    off += 4;                           /* version, library version */
    if (version >= 0x0940) {
        NEED(2);
        off += 2;                       /* version needed to extract */
    }
    NEED(1);
    uint8_t method = in[off++];
    if (method < 1 || method > 3)
        return CORRUPT("lzo", "not an LZO1X method");
    if (version >= 0x0940) {
        NEED(1);
        off++;                          /* level */
    }
    NEED(4);
    uint32_t flags = be32(in + off);
    off += 4;
    if (flags & LZOP_F_H_FILTER)
        return CORRUPT("lzo", "filters are not supported");
    NEED(8);
    off += 8;                           /* mode, mtime low */
    if (version >= 0x0940) {
        NEED(4);
        off += 4;                       /* mtime high */
    }
    NEED(1);
    size_t name_len = in[off++];
    NEED(name_len + 4);
    off += name_len + 4;                /* name, header checksum */
    if (flags & LZOP_F_H_EXTRA) {
        NEED(4);
        uint32_t extra = be32(in + off);
        off += 4;
        NEED((uint64_t)extra + 4);
        off += extra + 4;
    }
    if (lzo_init() != LZO_E_OK)
        return loader_fail(err, errlen, -ENOMEM, "liblzo2 failed to initialise");
    for (;;) {
        NEED(4);
        uint32_t dst_len = be32(in + off);
        off += 4;
        if (dst_len == 0)
            return 0;
        if (dst_len > LZOP_MAX_BLOCK)
            return CORRUPT("lzo", "block larger than 64 MiB");
        NEED(4);
        uint32_t src_len = be32(in + off);
        off += 4;
        if (src_len > dst_len)
            return CORRUPT("lzo", "block grows when compressed");
        size_t sums = ((flags & LZOP_F_ADLER32_D) ? 4 : 0) + ((flags & LZOP_F_CRC32_D) ? 4 : 0);
        if (src_len < dst_len)
            sums += ((flags & LZOP_F_ADLER32_C) ? 4 : 0) + ((flags & LZOP_F_CRC32_C) ? 4 : 0);
        NEED(sums + src_len);
        off += sums;
        int rc = room(b, dst_len);
        if (rc < 0 || b->cap - b->len < dst_len)
            return rc == -ENOMEM ? rc : full(err, errlen, b);
        if (src_len == dst_len) {
            memcpy(b->p + b->len, in + off, dst_len);     /* stored */
        } else {
            lzo_uint n = dst_len;
            if (lzo1x_decompress_safe(in + off, src_len, b->p + b->len, &n, NULL) != LZO_E_OK ||
                n != dst_len)
                return CORRUPT("lzo", "bad block data");
        }
        b->len += dst_len;
        off += src_len;
    }
#undef NEED
}

enum format { F_GZIP, F_BZIP2, F_XZ, F_LZMA, F_LZO, F_LZ4, F_ZSTD, F_NONE };

static const struct {
    const char *name;
    uint8_t magic[9];
    size_t len;
} formats[] = {
    [F_GZIP]  = { "gzip",  { 0x1f, 0x8b }, 2 },
    [F_BZIP2] = { "bzip2", { 'B', 'Z', 'h' }, 3 },
    [F_XZ]    = { "xz",    { 0xfd, '7', 'z', 'X', 'Z', 0 }, 6 },
    [F_LZMA]  = { "lzma",  { 0x5d, 0, 0 }, 3 },
    [F_LZO]   = { "lzo",   { 0x89, 'L', 'Z', 'O', 0, '\r', '\n', 0x1a, '\n' }, 9 },
    [F_LZ4]   = { "lz4",   { 0x02, 0x21, 0x4c, 0x18 }, 4 },
    [F_ZSTD]  = { "zstd",  { 0x28, 0xb5, 0x2f, 0xfd }, 4 },
};

static enum format detect(const uint8_t *in, size_t len)
{
    for (enum format f = 0; f < F_NONE; f++)
        if (len >= formats[f].len && memcmp(in, formats[f].magic, formats[f].len) == 0)
            return f;
    return F_NONE;
}

const char *decompress_format(const uint8_t *in, size_t len)
{
    enum format f = detect(in, len);
    return f == F_NONE ? NULL : formats[f].name;
}

int decompress(const uint8_t *in, size_t len, size_t max_out,
               uint8_t **out, size_t *out_len, char *err, size_t errlen)
{
    struct obuf b = { .limit = max_out < SIZE_MAX ? max_out + 1 : SIZE_MAX };
    int rc;
    switch (detect(in, len)) {
    case F_GZIP:  rc = gunzip(in, len, &b, err, errlen); break;
    case F_BZIP2: rc = bunzip2(in, len, &b, err, errlen); break;
    case F_XZ:    rc = unxz(in, len, false, &b, err, errlen); break;
    case F_LZMA:  rc = unxz(in, len, true, &b, err, errlen); break;
    case F_LZO:   rc = unlzo(in, len, &b, err, errlen); break;
    case F_LZ4:   rc = unlz4(in, len, &b, err, errlen); break;
    case F_ZSTD:  rc = unzstd(in, len, &b, err, errlen); break;
    default:
        return loader_fail(err, errlen, -ENOEXEC,
                           "unknown compression (not gzip, bzip2, xz, lzma, lzo, lz4 or zstd)");
    }
    if (rc == 0 && b.len > max_out)
        rc = full(err, errlen, &b);
    if (rc == -ENOMEM)
        loader_fail(err, errlen, rc, "out of memory decompressing the kernel");
    if (rc < 0) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    *out_len = b.len;
    return 0;
}
