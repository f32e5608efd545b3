#include "timer.h"
#include "domain.h"
#include "shinfo.h"

#include <errno.h>
#include <sys/timerfd.h>
#include <unistd.h>

int timer_init(struct vcpu *v)
{
    v->oneshot_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    v->periodic_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    return v->oneshot_fd < 0 || v->periodic_fd < 0 ? -errno : 0;
}

static struct timespec ts_of(uint64_t ns)
{
    return (struct timespec){ .tv_sec = (time_t)(ns / 1000000000ull),
                              .tv_nsec = (long)(ns % 1000000000ull) };
}

void timer_set_oneshot(struct vcpu *v, uint64_t deadline_ns)
{
    struct itimerspec its = { 0 };
    if (deadline_ns) {
        uint64_t abs = v->d->boot_ns + deadline_ns;
        if (abs < v->d->boot_ns || abs == 0)
            abs = UINT64_MAX / 2;       /* absurd deadline: effectively never */
        its.it_value = ts_of(abs);
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
            its.it_value.tv_nsec = 1;
    }
    timerfd_settime(v->oneshot_fd, deadline_ns ? TFD_TIMER_ABSTIME : 0, &its, NULL);
}

void timer_set_periodic(struct vcpu *v, uint64_t period_ns)
{
    struct itimerspec its = { 0 };
    if (period_ns) {
        its.it_value = ts_of(period_ns);
        its.it_interval = ts_of(period_ns);
    }
    timerfd_settime(v->periodic_fd, 0, &its, NULL);
}

void timer_expired(struct vcpu *v, int fd)
{
    uint64_t n;
    if (read(fd, &n, sizeof(n)) != sizeof(n))
        return;
    vcpu_update_time(v->d, v);
    evtchn_send_virq(v->d, v->id, VIRQ_TIMER);
}
