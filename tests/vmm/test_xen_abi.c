/*
 * The Xen ABI driven through hypercall dispatch, with no KVM: each test
 * builds a domain on the in-memory platform (platform/mem_platform.c),
 * installs the hypercall page from a 32- or 64-bit vCPU (which latches the
 * shared-info layout, as Xen does), and makes hypercalls the way a guest's
 * hypercall page stub would. Every test runs for both guest widths.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <xen/errno.h>
#include <xen/event_channel.h>
#include <xen/foreign/x86_32.h>
#include <xen/grant_table.h>
#include <xen/hvm/hvm_op.h>
#include <xen/memory.h>
#include <xen/sched.h>
#include <xen/version.h>
#include <xen/xen.h>

#include "compat32.h"
#include "domain.h"
#include "exits.h"
#include "hypercall.h"
#include "ioloop.h"
#include "mem_platform.h"
#include "serial.h"
#include "uart.h"

#define HCALL_PAGE_GPA 0x3000ull
#define ARG 0x20000ull              /* argument structs (identity-mapped) */
#define SHINFO_GFN 0xfe000ull       /* a hole above RAM, below the MMIO end */

struct fixture {
    struct domain *d;
    bool long_mode;
};

static const bool WIDTH_32 = false, WIDTH_64 = true;

static struct vcpu *vcpu0(struct fixture *f) { return &f->d->vcpu[0]; }

static long hc(struct fixture *f, uint64_t nr, uint64_t a0, uint64_t a1,
               uint64_t a2)
{
    return mem_hypercall(vcpu0(f), nr, a0, a1, a2, 0, 0);
}

static void put(struct fixture *f, uint64_t gpa, const void *p, size_t n)
{
    assert_int_equal(gmem_write(&f->d->mem, gpa, p, n), 0);
}

static void get(struct fixture *f, uint64_t gpa, void *p, size_t n)
{
    assert_int_equal(gmem_read(&f->d->mem, gpa, p, n), 0);
}

static int setup(void **state)
{
    static struct fixture f;
    f.long_mode = *(const bool *)*state;
    f.d = mem_domain_create(7, 2, 8u << 20);
    assert_non_null(f.d);
    for (unsigned i = 0; i < f.d->nr_vcpus; i++) {
        if (f.long_mode)
            mem_vcpu_long_mode(&f.d->vcpu[i]);
        else
            mem_vcpu_compat_mode(&f.d->vcpu[i]);
    }
    /* The guest's first act: wrmsr of the hypercall page address. */
    uint64_t msr = HCALL_PAGE_GPA;
    assert_true(exits_msr(&f.d->exits, vcpu0(&f), XEN_HYPERCALL_MSR, true, &msr));
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    mem_domain_destroy(f->d);
    return 0;
}

/* Map shared info at SHINFO_GFN (a hole: the ABI adds a page there). */
static void map_shinfo(struct fixture *f)
{
    uint8_t buf[24];
    if (f->long_mode) {
        struct xen_add_to_physmap x = { .domid = DOMID_SELF,
            .space = XENMAPSPACE_shared_info, .idx = 0, .gpfn = SHINFO_GFN };
        memcpy(buf, &x, sizeof(x));
    } else {
        struct compat_add_to_physmap x = { .domid = DOMID_SELF,
            .space = XENMAPSPACE_shared_info, .idx = 0, .gpfn = SHINFO_GFN };
        memcpy(buf, &x, sizeof(x));
    }
    put(f, ARG, buf, sizeof(buf));
    unsigned before = gmem_nr_regions(&f->d->mem);
    assert_int_equal(hc(f, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, ARG, 0), 0);
    assert_int_equal(f->d->shinfo_gpa, SHINFO_GFN << 12);
    /* A fresh page, made visible to the guest through the platform. */
    assert_int_equal(gmem_nr_regions(&f->d->mem), before + 1);
    assert_true(f->d->pvm->mapped[before]);
}

static bool shinfo_pending(struct fixture *f, unsigned port)
{
    size_t off = f->long_mode ? offsetof(struct shared_info, evtchn_pending)
                              : offsetof(struct shared_info_x86_32, evtchn_pending);
    uint8_t byte;
    get(f, (SHINFO_GFN << 12) + off + port / 8, &byte, 1);
    return byte & (1u << (port % 8));
}

static uint8_t upcall_pending(struct fixture *f)
{
    uint8_t b;
    get(f, (SHINFO_GFN << 12) + offsetof(struct vcpu_info, evtchn_upcall_pending),
        &b, 1);
    return b;
}

/* --- xen_version -------------------------------------------------------- */

static void test_xen_version(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(hc(f, __HYPERVISOR_xen_version, XENVER_version, 0, 0),
                     (XEN_VERSION_MAJOR << 16) | XEN_VERSION_MINOR);
    assert_int_equal(hc(f, __HYPERVISOR_xen_version, XENVER_pagesize, 0, 0), 4096);

    xen_feature_info_t fi = { .submap_idx = 0, .submap = 0xdead };
    put(f, ARG, &fi, sizeof(fi));
    assert_int_equal(hc(f, __HYPERVISOR_xen_version, XENVER_get_features, ARG, 0), 0);
    get(f, ARG, &fi, sizeof(fi));
    assert_true(fi.submap & (1u << XENFEAT_hvm_callback_vector));
    fi = (xen_feature_info_t){ .submap_idx = 1, .submap = 0xdead };
    put(f, ARG, &fi, sizeof(fi));
    assert_int_equal(hc(f, __HYPERVISOR_xen_version, XENVER_get_features, ARG, 0), 0);
    get(f, ARG, &fi, sizeof(fi));
    assert_int_equal(fi.submap, 0);

    char extra[XEN_EXTRAVERSION_LEN];
    assert_int_equal(hc(f, __HYPERVISOR_xen_version, XENVER_extraversion, ARG, 0), 0);
    get(f, ARG, extra, sizeof(extra));
    assert_string_equal(extra, ".0-xenon");

    /* Bad arguments get Xen's answers. */
    assert_int_equal(hc(f, __HYPERVISOR_xen_version, XENVER_commandline, ARG, 0),
                     -XEN_EPERM);
    assert_int_equal(hc(f, __HYPERVISOR_xen_version, 0x7777, ARG, 0), -XEN_ENOSYS);
    assert_int_equal(hc(f, __HYPERVISOR_xen_version, XENVER_extraversion,
                        0xfff00000ull, 0), -XEN_EFAULT);
}

