/* network and PIF records from /sys/class/net (host_net.h). */
#include "host_net.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "host_info.h"
#include "model.h"
#include "vm_scan.h"

static pthread_mutex_t scan_lock = PTHREAD_MUTEX_INITIALIZER;
/* locked: {"bridges": {name: {mtu}}, "pifs": {dev: {mac, mtu, master, up}},
 * "mgmt": dev} from the last scan */
static json_object *host_view;

/* The first line of /sys/class/net/<dev>/<file>, "" when absent. */
static void sysfs(const char *dev, const char *file, char *out, size_t n)
{
    char p[512];
    snprintf(p, sizeof(p), "/sys/class/net/%s/%s", dev, file);
    out[0] = 0;
    FILE *f = fopen(p, "re");
    if (f) {
        if (!fgets(out, (int)n, f))
            out[0] = 0;
        fclose(f);
    }
    out[strcspn(out, "\n")] = 0;
}

static bool exists(const char *dev, const char *file)
{
    char p[512];
    snprintf(p, sizeof(p), "/sys/class/net/%s/%s", dev, file);
    return access(p, F_OK) == 0;
}

/* The interface of the default route, "" when none. */
static void default_route_dev(char *out, size_t n)
{
    out[0] = 0;
    FILE *f = fopen("/proc/net/route", "re");
    char line[256], dev[64];
    unsigned long dst;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "%63s %lx", dev, &dst) == 2 && dst == 0) {
            snprintf(out, n, "%s", dev);
            break;
        }
    if (f)
        fclose(f);
}

void host_net_scan(void)
{
    pthread_mutex_lock(&scan_lock);
    json_object *v = json_object_new_object(), *br = json_object_new_object(),
                *pifs = json_object_new_object();
    DIR *d = opendir("/sys/class/net");
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.' || strlen(e->d_name) > 15)
            continue;
        char mtu[32], mac[64], master[600], oper[32];
        sysfs(e->d_name, "mtu", mtu, sizeof(mtu));
        sysfs(e->d_name, "address", mac, sizeof(mac));
        if (exists(e->d_name, "bridge")) {
            json_object *b = json_object_new_object();
            json_object_object_add(b, "mtu", json_object_new_int64(atoll(mtu)));
            json_object_object_add(br, e->d_name, b);
        } else if (exists(e->d_name, "device")) {
            char p[512];
            snprintf(p, sizeof(p), "/sys/class/net/%s/master", e->d_name);
            ssize_t l = readlink(p, master, sizeof(master) - 1);
            master[l > 0 ? l : 0] = 0;
            const char *m = strrchr(master, '/');
            sysfs(e->d_name, "operstate", oper, sizeof(oper));
            json_object *x = json_object_new_object();
            json_object_object_add(x, "mac", json_object_new_string(mac));
            json_object_object_add(x, "mtu", json_object_new_int64(atoll(mtu)));
            json_object_object_add(x, "master", json_object_new_string(m ? m + 1 : ""));
            json_object_object_add(x, "up", json_object_new_boolean(!strcmp(oper, "up")));
            json_object_object_add(pifs, e->d_name, x);
        }
    }
    if (d)
        closedir(d);
    char mgmt[64];
    default_route_dev(mgmt, sizeof(mgmt));
    json_object_object_add(v, "bridges", br);
    json_object_object_add(v, "pifs", pifs);
    json_object_object_add(v, "mgmt", json_object_new_string(mgmt));
    model_lock();
    json_object_put(host_view);
    host_view = v;
    model_unlock();
    pthread_mutex_unlock(&scan_lock);
}

static void kv(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v));
}

static void uuid_of(const char *what, const char *id, char *out)
{
    char s[300];
    snprintf(s, sizeof(s), "%s:%s", what, id);
    vm_uuid_for_name(s, out);
}

static const char *ref_of(const char *cls, const char *uuid)
{
    char key[96];
    snprintf(key, sizeof(key), "%s/%s", cls, uuid);
    return model_ref_for(key);
}

