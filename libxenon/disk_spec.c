/* Disk specification parser.
 *
 * A spec is scanned left to right; at each point the longest of these
 * patterns wins (ties to the earlier one), as in xl:
 *   blanks (skipped)               KEY=value[,] for the known keys
 *   cdrom / devtype=cdrom|disk     flags: direct-io-safe, discard, ...
 *   target=REST (takes everything) an unknown key=x (an error)
 *   a legacy PREFIX: followed by the rest (raw: qcow: qcow2: vhd: iscsi:
 *     nbd: enbd: drbd: tapdisk: tap: tap2: aio: ioemu: file: phy:; any other
 *     word: is an error)
 *   a positional [^=,]* up to a comma: target, format, vdev, access in turn
 *   anything else: "bad disk syntax"
 * Patterns that look past what they take (blanks, prefixes) compete with the
 * length they look at, so "phy:/dev/x,xvda,w" is the prefix phy: first.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "disk_spec.h"

struct dpc {
    FILE *report;
    const char *source, *spec;
    struct xdisk *d;
    int err, access_set, had_depr_prefix;
};

void xdisk_init(struct xdisk *d)
{
    memset(d, 0, sizeof(*d));
    d->discard_enable = d->colo_enable = d->trusted = -1;
}

void xdisk_dispose(struct xdisk *d)
{
    free(d->pdev_path);
    free(d->vdev);
    free(d->backend_domname);
    free(d->script);
    free(d->colo_host);
    free(d->colo_export);
    free(d->active_disk);
    free(d->hidden_disk);
    xdisk_init(d);
}

static void disk_err(struct dpc *c, const char *near, const char *msg)
{
    if (c->report)
        fprintf(c->report, "%s: config parsing error in disk specification: "
                "%s%s%s%s in `%s'\n", c->source, msg, near ? ": near `" : "",
                near ? near : "", near ? "'" : "", c->spec ? c->spec : "");
    if (!c->err)
        c->err = EINVAL;
}

static void savestring(struct dpc *c, const char *respecified, char **slot,
                       const char *value)
{
    if (*slot) {
        if (**slot) {
            disk_err(c, value, respecified);
            return;
        }
        free(*slot);
    }
    *slot = strdup(value);
    if (!*slot && !c->err)
        c->err = ENOMEM;
}

static void setaccess(struct dpc *c, const char *s)
{
    if (!strcmp(s, "r") || !strcmp(s, "ro"))
        c->d->readwrite = 0;
    else if (!strcmp(s, "rw") || !strcmp(s, "w") || !strcmp(s, ""))
        c->d->readwrite = 1;
    else
        disk_err(c, s, "unknown value for access");
}

#define DSET(c, field, val, str, what) do {                            \
        if ((c)->d->field != 0 && (int)(c)->d->field != (int)(val))     \
            disk_err((c), (str), what " respecified");                  \
        else                                                            \
            (c)->d->field = (val);                                      \
    } while (0)

static void setformat(struct dpc *c, const char *s)
{
    static const struct { const char *n; enum xdisk_format f; } fm[] = {
        { "", XDISK_FORMAT_RAW }, { "raw", XDISK_FORMAT_RAW },
        { "qcow", XDISK_FORMAT_QCOW }, { "qcow2", XDISK_FORMAT_QCOW2 },
        { "vhd", XDISK_FORMAT_VHD }, { "empty", XDISK_FORMAT_EMPTY },
        { "qed", XDISK_FORMAT_QED },
    };

    for (size_t i = 0; i < sizeof(fm) / sizeof(fm[0]); i++)
        if (!strcmp(s, fm[i].n)) {
            DSET(c, format, fm[i].f, s, "format");
            return;
        }
    disk_err(c, s, "unknown value for format");
}

static void setbackendtype(struct dpc *c, const char *s)
{
    if (!strcmp(s, "phy"))
        DSET(c, backend, XDISK_BACKEND_PHY, s, "backend");
    else if (!strcmp(s, "tap"))
        DSET(c, backend, XDISK_BACKEND_TAP, s, "backend");
    else if (!strcmp(s, "qdisk"))
        DSET(c, backend, XDISK_BACKEND_QDISK, s, "backend");
    else if (!strcmp(s, "standalone"))
        DSET(c, backend, XDISK_BACKEND_STANDALONE, s, "backend");
    else
        disk_err(c, s, "unknown value for backendtype");
}

static void setspecification(struct dpc *c, const char *s)
{
    if (!strcmp(s, "xen"))
        DSET(c, specification, XDISK_SPEC_XEN, s, "specification");
    else if (!strcmp(s, "virtio"))
        DSET(c, specification, XDISK_SPEC_VIRTIO, s, "specification");
    else
        disk_err(c, s, "unknown value for specification");
}

/* "<vdev>:<devtype>" (deprecated): 1 if it was that form. Modifies s. */
static int vdev_and_devtype(struct dpc *c, char *s)
{
    char *colon = strrchr(s, ':');

    if (!colon)
        return 0;
    *colon++ = 0;
    savestring(c, "vdev respecified", &c->d->vdev, s);
    if (!strcmp(colon, "cdrom"))
        c->d->is_cdrom = 1;
    else if (!strcmp(colon, "disk"))
        c->d->is_cdrom = 0;
    else
        disk_err(c, colon, "unknown deprecated type");
    return 1;
}

