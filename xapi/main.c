/* xenon-xapi: the XenAPI server, a front end on libxenon beside xl.
 *
 *   xenon-xapi [--listen ADDR] [--http-port N] [--https-listen ADDR]
 *              [--https-port N] [--cert FILE] [--vm-dir DIR] [--sr-dir DIR]
 *              [--pam-service NAME] [--pam-dir DIR] [--roles FILE]
 *              [--session-timeout S] [--login-delay-ms MS] [--web-dir DIR]
 *
 * Serves JSON-RPC at /jsonrpc and XML-RPC elsewhere, as XAPI: plain HTTP
 * on port 80 bound to loopback, HTTPS on 443 on every address with the
 * certificate in --cert (/etc/xenon/xapi-ssl.pem; a self-signed one is
 * made at first start). Port 0 turns a server off. Paths of the toolstack
 * come from the same environment as xl's (XENON_STATE_DIR,
 * XENSTORED_PATH...). */
#include <getopt.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domain.h"
#include "host_info.h"
#include "http_server.h"
#include "log.h"
#include "model.h"
#include "pam_auth.h"
#include "rbac.h"
#include "rrd.h"
#include "session.h"
#include "obj_meta.h"
#include "storage.h"
#include "tls_cert.h"
#include "vm_scan.h"
#include "vm_migrate.h"
#include "vm_start_helper.h"
#include "vm_suspend.h"
#include "web_static.h"
#include "xmlrpc.h"
#include "xs_watch.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: xenon-xapi [--listen ADDR] [--http-port N] [--https-listen ADDR]\n"
            "                  [--https-port N] [--cert FILE] [--vm-dir DIR] [--sr-dir DIR]\n"
            "                  [--rescan-interval S]\n"
            "                  [--pam-service NAME] [--pam-dir DIR] [--roles FILE]\n"
            "                  [--session-timeout S] [--login-delay-ms MS] [--web-dir DIR]\n");
}

