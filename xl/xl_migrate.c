/* xl migrate and xl migrate-receive (migrate_proto.h has the handshake):
 * the order of Xen's tools/xl/xl_migrate.c, so that exactly one copy of
 * the domain runs whatever fails. The sender's copy is destroyed only once
 * the receiver reports its copy running; until it has sent its go, any
 * failure resumes the source under its own name. */
#include "xl.h"
#include "util.h"
#include "migrate_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* Drop a long option xl knows (--debug) from argv; whether it was there. */
static bool take_long(int *argc, char **argv, const char *opt)
{
    bool seen = false;
    int j = 1;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], opt) == 0)
            seen = true;
        else
            argv[j++] = argv[i];
    }
    argv[j] = NULL;
    *argc = j;
    return seen;
}

/* SSHCOMMAND HOST xl migrate-receive, through the shell as xl runs it,
 * with its stdin and stdout our two pipes. The child's pid, or -1. */
static pid_t spawn_receiver(const char *rune, int *to, int *from)
{
    int a[2], b[2];
    if (pipe2(a, O_CLOEXEC) < 0)
        return -1;
    if (pipe2(b, O_CLOEXEC) < 0) {
        close(a[0]);
        close(a[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);       /* ours is ignored; theirs is not */
        if (dup2(a[0], 0) < 0 || dup2(b[1], 1) < 0)
            _exit(127);
        execl("/bin/sh", "sh", "-c", rune, (char *)NULL);
        _exit(127);
    }
    close(a[0]);
    close(b[1]);
    /* The stream's pipe as large as the host lets it be (1 MiB by
     * default): a 64 KiB one makes writer and reader take turns every 16
     * pages, and on a busy host every turn waits for a CPU. */
    (void)!fcntl(a[1], F_SETPIPE_SZ, 1 << 20);
    if (pid < 0) {
        close(a[1]);
        close(b[0]);
        return -1;
    }
    *to = a[1];
    *from = b[0];
    return pid;
}

/* The domain's name (malloc'd), and its uuid into uuid[37] if asked. */
/* The domain's name (malloc'd) and, when uuid is not NULL, its uuid. */
static char *domain_name_uuid(unsigned domid, char *uuid)
{
    char name[256];
    return xenon_domain_identity(&paths, domid, name, sizeof(name), uuid) == 0 ? strdup(name)
                                                                               : NULL;
}

static char *domain_name(unsigned domid)
{
    return domain_name_uuid(domid, NULL);
}

/* The config xl migrate -C sends instead of the domain's own. */
static char *config_json(const char *file)
{
    struct domain_config dc;
    if (read_domain_config(file, &dc) != 0)
        return NULL;
    char *json = domain_config_to_json(&dc);
    domain_config_dispose(&dc);
    return json;
}

int main_migrate(int argc, char **argv)
{
    bool debug = take_long(&argc, argv, "--debug");
    const char *ssh = "ssh", *config = NULL;
    int c;
    while ((c = next_opt(argc, argv, "hs:C:", "migrate", 2)) != -1) {
        switch (c) {
        case 's': ssh = optarg; break;
        case 'C': config = optarg; break;
        }
    }
    if (argc - optind != 2) {
        help("migrate");
        return 2;
    }
    unsigned domid = find_domain(argv[optind]);
    const char *host = argv[optind + 1];
    char uuid[37] = "";
    char *name = domain_name_uuid(domid, uuid);
    char *json = config ? config_json(config) : NULL;
    if (!name || (config && !json))
        return EXIT_FAILURE;
    char away[300];
    snprintf(away, sizeof(away), "%s--migratedaway", name);
    char rune[4096];
    if ((size_t)snprintf(rune, sizeof(rune), "exec %s %s xl migrate-receive%s", ssh, host,
                         debug ? " -d" : "") >= sizeof(rune)) {
        fprintf(stderr, "xl migrate: the ssh command is too long\n");
        return EXIT_FAILURE;
    }
    /* A receiver that dies must fail our writes, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    int to = -1, from = -1;
    pid_t child = spawn_receiver(rune, &to, &from);
    if (child < 0) {
        fprintf(stderr, "xl migrate: cannot run %s: %s\n", rune, strerror(errno));
        return EXIT_FAILURE;
    }
    struct stream_source in;
    struct stream_sink out;
    stream_source_fd(&in, &from);
    stream_sink_fd(&out, &to);
    char err[256] = "";
    int status = EXIT_FAILURE;
    struct xenon_save_stats st = { 0 };
    bool renamed = false;
    if (migrate_recv_banner(&in, err, sizeof(err)) < 0) {
        fprintf(stderr, "migration sender: %s\n", err);
        goto done;        /* nothing stopped yet */
    }
    /* Live, as Xen's xl always migrates (LIBXL_SUSPEND_LIVE): the memory
     * goes while the domain runs; it stops for the last dirty pages. */
    double t0 = now_s();
    if (xenon_domain_save_fd(&paths, domid, to, json,
                             XENON_SAVE_CHECKPOINT | XENON_SAVE_LEAVE_PAUSED |
                                 XENON_SAVE_LIVE, &st, stderr) < 0) {
        fprintf(stderr, "Migration failed, resuming at sender.\n");
        goto done;        /* the save itself has resumed the domain */
    }
    double t_sent = now_s();
    /* The source gives up the name while the receiver reads the end of
     * the stream, not after its ready (as Xen's xl): the rename is then
     * off the downtime's path. Any failure before the go renames it back,
     * as after a rename made later. */
    if (xenon_domain_rename(&paths, domid, name, away, stderr) < 0) {
        fprintf(stderr, "Migration failed, resuming at sender.\n");
        goto resume;
    }
    renamed = true;
    if (migrate_recv_ready(&in, err, sizeof(err)) < 0) {
        fprintf(stderr, "migration sender: %s\nMigration failed, resuming at sender.\n",
                err);
        goto resume;
    }
    double t_go = now_s();
    if (migrate_send_go(&out) < 0) {
        fprintf(stderr, "migration sender: cannot send the permission to go\n"
                        "Migration failed, resuming at sender.\n");
        goto resume;
    }
    uint8_t rc_byte = 0;
    if (migrate_recv_report(&in, &rc_byte, err, sizeof(err)) < 0) {
        /* As xl: whether the target runs the domain cannot be known. The
         * source stays stopped under its away name. */
        fprintf(stderr, "migration sender: %s\n"
                "Status of destination is undefined; domain %u (%s) is left "
                "suspended here: destroy one copy by hand.\n", err, domid, away);
        goto done;
    }
    if (rc_byte) {
        fprintf(stderr, "migration sender: Target reported startup failure (error %d).\n",
                -(int)rc_byte);
        if (migrate_recv_resume(&in, err, sizeof(err)) < 0) {
            fprintf(stderr, "migration sender: %s\nStatus of destination is undefined; "
                    "domain %u (%s) is left suspended here.\n", err, domid, away);
            goto done;
        }
        fprintf(stderr, "migration sender: Target has destroyed its copy; "
                        "resuming at sender.\n");
        goto resume;
    }
    /* The downtime: from the source's vCPUs stopping (the VMM's clock,
     * this host's CLOCK_MONOTONIC) to the target's report that its copy
     * runs, which it sends once its vCPUs have been let go: an upper
     * bound by the report's transit. */
    double t_report = now_s();
    fprintf(stderr, "migration sender: Target reports successful startup.\n");
    if (debug) {
        for (unsigned i = 0; i < st.rounds; i++)
            fprintf(stderr, "migration sender: round %u%s: %llu pages, %.3f ms\n", i,
                    i + 1 == st.rounds ? " (domain stopped)" : "",
                    (unsigned long long)st.round_pages[i], st.round_us[i] / 1e3);
        double stop = st.stop_mono_ns ? st.stop_mono_ns / 1e9 : t0;
        fprintf(stderr, "migration sender: %llu bytes (%llu while it ran), %llu pages with "
                "data, %llu zero pages; stream %.3f s; downtime (vCPUs stopped here to "
                "the target's report of its copy running): %.3f ms (%s)\n",
                (unsigned long long)st.bytes, (unsigned long long)st.live_bytes,
                (unsigned long long)st.pages_data, (unsigned long long)st.pages_zero,
                t_sent - t0, (t_report - stop) * 1e3,
                st.suspended ? "suspended by the guest" : "paused");
        fprintf(stderr, "migration sender: after the stop: stream sent +%.3f ms, target "
                "ready and renamed +%.3f ms, target's report +%.3f ms\n",
                (t_sent - stop) * 1e3, (t_go - stop) * 1e3, (t_report - stop) * 1e3);
    }
    /* On one host both copies have the uuid (unless -C gave another): the
     * source's destroy must leave /vm/UUID to the new one. The config
     * sent names the uuid as the text form list shows. */
    if (!json || (uuid[0] && strstr(json, uuid)))
        xenon_domain_forget_vm(&paths, domid);
    status = xenon_domain_destroy(&paths, domid, stderr) < 0 ? EXIT_FAILURE : 0;
    if (status == 0)
        fprintf(stderr, "Migration successful.\n");
    goto done;

resume:
    if (renamed)
        xenon_domain_rename(&paths, domid, away, name, stderr);
    if (xenon_domain_save_resume(&paths, domid, st.suspended, stderr) == 0)
        fprintf(stderr, "Domain %u (%s) resumed at the sender.\n", domid, name);
done:
    close(to);
    close(from);
    int ws;
    while (waitpid(child, &ws, 0) < 0 && errno == EINTR)
        ;
    free(json);
    free(name);
    return status;
}

