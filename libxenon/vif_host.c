#include "vif_host.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#ifndef XENON_SCRIPT_DIR
#define XENON_SCRIPT_DIR "/etc/xenon/scripts"
#endif

int vif_ifname(char out[IFNAMSIZ], uint32_t domid, int devid,
               const char *custom)
{
    int n = custom && *custom ? snprintf(out, IFNAMSIZ, "%s", custom)
                              : snprintf(out, IFNAMSIZ, "vif%u.%d", domid, devid);
    return n < 0 || n >= IFNAMSIZ ? -ENAMETOOLONG : 0;
}

int vif_tap_open(const char *ifname)
{
    if (strlen(ifname) >= IFNAMSIZ)
        return -ENAMETOOLONG;
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    memcpy(ifr.ifr_name, ifname, strlen(ifname));
    int hdr = sizeof(struct virtio_net_hdr);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0 ||
        ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
        ioctl(fd, TUNSETOFFLOAD, 0ul) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

void vif_random_mac(uint8_t mac[6])
{
    uint8_t r[3] = { 0 };
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint32_t x = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid() << 8;
        r[0] = (uint8_t)x; r[1] = (uint8_t)(x >> 8); r[2] = (uint8_t)(x >> 16);
    }
    mac[0] = 0x00;
    mac[1] = 0x16;
    mac[2] = 0x3e;
    mac[3] = r[0] & 0x7f;
    mac[4] = r[1];
    mac[5] = r[2];
}

void vif_format_mac(const uint8_t m[6], char out[18])
{
    snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
             m[0], m[1], m[2], m[3], m[4], m[5]);
}

int vif_ifname_mtu(const char *ifname)
{
    char path[64 + IFNAMSIZ], buf[32];
    snprintf(path, sizeof(path), "/sys/class/net/%s/mtu", ifname);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    buf[n] = 0;
    long v = strtol(buf, NULL, 10);
    return v > 0 && v < 1 << 20 ? (int)v : -EIO;
}

void vif_script_path(const char *script, char *out, size_t n)
{
    if (!script || !*script)
        script = "vif-bridge";
    if (strchr(script, '/')) {
        snprintf(out, n, "%s", script);
        return;
    }
    const char *dir = getenv("XENON_SCRIPT_DIR");
    snprintf(out, n, "%s/%s", dir && *dir ? dir : XENON_SCRIPT_DIR, script);
}

#define BACKEND_FD 3
#define REQUESTS_MAX 1024

/* What the script wrote on its descriptor 3: "key=value" lines. */
static void take_requests(struct vif_hotplug *h, int fd)
{
    char buf[REQUESTS_MAX + 1];
    ssize_t n = read(fd, buf, REQUESTS_MAX);
    if (n <= 0)
        return;
    buf[n] = 0;
    for (char *line = buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        if (strcmp(line, "antispoof=1") == 0)
            h->antispoof = true;
        else if (strcmp(line, "antispoof=0") == 0)
            h->antispoof = false;
        else if (*line)
            log_warn("hotplug script for %s: request \"%.60s\" not understood; ignored",
                     h->ifname ? h->ifname : "?", line);
    }
}

int vif_hotplug_run(struct vif_hotplug *h)
{
    h->antispoof = false;
    char script[4096];
    vif_script_path(h->script, script, sizeof(script));
    char e_script[4200], e_path[96], e_netdev[300], e_vif[32], e_bridge[300],
         e_ip[600], e_mac[32];
    snprintf(e_script, sizeof(e_script), "script=%s", script);
    snprintf(e_path, sizeof(e_path), "XENBUS_PATH=backend/vif/%u/%d",
             h->domid, h->devid);
    snprintf(e_netdev, sizeof(e_netdev), "netdev=%s", h->gatewaydev ? h->gatewaydev : "");
    snprintf(e_vif, sizeof(e_vif), "vif=%s", h->ifname ? h->ifname : "");
    snprintf(e_bridge, sizeof(e_bridge), "bridge=%s", h->bridge ? h->bridge : "");
    snprintf(e_ip, sizeof(e_ip), "ip=%s", h->ip ? h->ip : "");
    snprintf(e_mac, sizeof(e_mac), "mac=%s", h->mac ? h->mac : "");
    char *envp[] = {
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        e_script, "XENBUS_TYPE=vif", e_path, "XENBUS_BASE_PATH=backend",
        e_netdev, e_vif, e_bridge, e_ip, e_mac,
        h->online ? "XENON_BACKEND_FD=3" : NULL, NULL,
    };
    char *argv[] = { script, h->online ? "online" : "offline", "type_if=vif", NULL };

    if (access(script, X_OK) < 0)
        return -errno;
    /* The script's requests (online only): a pipe on its descriptor 3. */
    int req[2] = { -1, -1 };
    if (h->online && pipe2(req, O_CLOEXEC | O_NONBLOCK) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        if (req[0] >= 0) {
            close(req[0]);
            close(req[1]);
        }
        return -e;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) {
            dup2(null, 0);
            if (null > 2 && null != BACKEND_FD)
                close(null);
        }
        if (req[1] >= 0) {
            /* dup2 clears close-on-exec on the copy; writes block again
             * (a script that floods it is killed at the timeout). */
            if (req[1] == BACKEND_FD)
                fcntl(req[1], F_SETFD, 0);
            else
                dup2(req[1], BACKEND_FD);
            fcntl(BACKEND_FD, F_SETFL, 0);
        } else if (null != BACKEND_FD) {
            close(BACKEND_FD);
        }
        /* Our own process group, so a timeout kills what it started too. */
        setpgid(0, 0);
        execve(script, argv, envp);
        _exit(127);
    }
    if (req[1] >= 0)
        close(req[1]);
    /* Wait on a pidfd, bounded; no polling loop. */
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    int status;
    if (pfd >= 0) {
        struct pollfd p = { .fd = pfd, .events = POLLIN };
        int r;
        do {
            r = poll(&p, 1, VIF_HOTPLUG_TIMEOUT_S * 1000);
        } while (r < 0 && errno == EINTR);
        close(pfd);
        if (r == 0) {
            log_err("hotplug script %s %s for %s timed out; killed", script,
                    argv[1], h->ifname ? h->ifname : "?");
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
        }
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            int e = errno;
            if (req[0] >= 0)
                close(req[0]);
            return -e;
        }
    }
    if (req[0] >= 0) {
        take_requests(h, req[0]);
        close(req[0]);
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}
