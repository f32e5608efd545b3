/*
 * A Xen save file from a real guest image, and back: the test program
 * behind tests/vmm/savefile_verify.py.
 *
 *   savefile-tool write GUEST MEM_MIB VCPUS FILE
 *     loads GUEST (a PVH ELF) with the VMM's loader into a memfd-backed
 *     gmem of MEM_MIB, builds the PVH boot vCPU state as Xen's struct
 *     hvm_hw_cpu, and writes what `xl save` writes: the xl header with the
 *     domain config as libxl JSON, libxl's stream, libxc's image (CPUID and
 *     MSR policies, STATIC_DATA_END, PAGE_DATA, TSC_INFO, HVM_CONTEXT,
 *     HVM_PARAMS, END), libxl's END.
 *   savefile-tool read GUEST MEM_MIB VCPUS FILE
 *     reads FILE with our strict readers into a fresh gmem and checks that
 *     every page and vCPU 0's entry state equal a fresh load of GUEST.
 * Prints one line of figures; exits 0, or 1 with the reader's message.
 */
#include <cpuid.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xen/domctl.h>

#include "boot.h"
#include "domain_config.h"
#include "gmem.h"
#include "hvm_context.h"
#include "layout.h"
#include "loader.h"
#include "savefile.h"
#include "stream.h"
#include "util.h"

struct guest {
    struct gmem gm;
    struct loaded_kernel k;
    struct boot_entry be;
    uint64_t nr_pfns;
};

static void die(const char *what, const char *why)
{
    fprintf(stderr, "savefile-tool: %s: %s\n", what, why);
    exit(1);
}

static void load_guest(struct guest *g, const char *path, unsigned mib)
{
    size_t len;
    char err[256];
    uint8_t *img = (uint8_t *)read_whole_file(path, &len);
    if (!img)
        die(path, strerror(errno));
    if (gmem_init(&g->gm, (uint64_t)mib << 20, LAYOUT_NR_SPECIAL) < 0)
        die("gmem_init", "failed");
    if (load_kernel(&g->gm, img, len, &g->k, err, sizeof(err)) < 0)
        die(path, err);
    struct xen_e820entry e820[2] = {
        { 0, LAYOUT_LEGACY_START, E820_RAM },
        { LAYOUT_LEGACY_END, ((uint64_t)mib << 20) - LAYOUT_LEGACY_END, E820_RAM },
    };
    struct boot_opts bo = { .cmdline = "savefile test", .e820 = e820,
                            .nr_e820 = 2 };
    if (boot_setup(&g->gm, &g->k, &bo, &g->be, err, sizeof(err)) < 0)
        die("boot_setup", err);
    free(img);
    g->nr_pfns = 0;
    for (unsigned i = 0; i < gmem_nr_regions(&g->gm); i++) {
        const struct gmem_region *r = &g->gm.region[i];
        g->nr_pfns = MAX(g->nr_pfns, (r->gpa + r->size) >> XC_PAGE_SHIFT);
    }
}

static const void *guest_page(void *ctx, uint64_t pfn)
{
    struct guest *g = ctx;
    return gmem_ptr(&g->gm, pfn << XC_PAGE_SHIFT, XC_PAGE_SIZE);
}

/* The PVH entry state (Xen's docs/misc/pvh.pandoc) in Xen's format:
 * 32-bit protected mode, flat 4 GiB code and data segments, ebx = the
 * hvm_start_info. Attribute bytes are Xen's packed form (type, s, dpl, p,
 * avl, l, db, g in bits 0-11). */
