/* Logging for Xenon programs: one line per message, to stderr or a file.
 * Messages carry the program name given to log_init(). */
#ifndef XENON_LOG_H
#define XENON_LOG_H

#include <stdio.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* name prefixes every line; file may be NULL for stderr. Not thread-safe;
 * call once at start-up. Logging itself is thread-safe (one write per line). */
void log_init(const char *name, FILE *file, enum log_level max);
void log_msg(enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Rate limiting for lines that someone else (a guest, a client) can make
 * us print: each call site may print LOG_BURST lines per LOG_WINDOW_S
 * seconds; what it suppresses is counted and reported with its next line.
 * Thread-safe. */
#define LOG_BURST 10
#define LOG_WINDOW_S 60
struct log_ratelimit {
    unsigned long long window_start_ns;
    unsigned count;
    unsigned long long suppressed;
};
/* Whether the caller may print now; *suppressed gets the number of lines
 * dropped since the last one printed (then reset). */
int log_ratelimit_ok(struct log_ratelimit *rl, unsigned long long *suppressed);

#define log_limited(lvl, fmt, ...)                                            \
    do {                                                                      \
        static struct log_ratelimit rl_;                                      \
        unsigned long long dropped_;                                          \
        if (log_ratelimit_ok(&rl_, &dropped_)) {                              \
            if (dropped_)                                                     \
                log_msg(lvl, "(%llu similar lines suppressed)", dropped_);     \
            log_msg(lvl, fmt, ##__VA_ARGS__);                                 \
        }                                                                     \
    } while (0)

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