int main_migrate_receive(int argc, char **argv)
{
    int c;
    while ((c = next_opt(argc, argv, "hdeprR", "migrate-receive", 0)) != -1)
        ;   /* -d debug, -e no console, -p paused, -r/-R remus: accepted */
    /* Our stdout is the channel: nothing else may be written there. */
    int chan_out = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    if (chan_out < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
        return EXIT_FAILURE;
    int chan_in = STDIN_FILENO;
    signal(SIGPIPE, SIG_IGN);
    struct stream_source in;
    struct stream_sink out;
    stream_source_fd(&in, &chan_in);
    stream_sink_fd(&out, &chan_out);
    if (migrate_send_banner(&out) < 0)
        return EXIT_FAILURE;
    /* The name comes with the stream's config: our copy is NAME--incoming
     * until the sender has given it up. */
    struct xenon_received r;
    if (xenon_domain_receive(&paths, chan_in, "--incoming", NULL, &r, stderr) < 0) {
        fprintf(stderr, "migration receiver: the domain could not be received\n");
        return 3;
    }
    char err[256];
    if (migrate_send_ready(&out) < 0 || migrate_recv_go(&in, err, sizeof(err)) < 0) {
        fprintf(stderr, "migration receiver: Failed to read permission to go (%s); "
                        "destroying domain %u\n", err, r.domid);
        xenon_domain_receive_abort(&paths, &r, stderr);
        return 3;
    }
    /* Our copy takes the name, then runs. */
    char *name = domain_name(r.domid);
    char common[300] = "";
    size_t sl = strlen("--incoming");
    if (name && strlen(name) > sl && strcmp(name + strlen(name) - sl, "--incoming") == 0)
        snprintf(common, sizeof(common), "%.*s", (int)(strlen(name) - sl), name);
    free(name);
    int rc = common[0] && xenon_domain_rename(&paths, r.domid, NULL, common, stderr) == 0
                 ? 0 : -1;
    if (rc == 0)
        rc = xenon_domain_receive_go(&paths, &r, stderr);
    if (migrate_send_report(&out, rc < 0 ? -MIGRATE_STATUS_FAIL : 0) < 0 && rc == 0)
        fprintf(stderr, "migration receiver: cannot send the report\n");
    if (rc < 0) {
        fprintf(stderr, "migration receiver: the domain could not be started; "
                        "destroying it\n");
        xenon_domain_receive_abort(&paths, &r, stderr);
        migrate_send_resume(&out);
        return 3;
    }
    fprintf(stderr, "migration target: Domain %u (%s) started successfully.\n", r.domid,
            common);
    close(chan_out);
    return 0;
}