/* --- dispatch ----------------------------------------------------------- */

static void test_dispatch_errors(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(hc(f, 63, 0, 0, 0), -XEN_ENOSYS);
    assert_int_equal(hc(f, __HYPERVISOR_mmu_update, 0, 0, 0), -XEN_ENOSYS);
    /* A result fits the caller's width: a 32-bit guest sees EAX only. */
    if (!f->long_mode)
        assert_int_equal(vcpu0(f)->pv->regs.rax >> 32, 0);
    else
        assert_int_equal(vcpu0(f)->pv->regs.rax, (uint64_t)(int64_t)-XEN_ENOSYS);
    /* Xen refuses hypercalls from user mode. */
    vcpu0(f)->pv->sregs.cpl = 3;
    assert_int_equal(hc(f, __HYPERVISOR_xen_version, XENVER_version, 0, 0),
                     -XEN_EPERM);
    vcpu0(f)->pv->sregs.cpl = 0;
    assert_int_equal(vcpu0(f)->nr_hypercalls, 3);
}

/* A 64-bit guest buffer that runs off the top of the address space is a
 * fault, not a wrap to address 0. The top 2 MiB of virtual space is mapped
 * to guest RAM, and gva 0 to guest-physical 0, so only the range check
 * can refuse. */
static void test_address_wrap(void **state)
{
    struct fixture *f = *state;
    if (!f->long_mode)
        return;         /* 32-bit: the compat range check has its own test */
    const uint64_t pd = 0x4000, top_gpa = 0x200000;
    uint64_t e = pd | 0x3;                          /* PDPT[511] -> PD */
    put(f, MEM_PLATFORM_PML4 + 0x1000 + 511 * 8, &e, 8);
    e = (MEM_PLATFORM_PML4 + 0x1000) | 0x3;         /* PML4[511] -> PDPT */
    put(f, MEM_PLATFORM_PML4 + 511 * 8, &e, 8);
    e = top_gpa | 0x83;                             /* PD[511]: 2 MiB page */
    put(f, pd + 511 * 8, &e, 8);

    uint8_t before[16], after[16];
    get(f, 0, before, sizeof(before));
    /* 16 bytes at 2^64 - 8: the last 8 bytes would land at gva 0. */
    assert_int_equal(hc(f, __HYPERVISOR_xen_version, XENVER_extraversion,
                        0xfffffffffffffff8ull, 0), -XEN_EFAULT);
    get(f, 0, after, sizeof(after));
    assert_memory_equal(before, after, sizeof(before));
    /* The last bytes below 2^64 are reachable. */
    assert_int_equal(hc(f, __HYPERVISOR_xen_version, XENVER_extraversion,
                        0xfffffffffffffff0ull, 0), 0);
    char extra[XEN_EXTRAVERSION_LEN];
    get(f, top_gpa + 0x1ffff0, extra, sizeof(extra));
    assert_string_equal(extra, ".0-xenon");
    /* In 32-bit mode, the end of the 4 GiB space. */
    mem_vcpu_compat_mode(vcpu0(f));
    assert_int_equal(hc(f, __HYPERVISOR_xen_version, XENVER_extraversion,
                        0xfffffff8ull, 0), -XEN_EFAULT);
}

/* --- event channels ----------------------------------------------------- */

static long evtchn_op(struct fixture *f, unsigned cmd, const void *arg, size_t n)
{
    put(f, ARG, arg, n);
    return hc(f, __HYPERVISOR_event_channel_op, cmd, ARG, 0);
}