static void entry_vcpu(struct hvm_ctx_vcpu *v, const struct guest *g,
                       unsigned id)
{
    memset(v, 0, sizeof(*v));
    v->present = true;
    struct hvm_hw_cpu *c = &v->cpu;
    c->rip = g->be.rip;
    c->rbx = g->be.rbx;
    c->rflags = 0x2;
    c->cr0 = 0x11;                  /* PE | ET */
    c->dr6 = 0xffff0ff0;
    c->dr7 = 0x400;
    c->cs_sel = 0x8;
    c->ds_sel = c->es_sel = c->ss_sel = c->fs_sel = c->gs_sel = 0x10;
    c->tr_sel = 0x18;
    c->cs_limit = c->ds_limit = c->es_limit = c->ss_limit = c->fs_limit =
        c->gs_limit = 0xffffffff;
    c->tr_limit = 0x67;
    c->cs_arbytes = 0xc9b;          /* code, exec/read accessed, P, DB, G */
    c->ds_arbytes = c->es_arbytes = c->ss_arbytes = c->fs_arbytes =
        c->gs_arbytes = 0xc93;      /* data, read/write accessed */
    c->tr_arbytes = 0x8b;           /* busy 32-bit TSS */
    c->ldtr_arbytes = 0x10000;      /* unusable */
    c->flags = XEN_X86_FPU_INITIALISED;
    c->fpu_regs[0] = 0x7f;          /* FCW 0x37f */
    c->fpu_regs[1] = 0x03;
    c->fpu_regs[24] = 0x80;         /* MXCSR 0x1f80 */
    c->fpu_regs[25] = 0x1f;
    v->has_lapic = true;
    v->lapic.apic_base_msr = 0xfee00000 | (1u << 11) | (id == 0 ? 1u << 8 : 0);
    v->has_lapic_regs = true;
    uint32_t apic_id = id << 24, version = 0x50014;
    memcpy(&v->lapic_regs.data[0x20], &apic_id, 4);
    memcpy(&v->lapic_regs.data[0x30], &version, 4);
    v->has_mtrr = true;
    v->mtrr.msr_pat_cr = 0x0007040600070406ull;
    v->mtrr.msr_mtrr_cap = 0x508;
    v->mtrr.msr_mtrr_def_type = 0xc06;
}

static char *config_json(unsigned mib, unsigned vcpus, const char *guest)
{
    char text[1024];
    struct domain_config dc;
    int n = snprintf(text, sizeof(text),
                     "name = \"savefile-test\"\ntype = \"pvh\"\n"
                     "kernel = \"%s\"\nmemory = %u\nvcpus = %u\n",
                     guest, mib, vcpus);
    domain_config_init(&dc);
    if (domain_config_parse("savefile-test.cfg", text, n, NULL, 0, stderr,
                            &dc) < 0)
        die("config", "does not parse");
    char *json = domain_config_to_json(&dc);
    domain_config_dispose(&dc);
    if (!json)
        die("config", "no JSON");
    return json;
}

static int cmd_write(const char *guest, unsigned mib, unsigned vcpus,
                     const char *file)
{
    struct guest g;
    load_guest(&g, guest, mib);
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        die(file, strerror(errno));
    struct stream_sink out;
    stream_sink_fd(&out, &fd);

    char *json = config_json(mib, vcpus, guest);
    xen_cpuid_leaf_t leaves[2];
    for (unsigned i = 0; i < 2; i++) {
        leaves[i] = (xen_cpuid_leaf_t){ .leaf = i, .subleaf = XEN_CPUID_NO_SUBLEAF };
        __cpuid(i, leaves[i].a, leaves[i].b, leaves[i].c, leaves[i].d);
    }
    xen_msr_entry_t msrs[2] = { { 0xce, 0, 0 }, { 0x10a, 0, 0 } };
    struct xc_tsc_info tsc = { 0, 2000000, now_ns(), 1, 0 };
    struct xc_hvm_param params[2] = {
        { HVM_PARAM_STORE_PFN, XENON_XENSTORE_GFN },
        { HVM_PARAM_CONSOLE_PFN, XENON_CONSOLE_GFN },
    };
    struct hvm_ctx_vcpu *v = calloc(vcpus, sizeof(*v));
    for (unsigned i = 0; i < vcpus; i++)
        entry_vcpu(&v[i], &g, i);
    struct hvm_save_header hh = { HVM_FILE_MAGIC, HVM_FILE_VERSION, 0,
                                  leaves[1].a, tsc.khz };
    struct stream_membuf blob = { 0 };
    uint64_t data = 0, zero = 0;
    int rc = hvm_ctx_build(&blob, &hh, v, vcpus);
    if (!rc) rc = savefile_write_start(&out, json);
    if (!rc) rc = savefile_write_libxc_context(&out);
    if (!rc) rc = xcs_write_headers(&out, 4, 17);
    if (!rc) rc = xcs_write_cpuid_policy(&out, leaves, 2);
    if (!rc) rc = xcs_write_msr_policy(&out, msrs, 2);
    if (!rc) rc = xcs_write_record(&out, XC_REC_STATIC_DATA_END, NULL, 0);
    if (!rc) rc = xcs_write_memory(&out, g.nr_pfns, guest_page, &g, 0, &data, &zero);
    if (!rc) rc = xcs_write_tsc_info(&out, &tsc);
    if (!rc) rc = xcs_write_record(&out, XC_REC_HVM_CONTEXT, blob.data, blob.len);
    if (!rc) rc = xcs_write_hvm_params(&out, params, 2);
    if (!rc) rc = xcs_write_record(&out, XC_REC_END, NULL, 0);
    if (!rc) rc = savefile_write_end(&out);
    if (rc)
        die(file, strerror(-rc));
    if (close(fd) < 0)
        die(file, strerror(errno));
    printf("wrote %s: %llu bytes, %llu pages with data, %llu zero pages, "
           "%u vCPUs, entry 0x%llx\n", file, (unsigned long long)out.bytes,
           (unsigned long long)data, (unsigned long long)zero, vcpus,
           (unsigned long long)g.be.rip);
    free(blob.data);
    free(v);
    free(json);
    gmem_destroy(&g.gm);
    return 0;
}

