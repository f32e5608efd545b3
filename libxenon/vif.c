/* Network interfaces: a `vif=` entry made into a vif as libxl's
 * device_nic_add makes it (tools/libs/light/libxl_nic.c), served by netback
 * in the domain's VMM (docs/net.md). The tap vif<domid>.<devid> is created
 * here, under the toolstack's privileges, and passed to the VMM; the
 * hotplug script (vif_host.h) plugs it into its bridge once the backend is
 * in InitWait, as libxl runs it, and takes it out at removal. */
#include "domain_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <xen/io/xenbus.h>

#include "device.h"
#include "vif_host.h"
#include "vif_spec.h"
#include "vmm_control.h"
#include "xs_client.h"

#define ATTACH_TIMEOUT_MS 30000     /* the first attach waits for the build */
#define INIT_TIMEOUT_MS 10000       /* libxl's LIBXL_INIT_TIMEOUT */

int vif_add(struct xs_client *xs, int ctl_fd, unsigned domid, struct xvif *v,
            int devid, FILE *err)
{
    char ifname[IFNAMSIZ];
    if (vif_ifname(ifname, domid, devid, v->ifname) < 0) {
        fprintf(err, "libxl: error: vif %d: interface name %s is too long\n", devid,
                v->ifname);
        return -1;
    }
    if (!v->mac_set) {
        /* Chosen once, as libxl does, and kept in the config. */
        vif_random_mac(v->mac);
        v->mac_set = true;
    }
    char mac[18], fid[16], handle[16], rate[64] = "", mtu_s[16] = "",
         script[XENON_PATH_MAX];
    vif_format_mac(v->mac, mac);
    snprintf(fid, sizeof(fid), "%u", domid);
    snprintf(handle, sizeof(handle), "%d", devid);
    vif_script_path(v->script, script, sizeof(script));
    if (v->rate_interval_usecs > 0)
        snprintf(rate, sizeof(rate), "%llu,%u",
                 (unsigned long long)v->rate_bytes_per_interval, v->rate_interval_usecs);
    if (v->mtu > 0)
        snprintf(mtu_s, sizeof(mtu_s), "%d", v->mtu);
    const char *bridge = v->bridge && *v->bridge ? v->bridge : "xenbr0";

    int fd = vif_tap_open(ifname);
    if (fd < 0) {
        fprintf(err, "libxl: error: vif %d: cannot create interface %s: %s\n", devid,
                ifname, strerror(-fd));
        return -1;
    }

    const char *bents[40];
    int nb = 0;
#define B(k, val) do { bents[nb++] = (k); bents[nb++] = (val); } while (0)
    B("frontend-id", fid);
    B("online", "1");
    B("state", "1");
    B("script", script);
    if (v->ifname && *v->ifname)
        B("vifname", v->ifname);
    B("mac", mac);
    if (v->ip && *v->ip)
        B("ip", v->ip);
    if (v->gatewaydev && *v->gatewaydev)
        B("gatewaydev", v->gatewaydev);
    if (rate[0])
        B("rate", rate);
    if (mtu_s[0])
        B("mtu", mtu_s);
    B("bridge", bridge);
    B("handle", handle);
    B("type", "vif");
    B("hotplug-status", "");
#undef B
    bents[nb] = NULL;
    /* The frontend's MTU, there before the frontend looks: the one given,
     * else the bridge's (what the script will give the tap, as Xen's
     * set_mtu does), else libxl's default. */
    int fe_mtu = v->mtu > 0 ? v->mtu : vif_ifname_mtu(bridge);
    char fe_mtu_s[16];
    snprintf(fe_mtu_s, sizeof(fe_mtu_s), "%d", fe_mtu > 0 ? fe_mtu : 1500);
    const char *fents[] = {
        "backend-id", "0", "state", "1", "handle", handle, "mac", mac,
        "mtu", fe_mtu_s, "trusted", v->trusted == 0 ? "0" : "1", NULL,
    };
    struct xdev dev = { .kind = XENON_DEV_VIF, .domid = domid, .devid = (unsigned)devid,
                        .bents = bents, .fents = fents };
    int rc = xdev_add_nodes(xs, &dev);
    if (rc == 0)
        rc = xdev_attach(ctl_fd, XENON_DEV_VIF, domid, (unsigned)devid, 0, fd,
                         ATTACH_TIMEOUT_MS);
    close(fd);          /* the VMM holds its own copy: the tap lives with it */
    if (rc == 0)
        rc = xdev_wait_state(xs, XENON_DEV_VIF, domid, (unsigned)devid,
                             XenbusStateInitWait, INIT_TIMEOUT_MS);
    if (rc < 0) {
        fprintf(err, "libxl: error: unable to add vif %d (%s) to domain %u: %s\n",
                devid, ifname, domid, strerror(-rc));
        xdev_remove(xs, -1, XENON_DEV_VIF, domid, (unsigned)devid, NULL);
        return -1;
    }
    /* The backend waits in InitWait: now the hotplug script, as libxl runs it. */
    struct vif_hotplug h = { .script = script, .online = true, .domid = domid,
        .devid = devid, .ifname = ifname, .bridge = bridge, .ip = v->ip, .mac = mac,
        .gatewaydev = v->gatewaydev };
    rc = vif_hotplug_run(&h);
    char be[XENON_DEV_PATH_MAX], fe[XENON_DEV_PATH_MAX], path[XENON_DEV_PATH_MAX + 32];
    xdev_backend_path(XENON_DEV_VIF, domid, (unsigned)devid, be, sizeof(be));
    xdev_frontend_path(XENON_DEV_VIF, domid, (unsigned)devid, fe, sizeof(fe));
    if (rc != 0) {
        fprintf(err, "libxl: error: vif %d: hotplug script %s online failed (%s%d) for %s "
                "on bridge %s\n", devid, script, rc < 0 ? "error " : "status ",
                rc < 0 ? -rc : rc, ifname, bridge);
        h.online = false;
        (void)vif_hotplug_run(&h);
        xdev_remove(xs, ctl_fd, XENON_DEV_VIF, domid, (unsigned)devid, NULL);
        return -1;
    }
    /* What the script asked of netback (vif_host.h), there before
     * hotplug-status, which netback waits for before the guest may send. */
    snprintf(path, sizeof(path), "%s/antispoof", be);
    if (h.antispoof && xs_write(xs, path, "1") < 0) {
        fprintf(err, "libxl: error: vif %d: cannot ask for anti-spoofing\n", devid);
        h.online = false;
        (void)vif_hotplug_run(&h);
        xdev_remove(xs, ctl_fd, XENON_DEV_VIF, domid, (unsigned)devid, NULL);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/hotplug-status", be);
    xs_write(xs, path, "connected");
    /* The frontend's MTU: the one given, else what the script set (the
     * bridge's), as Xen's set_mtu writes it. */
    int mtu = v->mtu > 0 ? v->mtu : vif_ifname_mtu(ifname);
    if (mtu > 0 && mtu != atoi(fe_mtu_s)) {
        char m[16];
        snprintf(m, sizeof(m), "%d", mtu);
        snprintf(path, sizeof(path), "%s/mtu", fe);
        xs_write(xs, path, m);
    }
    return 0;
}

int vif_add_all(struct xs_client *xs, int ctl_fd, unsigned domid,
                struct domain_config *dc, FILE *err)
{
    for (int i = 0; i < dc->num_nics; i++) {
        int devid = dc->nics[i].devid >= 0 ? dc->nics[i].devid : i;
        if (vif_add(xs, ctl_fd, domid, &dc->nics[i], devid, err) < 0)
            return -1;
    }
    return 0;
}

/* Run the offline script of one vif from what its backend directory says. */
static void vif_offline(struct xs_client *xs, unsigned domid, unsigned devid)
{
    char be[XENON_DEV_PATH_MAX];
    if (xdev_backend_path(XENON_DEV_VIF, domid, devid, be, sizeof(be)) < 0)
        return;
    char *script = xs_readf(xs, "%s/script", be);
    char *bridge = xs_readf(xs, "%s/bridge", be);
    char *vifname = xs_readf(xs, "%s/vifname", be);
    char *ip = xs_readf(xs, "%s/ip", be);
    char *mac = xs_readf(xs, "%s/mac", be);
    char ifname[IFNAMSIZ];
    if (script && vif_ifname(ifname, domid, (int)devid, vifname) == 0) {
        struct vif_hotplug h = { .script = script, .online = false, .domid = domid,
            .devid = (int)devid, .ifname = ifname, .bridge = bridge, .ip = ip,
            .mac = mac };
        (void)vif_hotplug_run(&h);
    }
    free(script);
    free(bridge);
    free(vifname);
    free(ip);
    free(mac);
}

void vif_offline_all(struct xs_client *xs, unsigned domid)
{
    unsigned *ids;
    int n;
    if (xdev_list(xs, XENON_DEV_VIF, domid, &ids, &n) < 0)
        return;
    for (int i = 0; i < n; i++)
        vif_offline(xs, domid, ids[i]);
    free(ids);
}

/* --- at run time: xl network-attach, network-detach, network-list -------- */

int xenon_network_attach(const struct xenon_paths *p, unsigned domid, struct xvif *v,
                         FILE *err)
{
    struct xs_client *xs = xs_connect(p, err);
    if (!xs)
        return -1;
    int ctl = xdev_open_vmm(p, domid, "network-attach", err);
    int rc = -1;
    if (ctl >= 0) {
        unsigned *ids;
        int n;
        if (xdev_list(xs, XENON_DEV_VIF, domid, &ids, &n) == 0) {
            /* libxl's next devid: one past the highest in use. */
            int devid = v->devid >= 0 ? v->devid : n ? (int)ids[n - 1] + 1 : 0;
            bool used = false;
            for (int i = 0; i < n; i++)
                used |= ids[i] == (unsigned)devid;
            if (used)
                fprintf(err, "libxl: error: device vif %d already exists in domain %u\n",
                        devid, domid);
            else
                rc = vif_add(xs, ctl, domid, v, devid, err);
            free(ids);
        }
        close(ctl);
    }
    xs_close(xs);
    return rc;
}

/* The devid of the vif with this MAC, or -1. */
static int devid_of_mac(struct xs_client *xs, unsigned domid, const char *mac)
{
    unsigned *ids;
    int n, found = -1;
    if (xdev_list(xs, XENON_DEV_VIF, domid, &ids, &n) < 0)
        return -1;
    for (int i = 0; i < n && found < 0; i++) {
        char lx[XENON_DEV_PATH_MAX];
        xdev_libxl_path(XENON_DEV_VIF, domid, ids[i], lx, sizeof(lx));
        char *m = xs_readf(xs, "%s/mac", lx);
        if (m && strcasecmp(m, mac) == 0)
            found = (int)ids[i];
        free(m);
    }
    free(ids);
    return found;
}

int xenon_network_detach(const struct xenon_paths *p, unsigned domid, const char *which,
                         FILE *err)
{
    struct xs_client *xs = xs_connect(p, err);
    if (!xs)
        return -1;
    int devid = -1;
    if (strchr(which, ':')) {
        devid = devid_of_mac(xs, domid, which);
    } else {
        char *end;
        long v = strtol(which, &end, 10);
        if (*which && !*end && v >= 0 && v < INT32_MAX)
            devid = (int)v;
    }
    char lx[XENON_DEV_PATH_MAX], *be = NULL;
    if (devid < 0 ||
        xdev_libxl_path(XENON_DEV_VIF, domid, (unsigned)devid, lx, sizeof(lx)) < 0 ||
        !(be = xs_readf(xs, "%s/backend", lx))) {
        fprintf(err, "Unknown device %s.\n", which);
        xs_close(xs);
        return -1;
    }
    free(be);
    /* Out of its bridge first, then closed and removed as libxl removes it
     * (the VMM closes the tap on DETACH: the interface goes with it). */
    vif_offline(xs, domid, (unsigned)devid);
    int rc = xdev_detach_running(p, xs, XENON_DEV_VIF, domid, (unsigned)devid,
                                 "network-detach", err);
    xs_close(xs);
    return rc;
}

static void fill_nicinfo(struct xs_client *xs, unsigned domid, unsigned devid,
                         const char *fe, const char *be, void *slot)
{
    struct xenon_nicinfo *v = slot;
    char lx[XENON_DEV_PATH_MAX];
    xdev_libxl_path(XENON_DEV_VIF, domid, devid, lx, sizeof(lx));
    char *mac = xs_readf(xs, "%s/mac", lx);
    *v = (struct xenon_nicinfo){ .devid = devid,
                                 .backend_id = xdev_read_num(xs, fe, "backend-id"),
                                 .state = xdev_read_num(xs, fe, "state"),
                                 .evtch = xdev_read_num(xs, fe, "event-channel"),
                                 .rref_tx = xdev_read_num(xs, fe, "tx-ring-ref"),
                                 .rref_rx = xdev_read_num(xs, fe, "rx-ring-ref") };
    if (v->evtch < 0)
        v->evtch = xdev_read_num(xs, fe, "event-channel-tx");
    snprintf(v->backend, sizeof(v->backend), "%s", be);
    snprintf(v->mac, sizeof(v->mac), "%s", mac ? mac : "00:00:00:00:00:00");
    free(mac);
}

int xenon_network_list(const struct xenon_paths *p, unsigned domid,
                       struct xenon_nicinfo **out, int *n, FILE *err)
{
    void *slots;
    int rc = xdev_list_info(p, XENON_DEV_VIF, domid, sizeof(**out), fill_nicinfo,
                            &slots, n, err);
    *out = slots;
    return rc;
}
