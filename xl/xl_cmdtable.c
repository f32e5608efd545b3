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
    { "block-attach", main_blockattach, 1, "Create a new virtual block device",
      "<Domain> <disk-spec-component(s)>...", "" },
    { "block-list", main_blocklist, 0, "List virtual block devices for a domain",
      "<Domain(s)>", "" },
    { "block-detach", main_blockdetach, 0, "Destroy a domain's virtual block device",
      "<Domain> <DevId>", "" },
    { "cd-insert", main_cd_insert, 0, "Insert a cdrom into a guest's cd drive",
      "<Domain> <VirtualDevice> <path-to-image>", "" },
    { "cd-eject", main_cd_eject, 0, "Eject a cdrom from a guest's cd drive",
      "<Domain> <VirtualDevice>", "" },
    { "network-attach", main_networkattach, 1, "Create a new virtual network device",
      "<Domain> [type=<type>] [mac=<mac>] [bridge=<bridge>] [ip=<ip>] [script=<script>] "
      "[backend=<BackDomain>] [vifname=<name>] [rate=<rate>] [model=<model>] "
      "[accel=<accel>]", "" },
    { "network-list", main_networklist, 0, "List virtual network interfaces for a domain",
      "<Domain(s)>", "" },
    { "network-detach", main_networkdetach, 0, "Destroy a domain's virtual network device",
      "<Domain> <DevId|mac>", "" },
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
    { "dmesg", main_dmesg, 0, "Read the hypervisor log of all or one domain",
      "[-c] [Domain]",
      "-c                        Clear the log after reading it." },
    { "top", main_top, 0, "Monitor the host and its domains in real time",
      "[-b] [-i ITERATIONS] [-d SECONDS] [-f]",
      "-b, --batch             Print plain tables, no screen control.\n"
      "-i N, --iterations=N    Stop after N screens.\n"
      "-d S, --delay=S         Seconds between screens (default 3).\n"
      "-f, --full-name         Do not cut domain names to 10 characters." },
    { "save", main_save, 0, "Save a domain state to restore later",
      "[options] <Domain> <CheckpointFile> [<ConfigFile>]",
      "-h  Print this help.\n"
      "-c  Leave domain running after creating the snapshot.\n"
      "-p  Leave domain paused after creating the snapshot." },
    { "restore", main_restore, 0, "Restore a domain from a saved state",
      "[options] [<ConfigFile>] <CheckpointFile>",
      "-h  Print this help.\n"
      "-p  Do not unpause domain after restoring it.\n"
      "-e  Do not wait in the background for the death of the domain.\n"
      "-d  Enable debug messages." },
    { "help", main_help, 0, "Print this help", "[command]", NULL },

    /* Commands Xen's xl has that Xenon does not yet: no handler. `xl NAME`
     * says so (exit 1), unlike a name xl does not know at all. */