const char *host_net_network_ref(const char *bridge)
{
    char u[40];
    uuid_of("network", bridge, u);
    return ref_of("network", u);
}

static json_object *network_record(const char *uuid, const char *name, const char *bridge,
                                   int64_t mtu, json_object *pifs, json_object *vifs)
{
    json_object *r = json_object_new_object();
    kv(r, "uuid", uuid);
    kv(r, "name_label", name);
    kv(r, "name_description", "");
    kv(r, "bridge", bridge);
    json_object_object_add(r, "MTU", json_object_new_int64(mtu ? mtu : 1500));
    json_object_object_add(r, "PIFs", pifs);
    json_object_object_add(r, "VIFs", vifs);
    json_object_object_add(r, "managed", json_object_new_boolean(1));
    json_object_object_add(r, "other_config", json_object_new_object());
    json_object_object_add(r, "blobs", json_object_new_object());
    json_object_object_add(r, "tags", json_object_new_array());
    kv(r, "default_locking_mode", "unlocked");
    json_object_object_add(r, "assigned_ips", json_object_new_object());
    json_object_object_add(r, "purpose", json_object_new_array());
    json_object_object_add(r, "allowed_operations", json_object_new_array());
    json_object_object_add(r, "current_operations", json_object_new_object());
    return r;
}

static json_object *pif_record(const char *uuid, const char *dev, json_object *x,
                               const char *net, bool mgmt)
{
    json_object *r = json_object_new_object(), *f;
    kv(r, "uuid", uuid);
    kv(r, "device", dev);
    kv(r, "network", net);
    kv(r, "host", host_ref());
    kv(r, "MAC", json_object_object_get_ex(x, "mac", &f) ? json_object_get_string(f) : "");
    json_object_object_add(r, "MTU", json_object_new_int64(
        json_object_object_get_ex(x, "mtu", &f) ? json_object_get_int64(f) : 1500));
    json_object_object_add(r, "VLAN", json_object_new_int64(-1));
    kv(r, "metrics", REF_NULL);
    json_object_object_add(r, "physical", json_object_new_boolean(1));
    json_object_object_add(r, "currently_attached", json_object_new_boolean(
        json_object_object_get_ex(x, "up", &f) && json_object_get_boolean(f)));
    kv(r, "ip_configuration_mode", "None");
    kv(r, "IP", "");
    kv(r, "netmask", "");
    kv(r, "gateway", "");
    kv(r, "DNS", "");
    kv(r, "bond_slave_of", REF_NULL);
    json_object_object_add(r, "bond_master_of", json_object_new_array());
    kv(r, "VLAN_master_of", REF_NULL);
    json_object_object_add(r, "VLAN_slave_of", json_object_new_array());
    json_object_object_add(r, "management", json_object_new_boolean(mgmt));
    json_object_object_add(r, "other_config", json_object_new_object());
    json_object_object_add(r, "disallow_unplug", json_object_new_boolean(0));
    json_object_object_add(r, "tunnel_access_PIF_of", json_object_new_array());
    json_object_object_add(r, "tunnel_transport_PIF_of", json_object_new_array());
    kv(r, "ipv6_configuration_mode", "None");
    json_object_object_add(r, "IPv6", json_object_new_array());
    kv(r, "ipv6_gateway", "");
    kv(r, "primary_address_type", "IPv4");
    json_object_object_add(r, "managed", json_object_new_boolean(1));
    json_object_object_add(r, "properties", json_object_new_object());
    json_object_object_add(r, "capabilities", json_object_new_array());
    kv(r, "igmp_snooping_status", "unknown");
    json_object_object_add(r, "sriov_physical_PIF_of", json_object_new_array());
    json_object_object_add(r, "sriov_logical_PIF_of", json_object_new_array());
    kv(r, "PCI", REF_NULL);
    return r;
}

/* A list in map m under key k (made when missing). */
static json_object *list_in(json_object *m, const char *k)
{
    json_object *l;
    if (!json_object_object_get_ex(m, k, &l)) {
        l = json_object_new_array();
        json_object_object_add(m, k, l);
    }
    return l;
}

