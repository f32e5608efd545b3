/* Network interface specifications: `vif = ['spec', ...]` and
 * `xl network-attach`, parsed as xl does (comma-separated key=value items,
 * leading blanks skipped, empty items ignored). */
#ifndef XENON_VIF_SPEC_H
#define XENON_VIF_SPEC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum xvif_type { XVIF_TYPE_UNKNOWN, XVIF_TYPE_VIF_IOEMU, XVIF_TYPE_VIF };

struct xvif {
    int devid;                  /* -1: next free */
    int mtu;                    /* 0: default */
    char *model, *ip, *bridge, *script, *ifname, *backend_domname,
         *gatewaydev;
    uint8_t mac[6];
    bool mac_set;
    enum xvif_type type;
    int vlan;                   /* -1: none */
    uint64_t rate_bytes_per_interval;
    uint32_t rate_interval_usecs;
    int trusted;                /* -1 default, 0, 1 */
};

/* Defaults: bridge xenbr0, script vif-bridge, devid -1, no rate. */
void xvif_init(struct xvif *v);
void xvif_dispose(struct xvif *v);

/* Parse one spec into v (which holds defaults). A bad rate or a bad
 * number (devid, mtu, vlan) is fatal: EINVAL or EOVERFLOW. An unknown key
 * or a bad mac/type prints xl's message and is fatal only when strict
 * (network-attach); otherwise it is counted in *warnings (may be NULL).
 * Messages go to report; `source` names the file in rate errors. */
int xvif_parse(FILE *report, const char *source, const char *spec,
               struct xvif *v, bool strict, int *warnings);

/* rate=N[GMK](B|b)/s[@N[m|u]s]: as xl, messages
 * "SOURCE: config parsing error in vif: MSG in `RATE'". 0, EINVAL,
 * EOVERFLOW or ENOMEM. */
int xvif_parse_rate(FILE *report, const char *source, const char *rate,
                    struct xvif *v);

#endif
