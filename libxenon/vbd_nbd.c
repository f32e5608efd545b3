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

static pid_t read_pid(const char *path)
{
    FILE *f = fopen(path, "re");
    long v = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%ld", &v) != 1 || v <= 1 || v > 1 << 22)
        v = 0;
    fclose(f);
    return (pid_t)v;
}

void vbd_nbd_stop(const char *run_dir, unsigned domid, unsigned devid)
{
    char pidf[600], sock[600];
    if (file_path(run_dir, domid, devid, "pid", pidf, sizeof(pidf)) < 0 ||
        file_path(run_dir, domid, devid, "sock", sock, sizeof(sock)) < 0)
        return;
    pid_t pid = read_pid(pidf);
    unsigned long long start = pid ? proc_start(pid, NULL) : 0;
    /* Only the process that is, now, this disk's server: a pid file is no
     * proof, the command line naming its socket is. */
    if (start && proc_is_ours(pid, start) && proc_cmdline_has(pid, "--socket", sock)) {
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
    argv[n++] = "--shared=1";
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
    /* The VMM is its one client: nobody else is to reach the export. */
    unlink(sock);
    if (fd < 0) {
        fprintf(err, "libxl: error: Disk vdev=%s: cannot connect to its NBD server: %s\n",
                d->vdev, strerror(-fd));
        vbd_nbd_stop(run_dir, domid, devid);
        return -1;
    }
    return fd;
}
