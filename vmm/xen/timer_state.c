/*
 * Saving and loading time (state/state.h): the domain's time base and
 * each vCPU's single-shot and periodic timers.
 *
 * Everything is relative, so a restore on another host, whose
 * CLOCK_MONOTONIC and CLOCK_REALTIME have nothing to do with this one's,
 * works: the record holds the Xen system time at the save, and on load the
 * restoring domain's system time continues from there (time the domain
 * spent saved does not pass for the guest: system time never runs
 * backwards and never jumps). The wallclock is kept as the guest's skew
 * against the host's real time, so after a restore it again reads the
 * real time plus the same skew. Timers are kept as "deadline minus now"
 * (negative: overdue, it fires at once on restore) and as the time to the
 * periodic timer's next tick.
 *
 * The timers' VIRQ_TIMER bindings are event channels and travel in the
 * "evtchn" record. The guest TSC and the pvclock's TSC offset belong to
 * the vCPUs ("vcpu" record); the time fields in shared info are
 * republished here from the new base.
 *
 * Payload, version 1:
 *     uint64_t system_time_ns      < 2^62
 *     int64_t  wallclock_skew_ns   guest wallclock minus host real time
 *     uint32_t nr_vcpus            the restoring domain's
 *     uint32_t pad                 0
 *     then per vCPU:
 *     uint32_t oneshot_armed       0 or 1
 *     uint32_t pad                 0
 *     int64_t  oneshot_in_ns       deadline - system time (0 if not armed)
 *     uint64_t periodic_ns         0 (stopped) or 1 ms .. 2^50 ns
 *     uint64_t periodic_next_ns    0 .. periodic_ns (0 if stopped)
 */
#include "domain.h"
#include "shinfo.h"
#include "state.h"
#include "timer.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "util.h"

#define MAX_SYSTEM_TIME (1ll << 62)
#define PERIOD_MIN 1000000ull           /* VCPUOP_set_periodic_timer's */
#define PERIOD_MAX (1ull << 50)

struct timer_state_head {
    uint64_t system_time_ns;
    int64_t wallclock_skew_ns;
    uint32_t nr_vcpus;
    uint32_t pad;
};
_Static_assert(sizeof(struct timer_state_head) == 24, "record layout");

struct timer_state_vcpu {
    uint32_t oneshot_armed;
    uint32_t pad;
    int64_t oneshot_in_ns;
    uint64_t periodic_ns;
    uint64_t periodic_next_ns;
};
_Static_assert(sizeof(struct timer_state_vcpu) == 32, "record layout");

