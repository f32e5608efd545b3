/* The network and PIF classes: the host's bridges and interfaces as
 * /sys/class/net shows them, no second copy. Each bridge is a network
 * (bridge = its name); a bridge a VIF names that the host does not have
 * (yet) is a network too, so VIF.network always resolves. Each physical
 * interface (one with a device/ link) is a PIF on the network of the
 * bridge it is enslaved to, or on a network of its own (bridge "") when
 * it is in none; the PIF of the default route is the management one.
 *
 * Stable UUIDs: UUIDv5 of "network:<bridge>" (or "network:pif:<device>")
 * and "pif:<device>". */
#ifndef XAPI_HOST_NET_H
#define XAPI_HOST_NET_H

/* Not locked: read /sys/class/net and /proc/net/route. */
void host_net_scan(void);

/* locked: the network reference of a bridge name. */
const char *host_net_network_ref(const char *bridge);

/* locked: put the network and PIF records (network.VIFs from the VIF
 * records in the model), drop those gone, and the host's PIFs. */
void host_net_put(void);

#endif
