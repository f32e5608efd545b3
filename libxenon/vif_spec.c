/* vif spec parsing (see vif_spec.h). */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vif_spec.h"

void xvif_init(struct xvif *v)
{
    memset(v, 0, sizeof(*v));
    v->devid = -1;
    v->vlan = -1;
    v->trusted = -1;
    v->bridge = strdup("xenbr0");
    v->script = strdup("vif-bridge");
}

void xvif_dispose(struct xvif *v)
{
    free(v->model);
    free(v->ip);
    free(v->bridge);
    free(v->script);
    free(v->ifname);
    free(v->backend_domname);
    free(v->gatewaydev);
    memset(v, 0, sizeof(*v));
}

static void vif_err(FILE *report, const char *source, const char *msg,
                    const char *rate)
{
    if (report)
        fprintf(report, "%s: config parsing error in vif: %s in `%s'\n",
                source, msg, rate);
}

static bool is_dg(char c) { return c >= '0' && c <= '9'; }

/* ^[0-9]+[GMK]?[Bb]/s$ */
static bool rate_shape(const char *s)
{
    if (!is_dg(*s))
        return false;
    while (is_dg(*s))
        s++;
    if (*s == 'G' || *s == 'M' || *s == 'K')
        s++;
    if (*s != 'B' && *s != 'b')
        return false;
    return !strcmp(s + 1, "/s");
}

/* ^[0-9]+[mu]?s?$ */
static bool interval_shape(const char *s)
{
    if (!is_dg(*s))
        return false;
    while (is_dg(*s))
        s++;
    if (*s == 'm' || *s == 'u')
        s++;
    if (*s == 's')
        s++;
    return !*s;
}

/* The number a rate or an interval starts with, once `shape` accepts the
 * whole string: 1..UINT32_MAX before its unit scales it (libxlu's
 * checks). *unit is left at the unit. 0, EINVAL or EOVERFLOW (reported as
 * "invalid WHAT" / "WHAT overflow"). */
static int leading_number(FILE *report, const char *source, const char *s,
                          bool (*shape)(const char *), const char *what,
                          unsigned long long *out, char **unit)
{
    char msg[64];

    if (!shape(s)) {
        snprintf(msg, sizeof(msg), "invalid %s", what);
        vif_err(report, source, msg, s);
        return EINVAL;
    }
    errno = 0;
    *out = strtoull(s, unit, 0);
    if (*out == 0 || *out > UINT32_MAX || errno == ERANGE) {
        snprintf(msg, sizeof(msg), "%s overflow", what);
        vif_err(report, source, msg, s);
        return EOVERFLOW;
    }
    return 0;
}

static int bytes_per_sec(FILE *report, const char *source, const char *s,
                         uint64_t *out)
{
    char *p;
    unsigned long long v;
    int rc = leading_number(report, source, s, rate_shape, "rate", &v, &p);

    if (rc)
        return rc;
    if (*p == 'G')
        v *= 1000ULL * 1000 * 1000;
    else if (*p == 'M')
        v *= 1000ULL * 1000;
    else if (*p == 'K')
        v *= 1000ULL;
    if (*p == 'b' || p[1] == 'b')
        v /= 8;
    *out = v;
    return 0;
}

static int interval_usecs(FILE *report, const char *source, const char *s,
                          uint32_t *out)
{
    char *p;
    unsigned long long v;
    int rc = leading_number(report, source, s, interval_shape,
                            "replenishment interval", &v, &p);

    if (rc)
        return rc;
    if (*p == 's' || *p == 0)
        v *= 1000ULL * 1000;
    else if (*p == 'm')
        v *= 1000ULL;
    if (v > UINT32_MAX) {
        vif_err(report, source, "replenishment interval overflow", s);
        return EOVERFLOW;
    }
    *out = (uint32_t)v;
    return 0;
}

int xvif_parse_rate(FILE *report, const char *source, const char *rate,
                    struct xvif *v)
{
    uint64_t bps = 0;
    uint32_t usecs = 50000;     /* 50 ms unless given */
    char *tmp = strdup(rate), *at;
    int rc;

    if (!tmp)
        return ENOMEM;
    at = strchr(tmp, '@');
    if (at)
        *at++ = 0;
    if (!*tmp) {
        vif_err(report, source, "no rate specified", rate);
        rc = EINVAL;
        goto out;
    }
    rc = bytes_per_sec(report, source, tmp, &bps);
    if (!rc && at)
        rc = interval_usecs(report, source, at, &usecs);
    if (rc)
        goto out;
    if (usecs && bps > UINT64_MAX / usecs) {
        vif_err(report, source, "rate overflow", rate);
        rc = EOVERFLOW;
        goto out;
    }
    v->rate_interval_usecs = usecs;
    v->rate_bytes_per_interval = bps * usecs / 1000000ULL;
out:
    free(tmp);
    return rc;
}

