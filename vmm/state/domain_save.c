/* See domain_save.h. */
#include "domain_save.h"
#include "console.h"
#include "dirty.h"
#include "grant_map.h"
#include "domain.h"
#include "hvm_context.h"
#include "hvm_convert.h"
#include "hypercall.h"
#include "platform.h"
#include "precopy.h"
#include "state.h"
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xen/domctl.h>

#define MAX_CPUID 256u
#define XCR0_SETTABLE_LEAF 0xdu

/* The pages to write. A page of the memfd the guest never touched is a
 * hole (SEEK_DATA skips it): it is zero, and reading it through the
 * mapping would make the kernel allocate it. Holes and runs of data are
 * found once per run (SEEK_DATA, then SEEK_HOLE), not per page: a lseek
 * per page was most of a save's time. The runs hold while the domain is
 * stopped; a live round starts afresh (page_walk_reset). */
struct page_walk {
    struct domain *d;
    const struct gmem_region *last;     /* where the last page was (regions stay) */
    uint64_t hole_start, hole_end;      /* memfd offsets: a known hole */
    uint64_t data_start, data_end;      /* and a known run of data */
};

static void page_walk_reset(struct page_walk *w)
{
    w->hole_start = w->hole_end = w->data_start = w->data_end = 0;
}

/* A known hole is handed to the writer as xcs_zero_page, which it takes
 * as zero without reading. */
#define zero_page xcs_zero_page

static const void *page_at(void *ctx, uint64_t pfn)
{
    struct page_walk *w = ctx;
    uint64_t gpa = pfn << XC_PAGE_SHIFT;
    /* One region lookup per run of pages, not two per page (the walk
     * over every PFN was a third of a save's CPU in user space). */
    const struct gmem_region *r = w->last;
    if (!r || gpa < r->gpa || gpa - r->gpa >= r->size)
        r = w->last = gmem_find(&w->d->mem, gpa);
    if (!r || XC_PAGE_SIZE > r->size - (gpa - r->gpa))
        return NULL;
    uint8_t *p = r->host + (gpa - r->gpa);
    uint64_t off = r->fd_offset + (gpa - r->gpa);
    if (off >= w->data_start && off + XC_PAGE_SIZE <= w->data_end)
        return p;
    if (off >= w->hole_start && off + XC_PAGE_SIZE <= w->hole_end)
        return zero_page;
    off_t data = lseek(w->d->mem.fd, (off_t)off, SEEK_DATA);
    if (data < 0 && errno == ENXIO)
        data = (off_t)w->d->mem.fd_size;        /* a hole up to the end */
    if (data >= 0 && (uint64_t)data >= off + XC_PAGE_SIZE) {
        w->hole_start = off;
        w->hole_end = (uint64_t)data & ~(uint64_t)(XC_PAGE_SIZE - 1);
        return zero_page;
    }
    if (data >= 0 && (uint64_t)data <= off) {
        off_t hole = lseek(w->d->mem.fd, (off_t)off, SEEK_HOLE);
        if (hole >= 0 && (uint64_t)hole >= off + XC_PAGE_SIZE) {
            w->data_start = off;
            w->data_end = (uint64_t)hole & ~(uint64_t)(XC_PAGE_SIZE - 1);
        }
    }
    return p;
}

/* The guest's CPUID as libxc's policy: Xen's hypervisor leaves are the
 * hypervisor's, not the policy's. */
static int cpuid_policy(struct domain *d, xen_cpuid_leaf_t *out, size_t *n,
                        uint64_t *xfeatures, uint32_t *leaf1_eax)
{
    struct platform_cpuid_leaf *l = calloc(MAX_CPUID, sizeof(*l));
    unsigned got = 0;
    int rc = l ? platform_get_cpuid(&d->vcpu[0], l, MAX_CPUID, &got) : -ENOMEM;
    *n = 0;
    *xfeatures = 0;
    *leaf1_eax = 0;
    for (unsigned i = 0; rc == 0 && i < got; i++) {
        if (l[i].leaf >= 0x40000000u && l[i].leaf < 0x50000000u)
            continue;
        if (l[i].leaf == 1)
            *leaf1_eax = l[i].a;
        if (l[i].leaf == XCR0_SETTABLE_LEAF && l[i].subleaf == 0)
            *xfeatures = ((uint64_t)l[i].d << 32) | l[i].a;
        out[(*n)++] = (xen_cpuid_leaf_t){
            .leaf = l[i].leaf,
            .subleaf = l[i].has_index ? l[i].subleaf : XEN_CPUID_NO_SUBLEAF,
            .a = l[i].a, .b = l[i].b, .c = l[i].c, .d = l[i].d,
        };
    }
    free(l);
    return rc;
}