static void test_evtchn_loopback(void **state)
{
    struct fixture *f = *state;
    map_shinfo(f);
    /* Deliver by the per-vCPU upcall vector. */
    struct xen_hvm_evtchn_upcall_vector uv = { .vcpu = 0, .vector = 0xf3 };
    put(f, ARG, &uv, sizeof(uv));
    assert_int_equal(hc(f, __HYPERVISOR_hvm_op, HVMOP_set_evtchn_upcall_vector,
                        ARG, 0), 0);

    struct evtchn_alloc_unbound au = { .dom = DOMID_SELF, .remote_dom = DOMID_SELF };
    assert_int_equal(evtchn_op(f, EVTCHNOP_alloc_unbound, &au, sizeof(au)), 0);
    get(f, ARG, &au, sizeof(au));
    uint32_t a = au.port;
    assert_true(a > 0);

    struct evtchn_bind_interdomain bi = { .remote_dom = DOMID_SELF, .remote_port = a };
    assert_int_equal(evtchn_op(f, EVTCHNOP_bind_interdomain, &bi, sizeof(bi)), 0);
    get(f, ARG, &bi, sizeof(bi));
    uint32_t b = bi.local_port;
    assert_true(b > 0 && b != a);
    /* Binding raises an event on the new port, as Xen does. */
    assert_true(shinfo_pending(f, b));
    assert_false(shinfo_pending(f, a));

    /* Clear what the bind raised, then send b -> a. */
    uint8_t zero[128] = { 0 };
    size_t off = f->long_mode ? offsetof(struct shared_info, evtchn_pending)
                              : offsetof(struct shared_info_x86_32, evtchn_pending);
    put(f, (SHINFO_GFN << 12) + off, zero, sizeof(zero));
    put(f, (SHINFO_GFN << 12) + offsetof(struct vcpu_info, evtchn_upcall_pending),
        zero, 1);
    put(f, (SHINFO_GFN << 12) +
           (f->long_mode ? offsetof(struct vcpu_info, evtchn_pending_sel)
                         : offsetof(struct vcpu_info_x86_32, evtchn_pending_sel)),
        zero, f->long_mode ? 8 : 4);
    unsigned injected = vcpu0(f)->pv->injected;

    struct evtchn_send s = { .port = b };
    assert_int_equal(evtchn_op(f, EVTCHNOP_send, &s, sizeof(s)), 0);
    assert_true(shinfo_pending(f, a));
    assert_false(shinfo_pending(f, b));
    assert_int_equal(upcall_pending(f), 1);
    assert_int_equal(vcpu0(f)->pv->injected, injected + 1);
    assert_int_equal(vcpu0(f)->pv->last_vector, 0xf3);

    struct evtchn_status st = { .dom = DOMID_SELF, .port = a };
    assert_int_equal(evtchn_op(f, EVTCHNOP_status, &st, sizeof(st)), 0);
    get(f, ARG, &st, sizeof(st));
    assert_int_equal(st.status, EVTCHNSTAT_interdomain);
    assert_int_equal(st.u.interdomain.port, b);

    /* Closing b leaves a unbound; sending on a closed port is refused. */
    struct evtchn_close c = { .port = b };
    assert_int_equal(evtchn_op(f, EVTCHNOP_close, &c, sizeof(c)), 0);
    assert_int_equal(evtchn_op(f, EVTCHNOP_send, &s, sizeof(s)), -XEN_EINVAL);
    assert_int_equal(evtchn_op(f, EVTCHNOP_close, &c, sizeof(c)), -XEN_EINVAL);
    st = (struct evtchn_status){ .dom = DOMID_SELF, .port = a };
    assert_int_equal(evtchn_op(f, EVTCHNOP_status, &st, sizeof(st)), 0);
    get(f, ARG, &st, sizeof(st));
    assert_int_equal(st.status, EVTCHNSTAT_unbound);
}

static void test_evtchn_bad_arguments(void **state)
{
    struct fixture *f = *state;
    struct evtchn_close c = { .port = 0 };
    assert_int_equal(evtchn_op(f, EVTCHNOP_close, &c, sizeof(c)), -XEN_EINVAL);
    /* Past the 2-level limit of this guest's width. */
    c.port = f->long_mode ? 4096 : 1024;
    assert_int_equal(evtchn_op(f, EVTCHNOP_close, &c, sizeof(c)), -XEN_EINVAL);
    struct evtchn_bind_virq bv = { .virq = NR_VIRQS, .vcpu = 0 };
    assert_int_equal(evtchn_op(f, EVTCHNOP_bind_virq, &bv, sizeof(bv)), -XEN_EINVAL);
    bv = (struct evtchn_bind_virq){ .virq = VIRQ_TIMER, .vcpu = 9 };
    assert_int_equal(evtchn_op(f, EVTCHNOP_bind_virq, &bv, sizeof(bv)), -XEN_ENOENT);
    struct evtchn_bind_interdomain bi = { .remote_dom = DOMID_SELF, .remote_port = 5 };
    assert_int_equal(evtchn_op(f, EVTCHNOP_bind_interdomain, &bi, sizeof(bi)),
                     -XEN_EINVAL);
    /* An argument pointer outside guest memory. */
    assert_int_equal(hc(f, __HYPERVISOR_event_channel_op, EVTCHNOP_alloc_unbound,
                        0xfff00000ull, 0), -XEN_EFAULT);
    assert_int_equal(hc(f, __HYPERVISOR_event_channel_op, 99, ARG, 0), -XEN_ENOSYS);
}

/* A per-domain VIRQ moved to another vCPU is still unbound by its close,
 * as Xen finds its binding on vCPU 0 (evtchn_close()'s virq_is_global). */
static void test_global_virq_close(void **state)
{
    struct fixture *f = *state;
    struct evtchn_bind_virq bv = { .virq = VIRQ_ARGO, .vcpu = 0 };
    assert_int_equal(evtchn_op(f, EVTCHNOP_bind_virq, &bv, sizeof(bv)), 0);
    get(f, ARG, &bv, sizeof(bv));
    struct evtchn_bind_vcpu mv = { .port = bv.port, .vcpu = 1 };
    assert_int_equal(evtchn_op(f, EVTCHNOP_bind_vcpu, &mv, sizeof(mv)), 0);
    struct evtchn_close c = { .port = bv.port };
    assert_int_equal(evtchn_op(f, EVTCHNOP_close, &c, sizeof(c)), 0);
    assert_int_equal(f->d->vcpu[0].virq_port[VIRQ_ARGO], 0);
    bv = (struct evtchn_bind_virq){ .virq = VIRQ_ARGO, .vcpu = 0 };
    assert_int_equal(evtchn_op(f, EVTCHNOP_bind_virq, &bv, sizeof(bv)), 0);
}

/* Sent before shared info exists, an event is kept and applied once the
 * guest maps the page. */
