/* xl console: the terminal bridged to a domain's PV console socket. */
#include "xl.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved_tio;
static int restore_tio;

static void tty_restore(void)
{
    if (restore_tio)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
}

int console_connect(unsigned domid)
{
    int n;
    struct xenon_dominfo *v = list_domains(&n);
    char sock[XENON_PATH_MAX] = "";
    for (int i = 0; i < n; i++)
        if (v[i].domid == domid && v[i].running)
            snprintf(sock, sizeof(sock), "%s", v[i].console);
    free(v);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = -1;
    if (sock[0] && strlen(sock) >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;       /* else strerror below shows a stale one */
    } else if (sock[0]) {
        strcpy(sa.sun_path, sock);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0)
        fprintf(stderr, "Unable to attach console of domain %u: %s\n", domid,
                sock[0] ? strerror(errno) : "the domain is not running");
    return fd;
}

int console_bridge(int fd)
{
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
        struct termios raw = saved_tio;
        cfmakeraw(&raw);
        if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0) {
            restore_tio = 1;
            atexit(tty_restore);
        }
    }
    signal(SIGPIPE, SIG_IGN);
    struct pollfd pf[2] = { { fd, POLLIN, 0 }, { STDIN_FILENO, POLLIN, 0 } };
    int nfds = 2;
    char buf[4096];
    for (;;) {
        if (poll(pf, (nfds_t)nfds, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pf[0].revents) {
            ssize_t r = read(fd, buf, sizeof(buf));
            if (r <= 0)
                break;              /* the domain is gone */
            if (write(STDOUT_FILENO, buf, (size_t)r) != r)
                break;
        }
        if (nfds == 2 && pf[1].revents) {
            ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
            if (r <= 0) {
                nfds = 1;           /* no more input: keep showing output */
                continue;
            }
            char *esc = memchr(buf, 0x1d, (size_t)r);     /* ^] */
            size_t k = esc ? (size_t)(esc - buf) : (size_t)r;
            if (k && send(fd, buf, k, MSG_NOSIGNAL) < 0)
                break;
            if (esc)
                break;
        }
    }
    close(fd);
    return EXIT_SUCCESS;
}

int console_attach(unsigned domid)
{
    int fd = console_connect(domid);
    return fd < 0 ? EXIT_FAILURE : console_bridge(fd);
}

int main_console(int argc, char **argv)
{
    int c;
    const char *type = NULL;
    while ((c = next_opt(argc, argv, "ht:n:", "console", 1)) != -1)
        if (c == 't')
            type = optarg;
    if (type && strcmp(type, "pv")) {
        if (strcmp(type, "serial")) {
            fprintf(stderr, "console type supported are: pv, serial\n");
            return EXIT_FAILURE;
        }
        fprintf(stderr, "Xenon serves the PV console only\n");
        return EXIT_FAILURE;
    }
    return console_attach(find_domain(argv[optind]));
}