/* HVM_CONTEXT of the stopped vCPUs: those up and not down, as Xen leaves
 * out a vCPU that is down. One blocked in SCHEDOP_block/poll returns 0
 * from it when it runs again (vcpu_state.c says why). */
static int build_hvm_context(struct domain *d, uint32_t leaf1_eax, uint64_t xfeatures,
                             struct stream_membuf *blob)
{
    struct hvm_ctx_vcpu *v = calloc(d->nr_vcpus, sizeof(*v));
    uint8_t *xs = malloc((size_t)d->nr_vcpus * HVM_CONVERT_XSAVE_MAX);
    struct platform_vcpu_state *s = malloc(sizeof(*s));
    int rc = v && xs && s ? 0 : -ENOMEM;
    pthread_mutex_lock(&d->lock);
    for (unsigned i = 0; rc == 0 && i < d->nr_vcpus; i++) {
        struct vcpu *vc = &d->vcpu[i];
        if (!vc->up || vc->down)
            continue;
        rc = platform_get_vcpu_state(vc, s);
        if (rc == 0 && vc->blocked)
            s->regs.rax = 0;
        if (rc == 0)
            hvm_from_platform(s, xfeatures, &v[i], xs + (size_t)i * HVM_CONVERT_XSAVE_MAX);
    }
    pthread_mutex_unlock(&d->lock);
    struct hvm_save_header h = { .magic = HVM_FILE_MAGIC, .version = HVM_FILE_VERSION,
                                 .cpuid = leaf1_eax, .gtsc_khz = (uint32_t)d->tsc_khz };
    if (rc == 0)
        rc = hvm_ctx_build(blob, &h, v, d->nr_vcpus);
    free(v);
    free(xs);
    free(s);
    return rc;
}

/* The image's start: headers, CPUID and MSR policies, STATIC_DATA_END.
 * The policy's leaf 1 EAX and XCR0 mask go to *leaf1, *xfeatures for the
 * HVM context written at the end. */
static int image_head(struct domain *d, struct stream_sink *out, uint32_t *leaf1,
                      uint64_t *xfeatures)
{
    xen_cpuid_leaf_t *leaves = calloc(MAX_CPUID, sizeof(*leaves));
    size_t nr_leaves = 0;
    int rc = leaves ? cpuid_policy(d, leaves, &nr_leaves, xfeatures, leaf1) : -ENOMEM;
    /* libxc's MSR policy: the two MSRs Xen's policy holds, as a KVM
     * guest here sees them (neither is offered). */
    xen_msr_entry_t msrs[2] = { { 0xce, 0, 0 }, { 0x10a, 0, 0 } };
    if (!rc) rc = xcs_write_headers(out, XEN_VERSION_MAJOR, XEN_VERSION_MINOR);
    if (!rc) rc = xcs_write_cpuid_policy(out, leaves, nr_leaves);
    if (!rc) rc = xcs_write_msr_policy(out, msrs, 2);
    if (!rc) rc = xcs_write_record(out, XC_REC_STATIC_DATA_END, NULL, 0);
    free(leaves);
    return rc;
}

/* The image's end, the vCPUs stopped: TSC_INFO, HVM_CONTEXT, HVM_PARAMS,
 * END. */
