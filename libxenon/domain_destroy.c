/* Taking a domain away: its VMM stopped (by the monitor that runs it), its xenstore nodes,
 * state files and console socket removed (docs/xl.md, teardown order). */
#include "domain_internal.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device.h"
#include "proc.h"
#include "vbd_nbd.h"
#include "vmm_control.h"
#include "xs_client.h"

#define STOP_TIMEOUT_MS 10000

/* Remove what a domain left in xenstore and on disk. Safe to repeat. */
void teardown(const struct xenon_paths *p, struct xs_client *xs,
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
        /* The vifs' scripts take them out of their bridges, as libxl
         * runs them offline before it removes the nodes they read. */
        vif_offline_all(xs, domid);
        /* The backends' directories first, as libxl removes a domain's
         * devices before the domain's own nodes. */
        xdev_rm_domain(xs, domid);
        /* Not in a transaction: one that removes a child of /local/domain
         * copies that parent's child list (one name per domain), and
         * conflicts with every create and destroy under way. Each removal
         * takes its subtree at once. Released after its nodes are gone
         * (the same batch, in order), as libxl removes them before the
         * domain dies: xenstored then owns nothing of the domain's to
         * look for, a search through the whole store (20 ms with a
         * thousand domains). ENOENT when it was never introduced. */
        rm_nodes_release(xs, domid, vm);
        if (vm != vm_s)
            free(vm);
    }
    /* The disks' NBD servers (the VMM is gone: they are ending anyway). */
    vbd_nbd_stop_all(p->run_dir, domid);
    if (have && s.console[0])
        unlink(s.console);
    if (have)
        state_name_drop(p, s.name, domid);
    char ctl[XENON_PATH_MAX + 32];
    if (vmmctl_socket_path(p->run_dir, domid, ctl, sizeof(ctl)) == 0)
        unlink(ctl);
    state_remove(p, domid);
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
        /* The monitor, when it runs the domain, stops the VMM and tears
         * down itself; with none (or one that does not answer), we do. */
        int mrc = monitor_destroy_domain(p, domid, STOP_TIMEOUT_MS);
        if (mrc == 0) {
            xs_close(xs);
            return 0;
        }
        /* Only a pid that is, now, this domain's VMM is signalled: the
         * state file names it, and a file is no proof. */
        if (state_read(p, domid, &s) == 0 && state_vmm_ours(p, &s, domid)) {
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
