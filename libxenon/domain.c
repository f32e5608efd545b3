/* See domain.h. The xenstore layout follows libxl (libxl__domain_make and
 * libxl__build_post): the domain's home is readable by the domain and owned
 * by dom0, with the nodes the guest writes (control/shutdown, data, ...)
 * owned by the domain. */
#include "domain.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "xenon/contract.h"
#include <xen/sched.h>
#include "util.h"
#include "xs_client.h"

/* The VMM's special pages and ports, as the contract fixes them. */
#define STORE_GFN ((unsigned long)XENON_XENSTORE_GFN)
#define CONSOLE_GFN ((unsigned long)XENON_CONSOLE_GFN)
#define STORE_PORT XENON_PORT_XENSTORE
#define CONSOLE_PORT XENON_PORT_CONSOLE
#define MAX_DOMID 0x7fef            /* DOMID_FIRST_RESERVED - 1 */
#define START_TIMEOUT_MS 30000
#define STOP_TIMEOUT_MS 10000

/* --- paths ---------------------------------------------------------------- */

/* Paths are made absolute: the monitor runs in "/". */
static void absolute_into(char *dst, const char *path)
{
    char cwd[XENON_PATH_MAX];
    if (path[0] != '/' && getcwd(cwd, sizeof(cwd)) &&
        strlen(cwd) + strlen(path) + 2 <= XENON_PATH_MAX) {
        strcpy(dst, cwd);
        strcat(dst, "/");
        strcat(dst, path);
    } else {
        snprintf(dst, XENON_PATH_MAX, "%s", path);
    }
}

static void set_path(char *dst, const char *env, const char *dflt)
{
    const char *v = getenv(env);
    absolute_into(dst, v && *v ? v : dflt);
}

void xenon_paths_init(struct xenon_paths *p)
{
    set_path(p->state_dir, "XENON_STATE_DIR", "/var/lib/xenon");
    set_path(p->run_dir, "XENON_RUN_DIR", "/run/xenon");
    set_path(p->log_dir, "XENON_LOG_DIR", "/var/log/xenon");
    absolute_into(p->xs_path, xs_default_path());
    const char *v = getenv("XENON_VMM");
    if (v && *v) {
        if (strchr(v, '/'))
            absolute_into(p->vmm, v);
        else
            snprintf(p->vmm, sizeof(p->vmm), "%s", v);     /* from PATH */
        return;
    }
    /* Installed side by side, or the build tree (xl/ beside vmm/). */
    char self[XENON_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = 0;
            static const char *const rel[] = { "xenon-vmm", "../vmm/xenon-vmm" };
            for (size_t i = 0; i < 2; i++) {
                char cand[XENON_PATH_MAX * 2];
                snprintf(cand, sizeof(cand), "%s/%s", self, rel[i]);
                if (access(cand, X_OK) == 0 && strlen(cand) < XENON_PATH_MAX) {
                    snprintf(p->vmm, sizeof(p->vmm), "%s", cand);
                    return;
                }
            }
        }
    }
    snprintf(p->vmm, sizeof(p->vmm), "xenon-vmm");
}

/* --- state files ---------------------------------------------------------- */

struct dstate {
    char name[256], uuid[37], console[XENON_PATH_MAX];
    pid_t vmm_pid, mon_pid;
    unsigned long long vmm_start, mon_start;
    double created;
    unsigned vcpus;
    uint64_t target_kb, max_kb;
    int shutdown_reason;
};

static void state_path(const struct xenon_paths *p, unsigned domid,
                       const char *suffix, char *out, size_t n)
{
    snprintf(out, n, "%s/domain-%u%s", p->state_dir, domid, suffix);
}

