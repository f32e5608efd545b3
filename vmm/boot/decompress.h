/*
 * Decompression of a Linux kernel payload: the compressed vmlinux ELF that
 * a bzImage carries. Xen's loader (libxenguest's bzImage loader) unpacks it
 * and boots the ELF through its PVH entry; so do we.
 *
 * The formats are those Linux can build its payload with, told apart by
 * their magic bytes: gzip, bzip2, xz, lzma (the "alone" format), lzo (lzop
 * framing), lz4 (the legacy frame Linux writes) and zstd. Each is decoded by
 * its well-kept library (zlib, libbz2, liblzma, liblzo2, liblz4, libzstd);
 * only the lzop and lz4-legacy framings, which those libraries leave to
 * their command-line tools, are walked here.
 *
 * The input is untrusted: output never exceeds max_out (the caller passes
 * what the guest's RAM can hold), every length read from a framing is
 * checked against what remains, and the library's own memory use is
 * bounded (xz/lzma memlimit, zstd window) so that a crafted payload cannot
 * make the VMM allocate without limit.
 */
#ifndef XENON_DECOMPRESS_H
#define XENON_DECOMPRESS_H

#include <stddef.h>
#include <stdint.h>

/* Name of the format whose magic starts in[0..len), or NULL if none. */
const char *decompress_format(const uint8_t *in, size_t len);

/* Decompress in[0..len) into a new malloc'd buffer of at most max_out bytes:
 * 0 with *out / *out_len set (the caller frees *out), or a negative errno
 * with a one-line message in err (-ENOEXEC: unknown format or corrupt data;
 * -EFBIG: the output would exceed max_out; -ENOMEM). Trailing bytes after
 * the end of the compressed stream (Linux appends the uncompressed size)
 * are ignored. */
int decompress(const uint8_t *in, size_t len, size_t max_out,
               uint8_t **out, size_t *out_len, char *err, size_t errlen);

#endif
