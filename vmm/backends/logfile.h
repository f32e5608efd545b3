/*
 * A log file a guest writes into, capped and rotated so that no guest can
 * fill the host's disk: once the file would pass max_size bytes it becomes
 * PATH.1 (PATH.1 becomes PATH.2, ...; the oldest of `files` goes), and a
 * new PATH begins. All of a guest's logs together hold at most
 * max_size * files bytes. Created 0640 whatever the umask (logs may hold
 * what a guest prints; the admin's group may read them, no one else).
 * A path that already exists is appended to with its mode untouched, and
 * one that is not a regular file (/dev/null, a FIFO) is written as is:
 * never chmodded, capped or rotated.
 *
 * Writes block on the disk only (never on a reader), and are made by the
 * I/O thread, never a vCPU.
 */
#ifndef XENON_LOGFILE_H
#define XENON_LOGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xenon/contract.h"

#define LOGFILE_MODE 0640

struct log_limits {
    uint64_t max_size;      /* bytes per file, >= LOGFILE_MIN_SIZE */
    unsigned files;         /* files kept, the current one included, >= 1 */
};
#define LOGFILE_MIN_SIZE 4096
#define LOGFILE_MAX_FILES 100

struct logfile {
    char *path;
    int fd;
    uint64_t size;
    bool is_regular;        /* only a regular file is capped and rotated */
    struct log_limits lim;
};

/* Open path for appending: a file this creates gets LOGFILE_MODE whatever
 * the umask; an existing one (a device included) keeps its mode. The fd
 * (O_CLOEXEC) or a negative errno. */
int logfile_open_append(const char *path);
/* Open (append to) path; 0 or a negative errno. */
int logfile_open(struct logfile *lf, const char *path, const struct log_limits *lim);
/* Write all of buf, rotating as needed; what the disk refuses is lost. */
void logfile_write(struct logfile *lf, const void *buf, size_t n);
void logfile_close(struct logfile *lf);

#endif