#define MISSING(name, desc) { name, NULL, 0, desc, NULL, NULL }
    MISSING("config-update", "Update a running domain's saved configuration"),
    MISSING("pci-attach", "Insert a PCI device into a domain"),
    MISSING("pci-detach", "Remove a PCI device from a domain"),
    MISSING("pci-list", "List a domain's passed-through PCI devices"),
    MISSING("pci-assignable-add", "Make a PCI device assignable to domains"),
    MISSING("pci-assignable-remove", "Return an assignable PCI device to the host"),
    MISSING("pci-assignable-list", "List the PCI devices domains can be given"),
    MISSING("vncviewer", "Attach a VNC viewer to a domain's display"),
    { "migrate", main_migrate, 0, "Migrate a domain to another host",
      "[options] <Domain> <host>",
      "-h              Print this help.\n"
      "-C <config>     Send <config> instead of the domain's own config.\n"
      "-s <sshcommand> Use <sshcommand> instead of ssh. The receiver is run\n"
      "                as <sshcommand> <host> xl migrate-receive.\n"
      "--debug         Print each pre-copy round, the stream's figures and the\n"
      "                downtime (the migration is live, as Xen's xl's)." },
    { "migrate-receive", main_migrate_receive, 0, "Restore a domain from a migration stream",
      "[options]", "-h  Print this help.\n-d  Enable debug messages." },
    MISSING("dump-core", "Write a domain's memory to a core file"),
    MISSING("mem-max", "Set a domain's memory ceiling"),
    MISSING("button-press", "Press a domain's virtual power or sleep button"),
    MISSING("vcpu-pin", "Bind a domain's vCPUs to host CPUs"),
    MISSING("vcpu-set", "Change how many vCPUs of a domain are online"),
    MISSING("vm-list", "List the guests with their UUIDs"),
    MISSING("sharing", "Show the memory a domain shares"),
    MISSING("sched-credit", "Show or set the credit scheduler's parameters"),
    MISSING("sched-credit2", "Show or set the credit2 scheduler's parameters"),
    MISSING("sched-rtds", "Show or set the RTDS scheduler's parameters"),
    MISSING("rename", "Give a domain a new name"),
    MISSING("trigger", "Send a trigger (NMI, reset, ...) to a domain"),
    MISSING("sysrq", "Send a magic SysRq key to a domain"),
    MISSING("debug-keys", "Send debug keys to the hypervisor"),
    MISSING("set-parameters", "Set hypervisor parameters at run time"),
    MISSING("channel-list", "List a domain's channel devices"),
    MISSING("vtpm-attach", "Add a virtual TPM to a domain"),
    MISSING("vtpm-list", "List a domain's virtual TPMs"),
    MISSING("vtpm-detach", "Remove a virtual TPM from a domain"),
    MISSING("vkb-attach", "Add a virtual keyboard to a domain"),
    MISSING("vkb-list", "List a domain's virtual keyboards"),
    MISSING("vkb-detach", "Remove a virtual keyboard from a domain"),
    MISSING("vdispl-attach", "Add a virtual display to a domain"),
    MISSING("vdispl-list", "List a domain's virtual displays"),
    MISSING("vdispl-detach", "Remove a virtual display from a domain"),
    MISSING("vsnd-attach", "Add a virtual sound card to a domain"),
    MISSING("vsnd-list", "List a domain's virtual sound cards"),
    MISSING("vsnd-detach", "Remove a virtual sound card from a domain"),
    MISSING("claims", "List the memory domains have claimed"),
    MISSING("cpupool-create", "Create a CPU pool"),
    MISSING("cpupool-list", "List the CPU pools"),
    MISSING("cpupool-destroy", "Remove a CPU pool"),
    MISSING("cpupool-rename", "Rename a CPU pool"),
    MISSING("cpupool-cpu-add", "Add host CPUs to a CPU pool"),
    MISSING("cpupool-cpu-remove", "Take host CPUs out of a CPU pool"),
    MISSING("cpupool-migrate", "Move a domain to another CPU pool"),
    MISSING("cpupool-numa-split", "Make one CPU pool per NUMA node"),
    MISSING("getenforce", "Show the XSM/FLASK enforcing mode"),
    MISSING("setenforce", "Set the XSM/FLASK enforcing mode"),
    MISSING("loadpolicy", "Load an XSM/FLASK policy"),
    MISSING("remus", "Replicate a domain to a backup host"),
    MISSING("devd", "Run as a driver domain's device daemon"),
    MISSING("psr-hwinfo", "Show the host's resource-monitoring features"),
    MISSING("psr-cmt-attach", "Start cache monitoring of a domain"),
    MISSING("psr-cmt-detach", "Stop cache monitoring of a domain"),
    MISSING("psr-cmt-show", "Show the cache monitoring data"),
    MISSING("psr-cat-set", "Set a domain's cache allocation"),
    MISSING("psr-cat-show", "Show the cache allocation"),
    MISSING("psr-mba-set", "Set a domain's memory bandwidth allocation"),
    MISSING("psr-mba-show", "Show the memory bandwidth allocation"),
    MISSING("usbctrl-attach", "Add a USB controller to a domain"),
    MISSING("usbctrl-detach", "Remove a USB controller from a domain"),
    MISSING("usbdev-attach", "Give a domain a host USB device"),
    MISSING("usbdev-detach", "Take a host USB device from a domain"),
    MISSING("usb-list", "List a domain's USB controllers and devices"),
    MISSING("qemu-monitor-command", "Send a command to a domain's device model"),
#undef MISSING
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
