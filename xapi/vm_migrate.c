/* VM.pool_migrate to this host (vm_migrate.h). */
#include "vm_migrate.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dispatch.h"
#include "domain.h"
#include "host_info.h"
#include "model.h"
#include "vm_scan.h"

/* --- the helper --------------------------------------------------------- */

/* The sending half, in a child: the domain saved into the pipe and left
 * stopped. Exit 0 (paused), 10 (the guest suspended itself) or 1 (it
 * runs on: the save resumed it). */
static void send_child(const struct xenon_paths *p, unsigned domid, int fd)
{
    struct xenon_save_stats st = { 0 };
    int rc = xenon_domain_save_fd(p, domid, fd, NULL,
                                  XENON_SAVE_CHECKPOINT | XENON_SAVE_LEAVE_PAUSED, &st, stderr);
    close(fd);
    _exit(rc < 0 ? 1 : st.suspended ? 10 : 0);
}

int vm_migrate_helper(const char *domid_s)
{
    char *end;
    errno = 0;
    unsigned long d = strtoul(domid_s, &end, 10);
    if (errno || end == domid_s || *end || d == 0 || d >= 0x7ff0) {
        fprintf(stderr, "bad domid %s\n", domid_s);
        return 1;
    }
    unsigned domid = (unsigned)d;
    struct xenon_paths p;
    xenon_paths_init(&p);
    char name[256], away[300];
    if (xenon_domain_identity(&p, domid, name, sizeof(name), NULL) < 0) {
        fprintf(stderr, "domain %u: no such domain\n", domid);
        return 1;
    }
    snprintf(away, sizeof(away), "%s--migratedaway", name);
    signal(SIGPIPE, SIG_IGN);   /* a receiver that gives up fails the writes */
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        fprintf(stderr, "pipe: %s\n", strerror(errno));
        return 1;
    }
    pid_t child = fork();
    if (child < 0) {
        fprintf(stderr, "fork: %s\n", strerror(errno));
        return 1;
    }
    if (child == 0) {
        close(pfd[0]);
        send_child(&p, domid, pfd[1]);
    }
    close(pfd[1]);
    struct xenon_received r;
    int rrc = xenon_domain_receive(&p, pfd[0], "--incoming", NULL, &r, stderr);
    close(pfd[0]);
    int st = 0;
    while (waitpid(child, &st, 0) < 0 && errno == EINTR)
        ;
    int sent = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    if (rrc < 0 || (sent != 0 && sent != 10)) {
        if (rrc == 0)
            xenon_domain_receive_abort(&p, &r, stderr);
        if (sent == 0 || sent == 10)        /* saved, but not received */
            xenon_domain_save_resume(&p, domid, sent == 10, stderr);
        fprintf(stderr, "migration failed; the VM runs on in domain %u\n", domid);
        return 1;
    }
    /* The point of no return, as xl's: the source gives up the name, the
     * new domain takes it and runs. */
    bool renamed = xenon_domain_rename(&p, domid, name, away, stderr) == 0;
    int rc = renamed && xenon_domain_rename(&p, r.domid, NULL, name, stderr) == 0 ? 0 : -1;
    if (rc == 0)
        rc = xenon_domain_receive_go(&p, &r, stderr);
    if (rc < 0) {
        xenon_domain_receive_abort(&p, &r, stderr);
        if (renamed)
            xenon_domain_rename(&p, domid, away, name, stderr);
        xenon_domain_save_resume(&p, domid, sent == 10, stderr);
        fprintf(stderr, "migration failed; the VM runs on in domain %u\n", domid);
        return 1;
    }
    /* Both copies share the uuid: the old one's destroy leaves /vm/UUID
     * to the new one. */
    xenon_domain_forget_vm(&p, domid);
    return xenon_domain_destroy(&p, domid, stderr) < 0 ? 1 : 0;
}

/* --- which VMs are moving ---------------------------------------------- */

static pthread_mutex_t moving_lock = PTHREAD_MUTEX_INITIALIZER;
static json_object *moving;         /* name -> count */

void vm_scan_migrating(const char *name, bool on)
{
    pthread_mutex_lock(&moving_lock);
    if (!moving)
        moving = json_object_new_object();
    json_object *n;
    int k = json_object_object_get_ex(moving, name, &n) ? json_object_get_int(n) : 0;
    k += on ? 1 : -1;
    if (k > 0)
        json_object_object_add(moving, name, json_object_new_int(k));
    else
        json_object_object_del(moving, name);
    pthread_mutex_unlock(&moving_lock);
}

bool vm_scan_is_migrating(const char *name)
{
    pthread_mutex_lock(&moving_lock);
    bool r = moving && json_object_object_get_ex(moving, name, NULL);
    pthread_mutex_unlock(&moving_lock);
    return r;
}
