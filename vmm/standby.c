/* See standby.h. The monitor is the peer: it is trusted as much as the
 * command line it replaces, but the message is still checked whole before
 * anything in it is used. */
#include "standby.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"
#include "xenon/contract.h"

/* Options a message may carry: far more than vmm_spawn ever passes. */
#define STANDBY_MAX_ARGS 256

/* What the command line made from a hand-over points into, kept for the
 * process's life and reachable from here (LeakSanitizer's exit check
 * would take memory only main()'s argv named for a leak). A later
 * hand-over (the unit test's) lets the earlier one go. */
static struct {
    char *buf, **nv, *fdtext, *text;
} kept;

static void keep(char *buf, char **nv, char *fdtext)
{
    free(kept.buf);
    free(kept.nv);
    free(kept.fdtext);
    free(kept.text);
    kept.buf = buf;
    kept.nv = nv;
    kept.fdtext = fdtext;
    kept.text = NULL;
}

int standby_index(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--standby"))
            return i;
    }
    return 0;
}

static int parse_fd(const char *s)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : -1;
    return s && !errno && end != s && !*end && v >= 0 && v <= INT32_MAX ? (int)v : -1;
}

/* One message: its length, with its descriptors in fds[] (*nfds), or -1. */
static ssize_t receive(int sock, char *buf, size_t cap, int *fds, unsigned *nfds)
{
    char cbuf[CMSG_SPACE(XENON_STANDBY_MAX_FDS * sizeof(int))];
    struct iovec iov = { buf, cap };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
    ssize_t n;
    while ((n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    *nfds = 0;
    for (struct cmsghdr *c = n >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*nfds < XENON_STANDBY_MAX_FDS)
                fds[(*nfds)++] = fd;
            else
                close(fd);
        }
    }
    /* Cut short (a message or its descriptors): not the one that was sent. */
    if (n >= 0 && (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
        n = -1;
    return n;
}

/* Show the domain's command line in /proc/PID/cmdline (ps, and the tests
 * that find a domain's VMM by it) instead of "--standby FD": written over
 * our own, in the room the monitor's blank argument left (contract.h),
 * as many whole arguments as fit, the rest NULs. nv's strings are copied
 * out first (some of them live there) and nv made to point at the copy.
 * libxenon does not rely on it: it knows a VMM by its pid, start time and
 * boot (state.c). */
static void show_command_line(char **nv, int n, char *area, size_t room)
{
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += strlen(nv[i]) + 1;
    char *text = malloc(len ? len : 1);     /* kept: nv points into it */
    if (!text)
        return;
    kept.text = text;
    char *t = text;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(nv[i]) + 1;
        memcpy(t, nv[i], l);
        nv[i] = t;
        t += l;
    }
    if (!area || !room)
        return;
    size_t fit = 0;
    for (int i = 0; i < n && fit + strlen(nv[i]) + 1 <= room; i++)
        fit += strlen(nv[i]) + 1;
    memcpy(area, text, fit);
    memset(area + fit, 0, room - fit);
}

uint64_t standby_received_ns;

int standby_wait(int at, int *argc, char ***argv)
{
    int sock = parse_fd(at + 1 < *argc ? (*argv)[at + 1] : NULL);
    if (sock < 0) {
        fprintf(stderr, "xenon-vmm: --standby wants a descriptor\n");
        return -1;
    }
    char *buf = malloc(XENON_STANDBY_MAX_MSG + 1);
    int fds[XENON_STANDBY_MAX_FDS];
    unsigned nfds = 0;
    ssize_t n = buf ? receive(sock, buf, XENON_STANDBY_MAX_MSG + 1, fds, &nfds) : -1;
    standby_received_ns = now_ns();
    close(sock);
    struct xenon_standby_hdr h;
    bool ok = n >= (ssize_t)sizeof(h) && n <= (ssize_t)XENON_STANDBY_MAX_MSG;
    if (ok) {
        memcpy(&h, buf, sizeof(h));
        ok = h.magic == XENON_STANDBY_MAGIC && h.nfds == nfds && h.nargs <= STANDBY_MAX_ARGS &&
             (h.flags & ~XENON_STANDBY_LOG) == 0 && (!(h.flags & XENON_STANDBY_LOG) || nfds >= 1);
    }
    /* The strings: exactly nargs of them, each ended by its NUL. */
    char *args = buf + sizeof(h), *end = buf + (ok ? n : 0);
    unsigned count = 0;
    for (char *s = args; ok && s < end; count++) {
        char *nul = memchr(s, 0, (size_t)(end - s));
        if (!nul) {
            ok = false;
            break;
        }
        s = nul + 1;
    }
    ok = ok && count == h.nargs;
    unsigned first_ctl = ok && (h.flags & XENON_STANDBY_LOG) ? 1 : 0;
    unsigned nctl = ok ? nfds - first_ctl : 0;
    /* argv less "--standby FD", the options, two per control fd, NULL. */
    int total = *argc - 2 + (int)count + 2 * (int)nctl + 1;
    char **nv = ok ? calloc((size_t)total, sizeof(*nv)) : NULL;
    char (*fdtext)[16] = nctl ? calloc(nctl, sizeof(*fdtext)) : NULL;
    if (!nv || (nctl && !fdtext)) {
        if (ok)
            fprintf(stderr, "xenon-vmm: standby: out of memory\n");
        for (unsigned i = 0; i < nfds; i++)
            close(fds[i]);
        free(nv);
        free(fdtext);
        free(buf);
        return -1;
    }
    /* The blank argument after FD is the room for show_command_line. */
    int skip_to = at + 2;
    if (skip_to < *argc && (*argv)[skip_to][0] == ' ' &&
        strspn((*argv)[skip_to], " ") == strlen((*argv)[skip_to]))
        skip_to++;
    int k = 0;
    for (int i = 0; i < *argc; i++)
        if (i < at || i >= skip_to)
            nv[k++] = (*argv)[i];
    for (char *s = args; s < end; s += strlen(s) + 1)
        nv[k++] = s;
    for (unsigned i = 0; i < nctl; i++) {
        snprintf(fdtext[i], sizeof(fdtext[i]), "%d", fds[first_ctl + i]);
        nv[k++] = "--control-fd";
        nv[k++] = fdtext[i];
    }
    nv[k] = NULL;
    if (first_ctl) {
        /* The domain's log, as a VMM started for it would have inherited. */
        fflush(NULL);
        dup2(fds[0], 1);
        dup2(fds[0], 2);
        close(fds[0]);
    }
    /* Our arguments as exec left them: end to end from argv[0]. */
    char *area = (*argv)[0];
    for (int i = 0; area && i + 1 < *argc; i++)
        if ((*argv)[i + 1] != (*argv)[i] + strlen((*argv)[i]) + 1)
            area = NULL;
    char *last = (*argv)[*argc - 1];
    keep(buf, nv, (char *)fdtext);
    show_command_line(nv, k, area, area ? (size_t)(last + strlen(last) + 1 - area) : 0);
    *argc = k;
    *argv = nv;
    return 0;
}
