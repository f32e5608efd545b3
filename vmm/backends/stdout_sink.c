#include "stdout_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

static int fd = -1;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* A pipe or terminal is reopened through /proc as a new open file
 * description with O_NONBLOCK: setting the flag on descriptor 1 itself
 * would change the file our caller (a shell) shares with us. A regular
 * file is used as it is (it never blocks on a reader); anything else (a
 * socket cannot be reopened) gets O_NONBLOCK on descriptor 1. */
static void open_once(void)
{
    struct stat st;
    fd = STDOUT_FILENO;
    if (fstat(STDOUT_FILENO, &st) < 0 || S_ISREG(st.st_mode))
        return;
    if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
        int nb = open("/proc/self/fd/1", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (nb >= 0) {
            fd = nb;
            return;
        }
    }
    int fl = fcntl(STDOUT_FILENO, F_GETFL);
    if (fl >= 0)
        fcntl(STDOUT_FILENO, F_SETFL, fl | O_NONBLOCK);
}

int stdout_sink_fd(void)
{
    pthread_once(&once, open_once);
    return fd;
}

void stdout_sink_write(const void *buf, size_t n)
{
    int out = stdout_sink_fd();
    const char *p = buf;
    while (n) {
        ssize_t k = write(out, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return;         /* full (EAGAIN) or gone: drop the rest */
        p += k;
        n -= (size_t)k;
    }
}
