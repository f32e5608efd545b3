/* Commands that show domains and the host: list, info, uptime, domid,
 * domname (Xen's tools/xl/xl_info.c). */
#include "xl.h"

#include <getopt.h>
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

static double host_cpu_seconds(void)
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

static unsigned long host_mem_mib(void)
{
    struct sysinfo si;
    if (sysinfo(&si) < 0)
        return 0;
    return (unsigned long)((unsigned long long)si.totalram * si.mem_unit >> 20);
}

static void print_json_indented(const char *json, const char *indent)
{
    for (const char *p = json; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (p != json)
            fputs(indent, stdout);
        fwrite(p, 1, n, stdout);
        if (!nl)
            break;
        fputc('\n', stdout);
        p = nl + 1;
    }
}

int main_list(int argc, char **argv)
{
    int c, details = 0, verbose = 0;
    static const struct option lopts[] = {
        { "long", 0, 0, 'l' }, { "verbose", 0, 0, 'v' }, { "help", 0, 0, 'h' },
        { 0 } };
    while ((c = getopt_long(argc, argv, "lvh", lopts, NULL)) != -1) {
        if (c == 'l')
            details = 1;
        else if (c == 'v')
            verbose = 1;
        else if (c == 'h') {
            help("list");
            return 0;
        } else {
            fprintf(stderr, "option `%c' not supported.\n", optopt);
            return 2;
        }
    }
    int n;
    struct xenon_dominfo *v = list_domains(&n);
    /* Which domains: all, or the ones named. */
    int nwant;
    unsigned *want = wanted_domains(argc, argv, DOM0_ID_OR_NAME, v, n, &nwant);
    bool show0 = is_wanted(want, nwant, 0);
    if (details) {
        printf("[\n");
        int first = 1;
        for (int i = 0; i < n; i++) {
            if (!is_wanted(want, nwant, v[i].domid))
                continue;
            char *json = xenon_domain_config_json(&paths, v[i].domid);
            printf("%s    {\n        \"domid\": %u,\n        \"config\": ",
                   first ? "" : ",\n", v[i].domid);
            print_json_indented(json ? json : "null", "        ");
            printf("\n    }");
            free(json);
            first = 0;
        }
        printf("%s]\n", first ? "" : "\n");
        free(v);
        free(want);
        return 0;
    }
    printf("Name                                        ID   Mem VCPUs\tState\tTime(s)");
    if (verbose)
        printf("   UUID                            Reason-Code\tSecurity Label");
    printf("\n");
    if (show0) {
        printf("%-40s %5d %5lu %5d     %s  %8.1f", "Domain-0", 0, host_mem_mib(),
               get_nprocs(), "r-----", host_cpu_seconds());
        if (verbose)
            printf(" 00000000-0000-0000-0000-000000000000 %8s %16s", "-", "-");
        printf("\n");
    }
    for (int i = 0; i < n; i++) {
        if (!is_wanted(want, nwant, v[i].domid))
            continue;
        char st[7];
        state_letters(&v[i], st);
        printf("%-40s %5d %5lu %5d     %s  %8.1f", v[i].name, (int)v[i].domid,
               (unsigned long)(v[i].target_kb / 1024), (int)v[i].vcpus, st,
               v[i].cpu_time);
        if (verbose) {
            printf(" %-36s", v[i].uuid[0] ? v[i].uuid : "-");
            if (v[i].shutdown_reason >= 0)
                printf(" %8x", v[i].shutdown_reason);
            else
                printf(" %8s", "-");
            printf(" %16s", "-");
        }
        printf("\n");
    }
    free(v);
    free(want);
    return 0;
}

static void print_uptime_row(const char *name, unsigned id, unsigned long secs)
{
    unsigned long day = secs / 86400, hour = secs % 86400 / 3600,
                  min = secs % 3600 / 60, sec = secs % 60;
    char t[64];
    if (day > 1)
        snprintf(t, sizeof(t), "%lu days, %2lu:%02lu:%02lu", day, hour, min, sec);
    else if (day == 1)
        snprintf(t, sizeof(t), "%lu day, %2lu:%02lu:%02lu", day, hour, min, sec);
    else
        snprintf(t, sizeof(t), "%2lu:%02lu:%02lu", hour, min, sec);
    printf("%-33s %4u %s\n", name, id, t);
}

int main_uptime(int argc, char **argv)
{
    while (next_opt(argc, argv, "hs", "uptime", 0) != -1)
        ;
    int n;
    struct xenon_dominfo *v = list_domains(&n);
    int nwant;
    unsigned *want = wanted_domains(argc, argv, DOM0_ID, v, n, &nwant);
    printf("%-33s %4s %s\n", "Name", "ID", "Uptime");
    struct sysinfo si;
    if (is_wanted(want, nwant, 0) && sysinfo(&si) == 0)
        print_uptime_row("Domain-0", 0, (unsigned long)si.uptime);
    time_t now = time(NULL);
    for (int i = 0; i < n; i++) {
        if (is_wanted(want, nwant, v[i].domid))
            print_uptime_row(v[i].name, v[i].domid,
                             (unsigned long)(now - (time_t)v[i].start_time));
    }
    free(want);
    free(v);
    return 0;
}

int main_info(int argc, char **argv)
{
    while (next_opt(argc, argv, "hn", "info", 0) != -1)
        ;
    struct utsname u;
    uname(&u);
    struct sysinfo si;
    sysinfo(&si);
    unsigned long long unit = si.mem_unit;
#define ROW(k, fmt, ...) printf("%-23s: " fmt "\n", k, __VA_ARGS__)
    ROW("host", "%s", u.nodename);
    ROW("release", "%s", u.release);
    ROW("version", "%s", u.version);
    ROW("machine", "%s", u.machine);
    ROW("nr_cpus", "%d", get_nprocs());
    ROW("max_cpu_id", "%d", get_nprocs_conf() - 1);
    ROW("total_memory", "%llu", (unsigned long long)si.totalram * unit >> 20);
    ROW("free_memory", "%llu", (unsigned long long)si.freeram * unit >> 20);
    ROW("xen_major", "%d", 4);
    ROW("xen_minor", "%d", 17);
    ROW("xen_extra", "%s", "-xenon");
    ROW("xen_version", "%s", "4.17-xenon");
    ROW("xen_caps", "%s", "hvm-3.0-x86_64 hvm-3.0-x86_32");
    ROW("xen_scheduler", "%s", "linux");
    ROW("xen_commandline", "%s", "");
    ROW("virt_caps", "%s", access("/dev/kvm", R_OK | W_OK) == 0 ? "pvh" : "");
    ROW("xend_config_format", "%d", 4);
#undef ROW
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
