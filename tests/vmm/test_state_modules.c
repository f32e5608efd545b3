/*
 * Saved state (state/state.h) of the modules beside the event channels:
 * grant tables ("gnttab"), shared info placement ("shinfo"), time and
 * timers ("timer"), vCPUs ("vcpu"). Each saves from a domain set up as a
 * guest would, loads into a fresh domain on the in-memory platform, and
 * compares; then damaged payloads are refused, one field at a time, with
 * the restoring domain left exactly as it was.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <xen/grant_table.h>
#include <xen/hvm/hvm_vcpu.h>
#include <xen/hvm/params.h>
#include <xen/xen.h>

#include "domain.h"
#include "gnttab.h"
#include "grant_map.h"
#include "hypercall.h"
#include "layout.h"
#include "mem_platform.h"
#include "state.h"
#include "timer.h"
#include "util.h"

#define RAM (4u << 20)
#define HOLE_GPA 0xfe000000ull          /* above RAM, below the MMIO hole */

static struct domain *fresh(void)
{
    struct domain *d = mem_domain_create(4, 2, RAM);
    assert_non_null(d);
    return d;
}

/* The payload of the record `name` in a stream. */
static const uint8_t *find_record(const struct state_buf *b, const char *name,
                                  size_t *len)
{
    size_t at = 0;
    while (at + 24 <= b->len) {
        uint32_t n;
        memcpy(&n, b->data + at + 20, 4);
        if (strcmp((const char *)b->data + at, name) == 0) {
            *len = n;
            return b->data + at + 24;
        }
        at += 24 + n;
    }
    fail_msg("no record %s", name);
    return NULL;
}

/* What a refused load must leave alone. */
struct fingerprint {
    struct gnttab gnttab;
    uint64_t shinfo_gpa, hypercall_page_gpa, boot_ns, boot_wallclock_ns;
    bool shinfo_32bit;
    uint8_t callback_vector;
    uint64_t hvm_param[HVM_NR_PARAMS];
    unsigned nr_regions;
    struct {
        uint64_t vcpu_info_gpa, oneshot, periodic;
        uint8_t upcall_vector;
        bool up, down, blocked;
        struct platform_vcpu_state st;
    } v[2];
};

static void take(struct domain *d, struct fingerprint *f)
{
    memset(f, 0, sizeof(*f));
    f->gnttab = d->gnttab;
    f->shinfo_gpa = d->shinfo_gpa;
    f->hypercall_page_gpa = d->hypercall_page_gpa;
    f->boot_ns = d->boot_ns;
    f->boot_wallclock_ns = d->boot_wallclock_ns;
    f->shinfo_32bit = d->shinfo_32bit;
    f->callback_vector = d->callback_vector;
    memcpy(f->hvm_param, d->hvm_param, sizeof(f->hvm_param));
    f->nr_regions = gmem_nr_regions(&d->mem);
    for (unsigned i = 0; i < 2; i++) {
        struct vcpu *v = &d->vcpu[i];
        f->v[i].vcpu_info_gpa = v->vcpu_info_gpa;
        f->v[i].oneshot = v->oneshot_deadline;
        f->v[i].periodic = v->periodic_ns;
        f->v[i].upcall_vector = v->upcall_vector;
        f->v[i].up = v->up;
        f->v[i].down = v->down;
        f->v[i].blocked = v->blocked;
        assert_int_equal(platform_get_vcpu_state(v, &f->v[i].st), 0);
    }
}

/* Load module `name`'s payload from `good`, with n bytes at off replaced
 * (and the payload cut by `cut` bytes), into a fresh domain prepared by
 * prep; on refusal the domain must be as it was. */