static void test_evtchn_early_event(void **state)
{
    struct fixture *f = *state;
    struct evtchn_bind_ipi ipi = { .vcpu = 0 };
    assert_int_equal(evtchn_op(f, EVTCHNOP_bind_ipi, &ipi, sizeof(ipi)), 0);
    get(f, ARG, &ipi, sizeof(ipi));
    struct evtchn_send s = { .port = ipi.port };
    assert_int_equal(evtchn_op(f, EVTCHNOP_send, &s, sizeof(s)), 0);
    map_shinfo(f);
    assert_true(shinfo_pending(f, ipi.port));
    assert_int_equal(upcall_pending(f), 1);
}

/* The console and xenstore ports are the contract's, whatever order the
 * backends bind in, and a guest's own ports never take them. */
static unsigned notified;
static void count_notify(void *opaque) { (void)opaque; notified++; }

static void test_backend_ports(void **state)
{
    struct fixture *f = *state;
    struct evtchn_backend console = { .notify = count_notify };
    struct evtchn_backend store = { .notify = count_notify };
    pthread_mutex_lock(&f->d->lock);
    assert_int_equal(evtchn_alloc_backend_at(f->d, XENON_PORT_CONSOLE, &console),
                     XENON_PORT_CONSOLE);
    assert_int_equal(evtchn_alloc_backend_at(f->d, XENON_PORT_XENSTORE, &store),
                     XENON_PORT_XENSTORE);
    assert_int_equal(evtchn_alloc_backend_at(f->d, XENON_PORT_CONSOLE, &store),
                     -XEN_EBUSY);
    assert_int_equal(evtchn_alloc_backend_at(f->d, 0, &store), -XEN_EINVAL);
    assert_int_equal(evtchn_alloc_backend_at(f->d, EVTCHN_2L_MAX_64, &store),
                     -XEN_EINVAL);
    pthread_mutex_unlock(&f->d->lock);

    struct evtchn_alloc_unbound au = { .dom = DOMID_SELF, .remote_dom = 0 };
    assert_int_equal(evtchn_op(f, EVTCHNOP_alloc_unbound, &au, sizeof(au)), 0);
    get(f, ARG, &au, sizeof(au));
    assert_true(au.port != XENON_PORT_CONSOLE && au.port != XENON_PORT_XENSTORE);

    struct evtchn_status st = { .dom = DOMID_SELF, .port = XENON_PORT_CONSOLE };
    assert_int_equal(evtchn_op(f, EVTCHNOP_status, &st, sizeof(st)), 0);
    get(f, ARG, &st, sizeof(st));
    assert_int_equal(st.status, EVTCHNSTAT_interdomain);
    assert_int_equal(st.u.interdomain.dom, 0);
    assert_int_equal(st.u.interdomain.port, XENON_PORT_CONSOLE);

    notified = 0;
    struct evtchn_send s = { .port = XENON_PORT_XENSTORE };
    assert_int_equal(evtchn_op(f, EVTCHNOP_send, &s, sizeof(s)), 0);
    assert_int_equal(notified, 1);
}

/* --- grant tables ------------------------------------------------------- */

static long setup_table(struct fixture *f, uint16_t dom, uint32_t nr,
                        uint64_t list, int16_t *status)
{
    if (f->long_mode) {
        struct gnttab_setup_table s = { .dom = dom, .nr_frames = nr };
        set_xen_guest_handle(s.frame_list, (xen_pfn_t *)(uintptr_t)list);
        put(f, ARG, &s, sizeof(s));
    } else {
        struct compat_gnttab_setup_table s = { .dom = dom, .nr_frames = nr,
                                               .frame_list = (uint32_t)list };
        put(f, ARG, &s, sizeof(s));
    }
    long rc = hc(f, __HYPERVISOR_grant_table_op, GNTTABOP_setup_table, ARG, 1);
    get(f, ARG + offsetof(struct gnttab_setup_table, status), status, 2);
    return rc;
}

static void test_gnttab_setup_and_query(void **state)
{
    struct fixture *f = *state;
    /* Place frame 0 in a hole, then ask for two frames. */
    uint8_t buf[24];
    uint64_t gfn = 0xfd000;
    if (f->long_mode) {
        struct xen_add_to_physmap x = { .domid = DOMID_SELF,
            .space = XENMAPSPACE_grant_table, .idx = 0, .gpfn = gfn };
        memcpy(buf, &x, sizeof(x));
    } else {
        struct compat_add_to_physmap x = { .domid = DOMID_SELF,
            .space = XENMAPSPACE_grant_table, .idx = 0, .gpfn = gfn };
        memcpy(buf, &x, sizeof(x));
    }
    put(f, ARG, buf, sizeof(buf));
    assert_int_equal(hc(f, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, ARG, 0), 0);

    int16_t status = 1;
    uint64_t list = ARG + 0x100;
    assert_int_equal(setup_table(f, DOMID_SELF, 2, list, &status), 0);
    assert_int_equal(status, GNTST_okay);
    size_t esz = f->long_mode ? 8 : 4;
    uint64_t e0 = 0, e1 = 0;
    get(f, list, &e0, esz);
    get(f, list + esz, &e1, esz);
    assert_int_equal(e0, gfn);
    assert_int_equal(e1, f->long_mode ? ~0ull : 0xffffffffull);   /* not placed */

    struct gnttab_query_size q = { .dom = DOMID_SELF };
    put(f, ARG, &q, sizeof(q));
    assert_int_equal(hc(f, __HYPERVISOR_grant_table_op, GNTTABOP_query_size, ARG, 1), 0);
    get(f, ARG, &q, sizeof(q));
    assert_int_equal(q.status, GNTST_okay);
    assert_int_equal(q.nr_frames, 2);
    assert_int_equal(q.max_nr_frames, GNTTAB_DEFAULT_MAX_FRAMES);

    /* Bad arguments. */
    assert_int_equal(setup_table(f, 3, 1, list, &status), 0);
    assert_int_equal(status, GNTST_permission_denied);
    assert_int_equal(setup_table(f, DOMID_SELF, GNTTAB_DEFAULT_MAX_FRAMES + 1,
                                 list, &status), 0);
    assert_int_equal(status, GNTST_general_error);
    assert_int_equal(setup_table(f, DOMID_SELF, 1, 0xfff00000ull, &status),
                     -XEN_EFAULT);
    assert_int_equal(hc(f, __HYPERVISOR_grant_table_op, GNTTABOP_setup_table, ARG, 2),
                     -XEN_EINVAL);
    q = (struct gnttab_query_size){ .dom = 3 };
    put(f, ARG, &q, sizeof(q));
    assert_int_equal(hc(f, __HYPERVISOR_grant_table_op, GNTTABOP_query_size, ARG, 1), 0);
    get(f, ARG, &q, sizeof(q));
    assert_int_equal(q.status, GNTST_permission_denied);
}

