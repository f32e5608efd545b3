/* The table of xl commands: names, handlers and help texts, and the lookup
 * by unique prefix (Xen's tools/xl/xl_cmdtable.c). */
#include "xl.h"

#include <string.h>

const struct cmd cmds[] = {
    { "create", main_create, 1, "Create a domain from config file <filename>",
      "<ConfigFile> [options] [vars]",
      "-h                      Print this help.\n"
      "-n, --dryrun            Dry run - prints the resulting configuration\n"
      "                         (deprecated in favour of global -N option).\n"
      "-p                      Leave the domain paused after it is created.\n"
      "-q, --quiet             Quiet.\n"
      "-f FILE, --defconfig=FILE\n"
      "                        Use the given configuration file.\n"
      "-F                      Run in foreground until death of the domain.\n"
      "-c                      Connect to the console after the domain is created." },
    { "list", main_list, 0, "List information about all/some domains",
      "[options] [Domain]\n",
      "-l, --long              Output all VM details\n"
      "-v, --verbose           Prints out UUIDs and security context" },
    { "destroy", main_destroy, 0, "Terminate a domain immediately",
      "[options] <Domain>\n",
      "-f                      Permit destroying domain 0, which will only succeed\n"
      "                        when run from disaggregated toolstack domain with a\n"
      "                        hypervisor which supports destroying domain 0." },
    { "shutdown", main_shutdown, 0, "Issue a shutdown signal to a domain",
      "[options] <-a|Domain>",
      "-a, --all               Shutdown all guest domains.\n"
      "-h                      Print this help.\n"
      "-F                      Fallback to ACPI power event for HVM guests with\n"
      "                        no PV drivers.\n"
      "-w, --wait              Wait for guest(s) to shutdown.\n" },
    { "reboot", main_reboot, 0, "Issue a reboot signal to a domain",
      "[options] <-a|Domain>",
      "-a, --all               Shutdown all guest domains.\n"
      "-h                      Print this help.\n"
      "-F                      Fallback to ACPI reset event for HVM guests with\n"
      "                        no PV drivers.\n"
      "-w, --wait              Wait for guest(s) to reboot.\n" },
    { "pause", main_pause, 0, "Pause execution of a domain", "<Domain>", NULL },
    { "unpause", main_unpause, 0, "Unpause a paused domain", "<Domain>", NULL },
    { "console", main_console, 0, "Attach to domain's console",
      "[options] <Domain>\n"
      "-t <type>       console type, pv , serial or vuart\n"
      "-n <number>     console number", NULL },
    { "mem-set", main_memset, 0, "Set the current memory usage for a domain",
      "<Domain> <MemMB['b'[bytes]|'k'[KB]|'m'[MB]|'g'[GB]|'t'[TB]]>", NULL },
    { "info", main_info, 0, "Get information about Xen host", "-n, --numa         List host NUMA topology information", NULL },
    { "uptime", main_uptime, 0, "Print uptime for all/some domains",
      "[-s] [Domain]", NULL },
    { "vcpu-list", main_vcpulist, 0, "List the VCPUs for all/some domains",
      "[Domain, ...]", NULL },
    { "domid", main_domid, 0, "Convert a domain name to domain id", "<DomainName>", NULL },
    { "domname", main_domname, 0, "Convert a domain id to domain name", "<DomainId>", NULL },
    { "help", main_help, 0, "Print this help", "[command]", NULL },
};
const size_t cmds_count = sizeof(cmds) / sizeof(cmds[0]);

const struct cmd *lookup(const char *s)
{
    const struct cmd *found = NULL;
    size_t len = strlen(s);
    int count = 0;
    for (size_t i = 0; i < cmds_count; i++)
        if (!strncmp(s, cmds[i].name, len)) {
            if (len == strlen(cmds[i].name))
                return &cmds[i];
            found = &cmds[i];
            count++;
        }
    return count == 1 ? found : NULL;
}