static int load_patched(const struct state_buf *good, const char *name,
                        size_t off, const void *bytes, size_t n, size_t cut,
                        void (*prep)(struct domain *))
{
    size_t len;
    const uint8_t *p = find_record(good, name, &len);
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, p, len);
    assert_true(off + n <= len && cut <= len);
    if (n)
        memcpy(copy + off, bytes, n);
    struct domain *b = fresh();
    if (prep)
        prep(b);
    struct fingerprint before, after;
    take(b, &before);
    int rc = state_find(name)->load(b, copy, len - cut);
    if (rc < 0) {
        take(b, &after);
        assert_memory_equal(&before, &after, sizeof(before));
    }
    mem_domain_destroy(b);
    free(copy);
    return rc;
}

#define REFUSED(...) assert_int_equal(load_patched(__VA_ARGS__), -EINVAL)

static uint32_t u32(uint32_t v) { return v; }

/* --- grant tables --------------------------------------------------------- */

static void grant_at(struct domain *d, grant_ref_t ref, uint32_t frame)
{
    grant_entry_v1_t *e = gnttab_entry(d, ref);
    assert_non_null(e);
    e->frame = frame;
    e->domid = 0;
    e->flags = GTF_permit_access;
}

static void test_gnttab(void **state)
{
    (void)state;
    struct domain *a = fresh();
    assert_int_equal(gnttab_map_frame(a, 0, 0x10000), 0);
    assert_int_equal(xen_page_place(a, HOLE_GPA), 0);
    assert_int_equal(gnttab_map_frame(a, 2, HOLE_GPA), 0);  /* frame 1 unplaced */
    grant_at(a, 5, 0x40);

    /* A mapping a backend still holds: the save is refused. */
    grant_handle_t handle;
    void *page;
    assert_int_equal(grant_map(&a->grants, 0, 5, true, &handle, &page), GNTST_okay);
    struct state_buf buf = { 0 };
    assert_int_equal(state_save(a, &buf), -EBUSY);
    state_buf_free(&buf);
    assert_int_equal(grant_unmap(&a->grants, handle), GNTST_okay);
    assert_int_equal(state_save(a, &buf), 0);

    struct domain *b = fresh();
    assert_int_equal(state_load(b, buf.data, buf.len), 0);
    assert_int_equal(b->gnttab.nr_frames, 3);
    assert_int_equal(b->gnttab.frame_gpa[0], 0x10000);
    assert_true(b->gnttab.frame_gpa[1] == NO_GPA);
    assert_int_equal(b->gnttab.frame_gpa[2], HOLE_GPA);
    assert_int_equal(gnttab_nr_entries(b), 3 * GNTTAB_ENTRIES_PER_FRAME);
    /* The hole's page exists again, and entries read where they were. */
    assert_non_null(gmem_find(&b->mem, HOLE_GPA));
    assert_ptr_equal(gnttab_entry(b, 5), gmem_ptr(&b->mem, 0x10000 + 5 * 8, 8));
    assert_null(gnttab_entry(b, GNTTAB_ENTRIES_PER_FRAME));  /* frame 1 */
    assert_non_null(gnttab_entry(b, 2 * GNTTAB_ENTRIES_PER_FRAME));
    mem_domain_destroy(b);
    mem_domain_destroy(a);

    assert_int_equal(load_patched(&buf, "gnttab", 0, NULL, 0, 0, NULL), 0);
    REFUSED(&buf, "gnttab", 0, NULL, 0, 1, NULL);               /* truncated */
    REFUSED(&buf, "gnttab", 0, NULL, 0, 8, NULL);               /* one frame short */
    REFUSED(&buf, "gnttab", 0, &(uint32_t){ 2 }, 4, 0, NULL);   /* v2: not served */
    REFUSED(&buf, "gnttab", 0, &(uint32_t){ 0 }, 4, 0, NULL);
    REFUSED(&buf, "gnttab", 4, &(uint32_t){ 0 }, 4, 0, NULL);   /* no frames */
    REFUSED(&buf, "gnttab", 4, &(uint32_t){ 2 }, 4, 0, NULL);   /* count != length */
    REFUSED(&buf, "gnttab", 8, &(uint32_t){ 1 }, 4, 0, NULL);   /* status frames in v1 */
    REFUSED(&buf, "gnttab", 12, &(uint32_t){ 1 }, 4, 0, NULL);  /* pad */
    uint64_t bad[] = { 0x10001, LAYOUT_SPECIAL_START, 1ull << 40, UINT64_MAX - 4095,
                       HOLE_GPA /* a duplicate of frame 2 */ };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        REFUSED(&buf, "gnttab", 16, &bad[i], 8, 0, NULL);
    state_buf_free(&buf);

    /* More frames than the restoring domain allows. */
    a = fresh();
    assert_int_equal(gnttab_map_frame(a, 40, 0x10000), 0);
    assert_int_equal(state_save(a, &buf), 0);
    mem_domain_destroy(a);
    b = fresh();
    gnttab_init(b, 8);
    size_t len;
    const uint8_t *p = find_record(&buf, "gnttab", &len);
    assert_int_equal(state_find("gnttab")->load(b, p, len), -EINVAL);
    assert_int_equal(b->gnttab.nr_frames, 1);
    mem_domain_destroy(b);
    state_buf_free(&buf);
}

