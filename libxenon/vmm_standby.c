/* See vmm_standby.h. */
#include "vmm_standby.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xenon/contract.h"

int vmm_standby_start(const struct xenon_paths *p, struct vmm_standby *sb)
{
    *sb = (struct vmm_standby){ 0, -1 };
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
        return -1;
    /* Its end without close-on-exec, for the exec alone (the monitor runs
     * no other thread that could exec meanwhile). */
    int pass = dup(pair[1]);
    close(pair[1]);
    if (pass < 0) {
        close(pair[0]);
        return -1;
    }
    char fd_s[16];
    snprintf(fd_s, sizeof(fd_s), "%d", pass);
    /* The room in which it shows its domain's command line (contract.h). */
    static char room[XENON_STANDBY_ROOM];
    if (!room[0])
        memset(room, ' ', sizeof(room) - 1);
    const char *argv[] = { p->vmm, "--standby", fd_s, room, NULL };
    /* As vmm_spawn starts a domain's VMM: posix_spawn, no signal blocked. */
    posix_spawnattr_t attr;
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    extern char **environ;
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], NULL, &attr, (char **)argv, environ);
    posix_spawnattr_destroy(&attr);
    close(pass);
    if (rc != 0) {
        close(pair[0]);
        errno = rc;
        return -1;
    }
    sb->pid = pid;
    sb->sock = pair[0];
    return 0;
}

int vmm_standby_hand(struct vmm_standby *sb, const char *const *argv, int n, int logfd,
                     int ready_fd, int go_fd, pid_t *pid_out)
{
    struct vmm_standby was = *sb;
    *sb = (struct vmm_standby){ 0, -1 };
    if (was.pid <= 0 || was.sock < 0 || n < 0) {
        if (was.sock >= 0)
            close(was.sock);
        errno = ESRCH;
        return -1;
    }
    struct xenon_standby_hdr h = { .magic = XENON_STANDBY_MAGIC, .nargs = (uint32_t)n };
    size_t len = sizeof(h);
    for (int i = 0; i < n; i++)
        len += strlen(argv[i]) + 1;
    char *msg = len <= XENON_STANDBY_MAX_MSG ? malloc(len) : NULL;
    int fds[XENON_STANDBY_MAX_FDS], nfds = 0;
    if (logfd >= 0) {
        fds[nfds++] = logfd;
        h.flags |= XENON_STANDBY_LOG;
    }
    fds[nfds++] = ready_fd;
    if (go_fd >= 0)
        fds[nfds++] = go_fd;
    h.nfds = (uint32_t)nfds;
    ssize_t sent = -1;
    if (msg) {
        memcpy(msg, &h, sizeof(h));
        char *t = msg + sizeof(h);
        for (int i = 0; i < n; i++) {
            size_t l = strlen(argv[i]) + 1;
            memcpy(t, argv[i], l);
            t += l;
        }
        char cbuf[CMSG_SPACE(XENON_STANDBY_MAX_FDS * sizeof(int))] = { 0 };
        struct iovec iov = { msg, len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                             .msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int)) };
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
        /* Never waits: the socket holds nothing else. A standby that died
         * gives EPIPE (its end is reaped by SIGCHLD as any child's). */
        while ((sent = sendmsg(was.sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT)) < 0 &&
               errno == EINTR)
            ;
    } else {
        errno = len > XENON_STANDBY_MAX_MSG ? E2BIG : ENOMEM;
    }
    int e = errno;
    free(msg);
    close(was.sock);
    if (sent != (ssize_t)len) {
        errno = sent < 0 ? e : EIO;
        return -1;
    }
    *pid_out = was.pid;
    return 0;
}

void vmm_standby_drop(struct vmm_standby *sb)
{
    if (sb->sock >= 0)
        close(sb->sock);
    *sb = (struct vmm_standby){ 0, -1 };
}