static uint64_t realtime_ns(void)
{
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    return (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec;
}

static int timer_save(struct domain *d, struct state_buf *out)
{
    uint64_t sys = domain_system_time(d);
    uint64_t real = realtime_ns();
    struct timer_state_head h = {
        .system_time_ns = sys,
        .wallclock_skew_ns = (int64_t)(d->boot_wallclock_ns + sys - real),
        .nr_vcpus = d->nr_vcpus,
    };
    int rc = state_put(out, &h, sizeof(h));
    for (unsigned i = 0; i < d->nr_vcpus && rc == 0; i++) {
        const struct vcpu *v = &d->vcpu[i];
        struct timer_state_vcpu t = {
            .oneshot_armed = v->oneshot_deadline != 0,
            .oneshot_in_ns = v->oneshot_deadline ? (int64_t)(v->oneshot_deadline - sys) : 0,
            .periodic_ns = v->periodic_ns,
        };
        if (t.periodic_ns) {
            uint64_t next = timer_periodic_next(v);
            t.periodic_next_ns = next < t.periodic_ns ? next : t.periodic_ns;
        }
        rc = state_put(out, &t, sizeof(t));
    }
    return rc;
}

static bool vcpu_ok(const struct timer_state_vcpu *t, uint64_t sys)
{
    if (t->oneshot_armed > 1 || t->pad)
        return false;
    if (!t->oneshot_armed ? t->oneshot_in_ns != 0
                          : t->oneshot_in_ns > MAX_SYSTEM_TIME ||
                                t->oneshot_in_ns <= -(int64_t)sys)
        return false;           /* a deadline at or before system time 0 */
    if (t->periodic_ns == 0)
        return t->periodic_next_ns == 0;
    return t->periodic_ns >= PERIOD_MIN && t->periodic_ns <= PERIOD_MAX &&
           t->periodic_next_ns <= t->periodic_ns;
}

static int timer_load(struct domain *d, const uint8_t *p, size_t len)
{
    struct timer_state_head h;
    if (len < sizeof(h))
        return -EINVAL;
    memcpy(&h, p, sizeof(h));
    if (h.nr_vcpus != d->nr_vcpus || h.pad ||
        len != sizeof(h) + (size_t)h.nr_vcpus * sizeof(struct timer_state_vcpu))
        return -EINVAL;
    if (h.system_time_ns >= (uint64_t)MAX_SYSTEM_TIME ||
        h.wallclock_skew_ns > MAX_SYSTEM_TIME || h.wallclock_skew_ns < -MAX_SYSTEM_TIME)
        return -EINVAL;
    uint64_t real = realtime_ns();
    /* The wallclock at system time 0 must not lie before 1970. */
    int64_t base = (int64_t)(real - h.system_time_ns) + h.wallclock_skew_ns;
    if (real > (uint64_t)MAX_SYSTEM_TIME || base < 0)
        return -EINVAL;
    struct timer_state_vcpu t[MAX_VCPUS];
    memcpy(t, p + sizeof(h), h.nr_vcpus * sizeof(t[0]));
    for (uint32_t i = 0; i < h.nr_vcpus; i++)
        if (!vcpu_ok(&t[i], h.system_time_ns))
            return -EINVAL;

    d->boot_ns = now_ns() - h.system_time_ns;   /* may wrap: differences hold */
    d->boot_wallclock_ns = (uint64_t)base;
    for (uint32_t i = 0; i < h.nr_vcpus; i++) {
        struct vcpu *v = &d->vcpu[i];
        timer_set_oneshot(v, t[i].oneshot_armed
                                 ? h.system_time_ns + (uint64_t)t[i].oneshot_in_ns : 0);
        timer_restart_periodic(v, t[i].periodic_next_ns, t[i].periodic_ns);
    }
    shinfo_update_time(d);
    return 0;
}

/* Time moves on between two saves: system time must not have gone back,
 * and every deadline is the same system time. */
static bool timer_same(const uint8_t *a, const uint8_t *b, size_t len)
{
    struct timer_state_head ha, hb;
    if (len < sizeof(ha))
        return false;
    memcpy(&ha, a, sizeof(ha));
    memcpy(&hb, b, sizeof(hb));
    if (hb.system_time_ns < ha.system_time_ns || ha.nr_vcpus != hb.nr_vcpus ||
        len != sizeof(ha) + (size_t)ha.nr_vcpus * sizeof(struct timer_state_vcpu))
        return false;
    for (uint32_t i = 0; i < ha.nr_vcpus; i++) {
        struct timer_state_vcpu ta, tb;
        memcpy(&ta, a + sizeof(ha) + i * sizeof(ta), sizeof(ta));
        memcpy(&tb, b + sizeof(hb) + i * sizeof(tb), sizeof(tb));
        if (ta.oneshot_armed != tb.oneshot_armed || ta.periodic_ns != tb.periodic_ns ||
            (ta.oneshot_armed && ha.system_time_ns + (uint64_t)ta.oneshot_in_ns !=
                                     hb.system_time_ns + (uint64_t)tb.oneshot_in_ns))
            return false;
    }
    return true;
}

STATE_MODULE(timer_state) = {
    .name = "timer", .version = 1, .save = timer_save, .load = timer_load,
    .same = timer_same,
};