/* --- shared info and vcpu_info placement ---------------------------------- */

#define SHINFO_GPA 0x20000ull
#define VCPU_INFO_GPA 0x21040ull

static void set_up_events(struct domain *a)
{
    assert_int_equal(xen_page_place(a, SHINFO_GPA), 0);
    a->shinfo_gpa = SHINFO_GPA;
    a->shinfo_32bit = true;
    a->hypercall_page_gpa = 0x3000;
    a->hvm_param[HVM_PARAM_CALLBACK_IRQ] =
        ((uint64_t)HVM_PARAM_CALLBACK_TYPE_VECTOR << 56) | 0xf3;
    a->callback_vector = 0xf3;
    a->hvm_param[HVM_PARAM_STORE_EVTCHN] = 7;
    a->vcpu[1].vcpu_info_gpa = VCPU_INFO_GPA;
    a->vcpu[1].upcall_vector = 0x30;
}

static void prep_grant_frame_at_shinfo(struct domain *b)
{
    assert_int_equal(gnttab_map_frame(b, 0, SHINFO_GPA), 0);
}

static void prep_store_pfn(struct domain *b)
{
    b->hvm_param[HVM_PARAM_STORE_PFN] = 0xfeffd;    /* the restoring VMM's */
}

static void test_shinfo(void **state)
{
    (void)state;
    struct domain *a = fresh();
    set_up_events(a);
    struct state_buf buf = { 0 };
    assert_int_equal(state_save(a, &buf), 0);
    struct domain *b = fresh();
    assert_int_equal(state_load(b, buf.data, buf.len), 0);
    assert_int_equal(b->shinfo_gpa, SHINFO_GPA);
    assert_true(b->shinfo_32bit);
    assert_int_equal(b->hypercall_page_gpa, 0x3000);
    assert_memory_equal(b->hvm_param, a->hvm_param, sizeof(a->hvm_param));
    assert_int_equal(b->callback_vector, 0xf3);     /* derived again */
    assert_true(b->vcpu[0].vcpu_info_gpa == NO_GPA);
    assert_int_equal(b->vcpu[1].vcpu_info_gpa, VCPU_INFO_GPA);
    assert_int_equal(b->vcpu[1].upcall_vector, 0x30);
    /* vCPU 1's vcpu_info is found where it was registered. */
    assert_ptr_equal(vcpu_info_ptr(b, &b->vcpu[1]), gmem_ptr(&b->mem, VCPU_INFO_GPA, 64));
    mem_domain_destroy(b);
    mem_domain_destroy(a);

    enum { HEAD = 24 + 8 * HVM_NR_PARAMS };
    size_t v1 = HEAD + 16;          /* vCPU 1's entry */
    assert_int_equal(load_patched(&buf, "shinfo", 0, NULL, 0, 0, NULL), 0);
    REFUSED(&buf, "shinfo", 0, NULL, 0, 16, NULL);              /* one vCPU short */
    REFUSED(&buf, "shinfo", 20, &(uint32_t){ 3 }, 4, 0, NULL);  /* vCPU count */
    REFUSED(&buf, "shinfo", 16, &(uint8_t){ 2 }, 1, 0, NULL);   /* layout */
    REFUSED(&buf, "shinfo", 17, &(uint8_t){ 1 }, 1, 0, NULL);   /* pad */
    uint64_t bad_shinfo[] = { SHINFO_GPA + 8, LAYOUT_SPECIAL_START, 1ull << 40 };
    for (unsigned i = 0; i < 3; i++)
        REFUSED(&buf, "shinfo", 0, &bad_shinfo[i], 8, 0, NULL);
    REFUSED(&buf, "shinfo", 0, NULL, 0, 0, prep_grant_frame_at_shinfo);
    uint64_t bad_hcall[] = { 0x3008, HOLE_GPA, LAYOUT_SPECIAL_START };
    for (unsigned i = 0; i < 3; i++)
        REFUSED(&buf, "shinfo", 8, &bad_hcall[i], 8, 0, NULL);
    /* A param the guest cannot set is the restoring VMM's. */
    REFUSED(&buf, "shinfo", 0, NULL, 0, 0, prep_store_pfn);
    uint64_t pfn = 0x1234;
    REFUSED(&buf, "shinfo", 24 + 8 * HVM_PARAM_CONSOLE_PFN, &pfn, 8, 0, NULL);
    uint64_t bad_vi[] = { 0x21fc8 /* crosses a page */, 0x21042 /* unaligned */,
                          HOLE_GPA, RAM, UINT64_MAX - 8 };
    for (unsigned i = 0; i < 5; i++)
        REFUSED(&buf, "shinfo", v1, &bad_vi[i], 8, 0, NULL);
    uint64_t same = VCPU_INFO_GPA;
    REFUSED(&buf, "shinfo", HEAD, &same, 8, 0, NULL);           /* shared by two */
    REFUSED(&buf, "shinfo", v1 + 8, &(uint8_t){ 0x0f }, 1, 0, NULL);
    REFUSED(&buf, "shinfo", v1 + 9, &(uint8_t){ 1 }, 1, 0, NULL);
    state_buf_free(&buf);
}

