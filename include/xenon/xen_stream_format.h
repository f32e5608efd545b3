/*
 * The layouts of Xen's save file and migration stream that Xen ships in no
 * public header: they live only in Xen's tools and specs. Defined here
 * once, for every layer that writes or reads a part (libxenon: the xl
 * header and libxl's stream; the VMM: libxc's stream), each with the
 * section of Xen's documentation it follows:
 *   [xl]    tools/xl/xl.h, struct save_file_header and its comment
 *   [libxl] docs/specs/libxl-migration-stream.pandoc (version 2)
 *   [libxc] docs/specs/libxc-migration-stream.pandoc (revision 3)
 * What Xen's public headers do define (XEN_DOMCTL_PFINFO_*, the HVM save
 * records, xen_cpuid_leaf_t, xen_msr_entry_t, HVM_PARAM_*) is included
 * from /usr/include/xen, never retyped.
 *
 * Byte order: the xl header's integers and everything after the two stream
 * headers are little-endian (we write and accept only little-endian
 * streams); the libxl and libxc stream headers are big-endian, as the
 * specs require.
 */
#ifndef XENON_XEN_STREAM_FORMAT_H
#define XENON_XEN_STREAM_FORMAT_H

#include <stdint.h>

/* ---- [xl] the save-file header ---------------------------------------- */

/* 32 bytes, with the NULs inside it ("...format\n \0 \r" and a final \0). */
#define XL_SAVEFILE_MAGIC "Xen saved domain, xl format\n \0 \r"
#define XL_SAVEFILE_MAGIC_LEN 32
#define XL_SAVEFILE_BYTEORDER 0x01020304u
#define XL_MANDATORY_FLAG_JSON     (1u << 0)  /* the config is JSON */
#define XL_MANDATORY_FLAG_STREAMV2 (1u << 1)  /* libxl stream v2 follows */
#define XL_MANDATORY_FLAGS_KNOWN (XL_MANDATORY_FLAG_JSON | XL_MANDATORY_FLAG_STREAMV2)

/* Followed by optional_data_len bytes of optional data: a uint32_t config
 * length and that many bytes of config (libxl's JSON with its NUL). */
struct xl_savefile_header {
    char magic[XL_SAVEFILE_MAGIC_LEN];
    uint32_t byteorder;
    uint32_t mandatory_flags;       /* unknown bits: refuse */
    uint32_t optional_flags;        /* none defined */
    uint32_t optional_data_len;
};
_Static_assert(sizeof(struct xl_savefile_header) == 48, "xl header");

/* ---- records of both streams ([libxl] and [libxc] "Records") ---------- */

/* type, body_length, body, zero padding to a multiple of 8. */
struct xen_stream_rhdr {
    uint32_t type;
    uint32_t length;
};
_Static_assert(sizeof(struct xen_stream_rhdr) == 8, "record header");

#define XEN_STREAM_REC_ALIGN 8u
#define XEN_STREAM_REC_OPTIONAL 0x80000000u  /* bit 31: may be skipped */

/* ---- [libxl] "Header" and "Record Overview" --------------------------- */

#define LIBXL_STREAM_IDENT 0x4c6962786c466d74ull    /* "LibxlFmt" */
#define LIBXL_STREAM_VERSION 2u
#define LIBXL_STREAM_OPT_BIG_ENDIAN (1u << 0)
#define LIBXL_STREAM_OPT_LEGACY     (1u << 1)

struct libxl_stream_hdr {           /* all big-endian */
    uint64_t ident;
    uint32_t version;
    uint32_t options;
};
_Static_assert(sizeof(struct libxl_stream_hdr) == 16, "libxl header");

#define LIBXL_REC_END                    0x00000000u
#define LIBXL_REC_LIBXC_CONTEXT          0x00000001u
#define LIBXL_REC_EMULATOR_XENSTORE_DATA 0x00000002u
#define LIBXL_REC_EMULATOR_CONTEXT       0x00000003u
#define LIBXL_REC_CHECKPOINT_END         0x00000004u
#define LIBXL_REC_CHECKPOINT_STATE       0x00000005u

/* [libxl] "Emulator Records": the sub-header of records 2 and 3. */
struct libxl_emulator_hdr {
    uint32_t id;                    /* LIBXL_EMULATOR_* */
    uint32_t index;
};
#define LIBXL_EMULATOR_UNKNOWN        0u
#define LIBXL_EMULATOR_QEMU_TRAD      1u
#define LIBXL_EMULATOR_QEMU_UPSTREAM  2u

/* ---- [libxc] "Image Header", "Domain Header" -------------------------- */

