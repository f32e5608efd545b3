/* The stats sampler and GET /rrd_updates (rrd.h). */
#include "rrd.h"

#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "domain.h"
#include "host_info.h"
#include "model.h"
#include "session.h"
#include "vm_scan.h"

/* A row's source names, shared by the rows that have the same ones (most
 * do: the sources change only when a VM or device comes or goes), so the
 * ring costs a double per value, not a name. */
struct legend {
    int refs, n;
    char **names;       /* "host:<uuid>:cpu0", "vm:<uuid>:memory" */
};

struct row {
    time_t t;
    int n;
    char **names;       /* = legend->names */
    double *vals;
    struct legend *legend;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct row ring[RRD_ROWS];
static unsigned long nrows;     /* rows ever written; ring[(nrows - 1) % RRD_ROWS] the newest */

/* What the last sample read, for the rates: name -> counter. */
static json_object *prev;
static double prev_t;

struct sample {
    struct row r;
    int cap;
};

static void add(struct sample *s, const char *kind, const char *uuid, const char *name, double v)
{
    if (s->r.n >= RRD_MAX_SOURCES)
        return;
    if (s->r.n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 64;
        char **nn = realloc(s->r.names, (size_t)cap * sizeof(*nn));
        if (!nn)
            return;
        s->r.names = nn;
        double *nv = realloc(s->r.vals, (size_t)cap * sizeof(*nv));
        if (!nv)
            return;
        s->r.vals = nv;
        s->cap = cap;
    }
    char buf[256];
    snprintf(buf, sizeof(buf), "%s:%s:%s", kind, uuid, name);
    s->r.names[s->r.n] = strdup(buf);
    if (!s->r.names[s->r.n])
        return;
    s->r.vals[s->r.n++] = v;
}

/* The rate of a counter since the last sample (NaN the first time). */
static double rate(json_object *now, const char *key, double counter, double dt)
{
    json_object *p;
    double r = NAN;
    if (prev && dt > 0 && json_object_object_get_ex(prev, key, &p)) {
        r = (counter - json_object_get_double(p)) / dt;
        if (r < 0)
            r = NAN;    /* a counter that went back: the device was replaced */
    }
    json_object_object_add(now, key, json_object_new_double(counter));
    return r;
}

static double read_num(const char *path)
{
    FILE *f = fopen(path, "re");
    double v = NAN;
    if (f) {
        if (fscanf(f, "%lf", &v) != 1)
            v = NAN;
        fclose(f);
    }
    return v;
}

/* XAPI's host sources pif_<device>_rx / _tx (bytes/s) for each PIF (an
 * interface with a device/ link, as host_net.h counts them) and
 * pif_aggr_rx / _tx, their sums. */
static void sample_pifs(struct sample *s, json_object *now, double dt, const char *uuid)
{
    DIR *d = opendir("/sys/class/net");
    if (!d)
        return;
    double aggr[2] = { 0, 0 };
    bool any[2] = { false, false };
    static const char *const dir[2][2] = { { "rx_bytes", "rx" }, { "tx_bytes", "tx" } };
    for (struct dirent *e; (e = readdir(d));) {
        char p[320], key[96], name[64];
        /* Linux's names are at most 15 bytes, with no '/', ':' or space */
        if (e->d_name[0] == '.' || strlen(e->d_name) > 15)
            continue;
        snprintf(p, sizeof(p), "/sys/class/net/%s/device", e->d_name);
        if (access(p, F_OK) != 0)
            continue;
        for (int k = 0; k < 2; k++) {
            snprintf(p, sizeof(p), "/sys/class/net/%s/statistics/%s", e->d_name, dir[k][0]);
            double c = read_num(p);
            snprintf(key, sizeof(key), "host/pif/%s/%s", e->d_name, dir[k][1]);
            snprintf(name, sizeof(name), "pif_%s_%s", e->d_name, dir[k][1]);
            double r = isnan(c) ? NAN : rate(now, key, c, dt);
            add(s, "host", uuid, name, r);
            if (!isnan(r)) {
                aggr[k] += r;
                any[k] = true;
            }
        }
    }
    closedir(d);
    add(s, "host", uuid, "pif_aggr_rx", any[0] ? aggr[0] : NAN);
    add(s, "host", uuid, "pif_aggr_tx", any[1] ? aggr[1] : NAN);
}

static void sample_host(struct sample *s, json_object *now, double dt, const char *uuid)
{
    FILE *f = fopen("/proc/stat", "re");
    char line[512];
    double cpu_sum = 0;
    unsigned ncpu = 0;
    while (f && fgets(line, sizeof(line), f)) {
        unsigned cpu;
        unsigned long long u, ni, sy, id, io, irq, sirq, st;
        if (sscanf(line, "cpu%u %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &u, &ni, &sy,
                   &id, &io, &irq, &sirq, &st) != 9)
            continue;
        char kb[32], kt[32];
        snprintf(kb, sizeof(kb), "host/cpu%u/busy", cpu);
        snprintf(kt, sizeof(kt), "host/cpu%u/total", cpu);
        double busy = (double)(u + ni + sy + irq + sirq + st);
        double total = busy + (double)(id + io);
        double db = rate(now, kb, busy, 1), dtot = rate(now, kt, total, 1);
        char n[16];
        snprintf(n, sizeof(n), "cpu%u", cpu);
        double v = dtot > 0 ? db / dtot : NAN;
        add(s, "host", uuid, n, v);
        if (!isnan(v)) {
            cpu_sum += v;
            ncpu++;
        }
    }
    if (f)
        fclose(f);
    add(s, "host", uuid, "cpu_avg", ncpu ? cpu_sum / ncpu : NAN);
    struct sysinfo si;
    if (sysinfo(&si) == 0) {
        add(s, "host", uuid, "memory_total_kib", (double)si.totalram * si.mem_unit / 1024);
        add(s, "host", uuid, "memory_free_kib", (double)si.freeram * si.mem_unit / 1024);
    }
    add(s, "host", uuid, "loadavg", read_num("/proc/loadavg"));
    sample_pifs(s, now, dt, uuid);
}

/* The VM records of running domains: domid -> {uuid, vifs [devid], vbds [dev]}. */
static json_object *running_vms(void)
{
    json_object *m = json_object_new_object();
    model_lock();
    json_object *all = model_class("VM");
    if (all) {
        json_object_object_foreach(all, ref, vm) {
            (void)ref;
            json_object *f, *u, *l;
            if (!json_object_object_get_ex(vm, "domid", &f) || json_object_get_int64(f) <= 0 ||
                !json_object_object_get_ex(vm, "uuid", &u))
                continue;
            json_object *e = json_object_new_object(), *vifs = json_object_new_array(),
                        *vbds = json_object_new_array();
            json_object_object_add(e, "uuid", json_object_get(u));
            static const char *const kinds[] = { "VIFs", "VBDs" };
            for (int k = 0; k < 2; k++) {
                if (!json_object_object_get_ex(vm, kinds[k], &l))
                    continue;
                for (size_t i = 0; i < json_object_array_length(l); i++) {
                    json_object *d = model_get(k ? "VBD" : "VIF",
                                               json_object_get_string(json_object_array_get_idx(l, i)));
                    json_object *att, *dev;
                    if (d && json_object_object_get_ex(d, "currently_attached", &att) &&
                        json_object_get_boolean(att) && json_object_object_get_ex(d, "device", &dev))
                        json_object_array_add(k ? vbds : vifs, json_object_get(dev));
                }
            }
            json_object_object_add(e, "vifs", vifs);
            json_object_object_add(e, "vbds", vbds);
            char id[16];
            snprintf(id, sizeof(id), "%lld", (long long)json_object_get_int64(f));
            json_object_object_add(m, id, e);
        }
    }
    model_unlock();
    return m;
}

static void sample_vms(struct sample *s, json_object *now, double dt)
{
    struct xenon_dominfo *doms = NULL;
    int n = 0;
    FILE *quiet = fopen("/dev/null", "we");
    int rc = xenon_domain_list(&vm_paths, &doms, &n, quiet ? quiet : stderr);
    if (quiet)
        fclose(quiet);
    if (rc < 0)
        return;
    json_object *vms = running_vms();
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof(id), "%u", doms[i].domid);
        json_object *e, *f;
        if (!doms[i].running || !json_object_object_get_ex(vms, id, &e) ||
            !json_object_object_get_ex(e, "uuid", &f))
            continue;
        const char *uuid = json_object_get_string(f);
        char key[256], name[64];
        struct xenon_vcpuinfo *v = NULL;
        int nv = 0;
        if (doms[i].vmm_pid > 0 && xenon_domain_vcpus(doms[i].vmm_pid, &v, &nv) == 0) {
            for (int k = 0; k < nv; k++) {
                snprintf(key, sizeof(key), "%s/cpu%u", uuid, v[k].vcpuid);
                snprintf(name, sizeof(name), "cpu%u", v[k].vcpuid);
                add(s, "vm", uuid, name, rate(now, key, v[k].cpu_time, dt));
            }
            free(v);
        }
        add(s, "vm", uuid, "memory", (double)doms[i].target_kb * 1024);
        json_object *l;
        json_object_object_get_ex(e, "vifs", &l);
        for (size_t k = 0; l && k < json_object_array_length(l); k++) {
            const char *dev = json_object_get_string(json_object_array_get_idx(l, k));
            char p[128];
            /* the tap's tx is what the guest receives */
            static const char *const dir[2][2] = { { "tx_bytes", "rx" }, { "rx_bytes", "tx" } };
            for (int d = 0; d < 2; d++) {
                snprintf(p, sizeof(p), "/sys/class/net/vif%u.%s/statistics/%s", doms[i].domid,
                         dev, dir[d][0]);
                double c = read_num(p);
                snprintf(key, sizeof(key), "%s/vif%s/%s", uuid, dev, dir[d][1]);
                snprintf(name, sizeof(name), "vif_%s_%s", dev, dir[d][1]);
                add(s, "vm", uuid, name, isnan(c) ? NAN : rate(now, key, c, dt));
            }
        }
        json_object_object_get_ex(e, "vbds", &l);
        if (l && json_object_array_length(l) == 1 && doms[i].vmm_pid > 0) {
            const char *dev = json_object_get_string(json_object_array_get_idx(l, 0));
            char p[64], line[128];
            snprintf(p, sizeof(p), "/proc/%d/io", (int)doms[i].vmm_pid);
            FILE *io = fopen(p, "re");
            double rd = NAN, wr = NAN;
            while (io && fgets(line, sizeof(line), io)) {
                unsigned long long x;
                if (sscanf(line, "read_bytes: %llu", &x) == 1)
                    rd = (double)x;
                else if (sscanf(line, "write_bytes: %llu", &x) == 1)
                    wr = (double)x;
            }
            if (io)
                fclose(io);
            snprintf(key, sizeof(key), "%s/vbd/read", uuid);
            snprintf(name, sizeof(name), "vbd_%s_read", dev);
            add(s, "vm", uuid, name, isnan(rd) ? NAN : rate(now, key, rd, dt));
            snprintf(key, sizeof(key), "%s/vbd/write", uuid);
            snprintf(name, sizeof(name), "vbd_%s_write", dev);
            add(s, "vm", uuid, name, isnan(wr) ? NAN : rate(now, key, wr, dt));
        }
    }
    json_object_put(vms);
    free(doms);
}