/* --- time and timers ------------------------------------------------------ */

#define MS 1000000ull

static void test_timer(void **state)
{
    (void)state;
    struct domain *a = fresh();
    /* A guest that has run for ten days, on a host whose monotonic clock
     * may have started later than that: system time must continue. */
    a->boot_ns = now_ns() - 10ull * 86400 * 1000000000ull;
    uint64_t sys = domain_system_time(a);
    timer_set_oneshot(&a->vcpu[0], sys + 2 * MS);
    timer_set_periodic(&a->vcpu[1], 10 * MS);
    struct state_buf buf = { 0 };
    assert_int_equal(state_save(a, &buf), 0);
    uint64_t wall_a = a->boot_wallclock_ns;

    struct domain *b = fresh();
    assert_int_equal(state_load(b, buf.data, buf.len), 0);
    /* Never backwards; the deadline is the same system time. */
    assert_true(domain_system_time(b) >= sys);
    assert_int_equal(b->vcpu[0].oneshot_deadline, sys + 2 * MS);
    assert_int_equal(b->vcpu[1].periodic_ns, 10 * MS);
    uint64_t next = timer_periodic_next(&b->vcpu[1]);
    assert_true(next > 0 && next <= 10 * MS);
    assert_int_equal(b->vcpu[1].oneshot_deadline, 0);
    /* The wallclock base moved with system time (same skew against the
     * host's real time, so about a's base). */
    assert_true(b->boot_wallclock_ns + 60ull * 1000000000ull > wall_a &&
                b->boot_wallclock_ns < wall_a + 60ull * 1000000000ull);
    /* And the timer fires on the new time base. */
    struct pollfd pfd = { .fd = b->vcpu[0].oneshot_fd, .events = POLLIN };
    assert_int_equal(poll(&pfd, 1, 20000), 1);
    uint64_t n;
    assert_int_equal(read(b->vcpu[0].oneshot_fd, &n, 8), 8);
    mem_domain_destroy(b);
    mem_domain_destroy(a);

    enum { V0 = 24, V1 = 24 + 32 };
    assert_int_equal(load_patched(&buf, "timer", 0, NULL, 0, 0, NULL), 0);
    REFUSED(&buf, "timer", 0, NULL, 0, 32, NULL);
    REFUSED(&buf, "timer", 16, &(uint32_t){ 1 }, 4, 0, NULL);   /* vCPU count */
    REFUSED(&buf, "timer", 20, &(uint32_t){ 1 }, 4, 0, NULL);   /* pad */
    REFUSED(&buf, "timer", 0, &(uint64_t){ 1ull << 63 }, 8, 0, NULL);
    REFUSED(&buf, "timer", 8, &(int64_t){ INT64_MIN }, 8, 0, NULL);
    REFUSED(&buf, "timer", 8, &(int64_t){ -(1ll << 62) }, 8, 0, NULL); /* before 1970 */
    REFUSED(&buf, "timer", V0, &(uint32_t){ 2 }, 4, 0, NULL);
    REFUSED(&buf, "timer", V0 + 4, &(uint32_t){ 1 }, 4, 0, NULL);
    REFUSED(&buf, "timer", V0 + 8, &(int64_t){ INT64_MIN }, 8, 0, NULL);
    REFUSED(&buf, "timer", V0 + 8, &(int64_t){ INT64_MAX }, 8, 0, NULL);
    REFUSED(&buf, "timer", V1 + 8, &(int64_t){ 5 }, 8, 0, NULL); /* not armed */
    REFUSED(&buf, "timer", V1 + 16, &(uint64_t){ 1000 }, 8, 0, NULL);
    REFUSED(&buf, "timer", V1 + 16, &(uint64_t){ 1ull << 51 }, 8, 0, NULL);
    REFUSED(&buf, "timer", V1 + 24, &(uint64_t){ 11 * MS }, 8, 0, NULL);
    REFUSED(&buf, "timer", V0 + 24, &(uint64_t){ 1 }, 8, 0, NULL); /* stopped */
    (void)u32;
    state_buf_free(&buf);
}

