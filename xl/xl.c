/* xl: the Xenon command line, with Xen's xl commands, messages, output
 * formats and exit codes (see docs/xl.md for what Xenon does differently). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "domain.h"
#include "domain_config.h"
#include "util.h"

static struct xenon_paths paths;
static int dryrun_only;

struct cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    int can_dryrun;
    const char *desc, *usage, *options;
};
static const struct cmd *lookup(const char *s);

static void help(const char *command);

/* --- helpers -------------------------------------------------------------- */

static void __attribute__((noreturn)) invalid_domain(const char *spec)
{
    fprintf(stderr, "%s is an invalid domain identifier (rc=%d)\n", spec, -6);
    exit(EXIT_FAILURE);
}

/* A domain by name or id, exiting as xl's find_domain does. */
static unsigned find_domain(const char *spec)
{
    unsigned domid;
    int rc = xenon_domain_lookup(&paths, spec, &domid, stderr);
    if (rc == -2)
        exit(EXIT_FAILURE);
    if (rc < 0)
        invalid_domain(spec);
    return domid;
}

/* All guest domains, or exit as xl does when they cannot be listed. */
static struct xenon_dominfo *list_domains(int *n)
{
    struct xenon_dominfo *v;
    if (xenon_domain_list(&paths, &v, n, stderr) < 0)
        exit(EXIT_FAILURE);
    return v;
}

/* How a command spells domain 0, which find_domain does not know. */
enum dom0_spelling { DOM0_NONE, DOM0_ID, DOM0_ID_OR_NAME };

/* The domains named by argv[optind..argc), found in the listing v[0..nv)
 * the command already made (exiting as find_domain does); *n = 0 when none
 * are named, which means all. */
static unsigned *wanted_domains(int argc, char **argv, enum dom0_spelling d0,
                                const struct xenon_dominfo *v, int nv, int *n)
{
    unsigned *want = calloc((size_t)(argc > optind ? argc - optind : 0) + 1,
                            sizeof(*want));
    if (!want) {
        fprintf(stderr, "out of memory\n");
        exit(EXIT_FAILURE);
    }
    *n = 0;
    for (int i = optind; i < argc; i++) {
        bool dom0 = (d0 != DOM0_NONE && !strcmp(argv[i], "0")) ||
                    (d0 == DOM0_ID_OR_NAME && !strcmp(argv[i], "Domain-0"));
        int k = dom0 ? -1 : xenon_dominfo_find(v, nv, argv[i]);
        if (!dom0 && k < 0)
            invalid_domain(argv[i]);
        want[(*n)++] = dom0 ? 0 : v[k].domid;
    }
    return want;
}

static bool is_wanted(const unsigned *want, int n, unsigned domid)
{
    for (int i = 0; i < n; i++)
        if (want[i] == domid)
            return true;
    return n == 0;
}

/* getopt for a subcommand: only -h beyond `opts`; bad options exit 2. */
static int next_opt(int argc, char **argv, const char *opts, const char *cmd,
                    int min_args)
{
    int c = getopt(argc, argv, opts);
    if (c == 'h') {
        help(cmd);
        exit(0);
    }
    if (c == '?') {
        fprintf(stderr, "option `%c' not supported.\n", optopt);
        exit(2);
    }
    if (c == -1 && argc - optind < min_args) {
        fprintf(stderr, "'xl %s' requires at least %d argument%s.\n\n", cmd,
                min_args, min_args == 1 ? "" : "s");
        help(cmd);
        exit(2);
    }
    return c;
}

static char *absolute(const char *path)
{
    if (!path || path[0] == '/')
        return path ? strdup(path) : NULL;
    char *r = realpath(path, NULL);
    if (r)
        return r;
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd)))
        return strdup(path);
    char *out;
    if (asprintf(&out, "%s/%s", cwd, path) < 0)
        return NULL;
    return out;
}

/* --- console -------------------------------------------------------------- */

static struct termios saved_tio;
static int restore_tio;

static void tty_restore(void)
{
    if (restore_tio)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
}

/* Connect to the domain's console socket; the descriptor, or -1 with the
 * reason printed. */
static int console_connect(unsigned domid)
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

/* Bridge the terminal and a connected console until ^] or the domain goes
 * away. */
static int console_bridge(int fd)
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

