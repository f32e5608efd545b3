/* The state file of a domain (STATE_DIR/domain-N, its config JSON beside it
 * in domain-N.json) and the lock that serialises creation. One key=value a
 * line; written to a temporary file and renamed, so a killed writer leaves
 * the old file or the new one. */
#include "domain_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"

void state_path(const struct xenon_paths *p, unsigned domid,
                       const char *suffix, char *out, size_t n)
{
    snprintf(out, n, "%s/domain-%u%s", p->state_dir, domid, suffix);
}

int state_write(const struct xenon_paths *p, unsigned domid,
                       const struct dstate *s)
{
    /* One key=value a line: a newline in a value (a config file's name
     * can hold "\n") would end it early and add lines of its own. */
    if (strchr(s->name, '\n') || strchr(s->uuid, '\n') || strchr(s->console, '\n') ||
        strchr(s->vmm_boot, '\n')) {
        errno = EINVAL;
        return -1;
    }
    char path[XENON_PATH_MAX + 32], tmp[XENON_PATH_MAX + 48];
    state_path(p, domid, "", path, sizeof(path));
    /* One writer at a time per domain (its creator, then its monitor), so
     * one temporary name: a writer killed before the rename leaves nothing
     * that the next write or the teardown does not take away. */
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    /* 0600 whatever the caller's umask: nobody else may read or edit it. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    fprintf(f, "name=%s\nuuid=%s\nconsole=%s\nvmm_pid=%d\nvmm_start=%llu\nvmm_boot=%s\n"
               "monitor_pid=%d\nmonitor_start=%llu\ncreator_pid=%d\n"
               "creator_start=%llu\ncreated=%.6f\nvcpus=%u\n"
               "target_kb=%llu\nmax_kb=%llu\nshutdown_reason=%d\n",
            s->name, s->uuid, s->console, (int)s->vmm_pid, s->vmm_start, s->vmm_boot,
            (int)s->mon_pid, s->mon_start, (int)s->creator_pid, s->creator_start,
            s->created, s->vcpus,
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

int state_read(const struct xenon_paths *p, unsigned domid,
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
        else if (!strcmp(line, "vmm_boot"))
            snprintf(s->vmm_boot, sizeof(s->vmm_boot), "%s", v);
        else if (!strcmp(line, "monitor_pid"))
            s->mon_pid = atoi(v);
        else if (!strcmp(line, "monitor_start"))
            s->mon_start = strtoull(v, NULL, 10);
        else if (!strcmp(line, "creator_pid"))
            s->creator_pid = atoi(v);
        else if (!strcmp(line, "creator_start"))
            s->creator_start = strtoull(v, NULL, 10);
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
    /* Nothing in the file is trusted where it names something to remove:
     * the console socket is where domain_reserve puts it, whatever the file
     * says, and a uuid that is not one names no /vm node. */
    if (state_console_path(p, domid, s->console, sizeof(s->console)) < 0)
        s->console[0] = 0;
    if (!uuid_valid(s->uuid))
        s->uuid[0] = 0;
    return 0;
}

int state_console_path(const struct xenon_paths *p, unsigned domid, char *out,
                       size_t n)
{
    return snprintf(out, n, "%s/console/%u.sock", p->run_dir, domid) >= (int)n ? -1 : 0;
}

bool uuid_valid(const char *u)
{
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? u[i] != '-' : !isxdigit((unsigned char)u[i]))
            return false;
    }
    return u[36] == 0;
}

void state_set_vmm(struct dstate *s, pid_t pid)
{
    s->vmm_pid = pid;
    s->vmm_start = pid > 0 ? proc_start(pid, NULL) : 0;
    snprintf(s->vmm_boot, sizeof(s->vmm_boot), "%s", pid > 0 ? proc_boot_id() : "");
}

bool state_vmm_ours(const struct xenon_paths *p, const struct dstate *s,
                    unsigned domid)
{
    if (!s->vmm_start || !proc_is_ours(s->vmm_pid, s->vmm_start))
        return false;
    /* A pid and a start time name one process in one boot: the one the
     * monitor started for this domain and recorded. Another boot may give
     * both to a process of ours (the state directory outlives a reboot). */
    if (s->vmm_boot[0])
        return proc_boot_id()[0] && !strcmp(s->vmm_boot, proc_boot_id());
    char id[16];
    snprintf(id, sizeof(id), "%u", domid);
    return proc_cmdline_has(s->vmm_pid, p->vmm, NULL) &&
           proc_cmdline_has(s->vmm_pid, "--domid", id) &&
           proc_cmdline_has(s->vmm_pid, "--xenstore-socket", p->xs_path);
}