static void ensure_ioloop(void)
{
    static bool loop_ready;
    if (!loop_ready)
        assert_int_equal(ioloop_init(), 0);
    loop_ready = true;
}

/* The domain's hypervisor log goes to a fresh temporary file (path, a
 * mkstemp template, is filled in); its descriptor, for serial_log_expect. */
static int serial_log_open(struct fixture *f, char *path)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const struct log_limits lim = { 1 << 20, 1 };
    assert_int_equal(serial_init(f->d, path, false, &lim), 0);
    return fd;
}

/* Flush the serial sink (serial_fini writes out what the I/O thread would
 * have drained) and check the log holds exactly text; removes the file. */
static void serial_log_expect(struct fixture *f, int fd, const char *path,
                              const char *text, size_t len)
{
    serial_fini(f->d);
    char *back = malloc(len);
    assert_non_null(back);
    size_t got = 0;
    ssize_t n;
    while (got < len && (n = read(fd, back + got, len - got)) > 0)
        got += (size_t)n;
    assert_int_equal(got, len);
    assert_memory_equal(text, back, len);
    free(back);
    close(fd);
    unlink(path);
}

/* A hypercall with a large count is done in pieces: each exit does a
 * bounded share and puts the vCPU back on the hypercall instruction with
 * the rest (Xen's continuations), so no exit holds the domain lock for
 * long. The guest sees one call and every op done. */
static void test_long_hypercalls_continue(void **state)
{
    struct fixture *f = *state;
    enum { N = 1000 };
    static struct gnttab_unmap_grant_ref u[N];
    memset(u, 0, sizeof(u));
    put(f, ARG, u, sizeof(u));
    assert_int_equal(hc(f, __HYPERVISOR_grant_table_op, GNTTABOP_unmap_grant_ref,
                        ARG, N), 0);
    get(f, ARG, u, sizeof(u));
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(u[i].status, GNTST_bad_handle);
    assert_int_equal(vcpu0(f)->pv->continuations, (N - 1) / 128);
    /* As under Xen, the argument registers now describe the last piece
     * (hypercalls clobber them): the handle moved to the last batch. */
    assert_int_equal(f->long_mode ? vcpu0(f)->pv->regs.rsi : vcpu0(f)->pv->regs.rcx,
                     ARG + (N - 1) / 128 * 128 * sizeof(u[0]));

    /* 40000 bytes of console_io in three pieces, all of them written (to
     * the serial sink, whose queue the I/O thread would drain: here
     * serial_fini() writes it out to the hypervisor log). */
    ensure_ioloop();
    char log_path[] = "/tmp/test-xen-abi-XXXXXX";
    int logfd = serial_log_open(f, log_path);
    static char text[40000];
    for (unsigned i = 0; i < sizeof(text); i++)
        text[i] = (char)('a' + i % 26);
    put(f, ARG, text, sizeof(text));
    vcpu0(f)->pv->continuations = 0;
    assert_int_equal(hc(f, __HYPERVISOR_console_io, CONSOLEIO_write,
                        sizeof(text), ARG), 0);
    assert_int_equal(vcpu0(f)->pv->continuations, 2);
    serial_log_expect(f, logfd, log_path, text, sizeof(text));
}

/* --- memory_op ---------------------------------------------------------- */

static long add_to_physmap(struct fixture *f, uint16_t domid, unsigned space,
                           uint64_t idx, uint64_t gpfn)
{
    uint8_t buf[24];
    if (f->long_mode) {
        struct xen_add_to_physmap x = { .domid = domid, .space = space,
                                        .idx = idx, .gpfn = gpfn };
        memcpy(buf, &x, sizeof(x));
    } else {
        struct compat_add_to_physmap x = { .domid = domid, .space = space,
                                           .idx = (uint32_t)idx,
                                           .gpfn = (uint32_t)gpfn };
        memcpy(buf, &x, sizeof(x));
    }
    put(f, ARG, buf, sizeof(buf));
    return hc(f, __HYPERVISOR_memory_op, XENMEM_add_to_physmap, ARG, 0);
}