static int console_attach(unsigned domid)
{
    int fd = console_connect(domid);
    return fd < 0 ? EXIT_FAILURE : console_bridge(fd);
}

/* --- commands ------------------------------------------------------------- */

static int main_create(int argc, char **argv)
{
    const char *file = NULL;
    int console = 0, quiet = 0, foreground = 0, paused = 0, c;
    static const char *const none[1];
    if (argc > 1 && argv[1][0] != '-' && !strchr(argv[1], '=')) {
        file = argv[1];
        argc--;
        argv++;
    }
    while ((c = next_opt(argc, argv, "hcFf:npq", "create", 0)) != -1) {
        switch (c) {
        case 'F': foreground = 1; break;
        case 'p': paused = 1; break;
        case 'c': console = 1; break;
        case 'f': file = optarg; break;
        case 'n': dryrun_only = 1; break;
        case 'q': quiet = 1; break;
        }
    }
    const char **over = calloc((size_t)argc + 1, sizeof(*over));
    if (!over) {
        fprintf(stderr, "out of memory\n");
        return 3;
    }
    int nover = 0;
    for (; optind < argc; optind++) {
        if (strchr(argv[optind], '='))
            over[nover++] = argv[optind];
        else if (!file)
            file = argv[optind];
        else {
            help("create");
            free(over);
            return 2;
        }
    }
    if (!file) {
        fprintf(stderr, "Config file not specified\n");
        free(over);
        return 3;       /* ERROR_FAIL, as xl */
    }
    size_t len = 0;
    char *data = strcmp(file, "/dev/null") ? read_whole_file(file, &len) : strdup("");
    if (!data) {
        fprintf(stderr, "Failed to read config file: %s: %s\n", file,
                strerror(errno));
        free(over);
        return 3;
    }
    if (!quiet)
        fprintf(stderr, "Parsing config from %s\n", file);
    struct domain_config dc;
    domain_config_init(&dc);
    int rc = domain_config_parse(file, data, len, nover ? over : none, nover,
                                 stderr, &dc);
    free(data);
    free(over);
    if (rc < 0) {
        domain_config_dispose(&dc);
        return EXIT_FAILURE;       /* xl's parser exits 1 */
    }
    char *json = domain_config_to_json(&dc);
    if (dryrun_only) {
        if (json)
            printf("%s\n", json);
        free(json);
        domain_config_dispose(&dc);
        return json ? 0 : 3;
    }
    if (dc.type != DC_TYPE_PVH) {
        fprintf(stderr, "libxl: error: domain type %s is not supported by Xenon "
                        "(only pvh)\n", dc_type_name(dc.type));
        free(json);
        domain_config_dispose(&dc);
        return 3;
    }
    if (!dc.kernel) {
        fprintf(stderr, "libxl: error: no kernel specified\n");
        free(json);
        domain_config_dispose(&dc);
        return 3;
    }
    char *k = absolute(dc.kernel), *r = absolute(dc.ramdisk);
    free(dc.kernel);
    free(dc.ramdisk);
    dc.kernel = k;
    dc.ramdisk = r;
    unsigned domid;
    pid_t monitor = 0;
    /* -c: the console is attached before the guest can print (as xl's
     * console autoconnect runs while libxl holds the domain paused): the
     * domain is built paused, connected to, then let run. */
    rc = xenon_domain_create(&paths, &dc, json,
                             (foreground ? XENON_CREATE_FOREGROUND : 0) |
                             (paused || console ? XENON_CREATE_PAUSED : 0),
                             &domid, &monitor, stderr);
    free(json);
    domain_config_dispose(&dc);
    if (rc < 0)
        return 3;
    if (console) {
        int fd = console_connect(domid);
        if (!paused && xenon_domain_unpause(&paths, domid, stderr) < 0) {
            if (fd >= 0)
                close(fd);
            return 3;
        }
        rc = fd < 0 ? EXIT_FAILURE : console_bridge(fd);
    }
    if (monitor > 0)
        xenon_monitor_wait(monitor);    /* -F: until the domain is gone */
    return rc;
}

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

static int main_list(int argc, char **argv)
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

