#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <time.h>
#include <stdio.h>
#include <unistd.h>

static const char *log_name = "xenon";
static FILE *log_file;
static enum log_level log_max = LOG_INFO;

void log_init(const char *name, FILE *file, enum log_level max)
{
    log_name = name;
    log_file = file;
    log_max = max;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    static const char *const tag[] = { "error", "warning", "info", "debug" };
    char line[1024];
    if (lvl > log_max)
        return;
    int n = snprintf(line, sizeof(line), "%s: %s: ", log_name, tag[lvl]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    FILE *f = log_file ? log_file : stderr;
    /* One fwrite per line keeps lines from different threads whole. */
    fwrite(line, 1, len, f);
    fflush(f);
}

int log_ratelimit_ok(struct log_ratelimit *rl, unsigned long long *suppressed)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned long long now = (unsigned long long)ts.tv_sec * 1000000000ull +
                             (unsigned long long)ts.tv_nsec;
    int ok;
    pthread_mutex_lock(&lock);
    if (rl->window_start_ns == 0 ||
        now - rl->window_start_ns >= LOG_WINDOW_S * 1000000000ull) {
        rl->window_start_ns = now;
        rl->count = 0;
    }
    ok = rl->count < LOG_BURST;
    if (ok) {
        rl->count++;
        *suppressed = rl->suppressed;
        rl->suppressed = 0;
    } else {
        rl->suppressed++;
    }
    pthread_mutex_unlock(&lock);
    return ok;
}