bool state_monitor_ours(const struct dstate *s)
{
    return s->mon_start && proc_is_ours(s->mon_pid, s->mon_start) &&
           proc_comm_is(s->mon_pid, MONITOR_COMM);
}

bool state_abandoned(const struct xenon_paths *p, const struct dstate *s,
                     unsigned domid)
{
    return s->shutdown_reason < 0 && !state_vmm_ours(p, s, domid) &&
           !state_monitor_ours(s) &&
           !(s->creator_start && proc_is_ours(s->creator_pid, s->creator_start));
}

void state_remove(const struct xenon_paths *p, unsigned domid)
{
    /* The state file itself last: while it exists the domain is not gone
     * (xenon_monitor_wait, xl create -F), so nothing may outlive it. */
    char path[XENON_PATH_MAX + 32];
    state_path(p, domid, ".json", path, sizeof(path));
    unlink(path);
    state_path(p, domid, ".tmp", path, sizeof(path));
    unlink(path);
    state_path(p, domid, ".cfg", path, sizeof(path));
    unlink(path);
    state_path(p, domid, "", path, sizeof(path));
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
int state_ids(const struct xenon_paths *p, unsigned **ids, int *n)
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

void uuid_string(const uint8_t u[16], char out[37])
{
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                      "%02x%02x%02x%02x%02x%02x",
             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10],
             u[11], u[12], u[13], u[14], u[15]);
}