static void test_add_to_physmap(void **state)
{
    struct fixture *f = *state;
    /* Shared info into guest RAM: the page is used in place. */
    unsigned regions = gmem_nr_regions(&f->d->mem);
    assert_int_equal(add_to_physmap(f, DOMID_SELF, XENMAPSPACE_shared_info, 0, 0x80), 0);
    assert_int_equal(f->d->shinfo_gpa, 0x80000);
    assert_int_equal(gmem_nr_regions(&f->d->mem), regions);
    /* Moving it copies the page. */
    uint32_t marker = 0x5a5a1234;
    put(f, 0x80000 + 0x800, &marker, 4);
    assert_int_equal(add_to_physmap(f, DOMID_SELF, XENMAPSPACE_shared_info, 0, 0x81), 0);
    uint32_t back = 0;
    get(f, 0x81000 + 0x800, &back, 4);
    assert_int_equal(back, marker);

    /* Xen's answers to bad arguments. */
    assert_int_equal(add_to_physmap(f, DOMID_SELF, XENMAPSPACE_shared_info, 1, 0x82),
                     -XEN_EINVAL);
    assert_int_equal(add_to_physmap(f, 3, XENMAPSPACE_shared_info, 0, 0x82),
                     -XEN_EPERM);
    assert_int_equal(add_to_physmap(f, DOMID_SELF, 77, 0, 0x82), -XEN_EINVAL);
    assert_int_equal(add_to_physmap(f, DOMID_SELF, XENMAPSPACE_grant_table,
                                    GNTTAB_DEFAULT_MAX_FRAMES, 0x82), -XEN_EINVAL);
    assert_int_equal(add_to_physmap(f, DOMID_SELF, XENMAPSPACE_grant_table,
                                    XENMAPIDX_grant_table_status, 0x82), -XEN_EINVAL);
    /* The special pages (console, xenstore rings) are not the guest's. */
    assert_int_equal(add_to_physmap(f, DOMID_SELF, XENMAPSPACE_shared_info, 0,
                                    XENON_CONSOLE_GFN), -XEN_EINVAL);
    if (f->long_mode)
        assert_int_equal(add_to_physmap(f, DOMID_SELF, XENMAPSPACE_shared_info, 0,
                                        1ull << 40), -XEN_EINVAL);
    assert_int_equal(hc(f, __HYPERVISOR_memory_op, XENMEM_add_to_physmap,
                        0xfff00000ull, 0), -XEN_EFAULT);
    assert_int_equal(f->d->shinfo_gpa, 0x81000);
}

/* One guest frame shows one Xen page. Placing a grant frame where shared
 * info is unhooks shared info, as Xen's add_to_physmap unhooks the Xen
 * page a frame held: event delivery must no longer write into what is now
 * the grant table. Two grant frames at one frame likewise. */
static void test_one_xen_page_per_frame(void **state)
{
    struct fixture *f = *state;
    map_shinfo(f);
    assert_int_equal(add_to_physmap(f, DOMID_SELF, XENMAPSPACE_grant_table, 0,
                                    SHINFO_GFN), 0);
    assert_int_equal(f->d->gnttab.frame_gpa[0], SHINFO_GFN << 12);
    assert_int_equal(f->d->shinfo_gpa, NO_GPA);

    /* Fill the page with grant entries, then raise an event. */
    uint8_t page[4096], after[4096];
    memset(page, 0x11, sizeof(page));
    put(f, SHINFO_GFN << 12, page, sizeof(page));
    struct evtchn_bind_ipi ipi = { .vcpu = 0 };
    assert_int_equal(evtchn_op(f, EVTCHNOP_bind_ipi, &ipi, sizeof(ipi)), 0);
    get(f, ARG, &ipi, sizeof(ipi));
    struct evtchn_send s = { .port = ipi.port };
    assert_int_equal(evtchn_op(f, EVTCHNOP_send, &s, sizeof(s)), 0);
    get(f, SHINFO_GFN << 12, after, sizeof(after));
    assert_memory_equal(page, after, sizeof(page));

    /* Shared info placed again starts afresh and gets the event. */
    assert_int_equal(add_to_physmap(f, DOMID_SELF, XENMAPSPACE_shared_info, 0,
                                    SHINFO_GFN + 1), 0);
    assert_true(f->d->shinfo_gpa == (SHINFO_GFN + 1) << 12);

    /* Grant frame 1 where frame 0 is: frame 0 loses its place. */
    assert_int_equal(add_to_physmap(f, DOMID_SELF, XENMAPSPACE_grant_table, 1,
                                    SHINFO_GFN), 0);
    assert_int_equal(f->d->gnttab.frame_gpa[1], SHINFO_GFN << 12);
    assert_int_equal(f->d->gnttab.frame_gpa[0], NO_GPA);
    /* And shared info onto a grant frame unhooks the frame. */
    assert_int_equal(add_to_physmap(f, DOMID_SELF, XENMAPSPACE_shared_info, 0,
                                    SHINFO_GFN), 0);
    assert_int_equal(f->d->gnttab.frame_gpa[1], NO_GPA);
    assert_int_equal(f->d->shinfo_gpa, SHINFO_GFN << 12);
}

/* --- sched_op ----------------------------------------------------------- */