/* ---- pattern matching ---- */

static size_t line_rest(const char *p)      /* .* */
{
    size_t n = 0;

    while (p[n] && p[n] != '\n')
        n++;
    return n;
}

static size_t lit(const char *p, const char *w)
{
    size_t n = strlen(w);

    return strncmp(p, w, n) ? 0 : n;
}

static size_t opt_comma(const char *p) { return *p == ',' ? 1 : 0; }

/* KEY=[^,]*,? */
static size_t m_keyval(const char *p, const char *key)
{
    size_t n = lit(p, key);

    if (!n)
        return 0;
    while (p[n] && p[n] != ',')
        n++;
    return n + opt_comma(p + n);
}

/* WORD,? */
static size_t m_word(const char *p, const char *w)
{
    size_t n = lit(p, w);

    return n ? n + opt_comma(p + n) : 0;
}

static bool is_lc(char c) { return c >= 'a' && c <= 'z'; }
static bool is_dg(char c) { return c >= '0' && c <= '9'; }
static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n'; }

enum rule {
    R_WS, R_FORMAT, R_CDROM, R_DEVTYPE_CDROM, R_DEVTYPE_DISK, R_DEVTYPE_OTHER,
    R_ACCESS, R_BACKEND, R_BACKENDTYPE, R_SPECIFICATION, R_VDEV, R_SCRIPT,
    R_DIRECT_IO_SAFE, R_DISCARD, R_NO_DISCARD, R_COLO, R_NO_COLO,
    R_COLO_HOST, R_COLO_PORT, R_COLO_EXPORT, R_ACTIVE_DISK, R_HIDDEN_DISK,
    R_TRUSTED, R_UNTRUSTED, R_TARGET, R_UNKNOWN_PARAM, R_PREFIX_FORMAT,
    R_PREFIX_SCRIPT, R_PREFIX_IGNORED, R_PREFIX_UNKNOWN, R_POSITIONAL,
    R_BAD, R_NRULES
};