static int state_write(const struct xenon_paths *p, unsigned domid,
                       const struct dstate *s)
{
    /* One key=value a line: a newline in a value (a config file's name
     * can hold "\n") would end it early and add lines of its own. */
    if (strchr(s->name, '\n') || strchr(s->uuid, '\n') || strchr(s->console, '\n')) {
        errno = EINVAL;
        return -1;
    }
    char path[XENON_PATH_MAX + 32], tmp[XENON_PATH_MAX + 48];
    state_path(p, domid, "", path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
    FILE *f = fopen(tmp, "we");
    if (!f)
        return -1;
    fprintf(f, "name=%s\nuuid=%s\nconsole=%s\nvmm_pid=%d\nvmm_start=%llu\n"
               "monitor_pid=%d\nmonitor_start=%llu\ncreated=%.6f\nvcpus=%u\n"
               "target_kb=%llu\nmax_kb=%llu\nshutdown_reason=%d\n",
            s->name, s->uuid, s->console, (int)s->vmm_pid, s->vmm_start,
            (int)s->mon_pid, s->mon_start, s->created, s->vcpus,
            (unsigned long long)s->target_kb, (unsigned long long)s->max_kb,
            s->shutdown_reason);
    /* No fsync: rename makes the update atomic for a killed process, and
     * after a host crash no domain is left for the file to describe. */
    if (fflush(f) != 0) {
        fclose(f);
        unlink(tmp);
        return -1;
    }
    fclose(f);
    if (rename(tmp, path) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int state_read(const struct xenon_paths *p, unsigned domid,
                      struct dstate *s)
{
    char path[XENON_PATH_MAX + 32], line[XENON_PATH_MAX + 64];
    state_path(p, domid, "", path, sizeof(path));
    *s = (struct dstate){ .shutdown_reason = -1 };
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = 0;
        char *v = strchr(line, '=');
        if (!v)
            continue;
        *v++ = 0;
        if (!strcmp(line, "name"))
            snprintf(s->name, sizeof(s->name), "%s", v);
        else if (!strcmp(line, "uuid"))
            snprintf(s->uuid, sizeof(s->uuid), "%s", v);
        else if (!strcmp(line, "console"))
            snprintf(s->console, sizeof(s->console), "%s", v);
        else if (!strcmp(line, "vmm_pid"))
            s->vmm_pid = atoi(v);
        else if (!strcmp(line, "vmm_start"))
            s->vmm_start = strtoull(v, NULL, 10);
        else if (!strcmp(line, "monitor_pid"))
            s->mon_pid = atoi(v);
        else if (!strcmp(line, "monitor_start"))
            s->mon_start = strtoull(v, NULL, 10);
        else if (!strcmp(line, "created"))
            s->created = strtod(v, NULL);
        else if (!strcmp(line, "vcpus"))
            s->vcpus = (unsigned)atoi(v);
        else if (!strcmp(line, "target_kb"))
            s->target_kb = strtoull(v, NULL, 10);
        else if (!strcmp(line, "max_kb"))
            s->max_kb = strtoull(v, NULL, 10);
        else if (!strcmp(line, "shutdown_reason"))
            s->shutdown_reason = atoi(v);
    }
    fclose(f);
    return 0;
}

static void state_remove(const struct xenon_paths *p, unsigned domid)
{
    char path[XENON_PATH_MAX + 32];
    state_path(p, domid, "", path, sizeof(path));
    unlink(path);
    state_path(p, domid, ".json", path, sizeof(path));
    unlink(path);
}

char *xenon_domain_config_json(const struct xenon_paths *p, unsigned domid)
{
    char path[XENON_PATH_MAX + 32];
    state_path(p, domid, ".json", path, sizeof(path));
    size_t len;
    return read_whole_file(path, &len);
}

/* Domain ids with a state file. */
static int state_ids(const struct xenon_paths *p, unsigned **ids, int *n)
{
    *ids = NULL;
    *n = 0;
    DIR *d = opendir(p->state_dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    int cap = 0;
    while ((e = readdir(d))) {
        /* "domain-N" exactly as state_path spells it (not its .json/.tmp
         * files, no "-1", "+5" or "05", which "%u" took) and only an id
         * xs_domids would accept too. */
        const char *num = e->d_name + 7;
        if (strncmp(e->d_name, "domain-", 7) != 0 ||
            !isdigit((unsigned char)*num) || *num == '0')
            continue;
        char *end;
        unsigned long id = strtoul(num, &end, 10);
        if (*end || id == 0 || id > MAX_DOMID)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            unsigned *v = realloc(*ids, (size_t)cap * sizeof(**ids));
            if (!v) {
                closedir(d);
                return -1;
            }
            *ids = v;
        }
        (*ids)[(*n)++] = (unsigned)id;
    }
    closedir(d);
    return 0;
}

/* --- xenstore ------------------------------------------------------------- */

static struct xs_client *xs_connect(const struct xenon_paths *p, FILE *err)
{
    struct xs_client *xs = xs_open(p->xs_path);
    if (!xs && err)
        fprintf(err, "cannot connect to xenstored at %s: %s\n", p->xs_path,
                strerror(errno));
    return xs;
}

static int xs_printf(struct xs_client *xs, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int xs_printf(struct xs_client *xs, const char *value, const char *fmt, ...)
{
    char path[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    return xs_write(xs, path, value);
}

static char *xs_readf(struct xs_client *xs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *xs_readf(struct xs_client *xs, const char *fmt, ...)
{
    char path[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    char *v = NULL;
    return xs_read(xs, path, &v) == 0 ? v : NULL;
}

/* Domain ids with a home under /local/domain (dom0 excluded). */
static int xs_domids(struct xs_client *xs, unsigned **ids, int *n)
{
    char **names;
    int cnt;
    *ids = NULL;
    *n = 0;
    int rc = xs_directory(xs, "/local/domain", &names, &cnt);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    *ids = calloc((size_t)cnt + 1, sizeof(**ids));
    if (!*ids) {
        xs_free_list(names, cnt);
        return -ENOMEM;
    }
    for (int i = 0; i < cnt; i++) {
        char *end;
        unsigned long id = strtoul(names[i], &end, 10);
        if (*end == 0 && id > 0 && id <= MAX_DOMID)
            (*ids)[(*n)++] = (unsigned)id;
    }
    xs_free_list(names, cnt);
    return 0;
}

/* Permission sets as libxl's: ro = owned by dom0, readable by the domain;
 * rw = owned by the domain; none = dom0 only. */
enum perm { P_RO, P_RW, P_NONE };

/* The nodes a domain's set-up wrote so far, with their permissions: a node
 * created in xenstore takes its parent's, so a child whose set equals its
 * nearest written ancestor's needs no SET_PERMS of its own. Once a node
 * could not be logged (full: many vCPUs), the nearest logged ancestor may
 * not be the parent, so every later node gets its SET_PERMS. */
struct node_log {
    int n;
    bool incomplete;
    struct { char path[128]; enum perm pm; } e[64];
};

static bool perms_inherited(const struct node_log *log, const char *path,
                            enum perm pm)
{
    size_t best = 0;
    enum perm parent = pm;
    if (log->incomplete)
        return false;
    for (int i = 0; i < log->n; i++) {
        size_t len = strlen(log->e[i].path);
        if (len > best && strncmp(path, log->e[i].path, len) == 0 && path[len] == '/') {
            best = len;
            parent = log->e[i].pm;
        }
    }
    return best > 0 && parent == pm;
}

static int xs_node(struct xs_client *xs, struct node_log *log, unsigned domid,
                   enum perm pm, const char *value, const char *path)
{
    bool inherited = perms_inherited(log, path, pm);
    if (log->n < (int)(sizeof(log->e) / sizeof(log->e[0])) &&
        strlen(path) < sizeof(log->e[0].path)) {
        snprintf(log->e[log->n].path, sizeof(log->e[0].path), "%s", path);
        log->e[log->n++].pm = pm;
    } else {
        log->incomplete = true;
    }
    int rc = xs_write(xs, path, value ? value : "");
    if (rc != 0 || inherited)
        return rc;
    char perms[32];
    int n;
    if (pm == P_RO)
        n = snprintf(perms, sizeof(perms), "n0%cr%u", 0, domid);
    else if (pm == P_RW)
        n = snprintf(perms, sizeof(perms), "n%u", domid);
    else
        n = snprintf(perms, sizeof(perms), "n0");
    return xs_set_perms(xs, path, perms, (size_t)n + 1);
}

static void uuid_string(const uint8_t u[16], char out[37])
{
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                      "%02x%02x%02x%02x%02x%02x",
             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10],
             u[11], u[12], u[13], u[14], u[15]);
}

/* Remove the domain's /local/domain, /libxl and /vm nodes; `vm` is the
 * /vm path it names, NULL when unknown. */
static void rm_nodes(struct xs_client *xs, unsigned domid, const char *vm)
{
    char path[128];
    snprintf(path, sizeof(path), "/local/domain/%u", domid);
    xs_rm(xs, path);
    snprintf(path, sizeof(path), "/libxl/%u", domid);
    xs_rm(xs, path);
    if (vm)
        xs_rm(xs, vm);
}

/* Remove what a domain left in xenstore and on disk. Safe to repeat. */
static void teardown(const struct xenon_paths *p, struct xs_client *xs,
                     unsigned domid)
{
    struct dstate s;
    bool have = state_read(p, domid, &s) == 0;
    if (xs) {
        char *vm = xs_readf(xs, "/local/domain/%u/vm", domid);
        char vm_s[64];
        if (!(vm && strncmp(vm, "/vm/", 4) == 0 && vm[4])) {
            free(vm);
            vm = NULL;
            if (have && s.uuid[0]) {
                snprintf(vm_s, sizeof(vm_s), "/vm/%s", s.uuid);
                vm = vm_s;
            }
        }
        bool tx = xs_transaction_begin(xs) == 0;
        rm_nodes(xs, domid, vm);
        /* Conflict or failure: remove the nodes one by one instead. */
        if (tx && xs_transaction_end(xs, 1) < 0)
            rm_nodes(xs, domid, vm);
        /* Released after its nodes are gone, as libxl removes them before
         * the domain dies: xenstored then owns nothing of the domain's to
         * look for, a search through the whole store (20 ms with a thousand
         * domains). ENOENT when it was never introduced. */
        xs_release(xs, domid);
        if (vm != vm_s)
            free(vm);
    }
    if (have && s.console[0])
        unlink(s.console);
    state_remove(p, domid);
}

/* Write the domain's xenstore nodes as libxl does. */
static int write_nodes(struct xs_client *xs, const struct domain_config *dc,
                       unsigned domid, const char *uuid, double created)
{
    char dom[64], vm[64], lib[64], v[64];
    snprintf(dom, sizeof(dom), "/local/domain/%u", domid);
    snprintf(vm, sizeof(vm), "/vm/%s", uuid);
    snprintf(lib, sizeof(lib), "/libxl/%u", domid);
    int rc = 0;
    struct node_log log = { 0 };
#define NODE(pm, val, ...)                                          \
    do {                                                            \
        char path_[256];                                            \
        snprintf(path_, sizeof(path_), __VA_ARGS__);                \
        if (rc == 0)                                                \
            rc = xs_node(xs, &log, domid, pm, val, path_);          \
    } while (0)
    NODE(P_RO, NULL, "%s", dom);
    NODE(P_RO, NULL, "%s", vm);
    NODE(P_NONE, NULL, "%s", lib);
    NODE(P_NONE, NULL, "%s/device", lib);
    NODE(P_NONE, dc_type_name(dc->type), "%s/type", lib);
    NODE(P_RO, vm, "%s/vm", dom);
    NODE(P_RO, dc->name, "%s/name", dom);
    snprintf(v, sizeof(v), "%u", domid);
    NODE(P_RO, v, "%s/domid", dom);
    NODE(P_RO, NULL, "%s/cpu", dom);
    for (int i = 0; i < dc->max_vcpus; i++)
        NODE(P_RO, i < dc->avail_vcpus ? "online" : "offline",
             "%s/cpu/%d/availability", dom, i);
    NODE(P_RO, NULL, "%s/memory", dom);
    snprintf(v, sizeof(v), "%lld", (long long)dc->max_memkb);
    NODE(P_RO, v, "%s/memory/static-max", dom);
    snprintf(v, sizeof(v), "%lld", (long long)dc->target_memkb);
    NODE(P_RO, v, "%s/memory/target", dom);
    NODE(P_RO, "0", "%s/memory/videoram", dom);
    NODE(P_RO, NULL, "%s/device", dom);
    NODE(P_RW, NULL, "%s/device/suspend/event-channel", dom);
    NODE(P_RO, NULL, "%s/control", dom);
    NODE(P_RW, NULL, "%s/control/shutdown", dom);
    NODE(P_RW, NULL, "%s/control/feature-poweroff", dom);
    NODE(P_RW, NULL, "%s/control/feature-reboot", dom);
    NODE(P_RW, NULL, "%s/control/feature-suspend", dom);
    NODE(P_RW, NULL, "%s/control/sysrq", dom);
    NODE(P_RO, "1", "%s/control/platform-feature-multiprocessor-suspend", dom);
    NODE(P_RO, "1", "%s/control/platform-feature-xs_reset_watches", dom);
    NODE(P_RW, NULL, "%s/data", dom);
    NODE(P_RW, NULL, "%s/drivers", dom);
    NODE(P_RW, NULL, "%s/feature", dom);
    NODE(P_RW, NULL, "%s/attr", dom);
    NODE(P_RW, NULL, "%s/error", dom);
    snprintf(v, sizeof(v), "%u", STORE_PORT);
    NODE(P_RO, v, "%s/store/port", dom);
    snprintf(v, sizeof(v), "%lu", STORE_GFN);
    NODE(P_RO, v, "%s/store/ring-ref", dom);
    snprintf(v, sizeof(v), "%u", CONSOLE_PORT);
    NODE(P_RW, NULL, "%s/console", dom);
    NODE(P_RO, v, "%s/console/port", dom);
    snprintf(v, sizeof(v), "%lu", CONSOLE_GFN);
    NODE(P_RO, v, "%s/console/ring-ref", dom);
    NODE(P_RO, "xenconsoled", "%s/console/type", dom);
    NODE(P_RO, uuid, "%s/uuid", vm);
    NODE(P_RO, dc->name, "%s/name", vm);
    NODE(P_RO, dc_type_name(dc->type), "%s/image/ostype", vm);
    snprintf(v, sizeof(v), "%.2f", created);
    NODE(P_RO, v, "%s/start_time", vm);
#undef NODE
    return rc;
}

/* For domains ids[0..n), /local/domain/N/NODE for each of nodes[0..k):
 * v[i*k + j] is node j of domain i, NULL where there is none. Read in one
 * pipelined batch: with a thousand domains, one round trip each made a
 * name check cost ~20 ms. A calloc'd array (free with xs_free_list, n*k
 * entries), or NULL when the batch failed. */
static char **read_domain_nodes(struct xs_client *xs, const unsigned *ids, int n,
                                const char *const *nodes, int k)
{
    size_t m = (size_t)n * (size_t)k;
    char **v = calloc(m + 1, sizeof(*v));
    char (*paths)[64] = calloc(m + 1, sizeof(*paths));
    const char **pp = calloc(m + 1, sizeof(*pp));
    bool ok = v && paths && pp;
    for (size_t i = 0; ok && i < m; i++) {
        snprintf(paths[i], sizeof(paths[i]), "/local/domain/%u/%s", ids[i / (size_t)k],
                 nodes[i % (size_t)k]);
        pp[i] = paths[i];
    }
    if (ok && xs_read_many(xs, pp, (int)m, v) < 0) {
        xs_free_list(v, (int)m);
        v = NULL;
    }
    free(paths);
    free(pp);
    if (!ok) {
        free(v);
        return NULL;
    }
    return v;
}

static char **read_names(struct xs_client *xs, const unsigned *ids, int n)
{
    static const char *const name[] = { "name" };
    return read_domain_nodes(xs, ids, n, name, 1);
}

/* Whether a domain among ids[0..n) other than `avoid` is called `name`;
 * -1 when the names cannot be read. */
static int name_taken(struct xs_client *xs, const unsigned *ids, int n,
                      const char *name, unsigned avoid)
{
    char **names = read_names(xs, ids, n);
    if (!names)
        return -1;
    bool found = false;
    for (int i = 0; i < n && !found; i++)
        found = ids[i] != avoid && names[i] && strcmp(names[i], name) == 0;
    xs_free_list(names, n);
    return found;
}

static int lock_state(const struct xenon_paths *p)
{
    char path[XENON_PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/lock", p->state_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void write_json(const struct xenon_paths *p, unsigned domid,
                       const char *json)
{
    if (!json)
        return;
    char path[XENON_PATH_MAX + 32];
    state_path(p, domid, ".json", path, sizeof(path));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        if (write_full(fd, json, strlen(json)) < 0)
            unlink(path);
        close(fd);
    }
}

/* Pick a domid (never `avoid`, the domain being restarted, whose name may
 * still be in use) and write its state file, which reserves the domid.
 * Returns the state lock, held so that no other create takes the name
 * before domain_publish() has written it: pass it there. -1 with nothing
 * left behind. */
static int domain_reserve(const struct xenon_paths *p, struct xs_client *xs,
                          const struct domain_config *dc, const char *json,
                          unsigned avoid, unsigned *domid_out, FILE *err)
{
    int lock = lock_state(p);
    if (lock < 0) {
        fprintf(err, "cannot lock %s/lock: %s\n", p->state_dir, strerror(errno));
        return -1;
    }
    bool ok = false;
    unsigned *a = NULL, *b = NULL;
    int na = 0, nb = 0;
    if (xs_domids(xs, &a, &na) < 0) {
        fprintf(err, "cannot read /local/domain from xenstored\n");
        goto out;
    }
    int taken = name_taken(xs, a, na, dc->name, avoid);
    if (taken < 0) {
        fprintf(err, "cannot read domain names from xenstored\n");
        goto out;
    }
    if (taken) {
        fprintf(err, "libxl: error: Domain with name \"%s\" already exists.\n",
                dc->name);
        goto out;
    }
    if (state_ids(p, &b, &nb) < 0) {
        fprintf(err, "cannot list domains\n");
        goto out;
    }
    unsigned domid = 0;
    for (unsigned cand = 1; cand <= MAX_DOMID && !domid; cand++) {
        bool used = cand == avoid;
        for (int i = 0; i < na && !used; i++)
            used = a[i] == cand;
        for (int i = 0; i < nb && !used; i++)
            used = b[i] == cand;
        if (!used)
            domid = cand;
    }
    if (!domid) {
        fprintf(err, "no free domain id\n");
        goto out;
    }
    struct dstate s = { .shutdown_reason = -1, .vcpus = (unsigned)dc->avail_vcpus,
                        .target_kb = (uint64_t)dc->target_memkb,
                        .max_kb = (uint64_t)dc->max_memkb };
    if (avoid) {
        /* A restart, run by the monitor: name it from the start, so a
         * destroy arriving before its VMM runs stops the monitor too. */
        s.mon_pid = getpid();
        s.mon_start = proc_start(s.mon_pid, NULL);
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    s.created = (double)tv.tv_sec + tv.tv_usec / 1e6;
    snprintf(s.name, sizeof(s.name), "%s", dc->name);
    uuid_string(dc->uuid, s.uuid);
    if (snprintf(s.console, sizeof(s.console), "%s/console/%u.sock", p->run_dir,
                 domid) >= (int)sizeof(s.console)) {
        fprintf(err, "run directory path too long: %s\n", p->run_dir);
        goto out;
    }
    /* The state file first: it reserves the domid and lets destroy find
     * whatever the steps that follow managed to create. */
    if (state_write(p, domid, &s) < 0) {
        fprintf(err, "cannot write the state file in %s: %s\n", p->state_dir,
                strerror(errno));
        goto out;
    }
    write_json(p, domid, json);
    *domid_out = domid;
    ok = true;
out:
    free(a);
    free(b);
    if (!ok) {
        close(lock);
        return -1;
    }
    return lock;
}

/* Write the reserved domain's xenstore nodes, introduce it to xenstored and
 * release `lock` (from domain_reserve). 0, or -1 after teardown. */
static int domain_publish(const struct xenon_paths *p, struct xs_client *xs,
                          const struct domain_config *dc, unsigned domid,
                          int lock, FILE *err)
{
    struct dstate s;
    int xrc = state_read(p, domid, &s) < 0 ? -ENOENT : 0;
    /* One transaction: all nodes appear at once, and xenstored syncs its
     * journal once rather than per node. Pipelined: the ~90 requests cost
     * one round trip, not one each. */
    for (int tries = 0; xrc == 0; tries++) {
        xrc = xs_transaction_begin(xs);
        if (xrc < 0)
            break;
        xs_pipeline_begin(xs);
        xrc = write_nodes(xs, dc, domid, s.uuid, s.created);
        int prc = xs_pipeline_end(xs);
        if (xrc == 0)
            xrc = prc;
        int erc = xs_transaction_end(xs, xrc == 0);
        if (xrc == 0)
            xrc = erc;
        if (xrc != -EAGAIN || tries == 10)
            break;
    }
    if (xrc == 0)
        xrc = xs_introduce(xs, domid, STORE_GFN, STORE_PORT);
    if (xrc < 0) {
        fprintf(err, "cannot set up domain %u in xenstore: %s\n", domid,
                strerror(-xrc));
        teardown(p, xs, domid);
    }
    close(lock);
    return xrc < 0 ? -1 : 0;
}

/* Both steps at once (a restart, run by the monitor). */
static int domain_setup(const struct xenon_paths *p, struct xs_client *xs,
                        const struct domain_config *dc, const char *json,
                        unsigned avoid, unsigned *domid_out, FILE *err)
{
    int lock = domain_reserve(p, xs, dc, json, avoid, domid_out, err);
    if (lock < 0)
        return -1;
    return domain_publish(p, xs, dc, *domid_out, lock, err);
}

/* --- the VMM -------------------------------------------------------------- */

static int ensure_dirs(const struct xenon_paths *p, FILE *err)
{
    char d[XENON_PATH_MAX + 16];
    const char *dirs[4] = { p->state_dir, d, p->log_dir, NULL };
    snprintf(d, sizeof(d), "%s/console", p->run_dir);
    char d2[XENON_PATH_MAX + 16];
    snprintf(d2, sizeof(d2), "%s/console", p->log_dir);
    dirs[3] = d2;
    for (int i = 0; i < 4; i++)
        if (mkdir_p(dirs[i]) < 0) {
            fprintf(err, "cannot create %s: %s\n", dirs[i], strerror(errno));
            return -1;
        }
    return 0;
}

static void log_path(const struct xenon_paths *p, const char *name, char *out,
                     size_t n)
{
    snprintf(out, n, "%s/xl-%s.log", p->log_dir, name);
}

static void mlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mlog(const char *fmt, ...)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char ts[32];
    strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ld xl: ", ts, (long)(tv.tv_usec / 1000));
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

/* Start xenon-vmm for the domain and wait until it reports, on a pipe
 * (--ready-fd), that the domain is built and its console served. With
 * go_fd >= 0 the VMM then waits for "G" there before running the guest
 * (xl create writes it once the xenstore nodes are in place). The VMM's
 * log goes to our stderr (the xl log). 0 and *pid, or -1 (the VMM is gone,
 * reaped). */
static int vmm_start(const struct xenon_paths *p, const struct domain_config *dc,
                     unsigned domid, const char *console, bool paused,
                     int go_fd, pid_t *pid_out)
{
    char domid_s[16], mem_s[32], vcpus_s[16], gnt_s[16], clog[XENON_PATH_MAX + 300];
    char uuid[37];
    uuid_string(dc->uuid, uuid);
    snprintf(domid_s, sizeof(domid_s), "%u", domid);
    /* RAM is `memory`: without ballooning, maxmem cannot be reached. */
    snprintf(mem_s, sizeof(mem_s), "%lld", (long long)(dc->target_memkb / 1024));
    snprintf(vcpus_s, sizeof(vcpus_s), "%d", dc->avail_vcpus);
    snprintf(gnt_s, sizeof(gnt_s), "%d", dc->max_grant_frames);
    snprintf(clog, sizeof(clog), "%s/console/guest-%s.log", p->log_dir, dc->name);
    /* What Xen would print on its own console for this domain: the debug
     * port, console_io writes and the UART (Linux's earlyprintk=xen). */
    char hlog[XENON_PATH_MAX + 300];
    snprintf(hlog, sizeof(hlog), "%s/console/hypervisor-%s.log", p->log_dir, dc->name);
    /* Room for every option below at once: 37 entries with the NULL (a
     * ramdisk, a cmdline, grant frames, -p and the go descriptor). */
    const char *argv[40];
    int n = 0;
    argv[n++] = p->vmm;
    argv[n++] = "--kernel";
    argv[n++] = dc->kernel ? dc->kernel : "";
    if (dc->ramdisk) {
        argv[n++] = "--ramdisk";
        argv[n++] = dc->ramdisk;
    }
    if (dc->cmdline) {
        argv[n++] = "--cmdline";
        argv[n++] = dc->cmdline;
    }
    argv[n++] = "--memory";
    argv[n++] = mem_s;
    argv[n++] = "--vcpus";
    argv[n++] = vcpus_s;
    argv[n++] = "--domid";
    argv[n++] = domid_s;
    argv[n++] = "--name";
    argv[n++] = dc->name;
    argv[n++] = "--uuid";
    argv[n++] = uuid;
    if (dc->max_grant_frames > 0) {
        argv[n++] = "--max-grant-frames";
        argv[n++] = gnt_s;
    }
    argv[n++] = "--xenstore-socket";
    argv[n++] = p->xs_path;
    argv[n++] = "--console-socket";
    argv[n++] = console;
    argv[n++] = "--console-log";
    argv[n++] = clog;
    argv[n++] = "--serial-log";
    argv[n++] = hlog;
    /* Log caps: the admin's (XENON_LOG_MAX_SIZE bytes per file,
     * XENON_LOG_FILES files per log) or the contract's defaults. */
    char logsize_s[24], logfiles_s[16];
    const char *env_size = getenv("XENON_LOG_MAX_SIZE"), *env_files = getenv("XENON_LOG_FILES");
    snprintf(logsize_s, sizeof(logsize_s), "%s", env_size && *env_size ? env_size : "");
    snprintf(logfiles_s, sizeof(logfiles_s), "%s", env_files && *env_files ? env_files : "");
    if (!logsize_s[0])
        snprintf(logsize_s, sizeof(logsize_s), "%d", XENON_LOG_MAX_SIZE_DEFAULT);
    if (!logfiles_s[0])
        snprintf(logfiles_s, sizeof(logfiles_s), "%d", XENON_LOG_FILES_DEFAULT);
    argv[n++] = "--log-max-size";
    argv[n++] = logsize_s;
    argv[n++] = "--log-files";
    argv[n++] = logfiles_s;
    if (paused)
        argv[n++] = "--paused";
    /* The VMM writes "R" once built; end of file means it failed first. */
    int ready[2];
    char ready_s[16], go_s[16];
    if (pipe2(ready, O_CLOEXEC) < 0)
        return -1;
    snprintf(ready_s, sizeof(ready_s), "%d", ready[1]);
    argv[n++] = "--ready-fd";
    argv[n++] = ready_s;
    if (go_fd >= 0) {
        snprintf(go_s, sizeof(go_s), "%d", go_fd);
        argv[n++] = "--go-fd";
        argv[n++] = go_s;
    }
    argv[n] = NULL;

    unlink(console);
    pid_t pid = fork();
    if (pid < 0) {
        close(ready[0]);
        close(ready[1]);
        return -1;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* The descriptors exec passes on. */
        fcntl(ready[1], F_SETFD, 0);
        if (go_fd >= 0)
            fcntl(go_fd, F_SETFD, 0);
        execvp(argv[0], (char **)argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(ready[1]);
    struct pollfd pfd = { .fd = ready[0], .events = POLLIN };
    char byte = 0;
    int r;
    do
        r = poll(&pfd, 1, START_TIMEOUT_MS);
    while (r < 0 && errno == EINTR);
    if (r > 0 && read(ready[0], &byte, 1) == 1 && byte == 'R') {
        close(ready[0]);
        *pid_out = pid;
        return 0;
    }
    close(ready[0]);
    if (r == 0) {
        mlog("domain %u: xenon-vmm did not start in %u s", domid, START_TIMEOUT_MS / 1000);
        kill(pid, SIGKILL);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (r != 0)
        mlog("domain %u: xenon-vmm exited with status %d before the domain ran",
             domid, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    unlink(console);
    return -1;
}

/* --- the monitor ---------------------------------------------------------- */

static volatile sig_atomic_t monitor_stop;

static void on_term(int sig)
{
    (void)sig;
    monitor_stop = 1;
}

/* Runs in the detached monitor process; never returns. `report` gets one
 * byte once the first VMM runs ('K') or has failed ('F'). */
static void __attribute__((noreturn))
monitor(const struct xenon_paths *p, struct domain_config *dc, const char *json,
        unsigned domid, int report, int go_fd, bool paused)
{
    struct sigaction sa = { .sa_handler = on_term };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);

    const pid_t me = getpid();
    const unsigned long long me_start = proc_start(me, NULL);
    struct xs_client *xs = NULL;
    for (;;) {
        struct dstate s;
        if (state_read(p, domid, &s) < 0) {
            mlog("domain %u: state file vanished", domid);
            break;
        }
        /* A restarted domain's state file names us already (domain_setup). */
        if (s.mon_pid != me || s.mon_start != me_start) {
            s.mon_pid = me;
            s.mon_start = me_start;
            state_write(p, domid, &s);
        }
        pid_t vmm;
        /* Only the first start may be paused (xl create -p); a restarted
         * domain runs. */
        if (monitor_stop ||
            vmm_start(p, dc, domid, s.console, paused && report >= 0, go_fd, &vmm) < 0) {
            xs = xs ? xs : xs_open(p->xs_path);
            teardown(p, xs, domid);
            if (report >= 0)
                (void)!write(report, "F", 1);
            break;
        }
        if (go_fd >= 0) {       /* only the first VMM waits for xl's go */
            close(go_fd);
            go_fd = -1;
        }
        s.vmm_pid = vmm;
        s.vmm_start = proc_start(vmm, NULL);
        state_write(p, domid, &s);
        /* xl returns at "K": the state file names the VMM by then (for
         * destroy); the log lines can come after. */
        if (report >= 0) {
            (void)!write(report, "K", 1);
            close(report);
            report = -1;
        }
        mlog("domain %u (%s) running, xenon-vmm pid %d", domid, dc->name, (int)vmm);
        mlog("Waiting for domain %s (domid %u) to die [pid %ld]", dc->name, domid,
             (long)me);
        int st = 0;
        bool signalled = false;
        for (;;) {
            if (monitor_stop && !signalled) {
                kill(vmm, SIGTERM);
                kill(vmm, SIGCONT);     /* a paused VMM must see it */
                signalled = true;
            }
            pid_t r = waitpid(vmm, &st, 0);
            if (r == vmm)
                break;
            if (r < 0 && errno != EINTR) {
                st = -1;
                break;
            }
        }
        xs_close(xs);
        xs = xs_open(p->xs_path);
        int code = st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (monitor_stop || code < XENON_EXIT_SHUTDOWN_BASE ||
            code > XENON_EXIT_SHUTDOWN_BASE + SHUTDOWN_MAX) {
            if (monitor_stop)
                mlog("Domain %u has been destroyed.", domid);
            else
                mlog("domain %u: xenon-vmm died (status %d): destroying the domain",
                     domid, code);
            teardown(p, xs, domid);
            break;
        }
        int reason = code - XENON_EXIT_SHUTDOWN_BASE;
        mlog("Domain %u has shut down, reason code %d 0x%x", domid, reason, reason);
        enum dc_action act = reason == 0 ? dc->on_poweroff
                           : reason == 1 ? dc->on_reboot
                           : reason == 3 ? dc->on_crash
                           : reason == 4 ? dc->on_watchdog
                           : reason == 5 ? dc->on_soft_reset
                                         : DC_ACTION_DESTROY;
        mlog("Action for shutdown reason code %d is %s", reason, dc_action_name(act));
        if (act == DC_ACTION_COREDUMP_DESTROY || act == DC_ACTION_COREDUMP_RESTART) {
            mlog("core dumps are not supported: not dumping domain %u", domid);
            act = act == DC_ACTION_COREDUMP_DESTROY ? DC_ACTION_DESTROY
                                                    : DC_ACTION_RESTART;
        }
        if (act == DC_ACTION_PRESERVE) {
            if (state_read(p, domid, &s) == 0) {
                s.vmm_pid = 0;
                s.vmm_start = 0;
                s.mon_pid = 0;
                s.mon_start = 0;
                s.shutdown_reason = reason;
                state_write(p, domid, &s);
            }
            unlink(s.console);
            mlog("domain %u preserved: `xl destroy %u` removes it", domid, domid);
            break;
        }
        if (act != DC_ACTION_RESTART) {
            teardown(p, xs, domid);
            if (act != DC_ACTION_DESTROY)
                mlog("action %s is not supported: domain %u destroyed",
                     dc_action_name(act), domid);
            break;
        }
        /* The new domain is set up before the old one goes, so that a
         * state file naming this monitor exists at every moment (destroy
         * finds us) and the new domain gets a new domid. */
        unsigned nd;
        if (!xs || domain_setup(p, xs, dc, json, domid, &nd, stderr) < 0) {
            mlog("domain %s: restart failed", dc->name);
            teardown(p, xs, domid);
            break;
        }
        mlog("Domain %u needs to be cleaned up: destroying the domain", domid);
        teardown(p, xs, domid);
        mlog("Done. Rebooting now");
        mlog("domain %s restarted as domain %u", dc->name, nd);
        domid = nd;
    }
    xs_close(xs);
    _exit(0);
}

void xenon_monitor_wait(pid_t monitor)
{
    while (waitpid(monitor, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* --- pausing -------------------------------------------------------------- */

#define PAUSE_TIMEOUT_MS 5000

/* Sends `sig` to the domain's running VMM, its state read into *s; else
 * err names `what` and -1. */
static int signal_vmm(const struct xenon_paths *p, unsigned domid, int sig,
                      const char *what, struct dstate *s, FILE *err)
{
    if (state_read(p, domid, s) < 0 || !proc_alive(s->vmm_pid, s->vmm_start)) {
        fprintf(err, "%s failed: domain %u is not running\n", what, domid);
        return -1;
    }
    if (kill(s->vmm_pid, sig) < 0) {
        fprintf(err, "%s failed: domain %u: %s\n", what, domid, strerror(errno));
        return -1;
    }
    return 0;
}

/* SIGSTOP only starts a group stop: each thread stops when it next passes
 * through the kernel (a vCPU in KVM_RUN is kicked out of the guest). Waits
 * until all have, as Xen's pause returns once no vCPU runs. */
static int wait_stopped(const struct dstate *s, unsigned domid, FILE *err)
{
    int rc = vmm_wait_stopped(s->vmm_pid, s->vmm_start, PAUSE_TIMEOUT_MS);
    if (rc == -ESRCH)
        fprintf(err, "pause failed: domain %u is gone\n", domid);
    else if (rc < 0)
        fprintf(err, "pause failed: domain %u did not stop within %u s\n", domid,
                PAUSE_TIMEOUT_MS / 1000);
    return rc < 0 ? -1 : 0;
}

int xenon_domain_create(const struct xenon_paths *p, struct domain_config *dc,
                        const char *config_json, unsigned flags,
                        unsigned *domid_out, pid_t *monitor_out, FILE *err)
{
    bool fg = flags & XENON_CREATE_FOREGROUND;
    struct xs_client *xs = xs_connect(p, err);
    if (!xs)
        return -1;
    /* Parsed but not yet built: say so rather than drop them silently. */
    if (dc->num_disks)
        fprintf(err, "warning: disk devices are not supported by Xenon yet: "
                "%d disk(s) not attached\n", dc->num_disks);
    if (dc->num_nics)
        fprintf(err, "warning: network devices are not supported by Xenon yet: "
                "%d vif(s) not attached\n", dc->num_nics);
    if (dc->max_memkb > dc->target_memkb)
        fprintf(err, "warning: maxmem (%lld MiB) above memory: ballooning is not "
                "supported by Xenon yet; the domain gets memory (%lld MiB)\n",
                (long long)(dc->max_memkb / 1024), (long long)(dc->target_memkb / 1024));
    if (ensure_dirs(p, err) < 0) {
        xs_close(xs);
        return -1;
    }
    /* As libxl builds a domain paused and unpauses it once its xenstore
     * nodes exist: the monitor starts the VMM, which builds the domain
     * while we write the nodes, then waits for "G" on the go pipe. */
    unsigned domid;
    int lock = domain_reserve(p, xs, dc, config_json, 0, &domid, err);
    if (lock < 0) {
        xs_close(xs);
        return -1;
    }
    char logf[XENON_PATH_MAX + 300];
    log_path(p, dc->name, logf, sizeof(logf));
    int logfd = open(logf, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    off_t log_start = logfd >= 0 ? lseek(logfd, 0, SEEK_END) : 0;
    int pfd[2] = { -1, -1 }, go[2] = { -1, -1 };
    /* go is a socket pair only so that sending to a VMM that already
     * died is an error (MSG_NOSIGNAL), not a SIGPIPE for the caller. */
    if (logfd < 0 || pipe2(pfd, O_CLOEXEC) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go) < 0) {
        if (logfd < 0)
            fprintf(err, "cannot open %s: %s\n", logf, strerror(errno));
        else
            fprintf(err, "cannot start domain %u: %s\n", domid, strerror(errno));
        if (logfd >= 0)
            close(logfd);
        for (int i = 0; i < 2; i++) {
            if (pfd[i] >= 0)
                close(pfd[i]);
        }
        teardown(p, xs, domid);
        close(lock);
        xs_close(xs);
        return -1;
    }
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
        /* Detach: new session (a ^C at xl's terminal does not reach the
         * monitor), then, unless in the foreground, a grandchild that init
         * adopts. The lock's open file is shared with us: close our copy,
         * or the lock would last as long as the monitor. */
        close(lock);
        close(pfd[0]);
        close(go[1]);
        xs_close(xs);
        setsid();
        if (!fg && fork() != 0)
            _exit(0);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        if (null > 2)
            close(null);
        close(logfd);
        if (chdir("/") < 0) {
            /* keep going: all paths we use are absolute or already resolved */
        }
        monitor(p, dc, config_json, domid, pfd[1], go[0], flags & XENON_CREATE_PAUSED);
    }
    close(pfd[1]);
    close(go[0]);
    /* No go (the socket closes unwritten) when the nodes could not be
     * written: the VMM then exits and the monitor tears down. */
    bool published = false;
    if (child > 0) {
        published = domain_publish(p, xs, dc, domid, lock, err) == 0;
        if (published)
            (void)!send(go[1], "G", 1, MSG_NOSIGNAL);
    } else {
        close(lock);
    }
    close(go[1]);
    if (child > 0 && !fg)
        waitpid(child, NULL, 0);
    char c = 0;
    ssize_t r;
    do {
        r = read(pfd[0], &c, 1);
    } while (r < 0 && errno == EINTR);
    close(pfd[0]);
    if (!published || r != 1 || c != 'K') {
        /* The monitor has cleaned up; show what the VMM said. */
        fprintf(err, "libxl: error: domain %u (%s) failed to start; log %s:\n",
                domid, dc->name, logf);
        char buf[4096];
        ssize_t n;
        int rfd = open(logf, O_RDONLY | O_CLOEXEC);
        if (rfd >= 0 && lseek(rfd, log_start, SEEK_SET) == log_start)
            while ((n = read(rfd, buf, sizeof(buf))) > 0)
                fwrite(buf, 1, (size_t)n, err);
        if (rfd >= 0)
            close(rfd);
        close(logfd);
        if (child > 0 && fg)
            xenon_monitor_wait(child);
        teardown(p, xs, domid);     /* in case the monitor could not */
        xs_close(xs);
        return -1;
    }
    close(logfd);
    xs_close(xs);
    /* Like pause, create -p returns once the VMM has stopped itself. */
    struct dstate s;
    if ((flags & XENON_CREATE_PAUSED) &&
        (state_read(p, domid, &s) < 0 || wait_stopped(&s, domid, err) < 0)) {
        fprintf(err, "libxl: error: domain %u (%s) did not stay paused\n", domid, dc->name);
        xenon_domain_destroy(p, domid, err);
        return -1;
    }
    *domid_out = domid;
    if (monitor_out)
        *monitor_out = fg ? child : 0;
    return 0;
}

/* --- queries and control -------------------------------------------------- */

static int cmp_info(const void *a, const void *b)
{
    const struct xenon_dominfo *x = a, *y = b;
    return (x->domid > y->domid) - (x->domid < y->domid);
}

/* Every domain id we know of, each once: those with a home in xenstore,
 * then those with only a state file (being set up or torn down). A
 * malloc'd array and *n, or NULL with a message on err. */
static unsigned *domain_ids(const struct xenon_paths *p, struct xs_client *xs,
                            int *n, FILE *err)
{
    unsigned *a = NULL, *b = NULL, *ids = NULL;
    int na = 0, nb = 0;
    *n = 0;
    if (xs_domids(xs, &a, &na) < 0 || state_ids(p, &b, &nb) < 0) {
        fprintf(err, "cannot list domains\n");
    } else if (!(ids = calloc((size_t)(na + nb) + 1, sizeof(*ids)))) {
        fprintf(err, "out of memory\n");
    } else {
        uint8_t seen[(MAX_DOMID + 8) / 8] = { 0 };  /* ids are <= MAX_DOMID */
        for (int i = 0; i < na + nb; i++) {
            unsigned id = i < na ? a[i] : b[i - na];
            if (!(seen[id / 8] & (1u << (id % 8)))) {
                seen[id / 8] |= (uint8_t)(1u << (id % 8));
                ids[(*n)++] = id;
            }
        }
    }
    free(a);
    free(b);
    return ids;
}

/* The xenstore nodes `xenon_domain_list` shows, in this order. */
static const char *const list_nodes[] = { "name", "memory/target", "memory/static-max" };
#define LIST_NODES 3

int xenon_domain_list(const struct xenon_paths *p, struct xenon_dominfo **out,
                      int *n_out, FILE *err)
{
    *out = NULL;
    *n_out = 0;
    struct xs_client *xs = xs_connect(p, err);
    if (!xs)
        return -1;
    int n;
    unsigned *ids = domain_ids(p, xs, &n, err);
    char **xv = ids ? read_domain_nodes(xs, ids, n, list_nodes, LIST_NODES) : NULL;
    xs_close(xs);
    struct xenon_dominfo *v = xv ? calloc((size_t)n + 1, sizeof(*v)) : NULL;
    if (!v) {
        if (ids)
            fprintf(err, xv ? "out of memory\n" : "cannot read domains from xenstored\n");
        if (xv)
            xs_free_list(xv, n * LIST_NODES);
        free(ids);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        struct xenon_dominfo *d = &v[i];
        char *const *x = &xv[i * LIST_NODES];
        struct dstate s;
        bool have = state_read(p, ids[i], &s) == 0;
        d->domid = ids[i];
        d->shutdown_reason = -1;
        snprintf(d->name, sizeof(d->name), "%s", x[0] ? x[0] : have ? s.name : "");
        d->target_kb = x[1] ? strtoull(x[1], NULL, 10) : have ? s.target_kb : 0;
        d->max_kb = x[2] ? strtoull(x[2], NULL, 10) : have ? s.max_kb : 0;
        if (have) {
            snprintf(d->uuid, sizeof(d->uuid), "%s", s.uuid);
            snprintf(d->console, sizeof(d->console), "%s", s.console);
            d->vcpus = s.vcpus;
            d->start_time = s.created;
            d->shutdown_reason = s.shutdown_reason;
            /* One read of the VMM's stat: alive, ours, and its CPU time. */
            double cpu = 0;
            if (s.vmm_start && proc_start(s.vmm_pid, &cpu) == s.vmm_start) {
                d->vmm_pid = s.vmm_pid;
                d->running = true;
                d->cpu_time = cpu;
                struct vmm_activity act = vmm_activity(s.vmm_pid);
                d->blocked = act.blocked;
                d->paused = act.stopped;
            }
            if (proc_alive(s.mon_pid, s.mon_start))
                d->monitor_pid = s.mon_pid;
        }
    }
    xs_free_list(xv, n * LIST_NODES);
    free(ids);
    qsort(v, (size_t)n, sizeof(*v), cmp_info);
    *out = v;
    *n_out = n;
    return 0;
}

bool xenon_domain_exists(const struct xenon_paths *p, unsigned domid)
{
    char path[XENON_PATH_MAX + 32];
    state_path(p, domid, "", path, sizeof(path));
    if (access(path, F_OK) == 0)
        return true;
    struct xs_client *xs = xs_open(p->xs_path);
    if (!xs)
        return false;
    char *nm = xs_readf(xs, "/local/domain/%u/name", domid);
    xs_close(xs);
    free(nm);
    return nm != NULL;
}

int xenon_dominfo_find(const struct xenon_dominfo *v, int n, const char *spec)
{
    char *end;
    errno = 0;
    unsigned long id = strtoul(spec, &end, 10);
    bool numeric = *spec && *end == 0 && !errno && spec[0] != '-';
    for (int i = 0; i < n; i++)
        if (numeric ? v[i].domid == id : strcmp(v[i].name, spec) == 0)
            return i;
    return -1;
}

/* What xenon_dominfo_find finds in xenon_domain_list's answer, without
 * building it: a number needs no per-domain read, a name one read per
 * domain (the xenstore name, else the state file's), where the list took
 * three xenstore reads, the state file and several /proc files each. With
 * many domains and as many concurrent `xl destroy NAME`, the list made
 * every lookup cost O(domains) in xenstored and /proc. */
int xenon_domain_lookup(const struct xenon_paths *p, const char *spec,
                        unsigned *domid, FILE *err)
{
    char *end;
    errno = 0;
    unsigned long want = strtoul(spec, &end, 10);
    bool numeric = *spec && *end == 0 && !errno && spec[0] != '-';
    struct xs_client *xs = xs_connect(p, err);
    if (!xs)
        return -2;
    int n;
    unsigned *ids = domain_ids(p, xs, &n, err);
    char **names = ids && !numeric ? read_names(xs, ids, n) : NULL;
    xs_close(xs);
    if (!ids || (!numeric && !names)) {
        if (ids)
            fprintf(err, "cannot read domain names from xenstored\n");
        free(ids);
        return -2;
    }
    /* The lowest matching domid, as the sorted list would give. */
    bool found = false;
    unsigned best = 0;
    for (int i = 0; i < n; i++) {
        if (found && ids[i] >= best)
            continue;
        struct dstate s;
        bool match = numeric ? ids[i] == want
                   : names[i] ? strcmp(names[i], spec) == 0
                   /* no xenstore name: the state file's */
                   : state_read(p, ids[i], &s) == 0 && strcmp(s.name, spec) == 0;
        if (match) {
            found = true;
            best = ids[i];
        }
    }
    if (names)
        xs_free_list(names, n);
    free(ids);
    if (found)
        *domid = best;
    return found ? 0 : -1;
}

int xenon_domain_destroy(const struct xenon_paths *p, unsigned domid, FILE *err)
{
    struct xs_client *xs = xs_connect(p, err);
    if (!xs)
        return -1;
    struct dstate s;
    int rc = 0;
    if (state_read(p, domid, &s) < 0) {
        char *nm = xs_readf(xs, "/local/domain/%u/name", domid);
        rc = nm ? 0 : 1;
        free(nm);
    } else {
        /* The monitor, when alive, stops the VMM and cleans up itself. */
        if (proc_alive(s.mon_pid, s.mon_start)) {
            kill(s.mon_pid, SIGTERM);
            if (!proc_wait_gone(s.mon_pid, s.mon_start, STOP_TIMEOUT_MS)) {
                kill(s.mon_pid, SIGKILL);
                proc_wait_gone(s.mon_pid, s.mon_start, 1000);
            }
        }
        if (proc_alive(s.vmm_pid, s.vmm_start)) {
            kill(s.vmm_pid, SIGKILL);
            if (!proc_wait_gone(s.vmm_pid, s.vmm_start, STOP_TIMEOUT_MS)) {
                fprintf(err, "domain %u: xenon-vmm (pid %d) does not die\n",
                        domid, (int)s.vmm_pid);
                xs_close(xs);
                return -1;
            }
        }
    }
    teardown(p, xs, domid);
    xs_close(xs);
    return rc;
}

int xenon_domain_pause(const struct xenon_paths *p, unsigned domid, FILE *err)
{
    struct dstate s;
    if (signal_vmm(p, domid, SIGSTOP, "pause", &s, err) < 0)
        return -1;
    return wait_stopped(&s, domid, err);
}

/* SIGCONT ends the group stop before kill() returns. */
int xenon_domain_unpause(const struct xenon_paths *p, unsigned domid, FILE *err)
{
    struct dstate s;
    return signal_vmm(p, domid, SIGCONT, "unpause", &s, err);
}

int xenon_domain_request(const struct xenon_paths *p, unsigned domid,
                         const char *what, FILE *err)
{
    struct xs_client *xs = xs_connect(p, err);
    if (!xs)
        return -1;
    int rc = xs_printf(xs, what, "/local/domain/%u/control/shutdown", domid);
    xs_close(xs);
    if (rc < 0)
        fprintf(err, "cannot write control/shutdown of domain %u: %s\n", domid,
                strerror(-rc));
    return rc < 0 ? -1 : 0;
}

int xenon_domain_set_target(const struct xenon_paths *p, unsigned domid,
                            uint64_t kb, FILE *err)
{
    struct xs_client *xs = xs_connect(p, err);
    if (!xs)
        return -1;
    char v[32];
    snprintf(v, sizeof(v), "%llu", (unsigned long long)kb);
    int rc = xs_printf(xs, v, "/local/domain/%u/memory/target", domid);
    xs_close(xs);
    if (rc < 0)
        fprintf(err, "cannot write memory/target of domain %u: %s\n", domid,
                strerror(-rc));
    return rc < 0 ? -1 : 0;
}
