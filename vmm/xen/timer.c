#include "timer.h"
#include "domain.h"
#include "shinfo.h"

#include <errno.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "util.h"

/* Farther than any guest can mean (146 years): never, in effect. */
#define TIMER_NEVER_NS (1ull << 62)

int timer_init(struct vcpu *v)
{
    v->oneshot_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    v->periodic_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    return v->oneshot_fd < 0 || v->periodic_fd < 0 ? -errno : 0;
}

void timer_fini(struct vcpu *v)
{
    if (v->oneshot_fd >= 0)
        close(v->oneshot_fd);
    if (v->periodic_fd >= 0)
        close(v->periodic_fd);
    v->oneshot_fd = v->periodic_fd = -1;
}

static struct timespec ts_of(uint64_t ns)
{
    return (struct timespec){ .tv_sec = (time_t)(ns / 1000000000ull),
                              .tv_nsec = (long)(ns % 1000000000ull) };
}

uint64_t timer_monotonic_deadline(const struct domain *d, uint64_t deadline)
{
    /* From how far ahead the deadline is, not from boot_ns + deadline:
     * after a restore boot_ns may lie before CLOCK_MONOTONIC's zero. */
    uint64_t now = now_ns();
    uint64_t sys = now - d->boot_ns;
    if (deadline <= sys)
        return now;
    uint64_t ahead = deadline - sys;
    return ahead > TIMER_NEVER_NS ? now + TIMER_NEVER_NS : now + ahead;
}

void timer_set_oneshot(struct vcpu *v, uint64_t deadline_ns)
{
    struct itimerspec its = { 0 };
    v->oneshot_deadline = deadline_ns;
    if (deadline_ns) {
        its.it_value = ts_of(timer_monotonic_deadline(v->d, deadline_ns));
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
            its.it_value.tv_nsec = 1;
    }
    timerfd_settime(v->oneshot_fd, deadline_ns ? TFD_TIMER_ABSTIME : 0, &its, NULL);
}

static void arm_periodic(struct vcpu *v, uint64_t first_ns, uint64_t period_ns)
{
    struct itimerspec its = { 0 };
    v->periodic_ns = period_ns;
    if (period_ns) {
        its.it_value = ts_of(first_ns ? first_ns : 1);
        its.it_interval = ts_of(period_ns);
    }
    timerfd_settime(v->periodic_fd, 0, &its, NULL);
}

void timer_set_periodic(struct vcpu *v, uint64_t period_ns)
{
    arm_periodic(v, period_ns, period_ns);
}

void timer_restart_periodic(struct vcpu *v, uint64_t next_ns, uint64_t period_ns)
{
    arm_periodic(v, next_ns, period_ns);
}

uint64_t timer_periodic_next(const struct vcpu *v)
{
    struct itimerspec its;
    if (!v->periodic_ns || timerfd_gettime(v->periodic_fd, &its) < 0)
        return 0;
    return (uint64_t)its.it_value.tv_sec * 1000000000ull +
           (uint64_t)its.it_value.tv_nsec;
}

void timer_expired(struct vcpu *v, int fd)
{
    uint64_t n;
    if (read(fd, &n, sizeof(n)) != sizeof(n))
        return;
    if (fd == v->oneshot_fd)
        v->oneshot_deadline = 0;
    vcpu_update_time(v->d, v);
    evtchn_send_virq(v->d, v->id, VIRQ_TIMER);
}
