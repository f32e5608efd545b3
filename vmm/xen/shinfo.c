#include "shinfo.h"
#include "dirty.h"
#include "domain.h"
#include "platform.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>
#include <xen/foreign/x86_32.h>

#include "util.h"

#define MSR_IA32_TSC 0x10

static uint8_t *shinfo_host(struct domain *d)
{
    return gmem_ptr(&d->mem, d->shinfo_gpa, GMEM_PAGE_SIZE);
}

/* The shared info page, for a write by us: noted in the VMM's dirty log
 * (memory/dirty.h), which KVM's does not cover. */
static uint8_t *shinfo_host_w(struct domain *d)
{
    uint8_t *s = shinfo_host(d);
    if (s)
        gmem_mark_dirty(&d->mem, d->shinfo_gpa, GMEM_PAGE_SIZE);
    return s;
}

/* Where vCPU v's vcpu_info lies (in shared info or placed by the guest). */
static uint64_t vcpu_info_gpa(const struct domain *d, const struct vcpu *v)
{
    return v->vcpu_info_gpa != NO_GPA
        ? v->vcpu_info_gpa
        : d->shinfo_gpa + (uint64_t)v->id * sizeof(struct vcpu_info);
}

/* v's vcpu_info for a write by us (noted as shinfo_host_w notes). */
static uint8_t *vcpu_info_w(struct domain *d, const struct vcpu *v)
{
    uint8_t *vi = vcpu_info_ptr(d, v);
    if (vi)
        gmem_mark_dirty(&d->mem, vcpu_info_gpa(d, v), sizeof(struct vcpu_info));
    return vi;
}

static size_t pending_off(const struct domain *d)
{
    return d->shinfo_32bit ? offsetof(struct shared_info_x86_32, evtchn_pending)
                           : offsetof(struct shared_info, evtchn_pending);
}

static size_t mask_off(const struct domain *d)
{
    return d->shinfo_32bit ? offsetof(struct shared_info_x86_32, evtchn_mask)
                           : offsetof(struct shared_info, evtchn_mask);
}

static size_t sel_off(const struct domain *d)
{
    return d->shinfo_32bit ? offsetof(struct vcpu_info_x86_32, evtchn_pending_sel)
                           : offsetof(struct vcpu_info, evtchn_pending_sel);
}

static unsigned word_bits(const struct domain *d)
{
    return d->shinfo_32bit ? 32 : 64;
}

/* Little-endian bitmaps: byte-wide atomics equal word-wide ones. */
static bool test_and_set(uint8_t *base, unsigned bit)
{
    uint8_t m = (uint8_t)(1u << (bit % 8));
    return __atomic_fetch_or(base + bit / 8, m, __ATOMIC_SEQ_CST) & m;
}

static bool test_bit(const uint8_t *base, unsigned bit)
{
    return __atomic_load_n(base + bit / 8, __ATOMIC_SEQ_CST) & (1u << (bit % 8));
}

static void clear_bit(uint8_t *base, unsigned bit)
{
    __atomic_fetch_and(base + bit / 8, (uint8_t)~(1u << (bit % 8)),
                       __ATOMIC_SEQ_CST);
}

void *vcpu_info_ptr(struct domain *d, const struct vcpu *v)
{
    if (v->vcpu_info_gpa != NO_GPA)
        return gmem_ptr(&d->mem, v->vcpu_info_gpa, sizeof(struct vcpu_info));
    if (d->shinfo_gpa == NO_GPA || v->id >= XEN_LEGACY_MAX_VCPUS)
        return NULL;
    return shinfo_host(d) + (size_t)v->id * sizeof(struct vcpu_info);
}

/* Selector bit and upcall flag; true if the upcall became pending. */
static bool raise_upcall(struct domain *d, uint32_t port, struct vcpu *v)
{
    uint8_t *vi = vcpu_info_w(d, v);
    if (!vi)
        return false;
    if (test_and_set(vi + sel_off(d), port / word_bits(d)))
        return false;
    return !test_and_set(vi + offsetof(struct vcpu_info, evtchn_upcall_pending), 0);
}

bool shinfo_mark_pending(struct domain *d, uint32_t port, struct vcpu *v)
{
    uint8_t *s = shinfo_host_w(d);
    if (!s || test_and_set(s + pending_off(d), port))
        return false;
    if (test_bit(s + mask_off(d), port))
        return false;
    return raise_upcall(d, port, v);
}

bool shinfo_unmask(struct domain *d, uint32_t port, struct vcpu *v)
{
    uint8_t *s = shinfo_host_w(d);
    if (!s)
        return false;
    clear_bit(s + mask_off(d), port);
    if (!test_bit(s + pending_off(d), port))
        return false;
    return raise_upcall(d, port, v);
}

void shinfo_clear_pending(struct domain *d, uint32_t port)
{
    uint8_t *s = d->shinfo_gpa == NO_GPA ? NULL : shinfo_host_w(d);
    if (s)
        clear_bit(s + pending_off(d), port);
    d->evtchn.early_pending[port / 8] &= (uint8_t)~(1u << (port % 8));
}

