/* Text dumps of one disk spec parsed by ours and by libxlutil's
 * xlu_disk_parse, for differential tests (see diskdump.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxlutil.h>

#include "disk_spec.h"
#include "diskdump.h"

static const char *s_or(const char *s) { return s ? s : "(null)"; }

char *diskdump_ours(const char *spec)
{
    char *buf = NULL;
    size_t sz = 0;
    FILE *o = open_memstream(&buf, &sz);
    struct xdisk d;
    int rc;

    if (!o)
        return NULL;
    xdisk_init(&d);
    rc = xdisk_parse(o, "disk.cfg", 1, &spec, &d);
    fprintf(o, "rc=%d\n", rc);
    if (!rc)
        fprintf(o, "target=%s vdev=%s backend=%s script=%s format=%d "
                "backendtype=%d spec=%d rw=%d cdrom=%d removable=%d dio=%d "
                "discard=%d colo=%d trusted=%d colo_host=%s colo_port=%d "
                "colo_export=%s active=%s hidden=%s\n",
                s_or(d.pdev_path), s_or(d.vdev), s_or(d.backend_domname),
                s_or(d.script), d.format, d.backend, d.specification,
                d.readwrite, d.is_cdrom, d.removable, d.direct_io_safe,
                d.discard_enable, d.colo_enable, d.trusted, s_or(d.colo_host),
                d.colo_port, s_or(d.colo_export), s_or(d.active_disk),
                s_or(d.hidden_disk));
    xdisk_dispose(&d);
    fclose(o);
    return buf;
}

static int defbool(libxl_defbool b)
{
    return libxl_defbool_is_default(b) ? -1 : libxl_defbool_val(b);
}

char *diskdump_xlu(const char *spec)
{
    char *buf = NULL;
    size_t sz = 0;
    FILE *o = open_memstream(&buf, &sz);
    XLU_Config *cfg;
    libxl_device_disk d;
    int rc;

    if (!o)
        return NULL;
    cfg = xlu_cfg_init(o, "disk.cfg");
    libxl_device_disk_init(&d);
    rc = xlu_disk_parse(cfg, 1, &spec, &d);
    fprintf(o, "rc=%d\n", rc);
    if (!rc)
        fprintf(o, "target=%s vdev=%s backend=%s script=%s format=%d "
                "backendtype=%d spec=%d rw=%d cdrom=%d removable=%d dio=%d "
                "discard=%d colo=%d trusted=%d colo_host=%s colo_port=%d "
                "colo_export=%s active=%s hidden=%s\n",
                s_or(d.pdev_path), s_or(d.vdev), s_or(d.backend_domname),
                s_or(d.script), (int)d.format, (int)d.backend,
                (int)d.specification, d.readwrite, d.is_cdrom, d.removable,
                (int)d.direct_io_safe, defbool(d.discard_enable),
                defbool(d.colo_enable), defbool(d.trusted), s_or(d.colo_host),
                d.colo_port, s_or(d.colo_export), s_or(d.active_disk),
                s_or(d.hidden_disk));
    libxl_device_disk_dispose(&d);
    xlu_cfg_destroy(cfg);
    fclose(o);
    return buf;
}

/* ---- vif rates ---- */

#include "vif_spec.h"

char *ratedump_ours(const char *rate)
{
    char *buf = NULL;
    size_t sz = 0;
    FILE *o = open_memstream(&buf, &sz);
    struct xvif v;
    int rc;

    if (!o)
        return NULL;
    xvif_init(&v);
    rc = xvif_parse_rate(o, "vif.cfg", rate, &v);
    fprintf(o, "rc=%d bytes=%llu usecs=%u\n", rc,
            (unsigned long long)v.rate_bytes_per_interval,
            v.rate_interval_usecs);
    xvif_dispose(&v);
    fclose(o);
    return buf;
}

char *ratedump_xlu(const char *rate)
{
    char *buf = NULL;
    size_t sz = 0;
    FILE *o = open_memstream(&buf, &sz);
    XLU_Config *cfg;
    libxl_device_nic n;
    int rc;

    if (!o)
        return NULL;
    cfg = xlu_cfg_init(o, "vif.cfg");
    libxl_device_nic_init(&n);
    errno = 0;      /* libxlutil reads errno without clearing it */
    rc = xlu_vif_parse_rate(cfg, rate, &n);
    fprintf(o, "rc=%d bytes=%llu usecs=%u\n", rc,
            (unsigned long long)n.rate_bytes_per_interval,
            n.rate_interval_usecs);
    libxl_device_nic_dispose(&n);
    xlu_cfg_destroy(cfg);
    fclose(o);
    return buf;
}
