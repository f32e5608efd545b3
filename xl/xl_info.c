/* Commands that show domains and the host: list, info, uptime, domid,
 * domname (Xen's tools/xl/xl_info.c). */
#include "xl.h"

#include <cpuid.h>
#include <dirent.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static void state_letters(const struct xenon_dominfo *d, char out[7])
{
    static const char reasons[] = "-rscwS";
    int sr = d->shutdown_reason;
    out[0] = d->running && !d->paused && !d->blocked ? 'r' : '-';
    out[1] = d->running && !d->paused && d->blocked ? 'b' : '-';
    out[2] = d->paused ? 'p' : '-';
    out[3] = sr >= 0 ? 's' : '-';
    out[4] = sr >= 0 ? (sr < (int)sizeof(reasons) - 1 ? reasons[sr] : '?') : '-';
    out[5] = !d->running && sr < 0 ? 'd' : '-';
    out[6] = 0;
}


/* A JSON text indented by `indent` after each of its line ends; a final
 * line end is dropped (xl prints `}` of the entry on the next line). */
static void print_json_indented(const char *json, const char *indent)
{
    for (const char *p = json; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (p != json)
            fputs(indent, stdout);
        fwrite(p, 1, n, stdout);
        if (!nl || !nl[1])
            break;
        fputc('\n', stdout);
        p = nl + 1;
    }
}

/* xl list -l: [{"domid": N, "config": {...}}, ...] as libxl's JSON. */
static void list_details(const struct xenon_dominfo *v, int n, bool show0)
{
    printf("[\n");
    int first = 1;
    for (int i = -1; i < n; i++) {
        if (i < 0 && !show0)
            continue;
        unsigned domid = i < 0 ? 0 : v[i].domid;
        char *json = i < 0 ? xenon_dom0_config_json()
                           : xenon_domain_config_json(&paths, domid);
        if (!json)
            continue;   /* as xl: a domain whose config is gone is left out */
        printf("%s    {\n        \"domid\": %u,\n        \"config\": ",
               first ? "" : ",\n", domid);
        print_json_indented(json, "        ");
        printf("\n    }");
        free(json);
        first = 0;
    }
    printf("%s]\n", first ? "" : "\n");
}

/* The columns -v, -Z, -c and -n add, in Xen's order. */
struct list_columns { bool verbose, context, cpupool, numa; };

static void print_list_header(const struct list_columns *c)
{
    printf("Name                                        ID   Mem VCPUs\tState\tTime(s)");
    if (c->verbose)
        printf("   UUID                            Reason-Code\tSecurity Label");
    if (c->context && !c->verbose)
        printf("   Security Label");
    if (c->cpupool)
        printf("         Cpupool");
    if (c->numa)
        printf(" NODE Affinity");
    printf("\n");
}

/* The tail of a row: no security labels, one pool, no node affinity set. */
static void print_list_tail(const struct list_columns *c)
{
    if (c->verbose || c->context)
        printf(" %16s", "-");
    if (c->cpupool)
        printf("%16s", "Pool-0");
    if (c->numa)
        printf(" all");
    printf("\n");
}

