/* xenon-xenstored: the xenstore daemon. Option parsing, daemonizing, pid
 * file and signals; the work is in core.c and conn.c. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"
#include "core.h"
#include "instance.h"
#include "log.h"
#include "util.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: xenon-xenstored [options]\n"
        "  -N, --no-fork          stay in the foreground\n"
        "  -s, --socket PATH      unix socket (default /run/xenon/xenstored/socket)\n"
        "  -p, --pid-file PATH    pid file (default /run/xenon/xenstored.pid)\n"
        "  -l, --log-file PATH    log file (default stderr)\n"
        "  -D, --data-dir DIR     durable state (default /var/lib/xenon/xenstored;\n"
        "                         \"none\" keeps everything in memory only)\n"
        "  -Q, --quota NAME=N     set a quota (nodes, watches, transactions,\n"
        "                         outstanding, transaction-nodes, node-size,\n"
        "                         path-max, permissions, memory)\n"
        "  -w, --timeout watch-event=S  drop a guest's watch events unread\n"
        "                         after S seconds (20; 0 = never)\n"
        "  -o, --max-output BYTES drop clients with more queued output (16M)\n"
        "  -S, --stall-timeout S  drop clients whose output (over 256K) has not\n"
        "                         moved for S seconds (30; 0 = never)\n"
        "  -R, --reserve BYTES    disk space held back for when the disk fills\n"
        "                         up (8M; 0 = none)\n"
        "      --salvage          start despite a damaged journal, keeping\n"
        "                         every intact record (the damaged file is kept)\n"
        "  -v, --verbose          log every request\n"
        "  -h, --help\n");
}

/* One descriptor per connection, and every domain's VMM holds one: the
 * soft limit services get by default (1024) would stop a host near 1000
 * domains, with the hard limit far above. Take what the hard one allows. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    rlim_t want = rl.rlim_max;
    if (want == RLIM_INFINITY || want > (rlim_t)1 << 20)
        want = (rlim_t)1 << 20;             /* the kernel's usual nr_open */
    if (rl.rlim_cur >= want)
        return;
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        log_warn("cannot raise the open file limit to %llu: %m",
                 (unsigned long long)want);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "no-fork", no_argument, NULL, 'N' },
        { "socket", required_argument, NULL, 's' },
        { "pid-file", required_argument, NULL, 'p' },
        { "log-file", required_argument, NULL, 'l' },
        { "data-dir", required_argument, NULL, 'D' },
        { "quota", required_argument, NULL, 'Q' },
        { "max-output", required_argument, NULL, 'o' },
        { "stall-timeout", required_argument, NULL, 'S' },
        { "reserve", required_argument, NULL, 'R' },
        { "timeout", required_argument, NULL, 'w' },
        { "salvage", no_argument, NULL, 1 },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool nofork = false, verbose = false;
    const char *sock = "/run/xenon/xenstored/socket";
    const char *pidfile = "/run/xenon/xenstored.pid";
    const char *logfile = NULL;
    const char *datadir = "/var/lib/xenon/xenstored";
    const char *quotas[32];
    unsigned nquotas = 0;
    unsigned long long maxout = 0;
    long stall = -1;
    long event_timeout = -1;
    struct journal_opts jopts = { .salvage = false, .reserve = 8u << 20 };
    int o;
    while ((o = getopt_long(argc, argv, "Ns:p:l:D:Q:o:S:R:w:vh", opts, NULL)) != -1) {
        switch (o) {
        case 'N': nofork = true; break;
        case 's': sock = optarg; break;
        case 'p': pidfile = optarg; break;
        case 'l': logfile = optarg; break;
        case 'D': datadir = optarg; break;
        case 'Q':
            if (nquotas < ARRAY_SIZE(quotas))
                quotas[nquotas++] = optarg;
            break;
        case 'o': maxout = strtoull(optarg, NULL, 0); break;
        case 'S': stall = atol(optarg); break;
        case 'w':
            if (strncmp(optarg, "watch-event=", 12) != 0) {
                fprintf(stderr, "xenon-xenstored: unknown timeout %s\n",
                        optarg);
                return 2;
            }
            event_timeout = atol(optarg + 12);
            break;
        case 'R': jopts.reserve = strtoull(optarg, NULL, 0); break;
        case 1: jopts.salvage = true; break;
        case 'v': verbose = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    FILE *lf = NULL;
    if (logfile) {
        lf = fopen(logfile, "ae");
        if (!lf) {
            fprintf(stderr, "xenon-xenstored: cannot open %s: %s\n", logfile,
                    strerror(errno));
            return 1;
        }
    }
    log_init("xenon-xenstored", lf, verbose ? LOG_DEBUG : LOG_INFO);
    raise_nofile();

    /* One daemon: refuse before touching the pid file's contents, the
     * journal or the socket of a running one. */
    bool persistent = strcmp(datadir, "none") != 0;
    if ((pidfile[0] && instance_lock_pidfile(pidfile) < 0) ||
        (persistent && instance_lock_dir(datadir) < 0) ||
        instance_check_socket(sock) < 0)
        return 1;

    uint64_t t0 = now_ns();
    if (core_init(persistent ? datadir : NULL, &jopts) < 0) {
        log_err("cannot load state from %s", datadir);
        fprintf(stderr, "xenon-xenstored: cannot load state from %s (the "
                "log says why)\n", datadir);
        return 1;
    }
    log_info("state loaded: %zu nodes in %.1f ms", xs->tree.map.count,
             (double)(now_ns() - t0) / 1e6);
    xs->verbose = verbose;
    if (maxout)
        xs->out_hard_limit = (size_t)maxout;
    if (stall >= 0)
        xs->stall_ns = (uint64_t)stall * 1000000000ull;
    if (event_timeout >= 0)
        xs->event_timeout_ns = (uint64_t)event_timeout * 1000000000ull;
    for (unsigned i = 0; i < nquotas; i++) {
        const char *eq = strchr(quotas[i], '=');
        int q = eq ? core_quota_id(quotas[i], (size_t)(eq - quotas[i])) : -1;
        if (q < 0) {
            log_err("bad --quota %s", quotas[i]);
            return 2;
        }
        xs->quota[q] = atoi(eq + 1);
    }

    /* Handlers first: once the pid file exists, SIGTERM must be caught. */
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (conn_listen(sock) < 0)
        return 1;

    if (!nofork) {
        pid_t pid = fork();
        if (pid < 0) {
            log_err("fork: %m");
            return 1;
        }
        if (pid > 0) {
            /* The pid file is complete when the parent returns. */
            instance_write_pid(pid);
            _exit(0);
        }
        setsid();
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            if (lf)
                dup2(null, 2);
            if (null > 2)
                close(null);
        }
    }
    if (nofork)
        instance_write_pid(getpid());

    log_info("listening on %s", sock);
    int rc = conn_run(&stop_flag);
    if (rc == 0)
        rc = journal_sync(&xs->journal);
    conn_shutdown();
    core_fini();
    instance_remove_pidfile();
    if (lf)
        fclose(lf);
    return rc == 0 ? 0 : 1;
}