/* Length a rule competes with (*take: what it consumes), 0: no match. */
static size_t match(enum rule r, const char *p, size_t *take)
{
    size_t n = 0;

    *take = 0;
    switch (r) {
    case R_WS:
        while (is_ws(p[n]))
            n++;
        if (!n)
            return 0;
        *take = n;
        return p[n] ? n + 1 + line_rest(p + n + 1) : n;
    case R_FORMAT: n = m_keyval(p, "format="); break;
    case R_CDROM: n = m_word(p, "cdrom"); break;
    case R_DEVTYPE_CDROM: n = m_word(p, "devtype=cdrom"); break;
    case R_DEVTYPE_DISK: n = m_word(p, "devtype=disk"); break;
    case R_DEVTYPE_OTHER: n = m_keyval(p, "devtype="); break;
    case R_ACCESS: n = m_keyval(p, "access="); break;
    case R_BACKEND: n = m_keyval(p, "backend="); break;
    case R_BACKENDTYPE: n = m_keyval(p, "backendtype="); break;
    case R_SPECIFICATION: n = m_keyval(p, "specification="); break;
    case R_VDEV: n = m_keyval(p, "vdev="); break;
    case R_SCRIPT: n = m_keyval(p, "script="); break;
    case R_DIRECT_IO_SAFE: n = m_word(p, "direct-io-safe"); break;
    case R_DISCARD: n = m_word(p, "discard"); break;
    case R_NO_DISCARD: n = m_word(p, "no-discard"); break;
    case R_COLO: n = m_word(p, "colo"); break;
    case R_NO_COLO: n = m_word(p, "no-colo"); break;
    case R_COLO_HOST: n = m_keyval(p, "colo-host="); break;
    case R_COLO_PORT: n = m_keyval(p, "colo-port="); break;
    case R_COLO_EXPORT: n = m_keyval(p, "colo-export="); break;
    case R_ACTIVE_DISK: n = m_keyval(p, "active-disk="); break;
    case R_HIDDEN_DISK: n = m_keyval(p, "hidden-disk="); break;
    case R_TRUSTED:
    case R_UNTRUSTED:
        /* Xen 4.17's documented trusted/untrusted flags are missing from
         * the scanner it ships (libxlu_disk_l.c was not regenerated), so
         * xl takes them as positionals; we do the same. */
        return 0;
    case R_TARGET:
        n = lit(p, "target=");
        if (n)
            n += line_rest(p + n);
        break;
    case R_UNKNOWN_PARAM:      /* [a-z][-a-z0-9]*=[^,],? */
        if (!is_lc(p[0]))
            return 0;
        n = 1;
        while (is_lc(p[n]) || is_dg(p[n]) || p[n] == '-')
            n++;
        if (p[n] != '=' || !p[n + 1] || p[n + 1] == ',')
            return 0;
        n += 2;
        n += opt_comma(p + n);
        break;
    case R_PREFIX_FORMAT:
    case R_PREFIX_SCRIPT:
    case R_PREFIX_IGNORED: {
        static const char *const fmt[] = { "raw:", "qcow:", "qcow2:", "vhd:",
                                           NULL };
        static const char *const scr[] = { "iscsi:", "nbd:", "enbd:",
                                           "drbd:", NULL };
        static const char *const ign[] = { "tapdisk:", "tap:", "tap2:",
                                           "aio:", "ioemu:", "file:", "phy:",
                                           NULL };
        const char *const *ws = r == R_PREFIX_FORMAT ? fmt :
                                r == R_PREFIX_SCRIPT ? scr : ign;

        for (; *ws; ws++) {
            size_t l = lit(p, *ws);

            if (l) {
                *take = l;
                return l + line_rest(p + l);
            }
        }
        return 0;
    }
    case R_PREFIX_UNKNOWN:     /* [a-z][a-z0-9]*:/([^a-z0-9].*)? */
        if (!is_lc(p[0]))
            return 0;
        n = 1;
        while (is_lc(p[n]) || is_dg(p[n]))
            n++;
        if (p[n] != ':')
            return 0;
        n++;
        *take = n;
        if (p[n] && !is_lc(p[n]) && !is_dg(p[n]))
            return n + 1 + line_rest(p + n + 1);
        return n;
    case R_POSITIONAL:         /* [^=,]*,|[^=,]+,? */
        while (p[n] && p[n] != '=' && p[n] != ',')
            n++;
        n += opt_comma(p + n);
        break;
    case R_BAD:
        n = (p[0] && p[0] != '\n') ? 1 : 0;
        break;
    case R_NRULES:
        break;
    }
    *take = n;
    return n;
}

/* Drop one trailing delimiter. */
static void strip(char *s, char delim)
{
    size_t l = strlen(s);

    if (l && s[l - 1] == delim)
        s[l - 1] = 0;
}