int lock_reaping(const struct xenon_paths *p)
{
    int fd = open(p->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

int lock_state(const struct xenon_paths *p)
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

void write_json(const struct xenon_paths *p, unsigned domid,
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

/* STATE_DIR/last-domid: the domid given last, the allocator's rover. */
unsigned state_last_domid(const struct xenon_paths *p)
{
    char path[XENON_PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/last-domid", p->state_dir);
    FILE *f = fopen(path, "re");
    unsigned long v = 0;
    if (f) {
        if (fscanf(f, "%lu", &v) != 1 || v > MAX_DOMID)
            v = 0;
        fclose(f);
    }
    return (unsigned)v;
}

void state_set_last_domid(const struct xenon_paths *p, unsigned domid)
{
    /* Rewritten in place, fixed width, under the state lock: a writer
     * killed at any point leaves the old number or the new one, and no
     * temporary file. */
    char path[XENON_PATH_MAX + 16], line[16];
    snprintf(path, sizeof(path), "%s/last-domid", p->state_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    int n = snprintf(line, sizeof(line), "%10u\n", domid);
    (void)!pwrite(fd, line, (size_t)n, 0);
    close(fd);
}

/* A path as an xl.cfg string: double quotes, with backslash escapes for
 * the two characters that need one. False for what a line cannot hold. */
static bool put_cfg_string(FILE *f, const char *key, const char *v)
{
    for (const char *c = v; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return false;
    fprintf(f, "%s = \"", key);
    for (const char *c = v; *c; c++) {
        if (*c == '"' || *c == '\\')
            fputc('\\', f);
        fputc(*c, f);
    }
    fputs("\"\n", f);
    return true;
}

void write_source(const struct xenon_paths *p, unsigned domid,
                  const struct domain_config *dc)
{
    char path[XENON_PATH_MAX + 32];
    state_path(p, domid, ".cfg", path, sizeof(path));
    if (!dc->source) {
        unlink(path);
        return;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        return;
    }
    /* The text as parsed, then the kernel and ramdisk as xl resolved them
     * (absolute: a restart runs elsewhere) and the uuid (a restarted domain
     * keeps it, as libxl's does); later keys win. */
    bool ok = fwrite(dc->source, 1, dc->source_len, f) == dc->source_len;
    char uuid[37];
    uuid_string(dc->uuid, uuid);
    fprintf(f, "\nuuid = \"%s\"\n", uuid);
    if (dc->kernel)
        ok &= put_cfg_string(f, "kernel", dc->kernel);
    if (dc->ramdisk)
        ok &= put_cfg_string(f, "ramdisk", dc->ramdisk);
    ok &= fflush(f) == 0;
    fclose(f);
    if (!ok)
        unlink(path);
}

char *read_source(const struct xenon_paths *p, unsigned domid, size_t *len)
{
    char path[XENON_PATH_MAX + 32];
    state_path(p, domid, ".cfg", path, sizeof(path));
    return read_whole_file(path, len);
}

/* --- the name index ------------------------------------------------------ */

/* STATE_DIR/name-KEY holds the domid that holds a name, so that finding a
 * domain by name, and checking a name is free, reads one file whatever the
 * number of domains. KEY is the name itself when it is made of characters
 * safe in a file name, else "#" and a hash of it (such names may collide:
 * they are looked up the long way, state_name_exact). The entry is a
 * symlink whose target is the domid: the number lives in the inode, where
 * a file's would cost a page of page cache per domain. A regular file
 * holding the number (what earlier versions wrote) is read as well. */
static bool name_plain(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 200 || name[0] == '.')
        return false;
    for (const char *c = name; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("._+-", *c))
            return false;
    return true;
}

static void name_path(const struct xenon_paths *p, const char *name, char *out, size_t n)
{
    if (name_plain(name)) {
        snprintf(out, n, "%s/name-%s", p->state_dir, name);
        return;
    }
    uint64_t h = 0xcbf29ce484222325ull;     /* FNV-1a */
    for (const char *c = name; *c; c++)
        h = (h ^ (unsigned char)*c) * 0x100000001b3ull;
    snprintf(out, n, "%s/name-#%016llx", p->state_dir, (unsigned long long)h);
}

bool state_name_exact(const char *name)
{
    return name_plain(name);
}

/* The domid an entry names, 0 for none or anything but a number. */
static unsigned name_entry_read(const char *path)
{
    char buf[16];
    ssize_t n = readlink(path, buf, sizeof(buf) - 1);
    if (n < 0 && errno == EINVAL) {         /* a regular file */
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        if (fd >= 0)
            close(fd);
    }
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    unsigned long v = 0;
    int i = 0;
    for (; isdigit((unsigned char)buf[i]) && v <= MAX_DOMID; i++)
        v = v * 10 + (unsigned long)(buf[i] - '0');
    if (i == 0 || v > MAX_DOMID || (buf[i] && buf[i] != '\n'))
        return 0;
    return (unsigned)v;
}

unsigned state_name_get(const struct xenon_paths *p, const char *name)
{
    char path[XENON_PATH_MAX + 256];
    name_path(p, name, path, sizeof(path));
    unsigned long v = name_entry_read(path);
    /* An entry is a hint until the state file it names agrees. */
    struct dstate s;
    if (v && (state_read(p, (unsigned)v, &s) < 0 || strcmp(s.name, name) != 0))
        v = 0;
    return (unsigned)v;
}

void state_name_set(const struct xenon_paths *p, const char *name, unsigned domid)
{
    char path[XENON_PATH_MAX + 256], tmp[XENON_PATH_MAX + 300], target[16];
    name_path(p, name, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    snprintf(target, sizeof(target), "%u", domid);
    /* A .tmp already there is one a killed writer left: replaced. */
    if (symlink(target, tmp) < 0 && (errno != EEXIST || unlink(tmp) < 0 ||
                                     symlink(target, tmp) < 0))
        return;
    if (rename(tmp, path) < 0)
        unlink(tmp);
}

void state_name_drop(const struct xenon_paths *p, const char *name, unsigned domid)
{
    char path[XENON_PATH_MAX + 256];
    name_path(p, name, path, sizeof(path));
    if (name_entry_read(path) == domid)
        unlink(path);
}

void creation_done(const struct xenon_paths *p, unsigned domid)
{
    /* Under the reaping lock, as the monitor names itself: one writer. */
    int reaping = lock_reaping(p);
    struct dstate s;
    if (state_read(p, domid, &s) == 0 && s.creator_start) {
        s.creator_pid = 0;
        s.creator_start = 0;
        state_write(p, domid, &s);
    }
    if (reaping >= 0)
        close(reaping);
}
