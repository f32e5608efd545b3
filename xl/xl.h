/* What xl's files share: the command table's entry, the global options and
 * paths, the helpers of xl_utils.c and every command's entry point. The
 * files are grouped by command as Xen's tools/xl is:
 *
 *   xl.c            main, global options, help
 *   xl_cmdtable.c   the command table and lookup by unique prefix
 *   xl_utils.c      finding domains, option parsing, absolute paths
 *   xl_vmcontrol.c  create, destroy, shutdown, reboot, pause, unpause
 *   xl_console.c    console
 *   xl_info.c       list, info, uptime, domid, domname
 *   xl_vcpu.c       vcpu-list
 *   xl_mem.c        mem-set
 *   xl_misc.c       dmesg
 *   xl_top.c        top (xentop's screen)
 *   xl_host.c       the host's facts (Domain-0 is the host)
 *   xl_block.c      block-attach, block-list, block-detach
 *   xl_network.c    network-attach, network-list, network-detach */
#ifndef XENON_XL_H
#define XENON_XL_H

#include <stdbool.h>
#include <stddef.h>

#include "domain.h"

/* --- xl.c ----------------------------------------------------------------- */

extern struct xenon_paths paths;
extern int dryrun_only;        /* global -N, or create -n */
/* The usage of one command (NULL: the list of all of them) on stdout. */
void help(const char *command);
int main_help(int argc, char **argv);

/* --- xl_cmdtable.c -------------------------------------------------------- */

struct cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    int can_dryrun;
    const char *desc, *usage, *options;
};
extern const struct cmd cmds[];
extern const size_t cmds_count;
/* The command `s` names exactly or by a unique prefix, else NULL. */
const struct cmd *lookup(const char *s);

/* --- xl_utils.c ----------------------------------------------------------- */

/* "X is an invalid domain identifier (rc=-6)" and exit 1. */
void __attribute__((noreturn)) invalid_domain(const char *spec);
/* A domain by name or id, exiting as xl's find_domain does. */
unsigned find_domain(const char *spec);
/* All guest domains, or exit as xl does when they cannot be listed. */
struct xenon_dominfo *list_domains(int *n);
/* How a command spells domain 0, which find_domain does not know. */
enum dom0_spelling { DOM0_NONE, DOM0_ID, DOM0_ID_OR_NAME };
/* The domids argv[optind..argc) names, looked up in v[0..nv). */
unsigned *wanted_domains(int argc, char **argv, enum dom0_spelling d0,
                         const struct xenon_dominfo *v, int nv, int *n);
/* Whether domid is among want[0..n) (n == 0: all are wanted). */
bool is_wanted(const unsigned *want, int n, unsigned domid);
/* getopt for a subcommand: -h prints help, bad options exit 2. */
int next_opt(int argc, char **argv, const char *opts, const char *cmd,
             int min_args);
/* Read and parse an xl.cfg given on the command line (restore CONFIG,
 * migrate -C), its kernel and ramdisk made absolute as xl create makes
 * them. 0 with dc filled (dispose it), 3 when the file cannot be read
 * (xl's message printed), 1 when it does not parse (dc disposed). */
int read_domain_config(const char *file, struct domain_config *dc);

/* --- xl_console.c --------------------------------------------------------- */

/* Bridge the terminal and the domain's console until ^] or its end. */
/* Connect to the domain's console socket: the descriptor, or -1 with the
 * reason printed. */
int console_connect(unsigned domid);
/* Bridge the terminal and a connected console until ^] or the domain goes
 * away; the exit status. */
int console_bridge(int fd);
/* Both: bridge the terminal and the domain's console. */
int console_attach(unsigned domid);

/* --- xl_host.c ------------------------------------------------------------ */

/* The host's CPU time (user + nice + system) in seconds. */
double host_cpu_seconds(void);
/* The host's RAM in MiB. */
unsigned long host_mem_mib(void);
/* Busy seconds of each host CPU into secs[0..n): how many were read. */
int host_cpu_times(double *secs, int n);
/* Where a host CPU sits. */
struct host_cpu_topo { int core, socket, node; };
void host_cpu_topology(int cpu, struct host_cpu_topo *t);
/* What `xl info` reports of the host's processors. */
struct host_shape {
    int nr_cpus, max_cpu_id, nr_nodes, cores_per_socket, threads_per_core;
    unsigned long cpu_khz;
};
void host_shape(struct host_shape *s);
/* A NUMA node's memory and its distances ("10,20"): 0, or -1 when there is
 * no such node. */
int host_node_memory(int node, unsigned long long *total_kb,
                     unsigned long long *free_kb, char *dists, size_t n);

/* --- the commands --------------------------------------------------------- */

int main_create(int argc, char **argv);
int main_save(int argc, char **argv);
int main_restore(int argc, char **argv);
int main_migrate(int argc, char **argv);          /* xl_migrate.c */
int main_migrate_receive(int argc, char **argv);
int main_destroy(int argc, char **argv);
int main_blockattach(int argc, char **argv);
int main_blocklist(int argc, char **argv);
int main_blockdetach(int argc, char **argv);
int main_cd_insert(int argc, char **argv);
int main_cd_eject(int argc, char **argv);
int main_networkattach(int argc, char **argv);
int main_networklist(int argc, char **argv);
int main_networkdetach(int argc, char **argv);
int main_shutdown(int argc, char **argv);
int main_reboot(int argc, char **argv);
int main_pause(int argc, char **argv);
int main_unpause(int argc, char **argv);
int main_console(int argc, char **argv);
int main_list(int argc, char **argv);
int main_info(int argc, char **argv);
int main_uptime(int argc, char **argv);
int main_domid(int argc, char **argv);
int main_domname(int argc, char **argv);
int main_vcpulist(int argc, char **argv);
int main_memset(int argc, char **argv);
int main_dmesg(int argc, char **argv);
int main_top(int argc, char **argv);

#endif
