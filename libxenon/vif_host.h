/*
 * The host side of a vif, as Xen sets it up: the network interface named
 * vif<domid>.<devid> (a tap here, where Xen's netback makes a netdev), the
 * MAC libxl invents when none is given, and the hotplug script run with
 * the arguments and environment Xen's vif scripts receive from libxl
 * (tools/libs/light/libxl_linux.c: get_hotplug_env, libxl__hotplug_nic).
 *
 * The script contract (Xen's, so that Xen's own vif scripts could run):
 *   argv:  SCRIPT online|offline type_if=vif
 *   env:   script=SCRIPT XENBUS_TYPE=vif XENBUS_PATH=backend/vif/DOMID/DEVID
 *          XENBUS_BASE_PATH=backend netdev=GATEWAYDEV vif=IFNAME
 * plus what Xen's scripts read from the backend directory, given here as
 * well so a script needs no xenstore client: bridge=, ip=, mac=. The
 * environment is otherwise empty but for a fixed PATH. A script named
 * without a '/' is looked up in XENON_SCRIPT_DIR, else the installed
 * scripts directory (Xen's /etc/xen/scripts). It runs with stdin on
 * /dev/null, its output on ours, and at most VIF_HOTPLUG_TIMEOUT_S
 * seconds (then it is killed, as libxl kills a stuck script).
 *
 * What Xen's scripts do to the host's firewall (ebtables/nftables/
 * iptables rules on the vif's port) a script here asks of netback, which
 * filters the vif's frames itself (docs/net.md, "MAC filtering"): on
 * online, descriptor 3 (named in XENON_BACKEND_FD=3) is a pipe to the
 * toolstack, and the line `antispoof=1` written there asks for the vif's
 * frames to be judged against its mac and ip. The toolstack writes it to
 * the backend directory before hotplug-status, and netback lets the guest
 * send nothing before it has read both. Other lines are ignored (logged).
 */
#ifndef XENON_VIF_HOST_H
#define XENON_VIF_HOST_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIF_HOTPLUG_TIMEOUT_S 40

/* vif<domid>.<devid>, or `custom` (vifname=) when given. 0, or
 * -ENAMETOOLONG when it does not fit IFNAMSIZ. */
int vif_ifname(char out[IFNAMSIZ], uint32_t domid, int devid,
               const char *custom);

/* Create the tap `ifname` (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, no
 * offloads until the backend sets them), O_NONBLOCK and O_CLOEXEC. The
 * interface lives as long as the fd. Returns the fd or -errno. */
int vif_tap_open(const char *ifname);

/* libxl's default: 00:16:3e, then three random bytes, the first with its
 * top bit clear. */
void vif_random_mac(uint8_t mac[6]);
void vif_format_mac(const uint8_t mac[6], char out[18]);

/* The interface's MTU (from sysfs), or -errno. */
int vif_ifname_mtu(const char *ifname);

/* Where a script= value names: as is with a '/', else in XENON_SCRIPT_DIR
 * or the installed scripts directory; NULL or "" is vif-bridge. */
void vif_script_path(const char *script, char *out, size_t n);

struct vif_hotplug {
    const char *script;             /* script= (default "vif-bridge") */
    bool online;                    /* online, or offline */
    uint32_t domid;
    int devid;
    const char *ifname, *bridge, *ip, *mac, *gatewaydev;   /* NULL: "" */
    bool antispoof;                 /* out: the script asked for it (online) */
};

/* Run the script and wait for it. 0 when it exited 0; -errno when it
 * could not run; a positive status (its exit code, or 128 + signal)
 * otherwise. */
int vif_hotplug_run(struct vif_hotplug *h);

#endif