int main_list(int argc, char **argv)
{
    int c, details = 0;
    struct list_columns cols = { 0 };
    static const struct option lopts[] = {
        { "long", 0, 0, 'l' }, { "verbose", 0, 0, 'v' }, { "context", 0, 0, 'Z' },
        { "cpupool", 0, 0, 'c' }, { "numa", 0, 0, 'n' }, { "help", 0, 0, 'h' },
        { 0 } };
    while ((c = getopt_long(argc, argv, "lvhZcn", lopts, NULL)) != -1) {
        switch (c) {
        case 'l': details = 1; break;
        case 'v': cols.verbose = true; break;
        case 'Z': cols.context = true; break;
        case 'c': cols.cpupool = true; break;
        case 'n': cols.numa = true; break;
        case 'h': help("list"); return 0;
        default:
            fprintf(stderr, "option `%c' not supported.\n", optopt);
            return 2;
        }
    }
    /* As Xen's: all domains, or the one named. */
    if (argc - optind > 1) {
        help("list");
        return EXIT_FAILURE;
    }
    int n;
    struct xenon_dominfo *v = list_domains(&n);
    int nwant;
    unsigned *want = wanted_domains(argc, argv, DOM0_ID_OR_NAME, v, n, &nwant);
    bool show0 = is_wanted(want, nwant, 0);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (is_wanted(want, nwant, v[i].domid))
            v[k++] = v[i];
    n = k;
    if (details) {
        list_details(v, n, show0);
        free(v);
        free(want);
        return 0;
    }
    print_list_header(&cols);
    if (show0) {
        printf("%-40s %5d %5lu %5d     %s  %8.1f", "Domain-0", 0, host_mem_mib(),
               get_nprocs(), "r-----", host_cpu_seconds());
        if (cols.verbose)
            printf(" 00000000-0000-0000-0000-000000000000 %8s", "-");
        print_list_tail(&cols);
    }
    for (int i = 0; i < n; i++) {
        char st[7];
        state_letters(&v[i], st);
        printf("%-40s %5d %5lu %5d     %s  %8.1f", v[i].name, (int)v[i].domid,
               (unsigned long)(v[i].target_kb / 1024), (int)v[i].vcpus, st,
               v[i].cpu_time);
        if (cols.verbose) {
            printf(" %-36s", v[i].uuid[0] ? v[i].uuid : "-");
            if (v[i].shutdown_reason >= 0)
                printf(" %8x", v[i].shutdown_reason);
            else
                printf(" %8s", "-");
        }
        print_list_tail(&cols);
    }
    free(v);
    free(want);
    return 0;
}

/* "D days, HH:MM:SS", or without the seconds in the short form. */
static void uptime_string(unsigned long secs, bool short_form, char *t, size_t n)
{
    unsigned long day = secs / 86400, hour = secs % 86400 / 3600,
                  min = secs % 3600 / 60, sec = secs % 60;
    int k = 0;
    if (day > 0)
        k = snprintf(t, n, "%lu day%s, ", day, day > 1 ? "s" : "");
    if (short_form)
        snprintf(t + k, n - (size_t)k, "%2lu:%02lu", hour, min);
    else
        snprintf(t + k, n - (size_t)k, "%2lu:%02lu:%02lu", hour, min, sec);
}

static void print_uptime_row(const char *name, unsigned id, unsigned long secs,
                             bool short_form, time_t now)
{
    char t[64];
    uptime_string(secs, short_form, t, sizeof(t));
    if (short_form) {
        /* As uptime(1): " 10:31:02 up  2:05, NAME (ID)" */
        char clock[16];
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
        printf(" %s up %s, %s (%u)\n", clock, t, name, id);
    } else {
        printf("%-33s %4u %s\n", name, id, t);
    }
}

int main_uptime(int argc, char **argv)
{
    int c;
    bool short_form = false;
    while ((c = next_opt(argc, argv, "hs", "uptime", 0)) != -1)
        if (c == 's')
            short_form = true;
    int n;
    struct xenon_dominfo *v = list_domains(&n);
    int nwant;
    unsigned *want = wanted_domains(argc, argv, DOM0_ID_OR_NAME, v, n, &nwant);
    if (!short_form)
        printf("%-33s %4s %s\n", "Name", "ID", "Uptime");
    struct sysinfo si;
    time_t now = time(NULL);
    if (is_wanted(want, nwant, 0) && sysinfo(&si) == 0)
        print_uptime_row("Domain-0", 0, (unsigned long)si.uptime, short_form, now);
    for (int i = 0; i < n; i++) {
        if (is_wanted(want, nwant, v[i].domid))
            print_uptime_row(v[i].name, v[i].domid,
                             (unsigned long)(now - (time_t)v[i].start_time),
                             short_form, now);
    }
    free(want);
    free(v);
    return 0;
}

