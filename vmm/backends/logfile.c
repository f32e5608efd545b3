#include "logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int logfile_open_append(const char *path)
{
    /* Only a file this call creates gets LOGFILE_MODE: an existing path
     * may be /dev/null, a FIFO, or a file the admin gave its own mode, and
     * none of those is ours to chmod. A path that vanishes between the two
     * opens is tried again; one that keeps appearing and vanishing is not
     * worth more than a few tries. */
    for (int tries = 0; tries < 8; tries++) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC |
                      O_NOFOLLOW, LOGFILE_MODE);
        if (fd >= 0) {
            if (fchmod(fd, LOGFILE_MODE) < 0) {     /* whatever the umask */
                int e = errno;
                close(fd);
                return -e;
            }
            return fd;
        }
        if (errno != EEXIST)
            return -errno;
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0)
            return fd;
        if (errno != ENOENT)
            return -errno;
    }
    return -EAGAIN;
}

static int open_current(struct logfile *lf)
{
    lf->fd = logfile_open_append(lf->path);
    if (lf->fd < 0)
        return lf->fd;
    struct stat st;
    if (fstat(lf->fd, &st) < 0) {
        int e = errno;
        close(lf->fd);
        lf->fd = -1;
        return -e;
    }
    lf->size = (uint64_t)st.st_size;
    lf->is_regular = S_ISREG(st.st_mode);
    return 0;
}

int logfile_open(struct logfile *lf, const char *path, const struct log_limits *lim)
{
    *lf = (struct logfile){ .fd = -1, .lim = *lim };
    if (lf->lim.max_size < LOGFILE_MIN_SIZE)
        lf->lim.max_size = LOGFILE_MIN_SIZE;
    if (lf->lim.files < 1)
        lf->lim.files = 1;
    lf->path = strdup(path);
    if (!lf->path)
        return -ENOMEM;
    int rc = open_current(lf);
    if (rc < 0) {
        free(lf->path);
        lf->path = NULL;
    }
    return rc;
}

/* PATH.(files-1) goes, PATH.k becomes PATH.(k+1), PATH becomes PATH.1. */
static void rotate(struct logfile *lf)
{
    close(lf->fd);
    lf->fd = -1;
    char from[PATH_MAX + 16], to[PATH_MAX + 16];
    size_t n = sizeof(from);
    if (lf->lim.files == 1) {
        unlink(lf->path);
    } else {
        for (unsigned k = lf->lim.files - 1; k >= 1; k--) {
            snprintf(to, n, "%s.%u", lf->path, k);
            if (k == 1)
                snprintf(from, n, "%s", lf->path);
            else
                snprintf(from, n, "%s.%u", lf->path, k - 1);
            rename(from, to);
        }
    }
    if (open_current(lf) < 0)
        lf->fd = -1;
}

void logfile_write(struct logfile *lf, const void *buf, size_t n)
{
    const char *p = buf;
    if (lf->fd >= 0 && !lf->is_regular) {
        /* /dev/null, a FIFO, a tty: nothing on disk to cap, and rotating
         * would rename or unlink a node that is not ours. */
        (void)write_full(lf->fd, p, n);
        return;
    }
    while (n && lf->fd >= 0) {
        if (lf->size >= lf->lim.max_size)
            rotate(lf);
        if (lf->fd < 0)
            return;
        uint64_t room = lf->lim.max_size - lf->size;
        size_t k = n < room ? n : (size_t)room;
        if (write_full(lf->fd, p, k) < 0)
            return;         /* disk full: lose it rather than stall */
        lf->size += k;
        p += k;
        n -= k;
    }
}

void logfile_close(struct logfile *lf)
{
    if (lf->fd >= 0)
        close(lf->fd);
    lf->fd = -1;
    free(lf->path);
    lf->path = NULL;
}
