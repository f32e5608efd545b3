/* See proc.h. */
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "domain.h"

unsigned long long proc_start(pid_t pid, char *state, double *cpu)
{
    if (pid <= 0)
        return 0;
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *s = strrchr(buf, ')');
    if (!s)
        return 0;
    char st;
    unsigned long long utime, stime, start;
    /* fields after comm: 3 state ... 14 utime 15 stime ... 22 starttime */
    if (sscanf(s + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
                      "%*d %*d %*d %*d %*d %*d %llu",
               &st, &utime, &stime, &start) != 4)
        return 0;
    if (st == 'Z' || st == 'X')
        return 0;
    if (state)
        *state = st;
    if (cpu)
        *cpu = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
    return start;
}

bool proc_alive(pid_t pid, unsigned long long start)
{
    return pid > 0 && start && proc_start(pid, NULL, NULL) == start;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* A pidfd (Linux 5.3) becomes readable when the process exits, so the wait
 * ends then rather than at the next 10 ms poll; one opened for a reused pid
 * is caught by checking the start time after opening it. */
bool proc_wait_gone(pid_t pid, unsigned long long start, unsigned timeout_ms)
{
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pfd >= 0) {
        bool gone = !proc_alive(pid, start);
        if (!gone) {
            struct pollfd w = { .fd = pfd, .events = POLLIN };
            int r;
            do
                r = poll(&w, 1, (int)timeout_ms);
            while (r < 0 && errno == EINTR);
            gone = r > 0 || !proc_alive(pid, start);
        }
        close(pfd);
        return gone;
    }
    for (unsigned t = 0; t < timeout_ms; t += 10) {
        if (!proc_alive(pid, start))
            return true;
        sleep_ms(10);
    }
    return !proc_alive(pid, start);
}

/* One thread of the VMM, from /proc/PID/task/TID/stat. */
struct task {
    pid_t tid;
    char state;
};

static int cmp_task(const void *a, const void *b)
{
    pid_t x = ((const struct task *)a)->tid, y = ((const struct task *)b)->tid;
    return (x > y) - (x < y);
}

/* The VMM's own threads with their states, sorted by thread id: one read
 * of each thread's stat gives both its name and its state. KVM's workers
 * in the thread group are named "kvm-..."; the VMM names none of its
 * threads so. Returns how many, or -1 when the process is gone. */
static int vmm_tasks(pid_t pid, struct task *t, int max)
{
    char path[96];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid <= 0)
            continue;
        char buf[512];
        snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t k = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
        if (fd >= 0)
            close(fd);
        if (k <= 0)
            continue;                   /* the thread just ended */
        buf[k] = 0;
        /* "TID (COMM) S ...": the name may hold spaces and parentheses. */
        char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')');
        if (!open_paren || !close_paren || close_paren < open_paren || !close_paren[1])
            continue;
        if (strncmp(open_paren + 1, "kvm", 3) == 0)
            continue;
        t[n++] = (struct task){ tid, close_paren[2] };
    }
    closedir(d);
    qsort(t, (size_t)n, sizeof(t[0]), cmp_task);
    return n;
}

#define MAX_THREADS 1024

int vmm_threads(pid_t pid, pid_t *tids, int max)
{
    struct task t[MAX_THREADS];
    int n = vmm_tasks(pid, t, max < MAX_THREADS ? max : MAX_THREADS);
    for (int i = 0; i < n; i++)
        tids[i] = t[i].tid;
    return n;
}

struct vmm_activity vmm_activity(pid_t pid)
{
    struct task t[MAX_THREADS];
    int n = vmm_tasks(pid, t, MAX_THREADS);
    struct vmm_activity act = { .blocked = n > 0, .stopped = n > 0 };
    for (int i = 0; i < n; i++) {
        if (t[i].state == 'R')
            act.blocked = false;
        /* 't' is a traced stop, also one where nothing runs. */
        if (t[i].state != 'T' && t[i].state != 't')
            act.stopped = false;
    }
    return act;
}

/* --- xl vcpu-list ---------------------------------------------------------- */

static void cpuset_string(const cpu_set_t *set, char *out, size_t n)
{
    int ncpu = get_nprocs_conf();
    if (CPU_COUNT(set) >= ncpu) {
        snprintf(out, n, "all");
        return;
    }
    size_t len = 0;
    out[0] = 0;
    for (int i = 0; i < CPU_SETSIZE && len < n; i++) {
        if (!CPU_ISSET(i, set))
            continue;
        int j = i;
        while (j + 1 < CPU_SETSIZE && CPU_ISSET(j + 1, set))
            j++;
        int k = j > i ? snprintf(out + len, n - len, "%s%d-%d", len ? "," : "", i, j)
                      : snprintf(out + len, n - len, "%s%d", len ? "," : "", i);
        if (k < 0)
            break;
        len += (size_t)k;
        i = j;
    }
}

int xenon_domain_vcpus(pid_t vmm_pid, struct xenon_vcpuinfo **out, int *n_out)
{
    *out = NULL;
    *n_out = 0;
    pid_t all[MAX_THREADS], tids[MAX_THREADS];
    int m = vmm_threads(vmm_pid, all, MAX_THREADS), n = 0;
    if (m < 0)
        return -1;
    for (int i = 0; i < m; i++)
        if (all[i] != vmm_pid)      /* the main thread runs the I/O loop */
            tids[n++] = all[i];
    struct xenon_vcpuinfo *v = calloc((size_t)n + 1, sizeof(*v));
    if (!v)
        return -1;
    for (int i = 0; i < n; i++) {
        v[i].vcpuid = (unsigned)i;
        v[i].cpu = -1;
        char sp[96], buf[1024];
        snprintf(sp, sizeof(sp), "/proc/%d/task/%d/stat", (int)vmm_pid, (int)tids[i]);
        int fd = open(sp, O_RDONLY | O_CLOEXEC);
        ssize_t r = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
        if (fd >= 0)
            close(fd);
        if (r > 0) {
            buf[r] = 0;
            char *s = strrchr(buf, ')');
            char st;
            unsigned long long ut, stt;
            int cpu;
            /* 3 state ... 14 utime 15 stime ... 39 processor */
            if (s && sscanf(s + 2, "%c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu "
                                   "%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
                                   "%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %d",
                            &st, &ut, &stt, &cpu) == 4) {
                v[i].running = st == 'R';
                v[i].blocked = st != 'R';
                v[i].cpu = cpu;
                v[i].cpu_time = (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
            }
        }
        cpu_set_t set;
        if (sched_getaffinity((pid_t)tids[i], sizeof(set), &set) == 0)
            cpuset_string(&set, v[i].affinity, sizeof(v[i].affinity));
        else
            snprintf(v[i].affinity, sizeof(v[i].affinity), "all");
    }
    *out = v;
    *n_out = n;
    return 0;
}
