/* qemu-img as a child of a call (qemu_img.h). */
#include "qemu_img.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qemu_img_progress.h"
#include "tasks.h"

extern char **environ;

/* Run qemu-img with argv and wait; its last line of output in err. A
 * task.cancel meanwhile kills it (*cancelled). */
/* Append n (< cap) bytes to the last-output buffer out (len *used, size
 * cap), keeping only its end: the error line comes after any progress. */
static void keep_tail(char *out, size_t cap, size_t *used, const char *b, size_t n)
{
    if (*used + n > cap - 1) {
        size_t drop = *used + n - (cap - 1);
        memmove(out, out + drop, *used - drop);
        *used -= drop;
    }
    memcpy(out + *used, b, n);
    *used += n;
}

bool qemu_img_run(const struct call *c, char **argv, double lo, double hi, char *err,
                  size_t errn, bool *cancelled)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        snprintf(err, errn, "pipe: %s", strerror(errno));
        return false;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, "qemu-img", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    char out[2048], chunk[512];     /* a chunk is smaller than out */
    size_t n = 0;
    struct qimg_progress prog = { .ntail = 0 };
    while (rc == 0) {
        struct pollfd pf = { .fd = pfd[0], .events = POLLIN };
        int pr = poll(&pf, 1, 200);
        if (pr == 0) {
            if (!*cancelled && task_cancel_requested(c)) {
                kill(pid, SIGKILL);
                *cancelled = true;
            }
            continue;
        }
        ssize_t r = pr < 0 ? -1 : read(pfd[0], chunk, sizeof(chunk));
        if (r == 0 || (r < 0 && errno != EINTR))
            break;
        if (r > 0) {
            double pct;
            if (qimg_progress_feed(&prog, chunk, (size_t)r, &pct))
                task_progress(c, lo + (hi - lo) * pct / 100);
            keep_tail(out, sizeof(out), &n, chunk, (size_t)r);
        }
    }
    out[n] = 0;
    close(pfd[0]);
    int st = 1;
    if (rc == 0)
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
    if (rc == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return true;
    /* the last line: progress figures end theirs with \r */
    for (char *p = out; (p = strchr(p, '\r'));)
        *p = '\n';
    char *nl;
    while ((nl = strrchr(out, '\n')) && !nl[1])
        *nl = 0;
    const char *last = strrchr(out, '\n');
    snprintf(err, errn, "qemu-img: %s", rc ? strerror(rc) : last ? last + 1 : out);
    return false;
}