static long number(const char *s, long min, long max, const char *what)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < min || v > max) {
        fprintf(stderr, "xenon-xapi: bad %s: %s\n", what, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    enum { O_LISTEN = 256, O_HTTP, O_HTTPS, O_VMDIR, O_PAMSVC, O_PAMDIR, O_ROLES,
           O_IDLE, O_DELAY, O_CREATE, O_UUID, O_PAUSED, O_HTTPS_LISTEN, O_CERT, O_WEBDIR,
           O_SRDIR, O_RESCAN, O_RESTORE, O_MIGRATE };
    static const struct option opts[] = {
        { "listen", required_argument, NULL, O_LISTEN },
        { "http-port", required_argument, NULL, O_HTTP },
        { "https-port", required_argument, NULL, O_HTTPS },
        { "https-listen", required_argument, NULL, O_HTTPS_LISTEN },
        { "cert", required_argument, NULL, O_CERT },
        { "vm-dir", required_argument, NULL, O_VMDIR },
        { "sr-dir", required_argument, NULL, O_SRDIR },
        { "rescan-interval", required_argument, NULL, O_RESCAN },
        { "pam-service", required_argument, NULL, O_PAMSVC },
        { "pam-dir", required_argument, NULL, O_PAMDIR },
        { "roles", required_argument, NULL, O_ROLES },
        { "session-timeout", required_argument, NULL, O_IDLE },
        { "login-delay-ms", required_argument, NULL, O_DELAY },
        { "create-domain", required_argument, NULL, O_CREATE },
        { "restore-domain", required_argument, NULL, O_RESTORE },
        { "migrate-domain", required_argument, NULL, O_MIGRATE },
        { "uuid", required_argument, NULL, O_UUID },
        { "paused", no_argument, NULL, O_PAUSED },
        { "web-dir", required_argument, NULL, O_WEBDIR },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *listen = "127.0.0.1", *vm_dir = "/etc/xenon/vms", *pam_service = NULL,
               *pam_dir = NULL, *roles = NULL, *create = NULL, *uuid = NULL,
               *restore = NULL, *migrate = NULL,
               *https_listen = "", *cert = "/etc/xenon/xapi-ssl.pem", *web_dir = XAPI_WEB_DIR,
               *sr_dir = NULL;
    long http_port = 80, https_port = 443, idle = 24 * 3600, delay = 2000;
    bool paused = false;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (c) {
        case O_LISTEN: listen = optarg; break;
        case O_HTTP: http_port = number(optarg, 0, 65535, "port"); break;
        case O_HTTPS: https_port = number(optarg, 0, 65535, "port"); break;
        case O_HTTPS_LISTEN: https_listen = optarg; break;
        case O_CERT: cert = optarg; break;
        case O_WEBDIR: web_dir = optarg; break;
        case O_VMDIR: vm_dir = optarg; break;
        case O_SRDIR: sr_dir = optarg; break;
        case O_RESCAN: vm_scan_interval((unsigned)number(optarg, 0, 3600, "rescan interval")); break;
        case O_PAMSVC: pam_service = optarg; break;
        case O_PAMDIR: pam_dir = optarg; break;
        case O_ROLES: roles = optarg; break;
        case O_IDLE: idle = number(optarg, 1, 30L * 24 * 3600, "session timeout"); break;
        case O_DELAY: delay = number(optarg, 0, 60000, "login delay"); break;
        case O_CREATE: create = optarg; break;
        case O_RESTORE: restore = optarg; break;
        case O_MIGRATE: migrate = optarg; break;
        case O_UUID: uuid = optarg; break;
        case O_PAUSED: paused = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (create)
        return vm_start_helper(create, uuid, paused);
    if (restore)
        return vm_restore_helper(restore, paused);
    if (migrate)
        return vm_migrate_helper(migrate);

    log_init("xenon-xapi", NULL, LOG_INFO);
    signal(SIGPIPE, SIG_IGN);
    /* A socket per client: as many as the hard limit allows. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (roles && rbac_load(roles) < 0)
        return 1;
    pam_auth_config(pam_service, pam_dir);
    web_static_config(web_dir);
    sessions_config((unsigned)idle, (unsigned)delay);
    xmlrpc_init();
    model_init();
    host_info_init();
    struct xenon_paths paths;
    xenon_paths_init(&paths);
    /* The state directory is watched (vm_scan.h) from the start. */
    if (xenon_paths_make(&paths, stderr) < 0)
        log_msg(LOG_WARN, "the domains' directories could not be made; pause and unpause "
                "are seen by the periodic scan only until a domain makes them");
    vm_scan_config(vm_dir, &paths);
    char images[sizeof(paths.state_dir) + 8];
    snprintf(images, sizeof(images), "%s/images", paths.state_dir);
    storage_config(sr_dir ? sr_dir : images);
    char meta[sizeof(paths.state_dir) + 16];
    snprintf(meta, sizeof(meta), "%s/xapi-meta", paths.state_dir);
    obj_meta_config(meta);
    vm_scan();
    static const char *const watched[] = { "/local/domain", "@introduceDomain",
                                           "@releaseDomain", NULL };
    if (xs_watch_start(paths.xs_path, watched, vm_scan_request) < 0 || vm_scan_start() < 0 ||
        rrd_start() < 0) {
        log_msg(LOG_ERR, "cannot start threads");
        return 1;
    }
    if (http_port && http_server_start(listen, (uint16_t)http_port, NULL, NULL) < 0)
        return 1;
    if (https_port) {
        char *key, *pem;
        if (tls_cert_load(cert, &key, &pem) < 0 ||
            http_server_start(https_listen, (uint16_t)https_port, key, pem) < 0)
            return 1;
        /* MHD keeps pointers to them for the daemon's life */
    }
    for (;;)
        pause();
}