bool shinfo_test_pending(struct domain *d, uint32_t port)
{
    uint8_t *s = shinfo_host(d);
    return s && test_bit(s + pending_off(d), port);
}

bool vcpu_upcall_pending(struct domain *d, const struct vcpu *v)
{
    const uint8_t *vi = vcpu_info_ptr(d, v);
    return vi && __atomic_load_n(vi + offsetof(struct vcpu_info,
                                               evtchn_upcall_pending),
                                 __ATOMIC_SEQ_CST);
}

/* --- time --------------------------------------------------------------- */

int time_init(struct domain *d)
{
    int rc = platform_tsc_khz(d, &d->tsc_khz);
    if (rc < 0)
        return rc;
    if (d->tsc_khz == 0)
        return -EINVAL;

    uint64_t guest_tsc;
    uint64_t before = __rdtsc();
    rc = platform_get_msr(&d->vcpu[0], MSR_IA32_TSC, &guest_tsc);
    if (rc < 0)
        return rc;
    uint64_t after = __rdtsc();
    d->guest_tsc_offset = (int64_t)(guest_tsc - (before + (after - before) / 2));

    /* pvclock scale: ns = ((tsc << shift) * mul) >> 32, with the scaled
     * frequency in (1 GHz, 2 GHz] so that mul keeps 31-32 bits. */
    uint64_t hz = d->tsc_khz * 1000;
    int shift = 0;
    uint64_t scaled = hz;
    while (scaled <= 1000000000ull) { scaled <<= 1; shift++; }
    while (scaled > 2000000000ull) { scaled >>= 1; shift--; }
    d->tsc_shift = (int8_t)shift;
    d->tsc_mul = (uint32_t)((1000000000ull << 32) / scaled);

    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    d->boot_ns = now_ns();
    d->boot_wallclock_ns = (uint64_t)rt.tv_sec * 1000000000ull +
                           (uint64_t)rt.tv_nsec;
    return 0;
}

uint64_t domain_system_time(const struct domain *d)
{
    return now_ns() - d->boot_ns;
}

/* The host TSC and the system time as one instant: the clock read
 * between two TSC reads, retried while a preemption (a loaded host) put
 * more than ~50 us between them. A pair taken across a preemption would
 * put the guest's time ahead by as long as it lasted, and the next update
 * would take it back. */
static void sample_time(const struct domain *d, uint64_t *tsc, uint64_t *sys)
{
    uint64_t window = d->tsc_khz / 20;          /* 50 us of ticks */
    for (unsigned tries = 0;; tries++) {
        uint64_t t0 = __rdtsc();
        *sys = domain_system_time(d);
        uint64_t t1 = __rdtsc();
        *tsc = t0 + (t1 - t0) / 2;
        if (t1 - t0 <= window || tries == 8)
            return;
    }
}

static void write_time(struct domain *d, struct vcpu_time_info *t)
{
    uint64_t tsc, sys;
    sample_time(d, &tsc, &sys);
    uint32_t ver = t->version;
    __atomic_store_n(&t->version, (ver | 1) + 0, __ATOMIC_RELEASE);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    t->tsc_timestamp = tsc + (uint64_t)d->guest_tsc_offset;
    t->system_time = sys;
    t->tsc_to_system_mul = d->tsc_mul;
    t->tsc_shift = d->tsc_shift;
    t->flags = XEN_PVCLOCK_TSC_STABLE_BIT;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    __atomic_store_n(&t->version, (ver | 1) + 1, __ATOMIC_RELEASE);
}

void vcpu_update_time(struct domain *d, struct vcpu *v)
{
    uint8_t *vi = vcpu_info_w(d, v);
    if (vi)
        write_time(d, (struct vcpu_time_info *)(vi + offsetof(struct vcpu_info, time)));
}

void shinfo_update_time(struct domain *d)
{
    uint8_t *s = d->shinfo_gpa == NO_GPA ? NULL : shinfo_host_w(d);
    if (!s)
        return;
    uint64_t sec = d->boot_wallclock_ns / 1000000000ull;
    uint32_t nsec = (uint32_t)(d->boot_wallclock_ns % 1000000000ull);
    uint32_t *ver, *wsec, *wnsec;
    if (d->shinfo_32bit) {
        struct shared_info_x86_32 *si = (void *)s;
        ver = &si->wc_version; wsec = &si->wc_sec; wnsec = &si->wc_nsec;
        si->arch.wc_sec_hi = (uint32_t)(sec >> 32);
    } else {
        struct shared_info *si = (void *)s;
        ver = &si->wc_version; wsec = &si->wc_sec; wnsec = &si->wc_nsec;
        si->wc_sec_hi = (uint32_t)(sec >> 32);
    }
    uint32_t v0 = *ver;
    __atomic_store_n(ver, (v0 | 1) + 0, __ATOMIC_RELEASE);
    *wsec = (uint32_t)sec;
    *wnsec = nsec;
    __atomic_store_n(ver, (v0 | 1) + 1, __ATOMIC_RELEASE);
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        vcpu_update_time(d, &d->vcpu[i]);
}
