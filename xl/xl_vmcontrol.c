/* Domain lifecycle commands: create, destroy, shutdown, reboot, pause,
 * unpause (Xen's tools/xl/xl_vmcontrol.c). */
#include "xl.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <xen/sched.h>

#include "domain_config.h"
#include "util.h"

int main_create(int argc, char **argv)
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
    domain_config_absolute_paths(&dc);
    unsigned domid;
    char name[256];
    snprintf(name, sizeof(name), "%s", dc.name ? dc.name : "");
    /* -c: the console is attached before the guest can print (as xl's
     * console autoconnect runs while libxl holds the domain paused): the
     * domain is built paused, connected to, then let run. */
    rc = xenon_domain_create(&paths, &dc, json,
                             (foreground ? XENON_CREATE_FOREGROUND : 0) |
                             (paused || console ? XENON_CREATE_PAUSED : 0),
                             &domid, NULL, stderr);
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
    if (foreground)
        xenon_monitor_wait(&paths, name);   /* -F: until the domain is gone */
    return rc;
}

int main_destroy(int argc, char **argv)
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

/* shutdown/reboot -w: wait, as Xen's xl, until each domain has shut down or
 * is gone; -ww (`death_only`) until it is gone. A domain the monitor
 * destroys or restarts is gone by the time its shutdown could be seen from
 * here (the reason is in xl-NAME.log); a preserved one stays, shut down. */
static void wait_for_shutdowns(const unsigned *ids, int n, bool death_only)
{
    fprintf(stderr, "Waiting for %d domains\n", n);
    bool *done = calloc((size_t)n + 1, sizeof(*done));
    if (!done) {
        fprintf(stderr, "out of memory\n");
        exit(EXIT_FAILURE);
    }
    for (int left = n; left > 0;) {
        for (int i = 0; i < n; i++) {
            if (done[i])
                continue;
            int reason = xenon_domain_shutdown_reason(&paths, ids[i]);
            if (!xenon_domain_exists(&paths, ids[i]))
                fprintf(stderr, "Domain %u has been destroyed\n", ids[i]);
            else if (!death_only && reason >= 0)
                fprintf(stderr, "Domain %u has been shut down, reason code %d\n",
                        ids[i], reason);
            else
                continue;
            done[i] = true;
            left--;
        }
        if (left > 0) {
            struct timespec ts = { 0, 50000000 };
            nanosleep(&ts, NULL);
        }
    }
    free(done);
}

static int shutdown_or_reboot(int argc, char **argv, int reboot)
{
    const char *cmd = reboot ? "reboot" : "shutdown";
    int c, all = 0, wait = 0, fallback = 0;   /* -w: shut down or gone; -ww: gone */
    static const struct option lopts[] = {
        { "all", 0, 0, 'a' }, { "wait", 0, 0, 'w' }, { "help", 0, 0, 'h' },
        { 0 } };
    while ((c = getopt_long(argc, argv, "awFh", lopts, NULL)) != -1) {
        switch (c) {
        case 'a': all = 1; break;
        case 'w': wait++; break;
        case 'F': fallback = 1; break;
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
            fprintf(stderr, "You must specify -a or a domain id.\n\n");
            return EXIT_FAILURE;
        }
        ids = calloc(1, sizeof(*ids));
        ids[0] = find_domain(argv[optind]);
        n = 1;
    }
    for (int i = 0; i < n; i++) {
        fprintf(stderr, "%s domain %u\n", reboot ? "Rebooting" : "Shutting down",
                ids[i]);
        /* As libxl, a PVH domain's request is written whether or not the
         * guest reads it; -F asks first whether it can (see
         * xenon_domain_pvcontrol) and, if not, falls back as Xen does to
         * an ACPI power / reset button, which without ACPI here means the
         * VMM ends the domain with that reason itself. */
        int pvc = fallback ? xenon_domain_pvcontrol(&paths, ids[i], reboot, stderr) : 1;
        int rc = pvc < 0 ? -3 : 0;
        if (pvc > 0) {
            if (xenon_domain_request(&paths, ids[i], reboot ? "reboot" : "poweroff",
                                     stderr) < 0)
                rc = -3;
        } else if (pvc == 0) {
            fprintf(stderr, "PV control interface not available: sending ACPI %s "
                    "button event.\n", reboot ? "reset" : "power");
            if (xenon_domain_shutdown_now(&paths, ids[i],
                                          reboot ? SHUTDOWN_reboot : SHUTDOWN_poweroff,
                                          stderr) < 0)
                rc = -3;
        }
        if (rc) {
            fprintf(stderr, "%s failed (rc=%d)\n", cmd, rc);
            free(ids);
            return EXIT_FAILURE;
        }
    }
    if (wait)
        wait_for_shutdowns(ids, n, wait > 1);
    free(ids);
    return 0;
}

int main_shutdown(int argc, char **argv) { return shutdown_or_reboot(argc, argv, 0); }
int main_reboot(int argc, char **argv) { return shutdown_or_reboot(argc, argv, 1); }

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

int main_pause(int argc, char **argv) { return pause_or_unpause(argc, argv, 1); }
int main_unpause(int argc, char **argv) { return pause_or_unpause(argc, argv, 0); }
