/* The pre-copy self-test on a running guest (contract in precopy_check.h). */
#include "precopy_check.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xen/domctl.h>

#include "dirty.h"
#include "domain.h"
#include "grant_map.h"
#include "hypercall.h"
#include "hvm_context.h"
#include "log.h"
#include "pause.h"
#include "platform.h"
#include "precopy.h"

struct check {
    struct domain *d;
    unsigned after_ms;
    char *path;
    uint64_t nr_pfns;
};

static const void *page(void *ctx, uint64_t pfn)
{
    struct check *c = ctx;
    return gmem_ptr(&c->d->mem, pfn << GMEM_PAGE_SHIFT, GMEM_PAGE_SIZE);
}

static int fetch(void *ctx, uint64_t *bitmap, uint64_t nr_pfns)
{
    struct check *c = ctx;
    grant_mark_mapped_dirty(&c->d->grants);
    return platform_dirty_log_fetch(c->d, bitmap, nr_pfns, NULL);
}

static int stop(void *ctx)
{
    struct check *c = ctx;
    return pause_domain(c->d, 5000);
}

/* The destination: as a restorer keeps pages (XALLOC keeps what is
 * there; a fresh image is zero). */
struct dest {
    uint8_t *mem;
    uint64_t nr_pfns;
};

static int dest_page(void *ctx, uint64_t pfn, uint32_t type, const void *data)
{
    struct dest *d = ctx;
    if (pfn >= d->nr_pfns)
        return -EINVAL;
    if (type == XEN_DOMCTL_PFINFO_NOTAB)
        memcpy(d->mem + (pfn << GMEM_PAGE_SHIFT), data, GMEM_PAGE_SIZE);
    return 0;
}

static int write_image(struct check *c, int fd, struct precopy_report *rep)
{
    struct stream_sink s;
    stream_sink_fd(&s, &fd);
    int rc = xcs_write_headers(&s, XEN_VERSION_MAJOR, XEN_VERSION_MINOR);
    if (rc == 0)
        rc = xcs_write_record(&s, XC_REC_STATIC_DATA_END, NULL, 0);
    if (rc == 0)
        rc = platform_dirty_log_start(c->d);
    if (rc < 0)
        return rc;
    struct precopy_params p = { c->nr_pfns, 256, 20, 0 };
    struct precopy_ops ops = { page, fetch, stop, c };
    rc = precopy_run(&s, &p, &ops, rep);
    platform_dirty_log_stop(c->d);
    if (rc < 0)
        return rc;
    struct hvm_save_header h = { HVM_FILE_MAGIC, HVM_FILE_VERSION, 0, 0, 0 };
    struct hvm_ctx_vcpu v = { .present = true };
    struct stream_membuf blob = { 0 };
    rc = hvm_ctx_build(&blob, &h, &v, 1);
    if (rc == 0)
        rc = xcs_write_record(&s, XC_REC_HVM_CONTEXT, blob.data, blob.len);
    if (rc == 0)
        rc = xcs_write_record(&s, XC_REC_END, NULL, 0);
    free(blob.data);
    return rc;
}

/* Read the image back and count the pages that differ from guest memory
 * (the domain paused). */
static int compare(struct check *c, int fd, uint64_t *pages, uint64_t *differ)
{
    struct dest dst = { NULL, c->nr_pfns };
    dst.mem = mmap(NULL, c->nr_pfns << GMEM_PAGE_SHIFT, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (dst.mem == MAP_FAILED)
        return -errno;
    if (lseek(fd, 0, SEEK_SET) < 0) {
        munmap(dst.mem, c->nr_pfns << GMEM_PAGE_SHIFT);
        return -errno;
    }
    struct stream_source src;
    stream_source_fd(&src, &fd);
    struct xcs_limits lim = { c->nr_pfns, 1 };
    struct xcs_result r;
    char err[256];
    int rc = xcs_read(&src, &lim, dest_page, &dst, &r, err, sizeof(err));
    if (rc < 0) {
        log_err("precopy-check: our image refused: %s", err);
    } else {
        xcs_result_free(&r);
        *pages = *differ = 0;
        for (uint64_t pfn = 0; pfn < c->nr_pfns; pfn++) {
            const uint8_t *p = page(c, pfn);
            if (!p)
                continue;
            (*pages)++;
            if (memcmp(p, dst.mem + (pfn << GMEM_PAGE_SHIFT), GMEM_PAGE_SIZE)) {
                if (*differ < 8)
                    log_err("precopy-check: PFN %#llx differs",
                            (unsigned long long)pfn);
                (*differ)++;
            }
        }
    }
    munmap(dst.mem, c->nr_pfns << GMEM_PAGE_SHIFT);
    return rc;
}

static void *check_thread(void *arg)
{
    struct check *c = arg;
    struct timespec ts = { c->after_ms / 1000, (long)(c->after_ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
    c->nr_pfns = gmem_nr_pfns(&c->d->mem);
    int fd = open(c->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_err("precopy-check: %s: %s", c->path, strerror(errno));
        return NULL;
    }
    fchmod(fd, 0600);
    struct precopy_report rep;
    uint64_t pages = 0, differ = 0;
    int rc = write_image(c, fd, &rep);
    for (unsigned i = 0; i < rep.nr_rounds; i++)
        log_info("precopy-check: round %u dirty %llu pages %llu bytes %llu us %llu",
                 i, (unsigned long long)rep.round[i].dirty,
                 (unsigned long long)rep.round[i].pages,
                 (unsigned long long)rep.round[i].bytes,
                 (unsigned long long)(rep.round[i].ns / 1000));
    if (rc == 0)
        rc = compare(c, fd, &pages, &differ);
    log_info("precopy-check: %s rounds=%u pages=%llu differ=%llu bytes=%llu "
             "total_us=%llu stop_us=%llu stop_to_end_us=%llu stopped_by=%s rc=%d",
             rc == 0 && differ == 0 && pages ? "PASS" : "FAIL", rep.nr_rounds,
             (unsigned long long)pages, (unsigned long long)differ,
             (unsigned long long)rep.bytes, (unsigned long long)(rep.ns / 1000),
             (unsigned long long)(rep.stop_ns / 1000),
             (unsigned long long)(rep.stop_to_end_ns / 1000),
             rep.stopped_by == PRECOPY_CONVERGED ? "converged" : "round-limit", rc);
    close(fd);
    unpause_domain(c->d);
    return NULL;
}

int precopy_check_parse(const char *arg, unsigned *after_ms, const char **path)
{
    char *end;
    unsigned long ms = strtoul(arg, &end, 10);
    if (end == arg || *end != ':' || !end[1] || ms > 3600000)
        return -EINVAL;
    *after_ms = (unsigned)ms;
    *path = end + 1;
    return 0;
}

int precopy_check_start(struct domain *d, unsigned after_ms, const char *path)
{
    struct check *c = calloc(1, sizeof(*c));
    if (!c || !(c->path = strdup(path))) {
        free(c);
        return -ENOMEM;
    }
    c->d = d;
    c->after_ms = after_ms;
    pthread_t t;
    int rc = pthread_create(&t, NULL, check_thread, c);
    if (rc) {
        free(c->path);
        free(c);
        return -rc;
    }
    pthread_detach(t);
    return 0;
}