static int replace(char **slot, const char *val)
{
    char *s = strdup(val);

    if (!s)
        return ENOMEM;
    free(*slot);
    *slot = s;
    return 0;
}

/* xl's parse_ulong: base 10, must have digits, ULONG_MAX refused. */
static int parse_num(FILE *report, const char *s, int *out)
{
    char *ep;
    unsigned long v = strtoul(s, &ep, 10);

    if (ep == s || v == ULONG_MAX || v > INT_MAX) {
        if (report)
            fprintf(report, "xl: failed to convert \"%s\" to number\n", s);
        return EINVAL;
    }
    *out = (int)v;
    return 0;
}

/* One item; 0 ok, 1 not understood (message printed), else fatal errno. */
static int parse_item(FILE *report, const char *source, char *tok,
                      struct xvif *v)
{
    static const struct { const char *key; size_t off; } strs[] = {
        { "bridge=", offsetof(struct xvif, bridge) },
        { "gatewaydev=", offsetof(struct xvif, gatewaydev) },
        { "ip=", offsetof(struct xvif, ip) },
        { "script=", offsetof(struct xvif, script) },
        { "backend=", offsetof(struct xvif, backend_domname) },
        { "vifname=", offsetof(struct xvif, ifname) },
        { "model=", offsetof(struct xvif, model) },
    };
    const char *arg;

    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if (!strncmp(tok, strs[i].key, strlen(strs[i].key)))
            return replace((char **)((char *)v + strs[i].off),
                           tok + strlen(strs[i].key));
    if (!strncmp(tok, "type=", 5)) {
        arg = tok + 5;
        if (!strcmp(arg, "vif")) {
            v->type = XVIF_TYPE_VIF;
        } else if (!strcmp(arg, "ioemu")) {
            v->type = XVIF_TYPE_VIF_IOEMU;
        } else {
            if (report)
                fprintf(report, "Invalid parameter `type'.\n");
            return 1;
        }
        return 0;
    }
    if (!strncmp(tok, "mac=", 4)) {
        char *p = tok + 4, *ep;

        for (int i = 0; i < 6; i++) {
            unsigned long b = strtoul(p, &ep, 16);

            if (p == ep || b > 255) {
                if (report)
                    fprintf(report, "Invalid parameter `mac'.\n");
                return 1;
            }
            v->mac[i] = (uint8_t)b;
            v->mac_set = true;
            if (!*ep && i < 5) {    /* do not read past the end */
                if (report)
                    fprintf(report, "Invalid parameter `mac'.\n");
                return 1;
            }
            p = ep + 1;
        }
        return 0;
    }
    if (!strncmp(tok, "netdev=", 7)) {
        if (report)
            fprintf(report, "the netdev parameter is deprecated, "
                    "please use gatewaydev instead\n");
        return replace(&v->gatewaydev, tok + 7);
    }
    if (!strncmp(tok, "rate=", 5))
        return xvif_parse_rate(report, source, tok + 5, v);
    if (!strncmp(tok, "accel=", 6)) {
        if (report)
            fprintf(report, "the accel parameter for vifs is currently not "
                    "supported\n");
        return 0;
    }
    if (!strncmp(tok, "devid=", 6))
        return parse_num(report, tok + 6, &v->devid);
    if (!strncmp(tok, "mtu=", 4))
        return parse_num(report, tok + 4, &v->mtu);
    if (!strncmp(tok, "vlan=", 5))
        return parse_num(report, tok + 5, &v->vlan);
    if (!strcmp(tok, "trusted")) {
        v->trusted = 1;
        return 0;
    }
    if (!strcmp(tok, "untrusted")) {
        v->trusted = 0;
        return 0;
    }
    if (report)
        fprintf(report, "unrecognized argument `%s'\n", tok);
    return 1;
}

int xvif_parse(FILE *report, const char *source, const char *spec,
               struct xvif *v, bool strict, int *warnings)
{
    char *buf = strdup(spec), *save = NULL;
    int rc = 0;

    if (!buf)
        return ENOMEM;
    for (char *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        int r;

        while (*t == ' ')
            t++;
        r = parse_item(report, source, t, v);
        if (r == 1) {
            if (warnings)
                (*warnings)++;
            if (strict) {
                rc = EINVAL;
                break;
            }
        } else if (r) {
            rc = r;
            break;
        }
    }
    free(buf);
    return rc;
}
