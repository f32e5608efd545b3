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

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