/* Act on one token; false to stop scanning this spec. */
static bool act(struct dpc *c, enum rule r, char *t, const char *rest)
{
    struct xdisk *d = c->d;
    char *eq = strchr(t, '=');
    const char *val = eq ? eq + 1 : NULL;

    switch (r) {
    case R_WS:
        break;
    case R_FORMAT: strip(t, ','); setformat(c, val); break;
    case R_CDROM: case R_DEVTYPE_CDROM: d->is_cdrom = 1; break;
    case R_DEVTYPE_DISK: d->is_cdrom = 0; break;
    case R_DEVTYPE_OTHER: disk_err(c, t, "unknown value for type"); break;
    case R_ACCESS: strip(t, ','); setaccess(c, val); break;
    case R_BACKEND:
        strip(t, ',');
        savestring(c, "backend respecified", &d->backend_domname, val);
        break;
    case R_BACKENDTYPE: strip(t, ','); setbackendtype(c, val); break;
    case R_SPECIFICATION: strip(t, ','); setspecification(c, val); break;
    case R_VDEV:
        strip(t, ',');
        savestring(c, "vdev respecified", &d->vdev, val);
        break;
    case R_SCRIPT:
        strip(t, ',');
        savestring(c, "script respecified", &d->script, val);
        break;
    case R_DIRECT_IO_SAFE: d->direct_io_safe = 1; break;
    case R_DISCARD: d->discard_enable = 1; break;
    case R_NO_DISCARD: d->discard_enable = 0; break;
    case R_COLO: d->colo_enable = 1; break;
    case R_NO_COLO: d->colo_enable = 0; break;
    case R_COLO_HOST:
        strip(t, ',');
        savestring(c, "colo-host respecified", &d->colo_host, val);
        break;
    case R_COLO_PORT: {
        int port;

        strip(t, ',');
        port = atoi(val);
        if (port)
            d->colo_port = port;
        else
            disk_err(c, val, "unknown value for colo_port");
        break;
    }
    case R_COLO_EXPORT:
        strip(t, ',');
        savestring(c, "colo-export respecified", &d->colo_export, val);
        break;
    case R_ACTIVE_DISK:
        strip(t, ',');
        savestring(c, "active-disk respecified", &d->active_disk, val);
        break;
    case R_HIDDEN_DISK:
        strip(t, ',');
        savestring(c, "hidden-disk respecified", &d->hidden_disk, val);
        break;
    case R_TRUSTED: d->trusted = 1; break;
    case R_UNTRUSTED: d->trusted = 0; break;
    case R_TARGET:
        strip(t, ',');
        savestring(c, "target respecified", &d->pdev_path, val);
        break;
    case R_UNKNOWN_PARAM: disk_err(c, t, "unknown parameter"); break;
    case R_PREFIX_FORMAT:
        strip(t, ':');
        c->had_depr_prefix = 1;
        setformat(c, t);
        break;
    case R_PREFIX_SCRIPT: {
        size_t l;
        char *script;

        strip(t, ':');
        c->had_depr_prefix = 1;
        l = strlen(t) + 7;
        script = malloc(l);
        if (!script) {
            disk_err(c, t, "unable to format script");
            return false;
        }
        snprintf(script, l, "block-%s", t);
        savestring(c, "script respecified", &d->script, script);
        free(script);
        break;
    }
    case R_PREFIX_IGNORED:
        c->had_depr_prefix = 1;
        break;
    case R_PREFIX_UNKNOWN:
        disk_err(c, t, "unknown deprecated disk prefix");
        return false;
    case R_POSITIONAL:
        strip(t, ',');
        if (c->err) {
            /* earlier errors would only cause confusing later ones */
        } else if (!d->pdev_path) {
            savestring(c, "target respecified", &d->pdev_path, t);
        } else if (!c->had_depr_prefix &&
                   d->format == XDISK_FORMAT_UNKNOWN) {
            if (!*d->pdev_path && vdev_and_devtype(c, t))
                d->format = XDISK_FORMAT_EMPTY;
            else
                setformat(c, t);
        } else if (!d->vdev) {
            if (!vdev_and_devtype(c, t))
                savestring(c, "vdev respecified", &d->vdev, t);
        } else if (!c->access_set) {
            c->access_set = 1;
            setaccess(c, t);
        } else {
            disk_err(c, t, "too many positional parameters");
            return false;
        }
        break;
    case R_BAD: {
        /* the bad character and the rest of its line; nothing is said
         * when it is the very last character (as xl) */
        if (!*rest)
            return false;
        size_t l = strlen(t) + line_rest(rest);
        char *all = malloc(l + 1);

        if (all) {
            snprintf(all, l + 1, "%s%.*s", t, (int)line_rest(rest), rest);
            disk_err(c, all, "bad disk syntax");
            free(all);
        } else {
            disk_err(c, t, "bad disk syntax");
        }
        return false;
    }
    case R_NRULES:
        break;
    }
    return true;
}