struct restore {
    struct guest *g;
    struct xcs_limits lim;
    struct xcs_result res;
};

static int page_in(void *ctx, uint64_t pfn, uint32_t type, const void *data)
{
    struct guest *g = ctx;
    uint8_t *p = gmem_ptr(&g->gm, pfn << XC_PAGE_SHIFT, XC_PAGE_SIZE);
    if (!p)
        return -EFAULT;             /* a PFN the domain has no page at */
    if (data)
        memcpy(p, data, XC_PAGE_SIZE);
    else
        memset(p, 0, XC_PAGE_SIZE);
    return 0;
}

static int libxc_in(void *ctx, struct stream_source *in, char *err,
                    size_t errlen)
{
    struct restore *r = ctx;
    return xcs_read(in, &r->lim, page_in, r->g, &r->res, err, errlen);
}

static int cmd_read(const char *guest, unsigned mib, unsigned vcpus,
                    const char *file)
{
    struct guest want, got;
    load_guest(&want, guest, mib);
    /* a domain of the same shape, its memory scrubbed by the stream */
    load_guest(&got, guest, mib);
    for (unsigned i = 0; i < gmem_nr_regions(&got.gm); i++)
        memset(got.gm.region[i].host, 0xa5, got.gm.region[i].size);

    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die(file, strerror(errno));
    struct stream_source in;
    struct restore r = { &got, { got.nr_pfns, vcpus }, { 0 } };
    struct savefile_info info;
    char err[300];
    stream_source_fd(&in, &fd);
    int rc = savefile_read(&in, libxc_in, &r, &info, err, sizeof(err));
    if (rc)
        die(file, rc == -EINVAL ? err : strerror(-rc));
    char extra;
    if (read(fd, &extra, 1) != 0)
        die(file, "bytes after libxl's END");
    close(fd);
    if (!info.config_json || !strstr(info.config_json, "savefile-test"))
        die(file, "the config did not come back");

    uint64_t pages = 0;
    for (uint64_t pfn = 0; pfn < want.nr_pfns; pfn++) {
        const uint8_t *a = guest_page(&want, pfn), *b = guest_page(&got, pfn);
        if (!a)
            continue;
        if (memcmp(a, b, XC_PAGE_SIZE)) {
            fprintf(stderr, "savefile-tool: page 0x%llx differs\n",
                    (unsigned long long)pfn);
            return 1;
        }
        pages++;
    }
    const struct hvm_ctx *h = r.res.hvm;
    if (h->nr_present != vcpus || h->vcpu[0].cpu.rip != want.be.rip ||
        h->vcpu[0].cpu.rbx != want.be.rbx)
        die(file, "vCPU state did not come back");
    printf("read %s: %llu bytes, %llu pages equal, %llu with data, %llu zero,"
           " %u vCPUs, entry 0x%llx, %zu params\n", file,
           (unsigned long long)in.bytes, (unsigned long long)pages,
           (unsigned long long)r.res.pages_data,
           (unsigned long long)r.res.pages_alloc, h->nr_present,
           (unsigned long long)h->vcpu[0].cpu.rip, r.res.nr_params);
    xcs_result_free(&r.res);
    savefile_info_free(&info);
    gmem_destroy(&want.gm);
    gmem_destroy(&got.gm);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: savefile-tool write|read GUEST MEM_MIB VCPUS FILE\n");
        return 2;
    }
    unsigned mib = (unsigned)atoi(argv[3]), vcpus = (unsigned)atoi(argv[4]);
    if (mib < 2 || mib > 4096 || vcpus < 1 || vcpus > HVM_CTX_MAX_VCPUS)
        die("arguments", "MEM_MIB 2..4096, VCPUS 1..128");
    if (!strcmp(argv[1], "write"))
        return cmd_write(argv[2], mib, vcpus, argv[5]);
    if (!strcmp(argv[1], "read"))
        return cmd_read(argv[2], mib, vcpus, argv[5]);
    die(argv[1], "not write or read");
    return 2;
}
