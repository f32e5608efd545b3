/* The host as xl shows it: Xenon's Domain-0 is the host itself, so its CPUs,
 * memory and CPU time are the host's (docs/xl.md, "What Xenon shows for
 * Domain-0"), and `xl info` reports the host's topology. Read from /proc and
 * /sys; a file that is missing reads as nothing, never as an error. */
#include "xl.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

double host_cpu_seconds(void)
{
    FILE *f = fopen("/proc/stat", "re");
    unsigned long long user = 0, nice = 0, sys = 0;
    if (f) {
        if (fscanf(f, "cpu %llu %llu %llu", &user, &nice, &sys) != 3)
            user = nice = sys = 0;
        fclose(f);
    }
    return (double)(user + nice + sys) / (double)sysconf(_SC_CLK_TCK);
}

unsigned long host_mem_mib(void)
{
    struct sysinfo si;
    if (sysinfo(&si) < 0)
        return 0;
    return (unsigned long)((unsigned long long)si.totalram * si.mem_unit >> 20);
}

int host_cpu_times(double *secs, int n)
{
    FILE *f = fopen("/proc/stat", "re");
    if (!f)
        return 0;
    char line[512];
    int got = 0;
    double tick = (double)sysconf(_SC_CLK_TCK);
    while (fgets(line, sizeof(line), f)) {
        unsigned cpu;
        unsigned long long user, nice, sys;
        if (sscanf(line, "cpu%u %llu %llu %llu", &cpu, &user, &nice, &sys) == 4 &&
            (int)cpu < n) {
            secs[cpu] = (double)(user + nice + sys) / tick;
            if ((int)cpu + 1 > got)
                got = (int)cpu + 1;
        }
    }
    fclose(f);
    return got;
}

/* An integer from a one-line sysfs file, or `dflt`. */
static long sysfs_long(const char *path, long dflt)
{
    FILE *f = fopen(path, "re");
    long v = dflt;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = dflt;
        fclose(f);
    }
    return v;
}

/* The NUMA node of a CPU: the nodeN entry in its sysfs directory. */
static int cpu_node(int cpu)
{
    char path[96];
    snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d", cpu);
    DIR *d = opendir(path);
    int node = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, "node", 4) && isdigit((unsigned char)e->d_name[4]))
            node = atoi(e->d_name + 4);
    if (d)
        closedir(d);
    return node;
}

void host_cpu_topology(int cpu, struct host_cpu_topo *t)
{
    char path[128];
    snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
    t->core = (int)sysfs_long(path, cpu);
    snprintf(path, sizeof(path),
             "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
    t->socket = (int)sysfs_long(path, 0);
    t->node = cpu_node(cpu);
}

/* The number of entries in a cpulist ("0-3,8"), or 0. */
static int cpulist_count(const char *path)
{
    FILE *f = fopen(path, "re");
    char buf[256];
    int n = 0;
    if (!f)
        return 0;
    if (fgets(buf, sizeof(buf), f)) {
        for (char *p = buf; *p && *p != '\n';) {
            char *end;
            long a = strtol(p, &end, 10), b = a;
            if (end == p)
                break;
            if (*end == '-')
                b = strtol(end + 1, &end, 10);
            n += b >= a ? (int)(b - a + 1) : 0;
            p = *end == ',' ? end + 1 : end;
            if (*p != 0 && !isdigit((unsigned char)*p))
                break;
        }
    }
    fclose(f);
    return n;
}

void host_shape(struct host_shape *s)
{
    s->nr_cpus = get_nprocs();
    s->max_cpu_id = get_nprocs_conf() - 1;
    s->nr_nodes = 0;
    DIR *d = opendir("/sys/devices/system/node");
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, "node", 4) && isdigit((unsigned char)e->d_name[4]))
            s->nr_nodes++;
    if (d)
        closedir(d);
    if (s->nr_nodes == 0)
        s->nr_nodes = 1;
    s->threads_per_core = cpulist_count(
        "/sys/devices/system/cpu/cpu0/topology/thread_siblings_list");
    if (s->threads_per_core <= 0)
        s->threads_per_core = 1;
    /* Sockets: the distinct package ids of the online CPUs. */
    int sockets = 0;
    long seen[64];
    for (int c = 0; c <= s->max_cpu_id; c++) {
        struct host_cpu_topo t;
        host_cpu_topology(c, &t);
        bool dup = false;
        for (int i = 0; i < sockets && !dup; i++)
            dup = seen[i] == t.socket;
        if (!dup && sockets < 64)
            seen[sockets++] = t.socket;
    }
    if (sockets == 0)
        sockets = 1;
    s->cores_per_socket = s->nr_cpus / (s->threads_per_core * sockets);
    if (s->cores_per_socket <= 0)
        s->cores_per_socket = 1;
    /* /proc/cpuinfo's "cpu MHz : 2994.374", else the cpufreq maximum. */
    s->cpu_khz = 0;
    FILE *f = fopen("/proc/cpuinfo", "re");
    char line[256];
    while (f && fgets(line, sizeof(line), f)) {
        double mhz;
        if (!strncmp(line, "cpu MHz", 7) && sscanf(strchr(line, ':') ? strchr(line, ':') + 1 : "",
                                                   "%lf", &mhz) == 1) {
            s->cpu_khz = (unsigned long)(mhz * 1000 + 0.5);
            break;
        }
    }
    if (f)
        fclose(f);
    if (!s->cpu_khz)
        s->cpu_khz = (unsigned long)sysfs_long(
            "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", 0);
}

int host_node_memory(int node, unsigned long long *total_kb,
                     unsigned long long *free_kb, char *dists, size_t n)
{
    char path[96], line[256];
    snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", node);
    FILE *f = fopen(path, "re");
    *total_kb = *free_kb = 0;
    if (!f) {
        if (node != 0)
            return -1;
        /* No NUMA in sysfs: one node, the whole host. */
        struct sysinfo si;
        if (sysinfo(&si) == 0) {
            *total_kb = (unsigned long long)si.totalram * si.mem_unit >> 10;
            *free_kb = (unsigned long long)si.freeram * si.mem_unit >> 10;
        }
        snprintf(dists, n, "10");
        return 0;
    }
    while (fgets(line, sizeof(line), f)) {
        char *k = strstr(line, "MemTotal:"), *fr = strstr(line, "MemFree:");
        if (k)
            *total_kb = strtoull(k + 9, NULL, 10);
        if (fr)
            *free_kb = strtoull(fr + 8, NULL, 10);
    }
    fclose(f);
    snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/distance", node);
    f = fopen(path, "re");
    dists[0] = 0;
    if (f) {
        if (fgets(dists, (int)n, f)) {
            dists[strcspn(dists, "\n")] = 0;
            for (char *p = dists; *p; p++)
                if (*p == ' ')
                    *p = ',';
        }
        fclose(f);
    }
    if (!dists[0])
        snprintf(dists, n, "10");
    return 0;
}