static int image_tail(struct domain *d, struct stream_sink *out, uint32_t leaf1,
                      uint64_t xfeatures)
{
    struct stream_membuf blob = { 0 };
    int rc = build_hvm_context(d, leaf1, xfeatures, &blob);
    struct xc_tsc_info tsc = { .mode = 0, .khz = (uint32_t)d->tsc_khz,
                               .nsec = domain_system_time(d) };
    struct xc_hvm_param params[2] = {
        { HVM_PARAM_STORE_PFN, XENON_XENSTORE_GFN },
        { HVM_PARAM_CONSOLE_PFN, XENON_CONSOLE_GFN },
    };
    if (!rc) rc = xcs_write_tsc_info(out, &tsc);
    if (!rc) rc = xcs_write_record(out, XC_REC_HVM_CONTEXT, blob.data, blob.len);
    if (!rc) rc = xcs_write_hvm_params(out, params, 2);
    if (!rc) rc = xcs_write_record(out, XC_REC_END, NULL, 0);
    free(blob.data);
    return rc;
}

/* Into a regular file, writeback is started for every few MiB written
 * (sync_file_range, not waiting): the toolstack's fsync at the end then
 * waits for the last of it only, not for the whole image. */
#define WRITEBACK_CHUNK (8u << 20)

struct file_sink {
    struct stream_sink fd_sink;
    int fd;
    bool regular;
    uint64_t unsynced;
};

static int file_writev(void *ctx, const struct iovec *iov, int iovcnt)
{
    struct file_sink *f = ctx;
    int rc = f->fd_sink.writev(f->fd_sink.ctx, iov, iovcnt);
    if (rc < 0 || !f->regular)
        return rc;
    for (int i = 0; i < iovcnt; i++)
        f->unsynced += iov[i].iov_len;
    if (f->unsynced >= WRITEBACK_CHUNK) {
        off_t end = lseek(f->fd, 0, SEEK_CUR);
        if (end >= (off_t)f->unsynced)
            (void)sync_file_range(f->fd, end - (off_t)f->unsynced, (off_t)f->unsynced,
                                  SYNC_FILE_RANGE_WRITE);
        f->unsynced = 0;
    }
    return 0;
}

static void file_sink_init(struct file_sink *f, struct stream_sink *out, int *fd)
{
    struct stat st;
    stream_sink_fd(&f->fd_sink, fd);
    f->fd = *fd;
    f->regular = fstat(*fd, &st) == 0 && S_ISREG(st.st_mode);
    f->unsynced = 0;
    *out = (struct stream_sink){ file_writev, f, 0 };
}

int domain_save_image(struct domain *d, int fd, struct xenon_ctl_save_result *r)
{
    r->suspended = d->suspended;
    /* The console's consumer index, final before memory is read. */
    console_drain(d);
    struct stream_sink out;
    struct file_sink fs;
    file_sink_init(&fs, &out, &fd);
    uint64_t xfeatures = 0;
    uint32_t leaf1 = 0;
    struct page_walk walk = { .d = d };
    int rc = image_head(d, &out, &leaf1, &xfeatures);
    if (!rc) rc = xcs_write_memory(&out, gmem_nr_pfns(&d->mem), page_at, &walk, 0,
                                   &r->pages_data, &r->pages_zero);
    r->rounds = 1;
    r->round_pages[0] = r->pages_data + r->pages_zero;
    if (!rc) rc = image_tail(d, &out, leaf1, xfeatures);
    r->bytes = out.bytes;
    return rc;
}

/* --- live --------------------------------------------------------------- */

/* Xen's libxc policy (xg_sr_save.c, simple_precopy_policy): stop when
 * fewer than 50 pages are dirty, or after 5 iterations (round 0 and four
 * more here). */
#define LIVE_STOP_PAGES 49
#define LIVE_MAX_ROUNDS 4
/* Then, unlike libxc, up to four more while the set still shrinks: a
 * guest whose working set drains slowly reaches its stop with fewer
 * pages left for the downtime. */
#define LIVE_EXTRA_ROUNDS 4

struct domain_live {
    struct domain *d;
    struct page_walk walk;
    struct precopy pc;
    uint32_t leaf1;
    uint64_t xfeatures;
};

static const void *live_page(void *ctx, uint64_t pfn)
{
    struct domain_live *l = ctx;
    return page_at(&l->walk, pfn);
}

/* Each round's set: the vCPUs' writes (KVM's log), the VMM's own
 * (gmem_mark_dirty), the pages a backend holds mapped writable. A round
 * also looks at the memfd's holes afresh: the guest may have touched one. */