static int scan(struct dpc *c, const char *spec)
{
    const char *p = spec;

    c->spec = spec;
    while (*p) {
        enum rule best = R_NRULES;
        size_t best_len = 0, best_take = 0, take;
        char *tok;
        bool go;

        for (int r = 0; r < R_NRULES; r++) {
            size_t l = match((enum rule)r, p, &take);

            if (l > best_len) {
                best = (enum rule)r;
                best_len = l;
                best_take = take;
            }
        }
        if (best == R_NRULES) {   /* a lone newline after the end */
            p++;
            continue;
        }
        tok = strndup(p, best_take);
        if (!tok)
            return ENOMEM;
        p += best_take;
        go = act(c, best, tok, p);
        free(tok);
        if (!go)
            break;
    }
    return 0;
}

int xdisk_parse(FILE *report, const char *source, int nspecs,
                const char *const *specs, struct xdisk *d)
{
    struct dpc c = { .report = report, .source = source, .d = d };

    d->readwrite = 1;
    for (int i = 0; i < nspecs; i++) {
        int e = scan(&c, specs[i]);

        if (e)
            return e;
        if (c.err)
            return c.err;
    }
    if (d->format == XDISK_FORMAT_UNKNOWN)
        d->format = XDISK_FORMAT_RAW;
    if (d->is_cdrom) {
        d->removable = 1;
        d->readwrite = 0;
        if (!d->pdev_path || !*d->pdev_path)
            d->format = XDISK_FORMAT_EMPTY;
    }
    if (!d->vdev) {
        disk_err(&c, NULL, "no vdev specified");
        return c.err;
    }
    if (!d->pdev_path && !d->removable) {
        disk_err(&c, NULL, "no target specified (and device not removable)");
        return c.err;
    }
    return c.err;
}

/* PREFIX + letters (bijective base 26) + optional partition without
 * leading zero. */
static bool virtdisk_matches(const char *v, const char *prefix, int max_index,
                             int max_part, int *index, int *part)
{
    size_t tl = strlen(prefix);
    const char *p = v + tl;
    char *ep;
    long pl;

    if (strncmp(v, prefix, tl))
        return false;
    *index = -1;
    while (*p >= 'a' && *p <= 'z') {
        *index = (*index + 1) * 26 + (*p - 'a');
        p++;
        if (*index > max_index)
            return false;
    }
    if (*index < 0)
        return false;
    if (!*p) {
        *part = 0;
        return true;
    }
    if (*p == '0' || !is_dg(*p))
        return false;
    errno = 0;
    pl = strtol(p, &ep, 10);
    if (errno || *ep || pl > max_part)
        return false;
    *part = (int)pl;
    return true;
}

int xdisk_vdev_number(const char *v)
{
    int disk, part, used = -1;
    char *ep;
    unsigned long ul;

    if (!v || !*v)
        return -1;
    if ((sscanf(v, "d%ip%i%n", &disk, &part, &used) >= 2 &&
         used == (int)strlen(v) && disk >= 0 && disk < (1 << 20) &&
         part >= 0 && part < 256) ||
        virtdisk_matches(v, "xvd", (1 << 20) - 1, 255, &disk, &part)) {
        if (disk <= 15 && part <= 15)
            return (202 << 8) | (disk << 4) | part;
        return (1 << 28) | (disk << 8) | part;
    }
    errno = 0;
    ul = strtoul(v, &ep, 0);
    if (!errno && !*ep && ul <= 0x7fffffff && is_dg(v[0]))
        return (int)ul;
    if (virtdisk_matches(v, "hd", 3, 63, &disk, &part))
        return ((disk < 2 ? 3 : 22) << 8) | ((disk & 1) << 6) | part;
    if (virtdisk_matches(v, "sd", 15, 15, &disk, &part))
        return (8 << 8) | (disk << 4) | part;
    return -1;
}

const char *xdisk_format_name(enum xdisk_format f)
{
    static const char *const n[] = { "unknown", "qcow", "qcow2", "vhd", "raw",
                                     "empty", "qed" };

    return (unsigned)f < sizeof(n) / sizeof(n[0]) ? n[f] : "unknown";
}

const char *xdisk_backend_name(enum xdisk_backend b)
{
    static const char *const n[] = { "unknown", "phy", "tap", "qdisk",
                                     "standalone" };

    return (unsigned)b < sizeof(n) / sizeof(n[0]) ? n[b] : "unknown";
}
