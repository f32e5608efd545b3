/* xl top: xentop's screen, drawn by xl itself (Xen's `xl top` runs xentop).
 * The same columns, widths and state letters as xentop; Xenon has no
 * network or block backends yet, so their counters are 0. -b prints plain
 * tables (no summary), as xentop's batch mode; otherwise the screen is
 * redrawn every -d seconds until `q` or ^C. */
#include "xl.h"

#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* One row of the table. */
struct top_row {
    char name[256];
    unsigned domid;
    char state[7];
    double cpu, cpu_pct;
    unsigned long long mem_kb, max_kb;   /* max_kb 0: no limit */
    unsigned vcpus;
};

/* CPU seconds seen at the previous screen, by domid, for CPU(%). */
struct cpu_sample { unsigned domid; double cpu; };
static struct cpu_sample *prev;
static int nprev;
static double prev_time;

static double prev_cpu(unsigned domid, bool *found)
{
    for (int i = 0; i < nprev; i++)
        if (prev[i].domid == domid) {
            *found = true;
            return prev[i].cpu;
        }
    *found = false;
    return 0;
}

/* xentop's letters, in its order: dying, shutdown, blocked, crashed,
 * paused, running. */
static void top_state(const struct xenon_dominfo *d, char out[7])
{
    int sr = d->shutdown_reason;
    out[0] = !d->running && sr < 0 ? 'd' : '-';
    out[1] = sr >= 0 && sr != 3 ? 's' : '-';
    out[2] = d->running && !d->paused && d->blocked ? 'b' : '-';
    out[3] = sr == 3 ? 'c' : '-';
    out[4] = d->paused ? 'p' : '-';
    out[5] = d->running && !d->paused && !d->blocked ? 'r' : '-';
    out[6] = 0;
}

static int by_name(const void *a, const void *b)
{
    const struct top_row *x = a, *y = b;
    return strcasecmp(x->name, y->name);
}