/* --- vCPUs ---------------------------------------------------------------- */

static void some_state(struct vcpu *v, unsigned seed)
{
    struct platform_vcpu_state *st = calloc(1, sizeof(*st));
    assert_non_null(st);
    assert_int_equal(platform_get_vcpu_state(v, st), 0);
    st->regs.rip = 0x100000 + seed;
    st->regs.rsp = 0x8000 + seed;
    st->regs.rax = 0x1234;
    st->cs = (struct platform_segment){ .selector = 0x10, .type = 0xb,
                                        .present = 1, .s = 1, .l = 1, .g = 1,
                                        .limit = 0xffffffff };
    st->ss = (struct platform_segment){ .selector = 0x18, .type = 0x3,
                                        .present = 1, .s = 1, .db = 1 };
    st->gdt = (struct platform_dtable){ 0x5000, 0x37 };
    st->cr0 = 0x80050033; st->cr3 = 0x1000; st->cr4 = 0x6a0; st->efer = 0xd01;
    st->apic_base = 0xfee00900;
    st->dr7 = 0x400;
    st->tsc = 123456789 + seed;
    st->nr_msrs = 2;
    st->msr[0].index = 0xc0000082; st->msr[0].value = 0xffffffff81000000ull;
    st->msr[1].index = 0x277;      st->msr[1].value = 0x0007040600070406ull;
    st->nr_xcrs = 1;
    st->xcrs[0].value = 7;
    st->events.interrupt_shadow = 1;
    st->events.nmi_masked = 1;
    st->mp_state = seed ? PLATFORM_MP_HALTED : PLATFORM_MP_RUNNABLE;
    st->lapic[0x20] = (uint8_t)seed;      /* APIC ID */
    st->xsave_len = 1024;
    for (unsigned i = 0; i < 1024; i++)
        st->xsave[i] = (uint8_t)(i * 7 + seed);
    assert_int_equal(platform_set_vcpu_state(v, st), 0);
    free(st);
}