static int live_fetch(void *ctx, uint64_t *bitmap, uint64_t nr_pfns)
{
    struct domain_live *l = ctx;
    page_walk_reset(&l->walk);
    grant_mark_mapped_dirty(&l->d->grants);
    return platform_dirty_log_fetch(l->d, bitmap, nr_pfns, NULL);
}

static void report_rounds(const struct precopy_report *rep, unsigned from,
                          struct xenon_ctl_save_result *r)
{
    r->pages_data = r->pages_zero = 0;
    r->rounds = rep->nr_rounds - from;
    for (unsigned i = from; i < rep->nr_rounds; i++) {
        const struct precopy_round *rd = &rep->round[i];
        r->pages_data += rd->pages - rd->zero;
        r->pages_zero += rd->zero;
        if (i - from < XENON_SAVE_ROUNDS_REPORTED) {
            r->round_pages[i - from] = rd->pages;
            r->round_us[i - from] = rd->ns / 1000;
        }
    }
}

int domain_save_live_start(struct domain *d, int fd, struct domain_live **out_live,
                           struct xenon_ctl_save_result *r)
{
    *out_live = NULL;
    struct domain_live *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->d = d;
    l->walk.d = d;
    struct stream_sink out;
    stream_sink_fd(&out, &fd);
    int rc = image_head(d, &out, &l->leaf1, &l->xfeatures);
    if (rc == 0)
        rc = platform_dirty_log_start(d);
    if (rc < 0) {
        free(l);
        return rc;
    }
    struct precopy_params p = { gmem_nr_pfns(&d->mem), LIVE_STOP_PAGES, LIVE_MAX_ROUNDS,
                                LIVE_EXTRA_ROUNDS };
    struct precopy_ops ops = { .page = live_page, .fetch = live_fetch, .ctx = l };
    rc = precopy_live(&l->pc, &out, &p, &ops);
    report_rounds(&l->pc.rep, 0, r);
    r->bytes = out.bytes;
    if (rc < 0) {
        domain_save_live_cancel(d, l);
        return rc;
    }
    *out_live = l;
    return 0;
}

int domain_save_live_finish(struct domain *d, struct domain_live *l, int fd,
                            struct xenon_ctl_save_result *r)
{
    r->suspended = d->suspended;
    /* The backends first: what they write into guest memory now (the
     * console's consumer index) is logged and goes in the last round. */
    console_drain(d);
    struct stream_sink out;
    stream_sink_fd(&out, &fd);
    unsigned from = l->pc.rep.nr_rounds;
    int rc = precopy_final(&l->pc, &out);
    report_rounds(&l->pc.rep, from, r);
    if (rc == 0) {
        /* Any later look at memory sees it as the last round did. */
        page_walk_reset(&l->walk);
        rc = image_tail(d, &out, l->leaf1, l->xfeatures);
    }
    r->bytes = out.bytes;
    precopy_free(&l->pc);
    free(l);
    return rc;
}

void domain_save_live_cancel(struct domain *d, struct domain_live *l)
{
    if (!l)
        return;
    platform_dirty_log_stop(d);
    precopy_free(&l->pc);
    free(l);
}

int domain_save_devices(struct domain *d, int fd, struct xenon_ctl_save_result *r)
{
    struct state_buf b = { 0 };
    /* A guest that suspended itself re-binds, re-maps and re-arms all of
     * its Xen state when it resumes in a new domain (Linux's
     * xen_irq_resume, gnttab_resume do): it gets that domain's fresh
     * event channels, grant table, shared info placement and no timers.
     * Only its vCPUs and its time base come back. */
    static const char *const suspended_modules[] = { "vcpu", "timer", NULL };
    pthread_mutex_lock(&d->lock);
    r->suspended = d->suspended;
    int rc = d->suspended ? state_save_some(d, suspended_modules, &b) : state_save(d, &b);
    pthread_mutex_unlock(&d->lock);
    if (rc == 0 && b.len > XENON_SAVE_MAX_DEVICES - sizeof(struct libxl_emulator_hdr))
        rc = -E2BIG;
    struct stream_sink out;
    stream_sink_fd(&out, &fd);
    struct libxl_emulator_hdr eh = { LIBXL_EMULATOR_UNKNOWN, 0 };
    struct xen_stream_rhdr rh = { LIBXL_REC_EMULATOR_CONTEXT,
                                  (uint32_t)(sizeof(eh) + b.len) };
    static const uint8_t zero[8];
    size_t pad = (8 - (sizeof(eh) + b.len) % 8) % 8;
    if (!rc) rc = stream_put(&out, &rh, sizeof(rh));
    if (!rc) rc = stream_put(&out, &eh, sizeof(eh));
    if (!rc && b.len) rc = stream_put(&out, b.data, b.len);
    if (!rc && pad) rc = stream_put(&out, zero, pad);
    r->bytes = out.bytes;
    state_buf_free(&b);
    return rc;
}

