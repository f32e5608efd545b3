/* xl vcpu-list (Xen's tools/xl/xl_vcpu.c). */
#include "xl.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/sysinfo.h>
#include <unistd.h>

static void print_vcpus_of(const struct xenon_dominfo *d)
{
    struct xenon_vcpuinfo *v;
    int n;
    if (!d->running || xenon_domain_vcpus_of(&paths, d->domid, d->vmm_pid, &v, &n) < 0)
        return;
    for (int i = 0; i < n; i++) {
        printf("%-32s %5u %5u", d->name, d->domid, v[i].vcpuid);
        if (v[i].cpu < 0)
            printf("%5c %3c%cp ", '-', '-', '-');
        else
            printf("%5d %3c%c- ", v[i].cpu, v[i].running ? 'r' : '-',
                   v[i].blocked ? 'b' : '-');
        printf("%9.1f  %s / all\n", v[i].cpu_time, v[i].affinity);
    }
    free(v);
}

/* Domain-0's vCPUs are the host's CPUs: vCPU i runs on CPU i, for the CPU
 * time the host spent there; the one running this xl is `r`. */
static void print_dom0_vcpus(void)
{
    int n = get_nprocs_conf(), self = sched_getcpu();
    double *t = calloc((size_t)n + 1, sizeof(*t));
    if (!t)
        return;
    int got = host_cpu_times(t, n);
    for (int i = 0; i < got; i++)
        printf("%-32s %5u %5u%5d %3c%c- %9.1f  all / all\n", "Domain-0", 0u,
               (unsigned)i, i, i == self ? 'r' : '-', i == self ? '-' : 'b', t[i]);
    free(t);
}

int main_vcpulist(int argc, char **argv)
{
    while (next_opt(argc, argv, "h", "vcpu-list", 0) != -1)
        ;
    int n;
    struct xenon_dominfo *v = list_domains(&n);
    printf("%-32s %5s %5s %5s %5s %9s %s\n", "Name", "ID", "VCPU", "CPU", "State",
           "Time(s)", "Affinity (Hard / Soft)");
    /* Each name looked up once, not once per listed domain. */
    int nwant;
    unsigned *want = wanted_domains(argc, argv, DOM0_ID_OR_NAME, v, n, &nwant);
    if (is_wanted(want, nwant, 0))
        print_dom0_vcpus();
    for (int i = 0; i < n; i++)
        if (is_wanted(want, nwant, v[i].domid))
            print_vcpus_of(&v[i]);
    free(want);
    free(v);
    return 0;
}