/* --- xl info -------------------------------------------------------------- */

/* `xl info NAME` prints only the values of the keys NAME begins, as Xen's. */
static const char *info_filter;

static void row(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void row(const char *key, const char *fmt, ...)
{
    if (info_filter && strncmp(key, info_filter, strlen(info_filter)) != 0)
        return;
    if (!info_filter)
        printf("%-23s: ", key);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* Xen's featureset words: CPUID 1 edx/ecx, 0x80000001 edx/ecx, 0xd:1 eax,
 * 7:0 ebx/ecx, 0x80000007 edx (public/arch-x86/cpufeatureset.h). */
static void hw_caps(unsigned w[8])
{
    unsigned a, b, c, d;
    memset(w, 0, 8 * sizeof(*w));
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        w[0] = d;
        w[1] = c;
    }
    if (__get_cpuid(0x80000001, &a, &b, &c, &d)) {
        w[2] = d;
        w[3] = c;
    }
    if (__get_cpuid_max(0, NULL) >= 0xd) {
        __cpuid_count(0xd, 1, a, b, c, d);
        w[4] = a;
    }
    if (__get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        w[5] = b;
        w[6] = c;
    }
    if (__get_cpuid(0x80000007, &a, &b, &c, &d))
        w[7] = d;
}

static void print_topology(const struct host_shape *s)
{
    printf("cpu_topology           :\n");
    printf("cpu:    core    socket     node\n");
    for (int cpu = 0; cpu <= s->max_cpu_id; cpu++) {
        struct host_cpu_topo t;
        host_cpu_topology(cpu, &t);
        printf("%3d:    %4d     %4d     %4d\n", cpu, t.core, t.socket, t.node);
    }
    printf("device topology        :\n");
    printf("device           node\n");
    /* PCI devices with a node the firmware gave them. */
    int shown = 0;
    DIR *d = opendir("/sys/bus/pci/devices");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        unsigned seg, bus, dev, fn;
        char path[512];
        if (sscanf(e->d_name, "%x:%x:%x.%x", &seg, &bus, &dev, &fn) != 4)
            continue;
        snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/numa_node", e->d_name);
        FILE *f = fopen(path, "re");
        int node = -1;
        if (f) {
            if (fscanf(f, "%d", &node) != 1)
                node = -1;
            fclose(f);
        }
        if (node >= 0) {
            printf("%04x:%02x:%02x.%01x      %d\n", seg, bus, dev, fn, node);
            shown++;
        }
    }
    if (d)
        closedir(d);
    if (!shown)
        printf("No device topology data available\n");
    printf("numa_info              :\n");
    printf("node:    memsize    memfree    distances\n");
    for (int node = 0; node < s->nr_nodes; node++) {
        unsigned long long total, avail;
        char dists[256];
        if (host_node_memory(node, &total, &avail, dists, sizeof(dists)) == 0)
            printf("%4d:    %6llu     %6llu      %s\n", node, total >> 10, avail >> 10,
                   dists);
    }
}