/* Domain-0 (the host) and every guest, with CPU(%) since the last call. */
static struct top_row *sample(int *nrows)
{
    int n;
    struct xenon_dominfo *v = list_domains(&n);
    struct top_row *r = calloc((size_t)n + 1, sizeof(*r));
    struct cpu_sample *now = calloc((size_t)n + 1, sizeof(*now));
    if (!r || !now) {
        fprintf(stderr, "out of memory\n");
        exit(EXIT_FAILURE);
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    double t = (double)tv.tv_sec + tv.tv_usec / 1e6;
    snprintf(r[0].name, sizeof(r[0].name), "Domain-0");
    snprintf(r[0].state, sizeof(r[0].state), "-----r");
    r[0].cpu = host_cpu_seconds();
    r[0].mem_kb = (unsigned long long)host_mem_mib() * 1024;
    r[0].vcpus = (unsigned)get_nprocs();
    for (int i = 0; i < n; i++) {
        struct top_row *x = &r[i + 1];
        snprintf(x->name, sizeof(x->name), "%s", v[i].name);
        x->domid = v[i].domid;
        top_state(&v[i], x->state);
        x->cpu = v[i].cpu_time;
        x->mem_kb = v[i].target_kb;
        x->max_kb = v[i].max_kb;
        x->vcpus = v[i].vcpus;
    }
    for (int i = 0; i <= n; i++) {
        bool found;
        double before = prev_cpu(r[i].domid, &found);
        /* No earlier sample: 0, as xentop's first screen. */
        if (found && prev && t > prev_time)
            r[i].cpu_pct = (r[i].cpu - before) / (t - prev_time) * 100.0;
        if (r[i].cpu_pct < 0)
            r[i].cpu_pct = 0;
        now[i] = (struct cpu_sample){ r[i].domid, r[i].cpu };
    }
    free(prev);
    prev = now;
    nprev = n + 1;
    prev_time = t;
    free(v);
    qsort(r, (size_t)n + 1, sizeof(*r), by_name);
    *nrows = n + 1;
    return r;
}

static void print_summary(const struct top_row *r, int n)
{
    char clock[16];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
    printf("xentop - %s   Xen %s\n", clock, "4.17-xenon");
    unsigned run = 0, block = 0, pause = 0, crash = 0, dying = 0, shut = 0;
    for (int i = 0; i < n; i++) {
        const char *s = r[i].state;
        if (s[5] == 'r') run++;
        else if (s[2] == 'b') block++;
        else if (s[4] == 'p') pause++;
        else if (s[1] == 's') shut++;
        else if (s[3] == 'c') crash++;
        else if (s[0] == 'd') dying++;
    }
    printf("%d domains: %u running, %u blocked, %u paused, %u crashed, %u dying, "
           "%u shutdown \n", n, run, block, pause, crash, dying, shut);
    struct sysinfo si;
    unsigned long long total = 0, avail = 0;
    if (sysinfo(&si) == 0) {
        total = (unsigned long long)si.totalram * si.mem_unit >> 10;
        avail = (unsigned long long)si.freeram * si.mem_unit >> 10;
    }
    struct host_shape hs;
    host_shape(&hs);
    printf("Mem: %lluk total, %lluk used, %lluk free    CPUs: %d @ %luMHz\n",
           total, total - avail, avail, hs.nr_cpus, hs.cpu_khz / 1000);
}

static void print_table(const struct top_row *r, int n, bool full_name)
{
    int namew = 10;
    for (int i = 0; full_name && i < n; i++)
        if ((int)strlen(r[i].name) > namew)
            namew = (int)strlen(r[i].name);
    printf("%*s %6s %10s %6s %10s %6s %10s %9s %5s %4s %8s %8s %4s %8s %8s %8s %10s %10s %4s\n",
           namew, "NAME", "STATE", "CPU(sec)", "CPU(%)", "MEM(k)", "MEM(%)",
           "MAXMEM(k)", "MAXMEM(%)", "VCPUS", "NETS", "NETTX(k)", "NETRX(k)", "VBDS",
           "VBD_OO", "VBD_RD", "VBD_WR", "VBD_RSECT", "VBD_WSECT", "SSID");
    double total_kb = (double)host_mem_mib() * 1024;
    if (total_kb <= 0)
        total_kb = 1;
    for (int i = 0; i < n; i++) {
        const struct top_row *x = &r[i];
        if (full_name)
            printf("%*s", namew, x->name);
        else
            printf("%10.10s", x->name);
        printf(" %6s %10llu %6.1f %10llu %6.1f", x->state,
               (unsigned long long)x->cpu, x->cpu_pct, x->mem_kb,
               (double)x->mem_kb / total_kb * 100);
        if (x->max_kb)
            printf(" %10llu %9.1f", x->max_kb, (double)x->max_kb / total_kb * 100);
        else
            printf(" %10s %9s", "no limit", "n/a");
        printf(" %5u %4u %8u %8u %4u %8u %8u %8u %10u %10u %4u\n", x->vcpus,
               0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u);
    }
}

static volatile sig_atomic_t top_stop;
static void on_stop(int sig)
{
    (void)sig;
    top_stop = 1;
}

static struct termios saved;
static bool raw_tty;
static void tty_back(void)
{
    if (raw_tty)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    printf("\033[?25h");
}

/* Wait `secs` seconds, or until `q` is typed on an interactive screen. */
static void pause_screen(unsigned secs, bool interactive)
{
    if (!interactive) {
        struct timespec ts = { (time_t)secs, 0 };
        while (!top_stop && nanosleep(&ts, &ts) < 0)
            ;
        return;
    }
    struct pollfd pf = { STDIN_FILENO, POLLIN, 0 };
    if (poll(&pf, 1, (int)secs * 1000) > 0) {
        char ch;
        if (read(STDIN_FILENO, &ch, 1) == 1 && (ch == 'q' || ch == 'Q'))
            top_stop = 1;
    }
}

int main_top(int argc, char **argv)
{
    int c, iterations = 0;
    unsigned delay = 3;
    bool batch = false, full_name = false;
    static const struct option lopts[] = {
        { "batch", 0, 0, 'b' }, { "iterations", 1, 0, 'i' }, { "delay", 1, 0, 'd' },
        { "full-name", 0, 0, 'f' }, { "help", 0, 0, 'h' }, { 0 } };
    while ((c = getopt_long(argc, argv, "bi:d:fh", lopts, NULL)) != -1) {
        switch (c) {
        case 'b': batch = true; break;
        case 'f': full_name = true; break;
        case 'i': iterations = atoi(optarg); break;
        case 'd':
            delay = (unsigned)atoi(optarg);
            if (atoi(optarg) <= 0) {
                fprintf(stderr, "invalid delay: %s\n", optarg);
                return 2;
            }
            break;
        case 'h': help("top"); return 0;
        default:
            fprintf(stderr, "option `%c' not supported.\n", optopt);
            return 2;
        }
    }
    bool interactive = !batch && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
    struct sigaction sa = { .sa_handler = on_stop };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (interactive && tcgetattr(STDIN_FILENO, &saved) == 0) {
        struct termios t = saved;
        t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == 0)
            raw_tty = true;
        atexit(tty_back);
        printf("\033[?25l");
    }
    for (int done = 0; !top_stop; ) {
        int n;
        struct top_row *r = sample(&n);
        if (interactive) {
            printf("\033[H\033[2J");
            print_summary(r, n);
        }
        print_table(r, n, full_name);
        if (interactive)
            printf("\nq quits; a screen every %u s\n", delay);
        fflush(stdout);
        free(r);
        if (iterations > 0 && ++done >= iterations)
            break;
        pause_screen(delay, interactive);
    }
    free(prev);
    return 0;
}
