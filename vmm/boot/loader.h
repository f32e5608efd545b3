/*
 * Kernel loaders. Each takes an untrusted image in memory, checks it
 * completely, and copies it into guest RAM. On failure they return a
 * negative errno and write a one-line message naming the problem into err;
 * guest memory may then hold a partial image but nothing outside guest RAM
 * is ever touched.
 */
#ifndef XENON_LOADER_H
#define XENON_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gmem.h"

struct loaded_kernel {
    uint64_t entry;     /* XEN_ELFNOTE_PHYS32_ENTRY: 32-bit protected mode,
                           EBX = hvm_start_info */
    uint64_t lo, hi;    /* guest-physical extent of the loaded image */
    int elf_class;      /* 32 or 64 (ELF images) */
    unsigned patched_hypercalls;    /* direct vmcall stubs rerouted */
};

/* Load a PVH ELF (ELF32 or ELF64, EM_386 or EM_X86_64, with a Xen
 * PHYS32_ENTRY note). */
int load_pvh_elf(struct gmem *gm, const uint8_t *img, size_t size,
                 struct loaded_kernel *out, char *err, size_t errlen);

/* Whether img carries a bzImage setup header (boot flag and HdrS). */
bool is_bzimage(const uint8_t *img, size_t size);

/* Load a bzImage as Xen loads a PVH kernel: decompress its payload (the
 * vmlinux ELF; gzip, bzip2, xz, lzma, lzo, lz4 or zstd) and load that
 * through load_pvh_elf(). The decompressed ELF may be no larger than the
 * guest's RAM (and 1 GiB). */
int load_bzimage_pvh(struct gmem *gm, const uint8_t *img, size_t size,
                     struct loaded_kernel *out, char *err, size_t errlen);

/* Write a one-line message into err (if given) and return rc: how every
 * loader and the boot-information builder report a bad image. */
int loader_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Pick the loader by content, as Xen's PVH domain builder does: a PVH
 * ELF, or a bzImage whose payload is one. */
int load_kernel(struct gmem *gm, const uint8_t *img, size_t size,
                struct loaded_kernel *out, char *err, size_t errlen);

#endif