static void test_shutdown_reasons(void **state)
{
    struct fixture *f = *state;
    static const unsigned reasons[] = { SHUTDOWN_poweroff, SHUTDOWN_reboot,
        SHUTDOWN_crash, SHUTDOWN_watchdog };
    /* Suspend is not an end: the vCPUs stop, the VMM serves on, the
     * domain waits to be saved (and resumed or ended). */
    {
        struct domain *d = mem_domain_create(9, 1, 4u << 20);
        assert_non_null(d);
        if (f->long_mode)
            mem_vcpu_long_mode(&d->vcpu[0]);
        struct sched_shutdown s = { .reason = SHUTDOWN_suspend };
        assert_int_equal(gmem_write(&d->mem, ARG, &s, sizeof(s)), 0);
        assert_int_equal(mem_hypercall(&d->vcpu[0], __HYPERVISOR_sched_op,
                                       SCHEDOP_shutdown, ARG, 0, 0, 0), 0);
        assert_true(d->suspended);
        assert_true(d->pause.paused);
        assert_int_equal(d->suspend_vcpu, 0);
        assert_false(atomic_load(&d->stopping));
        assert_int_equal(atomic_load(&d->shutdown_reason), -1);
        assert_true(d->vcpu[0].pv->kicks > 0);
        mem_domain_destroy(d);
    }
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        struct domain *d = mem_domain_create(9, 1, 4u << 20);
        assert_non_null(d);
        if (f->long_mode)
            mem_vcpu_long_mode(&d->vcpu[0]);
        struct sched_shutdown s = { .reason = reasons[i] };
        assert_int_equal(gmem_write(&d->mem, ARG, &s, sizeof(s)), 0);
        assert_int_equal(mem_hypercall(&d->vcpu[0], __HYPERVISOR_sched_op,
                                       SCHEDOP_shutdown, ARG, 0, 0, 0), 0);
        assert_int_equal(atomic_load(&d->shutdown_reason), reasons[i]);
        assert_true(atomic_load(&d->stopping));
        /* The first reason wins. */
        s.reason = SHUTDOWN_crash == reasons[i] ? SHUTDOWN_poweroff : SHUTDOWN_crash;
        assert_int_equal(gmem_write(&d->mem, ARG, &s, sizeof(s)), 0);
        mem_hypercall(&d->vcpu[0], __HYPERVISOR_sched_op, SCHEDOP_shutdown, ARG,
                      0, 0, 0);
        assert_int_equal(atomic_load(&d->shutdown_reason), reasons[i]);
        /* vCPUs were kicked to notice. */
        assert_true(d->vcpu[0].pv->kicks > 0);
        mem_domain_destroy(d);
    }
    assert_int_equal(hc(f, __HYPERVISOR_sched_op, SCHEDOP_shutdown, 0xfff00000ull, 0),
                     -XEN_EFAULT);
    assert_int_equal(atomic_load(&f->d->shutdown_reason), -1);
    assert_int_equal(hc(f, __HYPERVISOR_sched_op, SCHEDOP_remote_shutdown, ARG, 0),
                     -XEN_EPERM);
    assert_int_equal(hc(f, __HYPERVISOR_sched_op, 99, ARG, 0), -XEN_ENOSYS);
}

/* A vCPU blocked in SCHEDOP_poll stays blocked while its domain is
 * paused, even when its timeout passes and its port fires: the toolstack
 * reads a paused domain's vCPUs as stopped, and they must stay so until
 * it runs again (a save once found one running through the end of its
 * hypercall and was refused). */
struct poll_thread {
    struct vcpu *v;
    atomic_bool done;
    long rc;
};

static void *poll_in_thread(void *arg)
{
    struct poll_thread *t = arg;
    t->rc = mem_hypercall(t->v, __HYPERVISOR_sched_op, SCHEDOP_poll, ARG, 0, 0, 0);
    atomic_store(&t->done, true);
    return NULL;
}

static void test_poll_stays_blocked_while_paused(void **state)
{
    struct fixture *f = *state;
    struct domain *d = mem_domain_create(9, 2, 4u << 20);
    assert_non_null(d);
    if (f->long_mode)
        mem_vcpu_long_mode(&d->vcpu[1]);
    /* One port, and a timeout (system time 1 ns) already past. */
    uint32_t port = 1;
    assert_int_equal(gmem_write(&d->mem, ARG + 0x100, &port, sizeof(port)), 0);
    if (f->long_mode) {
        struct sched_poll p = { .nr_ports = 1, .timeout = 1 };
        set_xen_guest_handle(p.ports, (evtchn_port_t *)(uintptr_t)(ARG + 0x100));
        assert_int_equal(gmem_write(&d->mem, ARG, &p, sizeof(p)), 0);
    } else {
        struct compat_sched_poll p = { .ports = ARG + 0x100, .nr_ports = 1, .timeout = 1 };
        assert_int_equal(gmem_write(&d->mem, ARG, &p, sizeof(p)), 0);
    }
    pthread_mutex_lock(&d->lock);
    d->pause.paused = true;
    pthread_mutex_unlock(&d->lock);

    struct poll_thread t = { .v = &d->vcpu[1] };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, poll_in_thread, &t), 0);
    /* Let the poll reach its wait first, however loaded the host (10 s at
     * most): what is tested is that it stays there, not how soon it got
     * there. */
    for (int i = 0; i < 10000; i++) {
        pthread_mutex_lock(&d->lock);
        bool blocked = d->vcpu[1].blocked;
        pthread_mutex_unlock(&d->lock);
        if (blocked || atomic_load(&t.done))
            break;
        usleep(1000);
    }
    /* The event condition fires now and then, as events and timers do. */
    for (int i = 0; i < 20; i++) {
        usleep(5000);
        pthread_mutex_lock(&d->lock);
        pthread_cond_broadcast(&d->event_cond);
        pthread_mutex_unlock(&d->lock);
    }
    assert_false(atomic_load(&t.done));
    pthread_mutex_lock(&d->lock);
    assert_true(d->vcpu[1].blocked);
    /* Running again: the poll returns, its timeout long past. */
    d->pause.paused = false;
    pthread_cond_broadcast(&d->event_cond);
    pthread_mutex_unlock(&d->lock);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(atomic_load(&t.done));
    assert_int_equal(t.rc, 0);
    assert_false(d->vcpu[1].blocked);
    mem_domain_destroy(d);
}

