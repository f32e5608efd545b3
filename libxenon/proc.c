/* See proc.h. */
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "domain.h"
#include "util.h"

/* The fields of a /proc stat file that libxenon reads. */
struct stat_fields {
    char comm[16];
    char state;
    unsigned long long ticks;   /* utime + stime */
    unsigned long long start;   /* clock ticks after boot */
    int cpu;                    /* last ran on; -1 if not shown */
};

/* Reads /proc/PID/stat or /proc/PID/task/TID/stat; false when the process
 * or thread has ended (or the file makes no sense). */
/* One read of a small /proc file into buf, NUL-terminated: its length,
 * or -1 when it cannot be read or is empty. */
static ssize_t read_proc_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    return n;
}

static bool read_stat(const char *path, struct stat_fields *f)
{
    char buf[1024];
    if (read_proc_file(path, buf, sizeof(buf)) < 0)
        return false;
    /* "PID (COMM) S ...": the name may hold spaces and parentheses. */
    char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')');
    if (!open_paren || !close_paren || close_paren < open_paren || close_paren[1] != ' ')
        return false;
    size_t cl = (size_t)(close_paren - open_paren - 1);
    if (cl >= sizeof(f->comm))
        cl = sizeof(f->comm) - 1;
    memcpy(f->comm, open_paren + 1, cl);
    f->comm[cl] = 0;
    unsigned long long utime, stime;
    f->cpu = -1;
    /* after comm: 3 state ... 14 utime 15 stime ... 22 starttime ... 39
     * processor */
    int k = sscanf(close_paren + 2,
                   "%c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu "
                   "%*s %*s %*s %*s %*s %*s %llu "
                   "%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %d",
                   &f->state, &utime, &stime, &f->start, &f->cpu);
    if (k < 4)
        return false;
    f->ticks = utime + stime;
    return true;
}

static double ticks_to_seconds(unsigned long long ticks)
{
    return (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

unsigned long long proc_start(pid_t pid, double *cpu)
{
    if (pid <= 0)
        return 0;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    struct stat_fields f;
    if (!read_stat(path, &f) || f.state == 'Z' || f.state == 'X')
        return 0;
    if (cpu)
        *cpu = ticks_to_seconds(f.ticks);
    return f.start;
}

bool proc_alive(pid_t pid, unsigned long long start)
{
    return pid > 0 && start && proc_start(pid, NULL) == start;
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

/* One thread of the VMM. */
struct task {
    pid_t tid;
    struct stat_fields f;
};

static int cmp_task(const void *a, const void *b)
{
    pid_t x = ((const struct task *)a)->tid, y = ((const struct task *)b)->tid;
    return (x > y) - (x < y);
}

/* The VMM's own threads, sorted by thread id (main thread first, then the
 * vCPUs), each from one read of its stat. KVM's workers in the thread
 * group are named "kvm-..."; the VMM names none of its threads so. A
 * malloc'd array and *n, or NULL when the process is gone. */
static struct task *vmm_tasks(pid_t pid, int *n)
{
    char path[96];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return NULL;
    struct task *t = NULL;
    int cap = 0;
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid <= 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            struct task *g = realloc(t, (size_t)cap * sizeof(*t));
            if (!g) {
                free(t);
                closedir(d);
                return NULL;
            }
            t = g;
        }
        snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
        struct task *cur = &t[*n];
        if (read_stat(path, &cur->f) && strncmp(cur->f.comm, "kvm", 3) != 0) {
            cur->tid = tid;
            (*n)++;
        }
    }
    closedir(d);
    if (!t)
        t = malloc(sizeof(*t));     /* none: still "not gone" */
    if (t)
        qsort(t, (size_t)*n, sizeof(t[0]), cmp_task);
    return t;
}

struct vmm_activity vmm_activity(pid_t pid)
{
    int n = 0;
    struct task *t = vmm_tasks(pid, &n);
    struct vmm_activity act = { .blocked = n > 0, .stopped = n > 0 };
    for (int i = 0; i < n; i++) {
        if (t[i].f.state == 'R')
            act.blocked = false;
        /* 't' is a traced stop, also one where nothing runs. */
        if (t[i].f.state != 'T' && t[i].f.state != 't')
            act.stopped = false;
    }
    free(t);
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
    int m;
    struct task *t = vmm_tasks(vmm_pid, &m);
    if (!t)
        return -1;
    struct xenon_vcpuinfo *v = calloc((size_t)m + 1, sizeof(*v));
    if (!v) {
        free(t);
        return -1;
    }
    int n = 0;
    for (int i = 0; i < m; i++) {
        if (t[i].tid == vmm_pid)        /* the main thread runs the I/O loop */
            continue;
        struct xenon_vcpuinfo *c = &v[n];
        c->vcpuid = (unsigned)n++;
        c->running = t[i].f.state == 'R';
        c->blocked = !c->running;
        c->cpu = t[i].f.cpu;
        c->cpu_time = ticks_to_seconds(t[i].f.ticks);
        cpu_set_t set;
        if (sched_getaffinity(t[i].tid, sizeof(set), &set) == 0)
            cpuset_string(&set, c->affinity, sizeof(c->affinity));
        else
            snprintf(c->affinity, sizeof(c->affinity), "all");
    }
    free(t);
    *out = v;
    *n_out = n;
    return 0;
}

/* --- whose process it is -------------------------------------------------- */

/* The real uid of a process, or -1. */
static long proc_uid(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    long uid = -1;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "Uid:", 4)) {
            uid = strtol(line + 4, NULL, 10);
            break;
        }
    if (f)
        fclose(f);
    return uid;
}

bool proc_is_ours(pid_t pid, unsigned long long start)
{
    return proc_alive(pid, start) && proc_uid(pid) == (long)getuid();
}

bool proc_comm_is(pid_t pid, const char *comm)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    struct stat_fields f;
    return read_stat(path, &f) && strcmp(f.comm, comm) == 0;
}

bool proc_cmdline_has(pid_t pid, const char *arg, const char *next)
{
    char path[64], buf[8192];
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    ssize_t n = read_proc_file(path, buf, sizeof(buf));
    if (n < 0)
        return false;
    for (char *p = buf; p < buf + n; p += strlen(p) + 1) {
        char *after = p + strlen(p) + 1;
        if (!strcmp(p, arg) && (!next || (after < buf + n && !strcmp(after, next))))
            return true;
    }
    return false;
}

const char *proc_boot_id(void)
{
    static char id[37];
    static bool read_once;
    if (!read_once) {
        char buf[64];
        ssize_t n = read_proc_file("/proc/sys/kernel/random/boot_id", buf, sizeof(buf));
        buf[n > 0 ? strcspn(buf, "\n") : 0] = 0;
        /* A uuid, or nothing: it goes into a state file line. */
        if (n > 0 && strlen(buf) == 36 && strspn(buf, "0123456789abcdef-") == 36)
            memcpy(id, buf, 37);
        read_once = true;
    }
    return id;
}
