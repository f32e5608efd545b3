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

enum boot_kind {
    BOOT_PVH,           /* 32-bit protected mode entry, EBX = hvm_start_info */
    BOOT_LINUX64,       /* Linux 64-bit boot protocol, RSI = boot_params */
};

struct loaded_kernel {
    enum boot_kind kind;
    uint64_t entry;     /* PVH: XEN_ELFNOTE_PHYS32_ENTRY; Linux: 64-bit entry */
    uint64_t lo, hi;    /* guest-physical extent of the loaded image */
    int elf_class;      /* 32 or 64 (ELF images) */
    unsigned patched_hypercalls;    /* direct vmcall stubs rerouted */
    /* Linux boot protocol only: setup header copied for boot_params. */
    uint8_t setup_header[0x290 - 0x1f1];
    size_t setup_header_len;
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

/* Load a bzImage with the Linux x86 boot protocol (>= 2.12, 64-bit entry). */
int load_bzimage(struct gmem *gm, const uint8_t *img, size_t size,
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
