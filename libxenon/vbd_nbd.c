/* See vbd_nbd.h. */
#include "vbd_nbd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

#define STOP_MS 3000

#ifndef XENON_QEMU_NBD
#define XENON_QEMU_NBD "qemu-nbd"
#endif

const char *vbd_nbd_format(enum xdisk_format f)
{
    switch (f) {
    case XDISK_FORMAT_QCOW: return "qcow";
    case XDISK_FORMAT_QCOW2: return "qcow2";
    case XDISK_FORMAT_VHD: return "vpc";    /* QEMU's name for VHD */
    case XDISK_FORMAT_QED: return "qed";
    default: return NULL;
    }
}

static int dir_path(const char *run_dir, unsigned domid, char *out, size_t n)
{
    int k = snprintf(out, n, "%s/nbd/%u", run_dir, domid);
    return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

static int file_path(const char *run_dir, unsigned domid, unsigned devid, const char *ext,
                     char *out, size_t n)
{
    int k = snprintf(out, n, "%s/nbd/%u/%u.%s", run_dir, domid, devid, ext);
    return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

/* A directory of ours with this mode (whatever the umask), made if absent. */
static int own_dir(const char *path, mode_t mode)
{
    if (mkdir(path, mode) < 0 && errno != EEXIST)
        return -errno;
    struct stat st;
    if (lstat(path, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
        return -EPERM;
    return chmod(path, mode) < 0 ? -errno : 0;
}

/* A pid file: qemu-nbd's own ("PID"), or an adopter's ("PID SOCKET": the
 * socket the server was started with, which names it on its command
 * line). The pid, 0 for none; ident gets SOCKET when the file has one. */
static pid_t read_claim(const char *path, char *ident, size_t n)
{
    FILE *f = fopen(path, "re");
    long v = 0;
    if (!f)
        return 0;
    char line[700];
    if (!fgets(line, sizeof(line), f) || sscanf(line, "%ld", &v) != 1 || v <= 1 ||
        v > 1 << 22)
        v = 0;
    fclose(f);
    if (!v)
        return 0;
    char *sp = strchr(line, ' ');
    if (sp) {
        sp[strcspn(sp, "\n")] = 0;
        if (strlen(sp + 1) >= n || sp[1] != '/')
            return 0;
        memcpy(ident, sp + 1, strlen(sp + 1) + 1);
    }
    return (pid_t)v;
}

/* The live qemu-nbd of ours that a claim names (its socket on its command
 * line: a pid file is no proof), or 0; *start gets its start time. */
static pid_t claimed_server(const char *pidf, char *ident, size_t n, unsigned long long *start)
{
    pid_t pid = read_claim(pidf, ident, n);
    *start = pid ? proc_start(pid, NULL) : 0;
    if (!*start || !proc_is_ours(pid, *start) || !proc_cmdline_has(pid, "--socket", ident))
        return 0;
    return pid;
}

/* Whether a domain other than `domid` claims the server `pid` for devid. */
static bool claimed_elsewhere(const char *run_dir, unsigned domid, unsigned devid, pid_t pid)
{
    char top[600];
    snprintf(top, sizeof(top), "%s/nbd", run_dir);
    DIR *d = opendir(top);
    if (!d)
        return false;
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        char *end;
        unsigned long other = strtoul(e->d_name, &end, 10);
        if (*end || end == e->d_name || other == domid || other > 0x7fff)
            continue;
        char pidf[600], ident[600];
        if (file_path(run_dir, (unsigned)other, devid, "pid", pidf, sizeof(pidf)) < 0 ||
            file_path(run_dir, (unsigned)other, devid, "sock", ident, sizeof(ident)) < 0)
            continue;
        unsigned long long st;
        found = claimed_server(pidf, ident, sizeof(ident), &st) == pid;
    }
    closedir(d);
    return found;
}

void vbd_nbd_stop(const char *run_dir, unsigned domid, unsigned devid)
{
    char pidf[600], sock[600], ident[600];
    if (file_path(run_dir, domid, devid, "pid", pidf, sizeof(pidf)) < 0 ||
        file_path(run_dir, domid, devid, "sock", sock, sizeof(sock)) < 0)
        return;
    memcpy(ident, sock, sizeof(sock));
    unsigned long long start;
    pid_t pid = claimed_server(pidf, ident, sizeof(ident), &start);
    /* A server another domain has taken over (the two copies of a VM
     * migrating on this host) is theirs as well: only our claim goes. */
    if (pid && !claimed_elsewhere(run_dir, domid, devid, pid)) {
        kill(pid, SIGTERM);
        kill(pid, SIGCONT);     /* a stopped server takes it at once */
        if (!proc_wait_gone(pid, start, STOP_MS)) {
            kill(pid, SIGKILL);
            proc_wait_gone(pid, start, STOP_MS);
        }
    }
    unlink(pidf);
    unlink(sock);
}

void vbd_nbd_stop_all(const char *run_dir, unsigned domid)
{
    char dir[600];
    if (dir_path(run_dir, domid, dir, sizeof(dir)) < 0)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned devid;
        char ext[8];
        if (sscanf(e->d_name, "%u.%7s", &devid, ext) == 2 &&
            (!strcmp(ext, "pid") || !strcmp(ext, "sock")))
            vbd_nbd_stop(run_dir, domid, devid);
    }
    closedir(d);
    rmdir(dir);
}

static int connect_unix(const char *path)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(a.sun_path))
        return -ENAMETOOLONG;
    memcpy(a.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

int vbd_nbd_start(const char *run_dir, unsigned domid, unsigned devid, const struct xdisk *d,
                  bool ro, FILE *err)
{
    const char *fmt = vbd_nbd_format(d->format);
    char top[600], dir[600], sock[600], pidf[600], logf[600];
    struct sockaddr_un probe;
    int rc = !fmt ? -EINVAL : 0;
    if (rc == 0 && (snprintf(top, sizeof(top), "%s/nbd", run_dir) >= (int)sizeof(top) ||
                    dir_path(run_dir, domid, dir, sizeof(dir)) < 0 ||
                    file_path(run_dir, domid, devid, "sock", sock, sizeof(sock)) < 0 ||
                    file_path(run_dir, domid, devid, "pid", pidf, sizeof(pidf)) < 0 ||
                    file_path(run_dir, domid, devid, "log", logf, sizeof(logf)) < 0 ||
                    strlen(sock) >= sizeof(probe.sun_path)))
        rc = -ENAMETOOLONG;
    if (rc == 0)
        rc = own_dir(top, 0700);
    if (rc == 0)
        rc = own_dir(dir, 0700);
    if (rc < 0) {
        fprintf(err, "libxl: error: Disk vdev=%s: no NBD socket under %s/nbd: %s\n",
                d->vdev, run_dir, strerror(-rc));
        return -1;
    }
    /* A server left from an earlier life of this domain (a restart). */
    vbd_nbd_stop(run_dir, domid, devid);

    /* The format is always given: an image is never probed, so a raw
     * image whose guest wrote a qcow2 header stays raw. Without
     * --persistent the server ends when its one client (the VMM) goes. */
    char fmt_arg[32];
    snprintf(fmt_arg, sizeof(fmt_arg), "--format=%s", fmt);
    const char *argv[16];
    int n = 0;
    argv[n++] = XENON_QEMU_NBD;
    argv[n++] = "--fork";
    argv[n++] = "--pid-file";
    argv[n++] = pidf;
    argv[n++] = "--socket";
    argv[n++] = sock;
    argv[n++] = fmt_arg;
    /* Writable: two clients at most, the VMM and, on a migration to this
     * host, the incoming copy's VMM (vbd_nbd_adopt) while the source's is
     * still connected, stopped. A read-only image needs no hand-over (its
     * readers share QEMU's lock): one client. */
    argv[n++] = ro ? "--shared=1" : "--shared=2";
    argv[n++] = "--cache=writeback";
    if (ro)
        argv[n++] = "--read-only";
    else if (d->discard_enable != 0)
        argv[n++] = "--discard=unmap";
    argv[n++] = "--";
    argv[n++] = d->pdev_path;
    argv[n] = NULL;

    /* Its messages go to a file of its own, shown if it fails: the
     * server keeps its stderr, which must not be our caller's pipe. */
    int log = open(logf, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    pid_t pid = log < 0 ? -1 : fork();
    if (pid < 0) {
        fprintf(err, "libxl: error: Disk vdev=%s: cannot start qemu-nbd: %s\n", d->vdev,
                strerror(errno));
        if (log >= 0)
            close(log);
        unlink(logf);
        return -1;
    }
    if (pid == 0) {
        /* Its socket and pid file get 0600 from here, not from our umask. */
        umask(077);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
        }
        dup2(log, STDERR_FILENO);
        /* Nothing of ours (xenstore, the VMM's control socket, a domain's
         * GO pipe) may live on in the server. */
        close_range(3, ~0u, 0);
        setsid();
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "libxl: error: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    /* --fork: the parent exits 0 once the server listens. */
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!ok) {
        fprintf(err, "libxl: error: Disk vdev=%s: qemu-nbd could not serve %s as %s\n",
                d->vdev, d->pdev_path, fmt);
        char msg[512];
        ssize_t k = pread(log, msg, sizeof(msg) - 1, 0);
        if (k > 0) {
            msg[k] = 0;
            fprintf(err, "%s%s", msg, msg[k - 1] == '\n' ? "" : "\n");
        }
    }
    close(log);
    unlink(logf);
    if (!ok) {
        vbd_nbd_stop(run_dir, domid, devid);
        return -1;
    }
    chmod(sock, 0600);
    int fd = connect_unix(sock);
    /* A writable disk's socket stays, 0600 in our 0700 directory: the VMM
     * of this VM's incoming copy connects there on a migration to this
     * host. A read-only one's server has the VMM as its one client:
     * nobody else is to reach that export. */
    if (ro)
        unlink(sock);
    if (fd < 0) {
        fprintf(err, "libxl: error: Disk vdev=%s: cannot connect to its NBD server: %s\n",
                d->vdev, strerror(-fd));
        vbd_nbd_stop(run_dir, domid, devid);
        return -1;
    }
    return fd;
}

int vbd_nbd_adopt(const char *run_dir, unsigned domid, unsigned devid, const struct xdisk *d,
                  bool (*same_vm)(unsigned other, void *arg), void *arg, FILE *err)
{
    char top[600], dir[600];
    if (!vbd_nbd_format(d->format) || !d->pdev_path ||
        snprintf(top, sizeof(top), "%s/nbd", run_dir) >= (int)sizeof(top) ||
        dir_path(run_dir, domid, dir, sizeof(dir)) < 0)
        return -ENOENT;
    DIR *dd = opendir(top);
    if (!dd)
        return -ENOENT;
    char ident[600] = "", from[600] = "";
    pid_t pid = 0;
    struct dirent *e;
    while (!pid && (e = readdir(dd))) {
        char *end;
        unsigned long other = strtoul(e->d_name, &end, 10);
        if (*end || end == e->d_name || other == domid || other > 0x7fff)
            continue;
        char pidf[600];
        unsigned long long st;
        if (file_path(run_dir, (unsigned)other, devid, "pid", pidf, sizeof(pidf)) < 0 ||
            file_path(run_dir, (unsigned)other, devid, "sock", from, sizeof(from)) < 0)
            continue;
        memcpy(ident, from, sizeof(from));
        pid = claimed_server(pidf, ident, sizeof(ident), &st);
        /* The same image, served writable, to the same VM's other copy. */
        if (pid && (!proc_cmdline_has(pid, "--", d->pdev_path) ||
                    proc_cmdline_has(pid, "--read-only", NULL) || !same_vm((unsigned)other, arg)))
            pid = 0;
    }
    closedir(dd);
    if (!pid)
        return -ENOENT;
    char pidf[600], sock[600];
    int rc = own_dir(top, 0700);
    if (rc == 0)
        rc = own_dir(dir, 0700);
    if (rc == 0 && (file_path(run_dir, domid, devid, "pid", pidf, sizeof(pidf)) < 0 ||
                    file_path(run_dir, domid, devid, "sock", sock, sizeof(sock)) < 0))
        rc = -ENAMETOOLONG;
    /* Our own name for its socket (a hard link: the source's goes with
     * it), and our claim, written before we connect: from then on neither
     * copy's teardown stops the server while the other names it. */
    if (rc == 0) {
        unlink(sock);
        if (link(from, sock) < 0)
            rc = -errno;
    }
    FILE *f = NULL;
    if (rc == 0) {
        int pfd = open(pidf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        f = pfd < 0 ? NULL : fdopen(pfd, "w");
        if (!f) {
            rc = -errno;
            if (pfd >= 0)
                close(pfd);
        }
    }
    if (f) {
        fprintf(f, "%ld %s\n", (long)pid, ident);
        if (fclose(f) != 0)
            rc = -EIO;
    }
    int fd = rc < 0 ? rc : connect_unix(sock);
    if (fd < 0) {
        fprintf(err, "libxl: error: Disk vdev=%s: cannot take over the NBD server of %s: %s\n",
                d->vdev, d->pdev_path, strerror(-fd));
        unlink(pidf);
        unlink(sock);
        return fd == -ENOENT ? -EIO : fd;
    }
    return fd;
}

int vbd_nbd_flush_all(const char *run_dir, unsigned domid, FILE *err)
{
    char dir[600];
    if (dir_path(run_dir, domid, dir, sizeof(dir)) < 0)
        return -1;
    DIR *dd = opendir(dir);
    if (!dd)
        return errno == ENOENT ? 0 : -1;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(dd))) {
        unsigned devid;
        char ext[8];
        if (sscanf(e->d_name, "%u.%7s", &devid, ext) != 2 || strcmp(ext, "pid"))
            continue;
        char pidf[600], sock[600], ident[600];
        unsigned long long st;
        if (file_path(run_dir, domid, devid, "pid", pidf, sizeof(pidf)) < 0 ||
            file_path(run_dir, domid, devid, "sock", sock, sizeof(sock)) < 0)
            continue;
        memcpy(ident, sock, sizeof(sock));
        pid_t pid = claimed_server(pidf, ident, sizeof(ident), &st);
        if (!pid || proc_cmdline_has(pid, "--read-only", NULL))
            continue;
        const char *why;
        int r = vbd_nbd_flush_socket(sock, 30000, &why);
        if (r < 0) {
            fprintf(err, "libxl: error: domain %u: vbd %u: cannot flush its NBD server: %s: %s\n",
                    domid, devid, why, strerror(-r));
            rc = -1;
        }
    }
    closedir(dd);
    return rc;
}