/* --- restore ------------------------------------------------------------ */

struct page_in_ctx {
    struct domain *d;
    char *err;
    size_t errlen;
    struct page_walk holes;
};

static int page_in(void *opaque, uint64_t pfn, uint32_t type, const void *data)
{
    struct page_in_ctx *c = opaque;
    uint8_t *p = gmem_ptr(&c->d->mem, pfn << XC_PAGE_SHIFT, XC_PAGE_SIZE);
    if (!p) {
        snprintf(c->err, c->errlen, "PAGE_DATA: PFN 0x%llx: the domain has no page there",
                 (unsigned long long)pfn);
        return -EINVAL;
    }
    if (type == XEN_DOMCTL_PFINFO_XTAB)
        return 0;       /* the page "no longer exists": ours stays, zero */
    if (data) {
        if (data != p)
            memcpy(p, data, XC_PAGE_SIZE);
        c->holes.hole_start = c->holes.hole_end = 0;   /* no longer all holes */
    } else if (page_at(&c->holes, pfn) != zero_page)
        memset(p, 0, XC_PAGE_SIZE);     /* a hole is zero already */
    return 0;
}

/* A page's data is read from the stream straight into guest memory (the
 * memfd's mapping): no bounce buffer, no second copy. */
static void *page_dest(void *opaque, uint64_t pfn)
{
    struct page_in_ctx *c = opaque;
    return gmem_ptr(&c->d->mem, pfn << XC_PAGE_SHIFT, XC_PAGE_SIZE);
}

/* ...or, from a regular file, copied into the memfd by the kernel
 * (sendfile): a memfd page written whole is allocated without being
 * zeroed first and without a fault on the mapping. */