#define XC_STREAM_MARKER 0xffffffffffffffffull
#define XC_STREAM_ID 0x58454e46u            /* "XENF" */
#define XC_STREAM_VERSION 3u                /* we write 3, read 2 and 3 */
#define XC_STREAM_OPT_BIG_ENDIAN (1u << 0)

struct xc_stream_ihdr {             /* all big-endian */
    uint64_t marker;
    uint32_t id;
    uint32_t version;
    uint16_t options;
    uint16_t _res1;
    uint32_t _res2;
};
_Static_assert(sizeof(struct xc_stream_ihdr) == 24, "image header");

#define XC_PAGE_SHIFT 12u          /* the only page size x86 streams have */
#define XC_PAGE_SIZE 4096u

#define XC_DOMAIN_TYPE_X86_PV  1u
#define XC_DOMAIN_TYPE_X86_HVM 2u   /* also PVH: libxc writes PVH as HVM */

struct xc_stream_dhdr {
    uint32_t type;
    uint16_t page_shift;
    uint16_t _res1;
    uint32_t xen_major;
    uint32_t xen_minor;
};
_Static_assert(sizeof(struct xc_stream_dhdr) == 16, "domain header");

/* ---- [libxc] "Records" ------------------------------------------------ */

#define XC_REC_END                       0x00u
#define XC_REC_PAGE_DATA                 0x01u
#define XC_REC_X86_PV_INFO               0x02u
#define XC_REC_X86_PV_P2M_FRAMES         0x03u
#define XC_REC_X86_PV_VCPU_BASIC         0x04u
#define XC_REC_X86_PV_VCPU_EXTENDED      0x05u
#define XC_REC_X86_PV_VCPU_XSAVE         0x06u
#define XC_REC_SHARED_INFO               0x07u
#define XC_REC_X86_TSC_INFO              0x08u
#define XC_REC_HVM_CONTEXT               0x09u
#define XC_REC_HVM_PARAMS                0x0au
#define XC_REC_TOOLSTACK                 0x0bu  /* deprecated */
#define XC_REC_X86_PV_VCPU_MSRS          0x0cu
#define XC_REC_VERIFY                    0x0du
#define XC_REC_CHECKPOINT                0x0eu
#define XC_REC_CHECKPOINT_DIRTY_PFN_LIST 0x0fu
#define XC_REC_STATIC_DATA_END           0x10u
#define XC_REC_X86_CPUID_POLICY          0x11u
#define XC_REC_X86_MSR_POLICY            0x12u

/* libxc's own bound on one record (xg_sr_stream_format.h). */
#define XC_REC_LENGTH_MAX (128u << 20)

/* [libxc] "PAGE_DATA": count, reserved, count pfn words, then one page of
 * data for each pfn whose type carries data. A pfn word holds the PFN in
 * bits 0-51, zero in 52-59 and XEN_DOMCTL_PFINFO_* >> 28 in bits 60-63
 * (the domctl.h value shifted up by 32). */
struct xc_page_data_hdr {
    uint32_t count;
    uint32_t _res1;
};
#define XC_PAGE_PFN_MASK   0x000fffffffffffffull
#define XC_PAGE_RES_MASK   0x0ff0000000000000ull
#define XC_PAGE_TYPE_SHIFT 60
#define XC_PAGE_TYPE(pfinfo) ((uint64_t)(pfinfo) << 32) /* XEN_DOMCTL_PFINFO_* */
/* libxc's batch (MAX_BATCH_SIZE in xg_sr_common.h): what we write. */
#define XC_PAGE_BATCH 1024u

/* [libxc] "X86_TSC_INFO" */
struct xc_tsc_info {
    uint32_t mode;                  /* TSC_MODE_*: 0 default, 1 always
                                       emulate, 2 never emulate */
    uint32_t khz;
    uint64_t nsec;
    uint32_t incarnation;
    uint32_t _res1;
};
_Static_assert(sizeof(struct xc_tsc_info) == 24, "tsc info");

/* [libxc] "HVM_PARAMS": count, reserved, count (index, value) pairs. */
struct xc_hvm_params_hdr {
    uint32_t count;
    uint32_t _res1;
};
struct xc_hvm_param {
    uint64_t index;
    uint64_t value;
};

/* X86_CPUID_POLICY is an array of xen_cpuid_leaf_t, X86_MSR_POLICY one of
 * xen_msr_entry_t (xen/arch-x86/xen.h); HVM_CONTEXT is Xen's HVM save
 * blob (xen/hvm/save.h): see vmm/state/hvm_context.h. */

#endif