static int main_destroy(int argc, char **argv)
{
    int c;
    while ((c = next_opt(argc, argv, "hf", "destroy", 1)) != -1)
        ;
    const char *p = argv[optind];
    if (!strcmp(p, "0") || !strcmp(p, "Domain-0")) {
        fprintf(stderr, "Cannot destroy privileged domain 0.\n\n");
        return EXIT_FAILURE;
    }
    /* A domain being restarted changes domid: destroy by name follows it. */
    for (int tries = 0; tries < 100; tries++) {
        unsigned domid = find_domain(p);
        int rc = xenon_domain_destroy(&paths, domid, stderr);
        if (rc < 0) {
            fprintf(stderr, "destroy failed (rc=%d)\n", -3);
            return EXIT_FAILURE;
        }
        if (rc == 0)
            return 0;
    }
    fprintf(stderr, "destroy failed (rc=%d)\n", -3);
    return EXIT_FAILURE;
}

/* shutdown -w: wait until the domains are gone (the monitor has applied
 * on_poweroff; the shutdown reason is no longer known by then). */
static void wait_dead(const unsigned *ids, int n)
{
    fprintf(stderr, "Waiting for %d domains\n", n);
    for (int i = 0; i < n; i++) {
        while (xenon_domain_exists(&paths, ids[i])) {
            struct timespec ts = { 0, 50000000 };
            nanosleep(&ts, NULL);
        }
        fprintf(stderr, "Domain %u has been destroyed\n", ids[i]);
    }
}

static int shutdown_or_reboot(int argc, char **argv, int reboot)
{
    const char *cmd = reboot ? "reboot" : "shutdown";
    int c, all = 0, wait = 0;
    static const struct option lopts[] = {
        { "all", 0, 0, 'a' }, { "wait", 0, 0, 'w' }, { "help", 0, 0, 'h' },
        { 0 } };
    while ((c = getopt_long(argc, argv, "awFh", lopts, NULL)) != -1) {
        switch (c) {
        case 'a': all = 1; break;
        case 'w': wait = 1; break;
        case 'F': break;   /* PVH always has PV control in xl's eyes */
        case 'h': help(cmd); return 0;
        default:
            fprintf(stderr, "option `%c' not supported.\n", optopt);
            return 2;
        }
    }
    unsigned *ids = NULL;
    int n = 0;
    if (all) {
        struct xenon_dominfo *v = list_domains(&n);
        ids = calloc((size_t)n + 1, sizeof(*ids));
        for (int i = 0; i < n; i++)
            ids[i] = v[i].domid;
        free(v);
    } else {
        if (optind >= argc) {
            help(cmd);
            return 2;
        }
        ids = calloc(1, sizeof(*ids));
        ids[0] = find_domain(argv[optind]);
        n = 1;
    }
    for (int i = 0; i < n; i++) {
        fprintf(stderr, "%s domain %u\n", reboot ? "Rebooting" : "Shutting down",
                ids[i]);
        if (xenon_domain_request(&paths, ids[i], reboot ? "reboot" : "poweroff",
                                 stderr) < 0) {
            fprintf(stderr, "%s failed (rc=%d)\n", cmd, -3);
            free(ids);
            return EXIT_FAILURE;
        }
    }
    if (wait && !reboot)
        wait_dead(ids, n);
    free(ids);
    return 0;
}

static int main_shutdown(int argc, char **argv) { return shutdown_or_reboot(argc, argv, 0); }
static int main_reboot(int argc, char **argv) { return shutdown_or_reboot(argc, argv, 1); }

static int main_console(int argc, char **argv)
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

static int pause_or_unpause(int argc, char **argv, int pause)
{
    const char *cmd = pause ? "pause" : "unpause";
    while (next_opt(argc, argv, "h", cmd, 1) != -1)
        ;
    unsigned domid = find_domain(argv[optind]);
    int rc = pause ? xenon_domain_pause(&paths, domid, stderr)
                   : xenon_domain_unpause(&paths, domid, stderr);
    return rc < 0 ? EXIT_FAILURE : 0;
}

static int main_pause(int argc, char **argv) { return pause_or_unpause(argc, argv, 1); }
static int main_unpause(int argc, char **argv) { return pause_or_unpause(argc, argv, 0); }