static int page_dest_fd(void *opaque, uint64_t pfn, uint64_t *off)
{
    struct page_in_ctx *c = opaque;
    uint64_t gpa = pfn << XC_PAGE_SHIFT;
    const struct gmem_region *r = gmem_find(&c->d->mem, gpa);
    if (!r || gpa + XC_PAGE_SIZE > r->gpa + r->size)
        return -1;
    *off = r->fd_offset + (gpa - r->gpa);
    return c->d->mem.fd;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

int domain_restore_image(struct domain *d, int fd, struct xenon_ctl_save_result *r,
                         char *err, size_t errlen)
{
    struct stream_source in;
    stream_source_fd(&in, &fd);
    struct xcs_limits lim = { gmem_nr_pfns(&d->mem), d->nr_vcpus };
    struct page_in_ctx pc = { d, err, errlen, { .d = d } };
    struct xcs_result res;
    err[0] = '\0';
    struct xcs_pages pages = { page_dest, page_in, &pc, page_dest_fd };
    int rc = xcs_read_pages(&in, &lim, &pages, &res, err, errlen);
    r->bytes = in.bytes;
    if (rc < 0) {
        if (!err[0])
            snprintf(err, errlen, "libxc image: %s", strerror(-rc));
        return rc;
    }
    r->pages_data = res.pages_data;
    r->pages_zero = res.pages_alloc;
    for (size_t i = 0; i < res.nr_params; i++) {
        uint64_t want = res.params[i].index == HVM_PARAM_STORE_PFN ? XENON_XENSTORE_GFN
                      : res.params[i].index == HVM_PARAM_CONSOLE_PFN ? XENON_CONSOLE_GFN
                                                                     : res.params[i].value;
        if (res.params[i].value != want) {
            rc = fail(err, errlen, "HVM_PARAMS: param %llu is 0x%llx, this domain's is 0x%llx",
                      (unsigned long long)res.params[i].index,
                      (unsigned long long)res.params[i].value, (unsigned long long)want);
            goto out;
        }
    }
    struct platform_vcpu_state *s = malloc(sizeof(*s));
    if (!s) {
        rc = -ENOMEM;
        goto out;
    }
    pthread_mutex_lock(&d->lock);
    for (unsigned i = 0; rc == 0 && i < d->nr_vcpus; i++) {
        const struct hvm_ctx_vcpu *v = &res.hvm->vcpu[i];
        struct vcpu *vc = &d->vcpu[i];
        if (!v->present)
            continue;
        rc = platform_get_vcpu_state(vc, s);
        if (rc == 0 && hvm_to_platform(v, s) < 0)
            rc = fail(err, errlen, "HVM_CONTEXT: vCPU %u: a state this platform cannot hold", i);
        if (rc == 0 && platform_set_vcpu_state(vc, s) < 0)
            rc = fail(err, errlen, "HVM_CONTEXT: vCPU %u: the platform refuses its state", i);
        if (rc == 0) {
            vc->up = true;
            vc->down = false;
        }
    }
    pthread_mutex_unlock(&d->lock);
    free(s);
out:
    xcs_result_free(&res);
    return rc;
}

int domain_restore_devices(struct domain *d, int fd, uint64_t length,
                           struct xenon_ctl_save_result *r, char *err, size_t errlen)
{
    err[0] = '\0';
    if (length < sizeof(struct libxl_emulator_hdr) || length > XENON_SAVE_MAX_DEVICES)
        return fail(err, errlen, "EMULATOR_CONTEXT: length %llu out of bounds",
                    (unsigned long long)length);
    size_t pad = (8 - length % 8) % 8;
    uint8_t *buf = malloc(length + pad);
    if (!buf)
        return -ENOMEM;
    struct stream_source in;
    stream_source_fd(&in, &fd);
    int rc = stream_get(&in, buf, length + pad);
    r->bytes = in.bytes;
    if (rc == -ENODATA)
        rc = fail(err, errlen, "EMULATOR_CONTEXT: truncated");
    for (size_t i = 0; rc == 0 && i < pad; i++)
        if (buf[length + i])
            rc = fail(err, errlen, "EMULATOR_CONTEXT: non-zero padding");
    struct libxl_emulator_hdr eh;
    memcpy(&eh, buf, sizeof(eh));
    if (rc == 0 && (eh.id != LIBXL_EMULATOR_UNKNOWN || eh.index != 0))
        rc = fail(err, errlen, "EMULATOR_CONTEXT: emulator %u index %u is not Xenon's (0, 0)",
                  eh.id, eh.index);
    /* Record by record, to name the one refused. */
    const uint8_t *p = buf + sizeof(eh);
    size_t left = length - sizeof(eh);
    pthread_mutex_lock(&d->lock);
    while (rc == 0 && left) {
        struct state_record_header h;
        if (left < sizeof(h)) {
            rc = fail(err, errlen, "EMULATOR_CONTEXT: a record header cut short");
            break;
        }
        memcpy(&h, p, sizeof(h));
        if (!memchr(h.name, 0, sizeof(h.name))) {
            rc = fail(err, errlen, "EMULATOR_CONTEXT: a record name without its NUL");
            break;
        }
        if (h.length > left - sizeof(h)) {
            rc = fail(err, errlen, "EMULATOR_CONTEXT: record \"%s\": length %u overruns it",
                      h.name, h.length);
            break;
        }
        const struct state_module *m = state_find(h.name);
        if (!m)
            rc = fail(err, errlen, "EMULATOR_CONTEXT: record \"%s\": no such module", h.name);
        else if (m->version != h.version)
            rc = fail(err, errlen, "EMULATOR_CONTEXT: record \"%s\": version %u, we read %u",
                      h.name, h.version, m->version);
        else if ((rc = state_load(d, p, sizeof(h) + h.length)) < 0)
            rc = fail(err, errlen, "EMULATOR_CONTEXT: record \"%s\" refused (%s)", h.name,
                      strerror(-rc));
        p += sizeof(h) + h.length;
        left -= sizeof(h) + h.length;
    }
    pthread_mutex_unlock(&d->lock);
    free(buf);
    return rc;
}
