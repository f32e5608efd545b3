/* xl vcpu-list (Xen's tools/xl/xl_vcpu.c). */
#include "xl.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void print_vcpus_of(const struct xenon_dominfo *d)
{
    struct xenon_vcpuinfo *v;
    int n;
    if (!d->running || xenon_domain_vcpus(d->vmm_pid, &v, &n) < 0)
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
    unsigned *want = wanted_domains(argc, argv, DOM0_NONE, v, n, &nwant);
    for (int i = 0; i < n; i++)
        if (is_wanted(want, nwant, v[i].domid))
            print_vcpus_of(&v[i]);
    free(want);
    free(v);
    return 0;
}