static void take_sample(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double t = (double)ts.tv_sec + ts.tv_nsec / 1e9, dt = prev_t ? t - prev_t : 0;
    struct sample s = { .r = { .t = ts.tv_sec } };
    json_object *now = json_object_new_object();
    model_lock();
    json_object *h = model_get("host", host_ref()), *f;
    char uuid[40] = "";
    if (h && json_object_object_get_ex(h, "uuid", &f))
        snprintf(uuid, sizeof(uuid), "%s", json_object_get_string(f));
    model_unlock();
    sample_host(&s, now, dt, uuid);
    sample_vms(&s, now, dt);
    json_object_put(prev);
    prev = now;
    prev_t = t;
    pthread_mutex_lock(&lock);
    struct legend *last = nrows ? ring[(nrows - 1) % RRD_ROWS].legend : NULL;
    bool same = last && last->n == s.r.n;
    for (int i = 0; same && i < s.r.n; i++)
        same = !strcmp(last->names[i], s.r.names[i]);
    if (same) {
        for (int i = 0; i < s.r.n; i++)
            free(s.r.names[i]);
        free(s.r.names);
        s.r.legend = last;
        last->refs++;
    } else {
        s.r.legend = calloc(1, sizeof(*s.r.legend));
        if (!s.r.legend)
            abort();
        *s.r.legend = (struct legend){ .refs = 1, .n = s.r.n, .names = s.r.names };
    }
    s.r.names = s.r.legend->names;
    struct row *r = &ring[nrows % RRD_ROWS];
    if (r->legend && --r->legend->refs == 0) {
        for (int i = 0; i < r->legend->n; i++)
            free(r->legend->names[i]);
        free(r->legend->names);
        free(r->legend);
    }
    free(r->vals);
    *r = s.r;
    nrows++;
    pthread_mutex_unlock(&lock);
}