/* --- the exit table ----------------------------------------------------- */

static void test_exit_table(void **state)
{
    struct fixture *f = *state;
    struct vcpu *v = vcpu0(f);
    /* The hypercall page was filled by the MSR handler. */
    uint8_t stub[8];
    get(f, HCALL_PAGE_GPA + 32 * __HYPERVISOR_xen_version, stub, sizeof(stub));
    assert_int_equal(stub[0], 0xb8);
    assert_int_equal(stub[1], __HYPERVISOR_xen_version);
    assert_int_equal(stub[5], 0xe7);
    assert_int_equal(stub[6], XEN_HYPERCALL_PORT);
    assert_int_equal(f->d->shinfo_32bit, !f->long_mode);
    /* Reading it, a misaligned address or an unclaimed MSR is #GP. */
    uint64_t val = 0;
    assert_false(exits_msr(&f->d->exits, v, XEN_HYPERCALL_MSR, false, &val));
    val = HCALL_PAGE_GPA | 1;
    assert_false(exits_msr(&f->d->exits, v, XEN_HYPERCALL_MSR, true, &val));
    assert_false(exits_msr(&f->d->exits, v, 0x12345678, true, &val));

    /* Ports: the UART's scratch register keeps a byte, 0xe9 reads 0xe9,
     * an unclaimed port reads all ones. */
    uint8_t b = 0x42;
    exits_port_io(&f->d->exits, v, UART_BASE + 7, true, &b, 1, 1);
    b = 0;
    exits_port_io(&f->d->exits, v, UART_BASE + 7, false, &b, 1, 1);
    assert_int_equal(b, 0x42);
    exits_port_io(&f->d->exits, v, DEBUG_PORT, false, &b, 1, 1);
    assert_int_equal(b, 0xe9);
    uint32_t w = 0;
    exits_port_io(&f->d->exits, v, 0x80, false, (uint8_t *)&w, 4, 1);
    assert_int_equal(w, 0xffffffffu);
    /* A read of the hypercall port is no hypercall. */
    uint64_t calls = v->nr_hypercalls;
    exits_port_io(&f->d->exits, v, XEN_HYPERCALL_PORT, false, (uint8_t *)&w, 4, 1);
    assert_int_equal(v->nr_hypercalls, calls);

    /* One owner per port and MSR. */
    assert_int_equal(uart_register_exits(f->d), -EEXIST);
    assert_int_equal(hypercall_register_exits(f->d), -EEXIST);
    struct exits t = { 0 };
    assert_int_equal(exits_register_ports(&t, 0xfff0, 0x20, NULL, NULL), -EINVAL);
}

#define BOTH(fn) \
    cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&WIDTH_32), \
    cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&WIDTH_64)

/* A guest that reaches the hypercall port with `out %eax, %dx` (one byte,
 * DX = the port) instead of the stubs' `out %eax, $imm8` (two bytes): a
 * continuation must not rewind its RIP by two into the instruction before,
 * nor re-issue it with DX changed to the updated third argument. The
 * call completes in this one exit: every byte written, RAX = 0, RIP after
 * the `out`. (The buffer sits at 0x10005e so that DX, its low half, is
 * the port.) */
static void test_continuation_of_other_insn_form(void **state)
{
    struct fixture *f = *state;
    enum { INSN = 0x4000, BUF = 0x10005e, LEN = 40000 };
    ensure_ioloop();
    char log_path[] = "/tmp/test-xen-abi-XXXXXX";
    int logfd = serial_log_open(f, log_path);
    static char text[LEN];
    for (unsigned i = 0; i < sizeof(text); i++)
        text[i] = (char)('A' + i % 26);
    put(f, BUF, text, sizeof(text));
    const uint8_t insn[] = { 0xb0, 0xe7, 0xef };    /* mov $0xe7,%al; out %eax,%dx */
    put(f, INSN - 2, insn, sizeof(insn));

    struct platform_regs *r = &vcpu0(f)->pv->regs;
    memset(r, 0, sizeof(*r));
    r->rax = __HYPERVISOR_console_io;
    r->rip = INSN + 1;
    r->rdx = BUF;
    if (f->long_mode) {
        r->rdi = CONSOLEIO_write; r->rsi = LEN;
    } else {
        r->rbx = CONSOLEIO_write; r->rcx = LEN;
    }
    uint32_t eax = (uint32_t)r->rax;
    exits_port_io(&f->d->exits, vcpu0(f), (uint16_t)r->rdx, true,
                  (uint8_t *)&eax, 4, 1);
    assert_int_equal(r->rip, INSN + 1);
    assert_int_equal(r->rax, 0);

    serial_log_expect(f, logfd, log_path, text, sizeof(text));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_xen_version),
        BOTH(test_dispatch_errors),
        BOTH(test_address_wrap),
        BOTH(test_evtchn_loopback),
        BOTH(test_evtchn_bad_arguments),
        BOTH(test_evtchn_early_event),
        BOTH(test_global_virq_close),
        BOTH(test_backend_ports),
        BOTH(test_gnttab_setup_and_query),
        BOTH(test_long_hypercalls_continue),
        BOTH(test_continuation_of_other_insn_form),
        BOTH(test_add_to_physmap),
        BOTH(test_one_xen_page_per_frame),
        BOTH(test_shutdown_reasons),
        BOTH(test_poll_stays_blocked_while_paused),
        BOTH(test_exit_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