void host_net_put(void)
{
    /* bridge -> {mtu, pifs: [], vifs: []}; a PIF in no bridge gets a
     * network keyed "pif:<dev>" */
    json_object *nets = json_object_new_object(), *seen = json_object_new_object(),
                *host_pifs = json_object_new_array(), *f;
    json_object *bridges = NULL, *pifs = NULL;
    const char *mgmt = "";
    if (host_view) {
        json_object_object_get_ex(host_view, "bridges", &bridges);
        json_object_object_get_ex(host_view, "pifs", &pifs);
        if (json_object_object_get_ex(host_view, "mgmt", &f))
            mgmt = json_object_get_string(f);
    }
    if (bridges) {
        json_object_object_foreach(bridges, name, b) {
            json_object *n = json_object_new_object();
            json_object_object_add(n, "mtu", json_object_object_get_ex(b, "mtu", &f)
                                                 ? json_object_get(f) : NULL);
            json_object_object_add(nets, name, n);
        }
    }
    json_object *vifs = model_class("VIF");
    if (vifs) {
        json_object_object_foreach(vifs, ref, rec) {
            json_object *xo;
            if (!json_object_object_get_ex(rec, "other_config", &xo) ||
                !json_object_object_get_ex(xo, "xenon_bridge", &f))
                continue;
            const char *b = json_object_get_string(f);
            json_object *n;
            if (!json_object_object_get_ex(nets, b, &n)) {
                n = json_object_new_object();
                json_object_object_add(nets, b, n);
            }
            json_object_array_add(list_in(n, "vifs"), json_object_new_string(ref));
        }
    }
    char u[40], nu[40], netref[48];
    if (pifs) {
        json_object_object_foreach(pifs, dev, x) {
            const char *master = json_object_object_get_ex(x, "master", &f)
                                     ? json_object_get_string(f) : "";
            char key[64];
            snprintf(key, sizeof(key), "pif:%s", dev);
            const char *nk = *master && json_object_object_get_ex(nets, master, NULL) ? master : key;
            json_object *n;
            if (!json_object_object_get_ex(nets, nk, &n)) {
                n = json_object_new_object();
                json_object_object_add(nets, nk, n);
            }
            snprintf(netref, sizeof(netref), "%s", host_net_network_ref(nk));
            uuid_of("pif", dev, u);
            const char *pref = ref_of("PIF", u);
            json_object_array_add(list_in(n, "pifs"), json_object_new_string(pref));
            json_object_array_add(host_pifs, json_object_new_string(pref));
            bool is_mgmt = !strcmp(dev, mgmt) || (*master && !strcmp(master, mgmt));
            model_put("PIF", pref, pif_record(u, dev, x, netref, is_mgmt));
            json_object_object_add(seen, pref, NULL);
        }
    }
    json_object_object_foreach(nets, name, n) {
        uuid_of("network", name, nu);
        const char *ref = host_net_network_ref(name);
        bool own = !strncmp(name, "pif:", 4);
        char label[128];
        if (own)
            snprintf(label, sizeof(label), "Network of %s", name + 4);
        else
            snprintf(label, sizeof(label), "%s", name);
        json_object *l;
        model_put("network", ref, network_record(nu, label, own ? "" : name,
                                                 json_object_object_get_ex(n, "mtu", &f)
                                                     ? json_object_get_int64(f) : 1500,
                                                 json_object_get(list_in(n, "pifs")),
                                                 json_object_get(list_in(n, "vifs"))));
        (void)l;
        json_object_object_add(seen, ref, NULL);
    }
    model_drop_unseen("PIF", seen);
    model_drop_unseen("network", seen);
    json_object *h = model_get("host", host_ref()), *cur;
    if (h && (!json_object_object_get_ex(h, "PIFs", &cur) || !json_object_equal(cur, host_pifs))) {
        json_object *nh = model_copy(h);
        json_object_object_add(nh, "PIFs", host_pifs);
        model_put("host", host_ref(), nh);
    } else {
        json_object_put(host_pifs);
    }
    json_object_put(nets);
    json_object_put(seen);
}