int main_info(int argc, char **argv)
{
    int c, numa = 0;
    while ((c = next_opt(argc, argv, "hn", "info", 0)) != -1)
        if (c == 'n')
            numa = 1;
    if (!numa && argc > optind)
        info_filter = argv[optind];
    struct utsname u;
    uname(&u);
    struct sysinfo si;
    sysinfo(&si);
    unsigned long long unit = si.mem_unit;
    struct host_shape s;
    host_shape(&s);
    unsigned w[8];
    hw_caps(w);
    bool kvm = access("/dev/kvm", R_OK | W_OK) == 0;
    row("host", "%s", u.nodename);
    row("release", "%s", u.release);
    row("version", "%s", u.version);
    row("machine", "%s", u.machine);
    row("nr_cpus", "%d", s.nr_cpus);
    row("max_cpu_id", "%d", s.max_cpu_id);
    row("nr_nodes", "%d", s.nr_nodes);
    row("cores_per_socket", "%d", s.cores_per_socket);
    row("threads_per_core", "%d", s.threads_per_core);
    row("cpu_mhz", "%lu.%03lu", s.cpu_khz / 1000, s.cpu_khz % 1000);
    row("hw_caps", "%08x:%08x:%08x:%08x:%08x:%08x:%08x:%08x", w[0], w[1], w[2],
        w[3], w[4], w[5], w[6], w[7]);
    /* PVH guests are HVM ones to Xen; KVM gives hardware paging (hap).
     * Xen's own format: each capability after a space, none after ":". */
    if (!info_filter)
        printf("%-23s:%s\n", "virt_caps", kvm ? " hvm hap gnttab-v1" : "");
    else if (kvm)
        row("virt_caps", "%s", "hvm hap gnttab-v1");
    row("total_memory", "%llu", (unsigned long long)si.totalram * unit >> 20);
    row("free_memory", "%llu", (unsigned long long)si.freeram * unit >> 20);
    row("sharing_freed_memory", "%d", 0);
    row("sharing_used_memory", "%d", 0);
    row("outstanding_claims", "%d", 0);
    row("free_cpus", "%d", 0);         /* every CPU is in Pool-0 */
    if (numa)
        print_topology(&s);
    row("xen_major", "%d", 4);
    row("xen_minor", "%d", 17);
    row("xen_extra", "%s", "-xenon");
    row("xen_version", "%s", "4.17-xenon");
    row("xen_caps", "%s", "hvm-3.0-x86_64 hvm-3.0-x86_32");
    row("xen_scheduler", "%s", "linux");
    row("xen_pagesize", "%d", 4096);
    row("platform_params", "%s", "virt_start=0x0");
    row("xen_changeset", "%s", "xenon");
    row("xen_commandline", "%s", "");
#if defined(__clang__)
    row("cc_compiler", "%s", "clang " __clang_version__);
#elif defined(__GNUC__)
    row("cc_compiler", "%s", "gcc " __VERSION__);
#else
    row("cc_compiler", "%s", "");
#endif
    row("cc_compile_by", "%s", "");
    row("cc_compile_domain", "%s", "");
    row("cc_compile_date", "%s", "");
    row("build_id", "%s", "");
    row("xend_config_format", "%d", 4);
    return 0;
}

int main_domid(int argc, char **argv)
{
    while (next_opt(argc, argv, "h", "domid", 1) != -1)
        ;
    if (!strcmp(argv[optind], "Domain-0")) {
        printf("0\n");
        return 0;
    }
    int n;
    struct xenon_dominfo *v = list_domains(&n);
    for (int i = 0; i < n; i++)
        if (!strcmp(v[i].name, argv[optind])) {
            printf("%u\n", v[i].domid);
            free(v);
            return 0;
        }
    free(v);
    fprintf(stderr, "Can't get domid of domain name '%s', maybe this domain does not exist.\n",
            argv[optind]);
    return EXIT_FAILURE;
}

int main_domname(int argc, char **argv)
{
    while (next_opt(argc, argv, "h", "domname", 1) != -1)
        ;
    char *end;
    unsigned long id = strtoul(argv[optind], &end, 10);
    if (*end || end == argv[optind]) {
        fprintf(stderr, "Invalid domain id.\n\n");
        return EXIT_FAILURE;
    }
    if (id == 0) {
        printf("Domain-0\n");
        return 0;
    }
    int n;
    struct xenon_dominfo *v = list_domains(&n);
    for (int i = 0; i < n; i++)
        if (v[i].domid == id) {
            printf("%s\n", v[i].name);
            free(v);
            return 0;
        }
    free(v);
    fprintf(stderr, "Can't get domain name of domain id '%lu', maybe this domain does not exist.\n", id);
    return EXIT_FAILURE;
}