static void test_vcpu(void **state)
{
    (void)state;
    struct domain *a = fresh();
    some_state(&a->vcpu[0], 0);
    some_state(&a->vcpu[1], 1);
    /* vCPU 1: initialised, not yet up; vCPU 0 blocked in SCHEDOP_block. */
    vcpu_hvm_context_t ctx = { .mode = VCPU_HVM_MODE_64B };
    ctx.cpu_regs.x86_64 = (struct vcpu_hvm_x86_64){
        .rip = 0x2000, .cr0 = 0x80000001, .cr4 = 0x20, .efer = 0x100 };
    a->vcpu[1].init_ctx = ctx;
    a->vcpu[1].has_init_ctx = true;
    a->vcpu[0].blocked = true;
    /* An upcall pending for vCPU 0 (its slot in shared info). */
    assert_int_equal(xen_page_place(a, SHINFO_GPA), 0);
    a->shinfo_gpa = SHINFO_GPA;
    a->hvm_param[HVM_PARAM_CALLBACK_IRQ] =
        ((uint64_t)HVM_PARAM_CALLBACK_TYPE_VECTOR << 56) | 0xf3;
    ((struct vcpu_info *)vcpu_info_ptr(a, &a->vcpu[0]))->evtchn_upcall_pending = 1;

    struct state_buf buf = { 0 };
    assert_int_equal(state_save(a, &buf), 0);
    struct domain *b = fresh();
    assert_int_equal(gmem_write(&b->mem, SHINFO_GPA, gmem_ptr(&a->mem, SHINFO_GPA, 4096),
                                4096), 0);      /* guest memory travels apart */
    assert_int_equal(state_load(b, buf.data, buf.len), 0);
    static struct platform_vcpu_state sa, sb;
    for (unsigned i = 0; i < 2; i++) {
        assert_int_equal(platform_get_vcpu_state(&a->vcpu[i], &sa), 0);
        assert_int_equal(platform_get_vcpu_state(&b->vcpu[i], &sb), 0);
        if (i == 0) {
            assert_int_equal(sa.regs.rax, 0x1234);
            assert_int_equal(sb.regs.rax, 0);   /* woken from the block */
            sa.regs.rax = 0;
        }
        assert_memory_equal(&sa, &sb, sizeof(sa));
    }
    assert_true(b->vcpu[0].up && !b->vcpu[1].up);
    assert_true(b->vcpu[1].has_init_ctx);
    assert_memory_equal(&b->vcpu[1].init_ctx, &ctx, sizeof(ctx));
    assert_false(b->vcpu[0].blocked);
    /* The pending upcall is raised again on the restored vCPU. */
    assert_int_equal(b->pvm->vcpu[0].callbacks, 1);
    mem_domain_destroy(b);
    mem_domain_destroy(a);

    size_t ctxsz = sizeof(vcpu_hvm_context_t);
    size_t st0 = 8 + 8 + ctxsz;                 /* vCPU 0's platform state */
    size_t v1 = st0 + offsetof(struct platform_vcpu_state, xsave) + 1024;
    size_t st1 = v1 + 8 + ctxsz;
#define ST(field) (st1 + offsetof(struct platform_vcpu_state, field))
    assert_int_equal(load_patched(&buf, "vcpu", 0, NULL, 0, 0, NULL), 0);
    REFUSED(&buf, "vcpu", 0, NULL, 0, 1, NULL);
    REFUSED(&buf, "vcpu", 0, NULL, 0, 1024, NULL);
    REFUSED(&buf, "vcpu", 0, &(uint32_t){ 3 }, 4, 0, NULL);
    REFUSED(&buf, "vcpu", 4, &(uint32_t){ 1 }, 4, 0, NULL);
    for (unsigned f = 0; f < 8; f++)                /* each flag, and pad */
        REFUSED(&buf, "vcpu", v1 + 8 + f - 8, &(uint8_t){ 2 }, 1, 0, NULL);
    REFUSED(&buf, "vcpu", v1 + 2, &(uint8_t){ 0 }, 1, 0, NULL); /* ctx without flag */
    REFUSED(&buf, "vcpu", 8 + 3, &(uint8_t){ 1 }, 1, 0, NULL);  /* start w/o ctx */
    REFUSED(&buf, "vcpu", v1 + 8, &(uint32_t){ 7 }, 4, 0, NULL); /* bad ctx mode */
    REFUSED(&buf, "vcpu", 8 + 1, &(uint8_t){ 1 }, 1, 0, NULL);  /* none left up */
    REFUSED(&buf, "vcpu", ST(cs.type), &(uint8_t){ 16 }, 1, 0, NULL);
    REFUSED(&buf, "vcpu", ST(ss.dpl), &(uint8_t){ 4 }, 1, 0, NULL);
    REFUSED(&buf, "vcpu", ST(tr.present), &(uint8_t){ 2 }, 1, 0, NULL);
    REFUSED(&buf, "vcpu", ST(nr_msrs), &(uint32_t){ PLATFORM_MAX_MSRS + 1 }, 4, 0, NULL);
    REFUSED(&buf, "vcpu", ST(msr[1].index), &(uint32_t){ 0xc0000082 }, 4, 0, NULL);
    REFUSED(&buf, "vcpu", ST(msr[1].index), &(uint32_t){ 0x10 }, 4, 0, NULL);
    REFUSED(&buf, "vcpu", ST(msr[0].pad), &(uint32_t){ 1 }, 4, 0, NULL);
    REFUSED(&buf, "vcpu", ST(nr_xcrs), &(uint32_t){ PLATFORM_MAX_XCRS + 1 }, 4, 0, NULL);
    REFUSED(&buf, "vcpu", ST(events.exception_nr), &(uint8_t){ 32 }, 1, 0, NULL);
    REFUSED(&buf, "vcpu", ST(events.nmi_pending), &(uint8_t){ 2 }, 1, 0, NULL);
    REFUSED(&buf, "vcpu", ST(events.sipi_vector), &(uint32_t){ 0x100 }, 4, 0, NULL);
    REFUSED(&buf, "vcpu", ST(mp_state), &(uint32_t){ 5 }, 4, 0, NULL);
    REFUSED(&buf, "vcpu", ST(xsave_len), &(uint32_t){ 100 }, 4, 0, NULL);
    REFUSED(&buf, "vcpu", ST(xsave_len), &(uint32_t){ 2048 }, 4, 0, NULL); /* past the end */
    REFUSED(&buf, "vcpu", ST(xsave_len), &(uint32_t){ PLATFORM_XSAVE_MAX + 1 }, 4, 0, NULL);
    REFUSED(&buf, "vcpu", ST(xsave_len), &(uint32_t){ 600 }, 4, 0, NULL); /* bytes left */
#undef ST
    state_buf_free(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gnttab),
        cmocka_unit_test(test_shinfo),
        cmocka_unit_test(test_timer),
        cmocka_unit_test(test_vcpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
