/* The host monitor's standby VMM (contract.h, "a standby VMM"): one
 * xenon-vmm exec'd before any domain needs it, so that a START hands it
 * the domain's command line instead of waiting for an exec. It is the
 * monitor's child, started as a domain's VMM is (same binary, environment,
 * uid, cgroup, limits and scheduling), and named in no state file until
 * it has a domain: it is never listed, adopted or counted as one. */
#ifndef LIBXENON_VMM_STANDBY_H
#define LIBXENON_VMM_STANDBY_H

#include <sys/types.h>

#include "domain.h"

struct vmm_standby {
    pid_t pid;          /* 0: none */
    int sock;           /* our end of its SOCK_SEQPACKET socket */
};

/* Start one (p->vmm --standby FD); stdout and stderr are ours. 0, or -1
 * (errno) with *sb empty. */
int vmm_standby_start(const struct xenon_paths *p, struct vmm_standby *sb);
/* Give it the domain: argv[0 .. n) are the options after the program's
 * name, logfd (-1: none) becomes its stdout and stderr, ready_fd and
 * go_fd (-1: none) its control connections (all stay open here). *sb is
 * emptied either way. 0 and *pid_out (the standby is the domain's VMM
 * from now on), or -1 (errno): it has nothing, and if it lives it ends
 * on its own. */
int vmm_standby_hand(struct vmm_standby *sb, const char *const *argv, int n, int logfd,
                     int ready_fd, int go_fd, pid_t *pid_out);
/* Let it go unused: it sees end of file and exits (status 0). */
void vmm_standby_drop(struct vmm_standby *sb);

#endif
