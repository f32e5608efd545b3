/* instance: one daemon per data directory, pid file and socket (see
 * instance.h). */
#include "instance.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static int dir_fd = -1, pid_fd = -1;
static char *pid_path;

/* To the terminal of whoever started us, and to the log if it is a file. */
static void refuse(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "xenon-xenstored: %s\n", msg);
    log_err("%s", msg);
}

static void mkdir_parent(const char *path)
{
    char *dir = strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash && slash != dir) {
        *slash = '\0';
        mkdir_p(dir);
    }
    free(dir);
}

int instance_lock_dir(const char *dir)
{
    if (mkdir_p(dir) < 0) {
        refuse("cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) {
        refuse("cannot open %s: %s", dir, strerror(errno));
        return -1;
    }
    if (flock(dir_fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            refuse("data directory %s is in use by another xenon-xenstored: "
                   "not starting", dir);
        else
            refuse("cannot lock %s: %s", dir, strerror(errno));
        close(dir_fd);
        dir_fd = -1;
        return -1;
    }
    return 0;
}

/* The pid recorded in fd's file, or 0. */
static long recorded_pid(int fd)
{
    char buf[32] = { 0 };
    if (pread(fd, buf, sizeof(buf) - 1, 0) <= 0)
        return 0;
    return strtol(buf, NULL, 10);
}

int instance_lock_pidfile(const char *path)
{
    mkdir_parent(path);
    /* The file may be unlinked by its exiting owner between our open and
     * our lock: we would then hold a lock on a file nobody else sees.
     * Retry until the locked file is the one at path. */
    for (int tries = 0; tries < 8; tries++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            refuse("cannot open pid file %s: %s", path, strerror(errno));
            return -1;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            int e = errno;
            long pid = recorded_pid(fd);
            close(fd);
            if (e == EWOULDBLOCK)
                refuse("another xenon-xenstored (pid %ld) holds the pid "
                       "file %s: not starting", pid, path);
            else
                refuse("cannot lock pid file %s: %s", path, strerror(e));
            return -1;
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino) {
            pid_fd = fd;
            pid_path = strdup(path);
            return 0;
        }
        close(fd);
    }
    refuse("pid file %s keeps changing: not starting", path);
    return -1;
}

int instance_write_pid(pid_t pid)
{
    if (pid_fd < 0)
        return 0;
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)pid);
    if (ftruncate(pid_fd, 0) < 0 || pwrite(pid_fd, buf, (size_t)n, 0) != n) {
        log_warn("cannot write pid file %s: %m", pid_path);
        return -1;
    }
    return 0;
}

void instance_remove_pidfile(void)
{
    if (pid_fd < 0)
        return;
    unlink(pid_path);
    close(pid_fd);
    free(pid_path);
    pid_fd = -1;
    pid_path = NULL;
}

int instance_check_socket(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path))
        return 0;               /* conn_listen reports it */
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    /* Connected, or a full backlog (EAGAIN): someone is listening. A stale
     * socket file refuses (ECONNREFUSED) and may be replaced. */
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    int e = errno;
    close(fd);
    if (rc == 0 || e == EAGAIN || e == EINPROGRESS) {
        refuse("a daemon is already serving %s: not starting", path);
        return -1;
    }
    return 0;
}