static int main_memset(int argc, char **argv)
{
    while (next_opt(argc, argv, "h", "mem-set", 2) != -1)
        ;
    unsigned domid = find_domain(argv[optind]);
    const char *mem = argv[optind + 1];
    char *end;
    errno = 0;
    unsigned long long v = strtoull(mem, &end, 10);
    unsigned long long mult = 1024;    /* no suffix: MiB */
    if (*end && !end[1]) {
        switch (*end) {
        case 'b': case 'B': mult = 0; break;
        case 'k': case 'K': mult = 1; break;
        case 'm': case 'M': mult = 1024; break;
        case 'g': case 'G': mult = 1024 * 1024; break;
        case 't': case 'T': mult = 1024ull * 1024 * 1024; break;
        default: end = NULL;
        }
    } else if (*end) {
        end = NULL;
    }
    /* A size whose KiB do not fit 64 bits is as invalid as a bad suffix. */
    if (!end || errno || end == mem || mem[0] == '-' ||
        (mult && v > ULLONG_MAX / mult)) {
        fprintf(stderr, "Invalid memory size: %s\n", mem);
        return EXIT_FAILURE;
    }
    unsigned long long kb = mult ? v * mult : v / 1024;
    return xenon_domain_set_target(&paths, domid, kb, stderr) < 0 ? EXIT_FAILURE : 0;
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

static int main_uptime(int argc, char **argv)
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

static int main_info(int argc, char **argv)
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

static int main_domid(int argc, char **argv)
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

static int main_domname(int argc, char **argv)
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

static void print_vcpus_of(const struct xenon_dominfo *d)
{
    struct xenon_vcpuinfo *v;
    int n;
    if (!d->running || xenon_domain_vcpus(d->vmm_pid, &v, &n) < 0)
        return;
    for (int i = 0; i < n; i++) {
        printf("%-32s %5u %5u", d->name, d->domid, v[i].vcpuid);
        if (v[i].cpu < 0)
            printf("%5c %3c%cp ", '-', '-', '-');
        else
            printf("%5d %3c%c- ", v[i].cpu, v[i].running ? 'r' : '-',
                   v[i].blocked ? 'b' : '-');
        printf("%9.1f  %s / all\n", v[i].cpu_time, v[i].affinity);
    }
    free(v);
}

static int main_vcpulist(int argc, char **argv)
{
    while (next_opt(argc, argv, "h", "vcpu-list", 0) != -1)
        ;
    int n;
    struct xenon_dominfo *v = list_domains(&n);
    printf("%-32s %5s %5s %5s %5s %9s %s\n", "Name", "ID", "VCPU", "CPU", "State",
           "Time(s)", "Affinity (Hard / Soft)");
    /* Each name looked up once, not once per listed domain. */
    int nwant;
    unsigned *want = wanted_domains(argc, argv, DOM0_NONE, v, n, &nwant);
    for (int i = 0; i < n; i++)
        if (is_wanted(want, nwant, v[i].domid))
            print_vcpus_of(&v[i]);
    free(want);
    free(v);
    return 0;
}

static int main_help(int argc, char **argv)
{
    help(argc > 1 ? argv[1] : NULL);
    return 0;
}

static const struct cmd cmds[] = {
    { "create", main_create, 1, "Create a domain from config file <filename>",
      "<ConfigFile> [options] [vars]",
      "-h                      Print this help.\n"
      "-n, --dryrun            Dry run - prints the resulting configuration\n"
      "                         (deprecated in favour of global -N option).\n"
      "-p                      Leave the domain paused after it is created.\n"
      "-q, --quiet             Quiet.\n"
      "-f FILE, --defconfig=FILE\n"
      "                        Use the given configuration file.\n"
      "-F                      Run in foreground until death of the domain.\n"
      "-c                      Connect to the console after the domain is created." },
    { "list", main_list, 0, "List information about all/some domains",
      "[options] [Domain]\n",
      "-l, --long              Output all VM details\n"
      "-v, --verbose           Prints out UUIDs and security context" },
    { "destroy", main_destroy, 0, "Terminate a domain immediately",
      "[options] <Domain>\n",
      "-f                      Permit destroying domain 0, which will only succeed\n"
      "                        when run from disaggregated toolstack domain with a\n"
      "                        hypervisor which supports destroying domain 0." },
    { "shutdown", main_shutdown, 0, "Issue a shutdown signal to a domain",
      "[options] <-a|Domain>",
      "-a, --all               Shutdown all guest domains.\n"
      "-h                      Print this help.\n"
      "-F                      Fallback to ACPI power event for HVM guests with\n"
      "                        no PV drivers.\n"
      "-w, --wait              Wait for guest(s) to shutdown.\n" },
    { "reboot", main_reboot, 0, "Issue a reboot signal to a domain",
      "[options] <-a|Domain>",
      "-a, --all               Shutdown all guest domains.\n"
      "-h                      Print this help.\n"
      "-F                      Fallback to ACPI reset event for HVM guests with\n"
      "                        no PV drivers.\n"
      "-w, --wait              Wait for guest(s) to reboot.\n" },
    { "pause", main_pause, 0, "Pause execution of a domain", "<Domain>", NULL },
    { "unpause", main_unpause, 0, "Unpause a paused domain", "<Domain>", NULL },
    { "console", main_console, 0, "Attach to domain's console",
      "[options] <Domain>\n"
      "-t <type>       console type, pv , serial or vuart\n"
      "-n <number>     console number", NULL },
    { "mem-set", main_memset, 0, "Set the current memory usage for a domain",
      "<Domain> <MemMB['b'[bytes]|'k'[KB]|'m'[MB]|'g'[GB]|'t'[TB]]>", NULL },
    { "info", main_info, 0, "Get information about Xen host", "-n, --numa         List host NUMA topology information", NULL },
    { "uptime", main_uptime, 0, "Print uptime for all/some domains",
      "[-s] [Domain]", NULL },
    { "vcpu-list", main_vcpulist, 0, "List the VCPUs for all/some domains",
      "[Domain, ...]", NULL },
    { "domid", main_domid, 0, "Convert a domain name to domain id", "<DomainName>", NULL },
    { "domname", main_domname, 0, "Convert a domain id to domain name", "<DomainId>", NULL },
    { "help", main_help, 0, "Print this help", "[command]", NULL },
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static const struct cmd *lookup(const char *s)
{
    const struct cmd *found = NULL;
    size_t len = strlen(s);
    int count = 0;
    for (size_t i = 0; i < NCMDS; i++)
        if (!strncmp(s, cmds[i].name, len)) {
            if (len == strlen(cmds[i].name))
                return &cmds[i];
            found = &cmds[i];
            count++;
        }
    return count == 1 ? found : NULL;
}

static void help(const char *command)
{
    if (!command || !strcmp(command, "help")) {
        printf("Usage xl [-vfNtT] <subcommand> [args]\n\n");
        printf("xl full list of subcommands:\n\n");
        for (size_t i = 0; i < NCMDS; i++) {
            if (!strcmp(cmds[i].name, "help"))
                continue;
            /* " %-19s ", continued on a new line for longer names */
            size_t len = strlen(cmds[i].name);
            printf(" %s%*s ", cmds[i].name, len < 19 ? (int)(19 - len) : 0, "");
            if (len > 19)
                printf("\n%21s", "");
            printf("%s\n", cmds[i].desc);
        }
        return;
    }
    const struct cmd *c = lookup(command);
    if (!c) {
        printf("command \"%s\" not implemented\n", command);
        return;
    }
    printf("Usage: xl [-vtT%s] %s %s\n\n%s.\n\n", c->can_dryrun ? "N" : "",
           c->name, c->usage, c->desc);
    if (c->options)
        printf("Options:\n\n%s\n", c->options);
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "+vftTN")) >= 0) {
        switch (opt) {
        case 'N': dryrun_only = 1; break;
        case 'v': case 'f': case 't': case 'T': break;
        default:
            fprintf(stderr, "unknown global option\n");
            exit(EXIT_FAILURE);
        }
    }
    const char *cmd = argv[optind];
    if (!cmd) {
        help(NULL);
        exit(EXIT_FAILURE);
    }
    xenon_paths_init(&paths);
    argv += optind;
    argc -= optind;
    optind = 1;
    opterr = 0;
    if (!strcmp(cmd, "help")) {
        help(argv[1]);
        return 0;
    }
    const struct cmd *c = lookup(cmd);
    if (!c) {
        fprintf(stderr, "command not implemented\n");
        return EXIT_FAILURE;
    }
    if (dryrun_only && !c->can_dryrun) {
        fprintf(stderr, "command does not implement -N (dryrun) option\n");
        return EXIT_FAILURE;
    }
    return c->fn(argc, argv);
}