static void *sampler(void *arg)
{
    (void)arg;
    for (;;) {
        take_sample();
        sleep(RRD_STEP_S);
    }
    return NULL;
}

int rrd_start(void)
{
    pthread_t t;
    return pthread_create(&t, NULL, sampler, NULL) ? -1 : 0;
}

static int answer(struct MHD_Connection *conn, unsigned status, const char *type, char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body,
                                                             MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Whether a row's source is asked for. */
static bool wanted(const char *name, bool host, const char *vm_uuid)
{
    if (!strncmp(name, "host:", 5))
        return host && !vm_uuid;
    if (!strncmp(name, "vm:", 3))
        return !vm_uuid || (!strncmp(name + 3, vm_uuid, strlen(vm_uuid)) &&
                            name[3 + strlen(vm_uuid)] == ':');
    return false;
}

int rrd_http(struct MHD_Connection *conn)
{
    const char *sid = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "session_id");
    struct session_info si;
    if (!sid || session_lookup(sid, &si) < 0)
        return answer(conn, MHD_HTTP_FORBIDDEN, "text/plain", strdup("session_id: no such session\n"));
    const char *a = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "start");
    const char *cf = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "cf");
    const char *h = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "host");
    const char *vm = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "vm_uuid");
    long long start = (long long)time(NULL) - 600;
    if (a) {
        char *end;
        start = strtoll(a, &end, 10);
        if (end == a || *end)
            return answer(conn, MHD_HTTP_BAD_REQUEST, "text/plain", strdup("start: not a number\n"));
    }
    if (!cf || (strcmp(cf, "AVERAGE") && strcmp(cf, "MIN") && strcmp(cf, "MAX")))
        cf = "AVERAGE";
    bool host = h && !strcmp(h, "true");
    if (vm && !vm_uuid_ok(vm))
        return answer(conn, MHD_HTTP_BAD_REQUEST, "text/plain", strdup("vm_uuid: not a uuid\n"));

    char *out = NULL;
    size_t ol;
    FILE *o = open_memstream(&out, &ol);
    if (!o)
        return MHD_NO;
    pthread_mutex_lock(&lock);
    /* the legend: the newest row's sources (older rows answer NaN for a
     * source they lack, as XAPI does for a new one) */
    unsigned long have = nrows < RRD_ROWS ? nrows : RRD_ROWS;
    const struct row *newest = nrows ? &ring[(nrows - 1) % RRD_ROWS] : NULL;
    int cols = 0, *col = newest ? calloc((size_t)newest->n + 1, sizeof(int)) : NULL;
    for (int i = 0; newest && col && i < newest->n; i++)
        if (wanted(newest->names[i], host, vm))
            col[cols++] = i;
    unsigned long rows = 0;
    time_t first = 0;
    for (unsigned long k = 0; k < have; k++) {
        const struct row *r = &ring[(nrows - 1 - k) % RRD_ROWS];
        if ((long long)r->t <= start)
            break;
        rows++;
        first = r->t;
    }
    fprintf(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xport><meta><start>%lld</start>"
               "<step>%d</step><end>%lld</end><rows>%lu</rows><columns>%d</columns><legend>",
            (long long)(rows ? first : start), RRD_STEP_S,
            (long long)(newest ? newest->t : start), rows, cols);
    for (int c = 0; c < cols; c++)
        fprintf(o, "<entry>%s:%s</entry>", cf, newest->names[col[c]]);
    fputs("</legend></meta><data>", o);
    for (unsigned long k = 0; k < rows; k++) {
        const struct row *r = &ring[(nrows - 1 - k) % RRD_ROWS];
        fprintf(o, "<row><t>%lld</t>", (long long)r->t);
        for (int c = 0; c < cols; c++) {
            const char *want = newest->names[col[c]];
            double v = NAN;
            /* rows mostly hold the same sources in the same order */
            int j = col[c] < r->n && !strcmp(r->names[col[c]], want) ? col[c] : -1;
            for (int x = 0; j < 0 && x < r->n; x++)
                if (!strcmp(r->names[x], want))
                    j = x;
            if (j >= 0)
                v = r->vals[j];
            if (isnan(v))
                fputs("<v>NaN</v>", o);
            else
                fprintf(o, "<v>%.15g</v>", v);
        }
        fputs("</row>", o);
    }
    fputs("</data></xport>\n", o);
    pthread_mutex_unlock(&lock);
    free(col);
    fclose(o);
    return answer(conn, MHD_HTTP_OK, "text/xml", out);
}
