/* xl save and xl restore (domain.h, docs/savefile.md). The toolstack
 * writes and reads xl's header and libxl's records; the VMM writes and
 * reads its own parts (the libxc image, the EMULATOR_CONTEXT record) on
 * the file's descriptor, passed with SCM_RIGHTS, at the offset the
 * toolstack left it. */
#include "domain_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "savefile.h"
#include "util.h"
#include "stream.h"
#include "vmm_control.h"
#include "xs_client.h"
#include "xenon/xen_stream_format.h"

#define SAVE_TIMEOUT_MS (10u * 60u * 1000u)   /* a part of a large domain */

static int save_part_flags(int ctl, uint16_t type, uint32_t part, uint32_t flags,
                           uint64_t length, int fd, struct xenon_ctl_save_result *r)
{
    struct xenon_ctl_save req = { .part = part, .flags = flags, .length = length };
    size_t got = 0;
    memset(r, 0, sizeof(*r));
    int rc = vmmctl_call_fd(ctl, type, &req, sizeof(req), fd, r, sizeof(*r), &got,
                            SAVE_TIMEOUT_MS);
    if (rc == 0 && got != sizeof(*r))
        rc = -EPROTO;
    return rc;
}

static int save_part(int ctl, uint16_t type, uint32_t part, uint64_t length, int fd,
                     struct xenon_ctl_save_result *r)
{
    return save_part_flags(ctl, type, part, 0, length, fd, r);
}

/* The rounds of r into stats, after those already there. */
static void add_rounds(struct xenon_save_stats *st, const struct xenon_ctl_save_result *r)
{
    for (uint32_t i = 0; i < r->rounds && i < XENON_SAVE_ROUNDS_REPORTED &&
                         st->rounds < XENON_SAVE_STATS_ROUNDS; i++) {
        st->round_pages[st->rounds] = r->round_pages[i];
        st->round_us[st->rounds] = r->round_us[i];
        st->rounds++;
    }
}

#define SUSPEND_TIMEOUT_MS 30000u

/* Whether the guest can be asked to suspend: it announced
 * control/feature-suspend = 1, as Linux and our PV test guests do. The
 * callback parameter (libxl's sign of PV drivers in an HVM guest) is not
 * enough: a guest may take events without watching control/shutdown, and
 * one asked in vain would hold the save for the whole timeout. */
static bool has_pv_suspend(struct xs_client *xs, unsigned domid)
{
    char *f = xs_readf(xs, "/local/domain/%u/control/feature-suspend", domid);
    bool yes = f && strcmp(f, "1") == 0;
    free(f);
    return yes;
}

enum pv_state { PV_UNKNOWN = -1, PV_NONE, PV_CONTROL, PV_SUSPENDED };

/* What the guest offers: PV_SUSPENDED (it suspended itself already),
 * PV_CONTROL, PV_NONE, or PV_UNKNOWN when its VMM or xenstore cannot be
 * asked (err printed). On PV_CONTROL *xs_out, if not NULL, keeps the
 * xenstore connection for the caller to close. */
static enum pv_state pv_state(const struct xenon_paths *p, int ctl, unsigned domid,
                              struct xs_client **xs_out, FILE *err)
{
    struct vmmctl_info info;
    int rc = vmmctl_info(ctl, &info, 5000);
    if (rc < 0) {
        fprintf(err, "domain %u: cannot ask its VMM: %s\n", domid, strerror(-rc));
        return PV_UNKNOWN;
    }
    if (info.flags & XENON_CTL_INFO_SUSPENDED)
        return PV_SUSPENDED;
    struct xs_client *xs = xs_connect(p, err);
    if (!xs)
        return PV_UNKNOWN;
    if (!has_pv_suspend(xs, domid)) {
        xs_close(xs);
        return PV_NONE;
    }
    if (xs_out)
        *xs_out = xs;
    else
        xs_close(xs);
    return PV_CONTROL;
}

/* Whether the guest has PV control or suspended already: 1 yes, 0 no, -1
 * cannot tell (err printed). A live save asks before its rounds, so that
 * a guest without it is paused the moment they end. */
static int probe_pv_suspend(const struct xenon_paths *p, int ctl, unsigned domid, FILE *err)
{
    enum pv_state st = pv_state(p, ctl, domid, NULL, err);
    return st == PV_UNKNOWN ? -1 : st != PV_NONE;
}

/* As libxl_dom_suspend.c asks a guest with PV control: control/shutdown
 * = "suspend", then wait until it has called SCHEDOP_shutdown(suspend).
 * 1 suspended, 0 the guest has no PV control (pause it instead), -1 it
 * did not suspend in time (err printed; the request is withdrawn). */
static int ask_suspend(const struct xenon_paths *p, int ctl, unsigned domid, FILE *err)
{
    struct xs_client *xs = NULL;
    switch (pv_state(p, ctl, domid, &xs, err)) {
    case PV_UNKNOWN:
        return -1;
    case PV_NONE:
        return 0;
    case PV_SUSPENDED:
        return 1;
    case PV_CONTROL:
        break;
    }
    struct vmmctl_info info;
    int rc = xs_printf(xs, "suspend", "/local/domain/%u/control/shutdown", domid);
    /* Asked every millisecond: in a live migration the domain is down
     * from its suspend on, and a coarser poll would add to that. */
    for (unsigned waited = 0; rc == 0 && waited < SUSPEND_TIMEOUT_MS;) {
        if (vmmctl_info(ctl, &info, 5000) == 0 && (info.flags & XENON_CTL_INFO_SUSPENDED)) {
            xs_close(xs);
            return 1;
        }
        unsigned step = waited < 1000 ? 1 : 10;     /* ms; coarser after 1 s */
        usleep(step * 1000);
        waited += step;
    }
    xs_printf(xs, "", "/local/domain/%u/control/shutdown", domid);
    xs_close(xs);
    fprintf(err, "domain %u: the guest did not suspend within %u s\n", domid,
            SUSPEND_TIMEOUT_MS / 1000);
    return -1;
}

/* A SAVE request's reply into *r. */
static int save_reply(int ctl, uint32_t id, struct xenon_ctl_save_result *r, unsigned ms)
{
    size_t got = 0;
    memset(r, 0, sizeof(*r));
    int rc = vmmctl_reply(ctl, XENON_CTL_SAVE, id, r, sizeof(*r), &got, ms);
    return rc == 0 && got != sizeof(*r) ? -EPROTO : rc;
}

/* The end of a live save, inside its downtime: PAUSE (unless the guest
 * suspended itself), SAVE IMAGE and SAVE DEVICES sent at once and their
 * replies read in order, so that the VMM goes from one to the next
 * without waiting for us (two round trips fewer, each a wake-up of a
 * process on a busy host). The VMM refuses a SAVE of a domain that is not
 * stopped, so a failed PAUSE makes the SAVEs fail, not run. The first
 * failure's errno and step; *stopped_by and *image_done are dated at the
 * PAUSE and IMAGE replies. */
static int stop_and_save(int ctl, int fd, bool pause, struct xenon_ctl_save_result *img,
                         struct xenon_ctl_save_result *dev, uint64_t *stopped_by,
                         uint64_t *image_done, const char **step)
{
    struct xenon_ctl_save ri = { .part = XENON_SAVE_PART_IMAGE };
    struct xenon_ctl_save rd = { .part = XENON_SAVE_PART_DEVICES };
    uint32_t id_pause = 0, id_img = 0, id_dev = 0;
    *step = "pause";
    int rc = pause ? vmmctl_send(ctl, XENON_CTL_PAUSE, NULL, 0, -1, &id_pause) : 0;
    bool sent_pause = pause && rc == 0;
    if (rc == 0) {
        *step = "save the image";
        rc = vmmctl_send(ctl, XENON_CTL_SAVE, &ri, sizeof(ri), fd, &id_img);
    }
    bool sent_img = rc == 0;
    if (rc == 0) {
        *step = "save the VMM's state";
        rc = vmmctl_send(ctl, XENON_CTL_SAVE, &rd, sizeof(rd), fd, &id_dev);
    }
    bool sent_dev = rc == 0;
    /* Every reply to what was sent is read, so the connection stays in
     * step for the UNPAUSE of the failure path; after a failure the rest
     * come at once (refused) or not at all (a VMM gone): a short wait. */
    if (sent_pause) {
        int r = vmmctl_reply(ctl, XENON_CTL_PAUSE, id_pause, NULL, 0, NULL, 10000);
        *stopped_by = now_ns();
        if (r < 0 && rc == 0) {
            rc = r;
            *step = "pause";
        }
    }
    if (sent_img) {
        int r = save_reply(ctl, id_img, img, rc == 0 ? SAVE_TIMEOUT_MS : 10000);
        *image_done = now_ns();
        if (r < 0 && rc == 0) {
            rc = r;
            *step = "save the image";
        }
    }
    if (sent_dev) {
        int r = save_reply(ctl, id_dev, dev, rc == 0 ? SAVE_TIMEOUT_MS : 10000);
        if (r < 0 && rc == 0) {
            rc = r;
            *step = "save the VMM's state";
        }
    }
    return rc;
}

/* The save proper, onto fd (a file, or the pipe of xl migrate). */
static int save_to_fd(const struct xenon_paths *p, unsigned domid, int fd,
                      const char *file, const char *json_override, unsigned flags,
                      struct xenon_save_stats *stats, FILE *err)
{
    char sock[XENON_PATH_MAX + 64];
    char *json = json_override ? strdup(json_override) : xenon_domain_config_json(p, domid);
    if (!json) {
        fprintf(err, "domain %u: no saved config to write into the file\n", domid);
        return -1;
    }
    if (vmmctl_socket_path(p->run_dir, domid, sock, sizeof(sock)) < 0) {
        free(json);
        fprintf(err, "run directory path too long\n");
        return -1;
    }
    int ctl = vmmctl_open(sock, 5000, NULL);
    if (ctl < 0) {
        free(json);
        fprintf(err, "domain %u: cannot reach its VMM: %s\n", domid, strerror(-ctl));
        return -1;
    }
    /* A guest with PV control is asked to suspend itself; one without is
     * saved without its help, as libxl saves an HVM guest without PV
     * drivers: paused, it comes back transparently. */
    /* Live (xl migrate): the header and the pre-copy rounds while the
     * domain runs, and only then the suspend or pause. */
    struct xenon_ctl_save_result img = { 0 }, dev = { 0 }, pre = { 0 };
    struct stream_sink out;
    stream_sink_fd(&out, &fd);
    bool live = flags & XENON_SAVE_LIVE;
    const char *step = "write the header";
    int rc = 0, suspended = 0, pv = 1;
    if (live) {
        pv = probe_pv_suspend(p, ctl, domid, err);
        rc = pv < 0 ? -EIO : 0;
        if (rc == 0)
            rc = savefile_write_start(&out, json);
        if (rc == 0)
            rc = savefile_write_libxc_context(&out);
        if (rc == 0) {
            step = "send the memory live";
            rc = save_part_flags(ctl, XENON_CTL_SAVE, XENON_SAVE_PART_IMAGE,
                                 XENON_SAVE_F_LIVE, 0, fd, &pre);
        }
    }
    if (rc == 0 && pv) {
        step = "suspend";
        suspended = ask_suspend(p, ctl, domid, err);
        rc = suspended < 0 ? -ETIMEDOUT : 0;
    }
    /* The vCPUs had stopped by then (PAUSE answers once they have; a
     * suspend is seen once they have). */
    uint64_t stopped_by = now_ns(), image_done = 0;
    if (rc == 0 && live) {
        rc = stop_and_save(ctl, fd, suspended == 0, &img, &dev, &stopped_by, &image_done,
                           &step);
    } else {
        if (rc == 0 && suspended == 0) {
            step = "pause";
            rc = vmmctl_call(ctl, XENON_CTL_PAUSE, NULL, 0, NULL, 0, NULL, 10000);
            stopped_by = now_ns();
        }
        if (rc == 0) {
            step = "write the header";
            rc = savefile_write_start(&out, json);
            if (rc == 0)
                rc = savefile_write_libxc_context(&out);
        }
        if (rc == 0) {
            step = "save the image";
            rc = save_part(ctl, XENON_CTL_SAVE, XENON_SAVE_PART_IMAGE, 0, fd, &img);
            image_done = now_ns();
        }
        if (rc == 0) {
            step = "save the VMM's state";
            rc = save_part(ctl, XENON_CTL_SAVE, XENON_SAVE_PART_DEVICES, 0, fd, &dev);
        }
    }
    if (rc == 0) {
        step = "write the end";
        rc = savefile_write_end(&out);
    }
    struct stat st;
    if (rc == 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && fsync(fd) < 0)
        rc = -errno;
    free(json);
    if (rc < 0) {
        fprintf(err, "domain %u: cannot %s: %s; the domain runs on\n", domid, step,
                strerror(-rc));
        if (file)
            unlink(file);
        (void)!vmmctl_call(ctl, suspended > 0 ? XENON_CTL_RESUME : XENON_CTL_UNPAUSE, NULL,
                           0, NULL, 0, NULL, 10000);
        close(ctl);
        return -1;
    }
    if (stats) {
        uint64_t total = out.bytes + pre.bytes + img.bytes + dev.bytes;
        *stats = (struct xenon_save_stats){ .bytes = total,
                                            .pages_data = pre.pages_data + img.pages_data,
                                            .pages_zero = pre.pages_zero + img.pages_zero,
                                            .stopped_ns = img.stopped_ns,
                                            .suspended = img.suspended != 0 };
        stats->live = live;
        stats->live_bytes = pre.bytes;
        /* When the vCPUs stopped: the VMM says how long before it had
         * written the image, which dates the stop from the reply's
         * arrival, too late by the reply's transit and by whatever held
         * the VMM between its measure and its reply (on a loaded host
         * tens of ms seen). Both dates are later than the stop: the
         * earlier is the closer, and the downtime is not understated by
         * more than the PAUSE reply's transit. */
        uint64_t by_vmm = img.stopped_ns && image_done > img.stopped_ns
                              ? image_done - img.stopped_ns : 0;
        stats->stop_mono_ns = by_vmm && by_vmm < stopped_by ? by_vmm : stopped_by;
        add_rounds(stats, &pre);
        add_rounds(stats, &img);
    }
    if (flags & XENON_SAVE_CHECKPOINT) {
        /* A suspended guest is resumed in place (its suspend returns 1);
         * -p leaves it stopped. */
        if (!(flags & XENON_SAVE_LEAVE_PAUSED))
            rc = vmmctl_call(ctl, suspended > 0 ? XENON_CTL_RESUME : XENON_CTL_UNPAUSE,
                             NULL, 0, NULL, 0, NULL, 10000);
        close(ctl);
        if (rc < 0) {
            fprintf(err, "domain %u: saved, but cannot unpause it: %s\n", domid,
                    strerror(-rc));
            return -1;
        }
        return 0;
    }
    close(ctl);
    return xenon_domain_destroy(p, domid, err) < 0 ? -1 : 0;
}

int xenon_domain_save(const struct xenon_paths *p, unsigned domid, const char *file,
                      unsigned flags, struct xenon_save_stats *stats, FILE *err)
{
    /* 0600 whatever the umask (it holds all of the guest's memory), but
     * only for a regular file: a device or a FIFO (a checkpoint sent to
     * /dev/null or a pipe) is not ours to chmod. */
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    struct stat fst;
    if (fd < 0 || fstat(fd, &fst) < 0 ||
        (S_ISREG(fst.st_mode) && fchmod(fd, 0600) < 0)) {
        fprintf(err, "cannot open %s: %s\n", file, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int rc = save_to_fd(p, domid, fd, file, NULL, flags, stats, err);
    if (close(fd) < 0 && rc == 0) {
        fprintf(err, "cannot write %s: %s\n", file, strerror(errno));
        unlink(file);
        rc = -1;
    }
    return rc;
}

int xenon_domain_save_fd(const struct xenon_paths *p, unsigned domid, int fd,
                         const char *json, unsigned flags, struct xenon_save_stats *stats,
                         FILE *err)
{
    return save_to_fd(p, domid, fd, NULL, json, flags, stats, err);
}

int xenon_domain_save_resume(const struct xenon_paths *p, unsigned domid, bool suspended,
                             FILE *err)
{
    char sock[XENON_PATH_MAX + 64];
    if (vmmctl_socket_path(p->run_dir, domid, sock, sizeof(sock)) < 0)
        return -1;
    int ctl = vmmctl_open(sock, 5000, NULL);
    if (ctl < 0) {
        fprintf(err, "domain %u: cannot reach its VMM: %s\n", domid, strerror(-ctl));
        return -1;
    }
    int rc = vmmctl_call(ctl, suspended ? XENON_CTL_RESUME : XENON_CTL_UNPAUSE, NULL, 0,
                         NULL, 0, NULL, 10000);
    close(ctl);
    if (rc < 0)
        fprintf(err, "domain %u: cannot resume it: %s\n", domid, strerror(-rc));
    return rc < 0 ? -1 : 0;
}

/* --- restore ------------------------------------------------------------ */

struct restore_ctx {
    const struct xenon_paths *p;
    struct savefile_info *info;
    struct domain_config *override;
    struct domain_config dc;
    bool have_dc;
    bool check;                     /* the first pass: read and check only */
    const char *suffix;             /* appended to its name (--incoming) */
    unsigned flags;
    int go;                         /* the held domain's control connection */
    int fd;
    unsigned domid;
    pid_t monitor;
    FILE *err;
};

static int restore_libxc(void *opaque, struct stream_source *in, char *err, size_t errlen)
{
    struct restore_ctx *c = opaque;
    if (!c->have_dc) {
        if (c->override) {
            c->dc = *c->override;
        } else if (!c->info->config_json) {
            snprintf(err, errlen, "xl header: no domain config (give one)");
            return -EINVAL;
        } else if (savefile_config_from_json(c->info->config_json, &c->dc, c->err) < 0) {
            snprintf(err, errlen, "xl header: the domain config cannot be built");
            return -EINVAL;
        }
        c->have_dc = true;
        if (c->suffix && !c->override) {
            size_t len = strlen(c->dc.name ? c->dc.name : "") + strlen(c->suffix) + 1;
            char *n = malloc(len);
            if (!n)
                return -ENOMEM;
            snprintf(n, len, "%s%s", c->dc.name ? c->dc.name : "", c->suffix);
            free(c->dc.name);
            c->dc.name = n;
        }
    }
    if (c->check) {
        /* RAM below the MMIO hole, the rest above 4 GiB, the special
         * pages below XENON_SPECIAL_END. */
        uint64_t ram = (uint64_t)c->dc.target_memkb * 1024;
        uint64_t end = ram <= 0xf0000000ull ? ram : 0x100000000ull + (ram - 0xf0000000ull);
        if (end < XENON_SPECIAL_END)
            end = XENON_SPECIAL_END;
        struct xcs_limits lim = { end / XC_PAGE_SIZE, (unsigned)c->dc.max_vcpus };
        /* Page contents are the guest's, not ours to judge: passed over
         * (a seek), only the records' framing and the PFNs are read. */
        struct xcs_pages none = { NULL, NULL, NULL, NULL };
        struct xcs_result res;
        int rc = xcs_read_pages(in, &lim, &none, &res, err, errlen);
        if (rc == 0)
            xcs_result_free(&res);
        return rc;
    }
    /* The real pass: create the domain held, and let its VMM read. */
    char *json = domain_config_to_json(&c->dc);
    int rc = xenon_domain_create_held(c->p, &c->dc, json, c->flags, &c->domid, &c->monitor,
                                      &c->go, c->err);
    free(json);
    if (rc < 0) {
        c->go = -1;
        snprintf(err, errlen, "the domain could not be created");
        return -EIO;
    }
    struct xenon_ctl_save_result r;
    rc = save_part(c->go, XENON_CTL_RESTORE, XENON_SAVE_PART_IMAGE, 0, c->fd, &r);
    if (rc < 0) {
        snprintf(err, errlen, "LIBXC_CONTEXT: the VMM refused the image (%s; see its log)",
                 strerror(-rc));
        return rc;
    }
    /* Our reader's offset follows the VMM's reads (a file's shared
     * offset; a channel's bytes are gone once read). */
    in->bytes += r.bytes;
    return lseek(c->fd, 0, SEEK_CUR) < 0 && errno != ESPIPE ? -errno : 0;
}

static int restore_emulator(void *opaque, struct stream_source *in, uint32_t length,
                            char *err, size_t errlen)
{
    struct restore_ctx *c = opaque;
    if (c->check)
        return savefile_check_emulator(in, length, err, errlen);
    struct xenon_ctl_save_result r;
    int rc = save_part(c->go, XENON_CTL_RESTORE, XENON_SAVE_PART_DEVICES, length, c->fd, &r);
    if (rc < 0) {
        snprintf(err, errlen, "EMULATOR_CONTEXT: the VMM refused it (%s; see its log)",
                 strerror(-rc));
        return rc;
    }
    in->bytes += r.bytes;
    return 0;
}

/* One pass over `in`; `trailing` also refuses bytes after libxl's END (a
 * file; a migration's channel goes on with the handshake). */
static int restore_source(struct restore_ctx *c, struct stream_source *src, int trailing,
                          char *msg, size_t n)
{
    struct stream_source in = *src;
    struct savefile_info info;
    c->info = &info;
    int rc = savefile_read_ex(&in, restore_libxc, restore_emulator, c, &info, msg, n);
    if (rc == 0 && !info.have_emulator) {
        snprintf(msg, n, "EMULATOR_CONTEXT: missing (the VMM's state Xenon writes there)");
        rc = -EINVAL;
    }
    char extra;
    if (rc == 0 && trailing >= 0 && read(trailing, &extra, 1) != 0) {
        snprintf(msg, n, "bytes after libxl's END");
        rc = -EINVAL;
    }
    if (rc < 0 && !msg[0])
        snprintf(msg, n, "%s", strerror(-rc));
    if (rc == 0)
        savefile_info_free(&info);
    return rc < 0 ? -1 : 0;
}

static int restore_pass(struct restore_ctx *c, const char *file, char *msg, size_t n)
{
    c->fd = open(file, O_RDONLY | O_CLOEXEC);
    if (c->fd < 0) {
        snprintf(msg, n, "cannot open %s: %s", file, strerror(errno));
        return -1;
    }
    struct stream_source in;
    stream_source_fd(&in, &c->fd);
    int rc = restore_source(c, &in, c->fd, msg, n);
    close(c->fd);
    c->fd = -1;
    return rc;
}

int xenon_domain_restore(const struct xenon_paths *p, const char *file,
                         struct domain_config *dc_override, unsigned flags,
                         unsigned *domid, pid_t *monitor, FILE *err)
{
    struct restore_ctx c = { .p = p, .override = dc_override, .check = true,
                             .flags = flags & ~XENON_CREATE_PAUSED, .go = -1,
                             .fd = -1, .err = err };
    char msg[512] = "";
    /* First the whole file, read and checked: nothing starts for a bad one. */
    if (restore_pass(&c, file, msg, sizeof(msg)) < 0) {
        fprintf(err, "xl restore: %s: %s\n", file, msg);
        if (c.have_dc && !dc_override)
            domain_config_dispose(&c.dc);
        return -1;
    }
    c.check = false;
    msg[0] = '\0';
    int rc = restore_pass(&c, file, msg, sizeof(msg));
    if (rc == 0 && c.go >= 0) {
        /* -p: the domain runs, paused (its vCPUs were stopped by PAUSE
         * before the save), once GO ends the hold. */
        if (flags & XENON_CREATE_PAUSED)
            rc = vmmctl_call(c.go, XENON_CTL_PAUSE, NULL, 0, NULL, 0, NULL, 10000) < 0 ? -1 : 0;
        if (rc == 0)
            rc = vmmctl_send_go(c.go) < 0 ? -1 : 0;
        if (rc == 0)
            xenon_domain_let_go(p, c.domid);
    }
    if (c.go >= 0)
        close(c.go);
    if (!dc_override)
        domain_config_dispose(&c.dc);
    if (rc < 0) {
        fprintf(err, "xl restore: %s: %s\n", file, msg[0] ? msg : "cannot restore");
        if (c.domid)
            xenon_domain_destroy(p, c.domid, err);
        return -1;
    }
    *domid = c.domid;
    if (monitor)
        *monitor = c.monitor;
    return 0;
}

/* --- the receiving end of a migration ----------------------------------- */

int xenon_domain_receive(const struct xenon_paths *p, int in_fd, const char *suffix, struct domain_config *dc_override,
                         struct xenon_received *r, FILE *err)
{
    /* One pass, as the stream comes: the domain is created held when
     * libxc's image begins and its VMM reads the image from the channel
     * itself, so that the pages of a live migration's rounds are in place
     * while the source still runs, and only the last round and the vCPUs'
     * state are left once it stops. The VMM's reader is the strict one
     * (a bad record is refused there, the held domain destroyed: no guest
     * code has run). */
    struct restore_ctx c = { .p = p, .override = dc_override, .check = false,
                             .suffix = suffix, .flags = XENON_CREATE_INCOMING,
                             .go = -1, .fd = in_fd, .err = err };
    char msg[512] = "";
    memset(r, 0, sizeof(*r));
    r->go = -1;
    struct stream_source in;
    stream_source_fd(&in, &c.fd);
    int rc = restore_source(&c, &in, -1, msg, sizeof(msg));
    if (c.have_dc && !dc_override)
        domain_config_dispose(&c.dc);
    if (rc < 0 || c.go < 0) {
        fprintf(err, "migration receiver: the stream: %s\n", msg[0] ? msg : "cannot restore");
        if (c.go >= 0)
            close(c.go);
        if (c.domid)
            xenon_domain_destroy(p, c.domid, err);
        return -1;
    }
    r->domid = c.domid;
    r->monitor = c.monitor;
    r->go = c.go;
    return 0;
}

int xenon_domain_receive_go(const struct xenon_paths *p, struct xenon_received *r,
                            FILE *err)
{
    int rc = vmmctl_send_go(r->go);
    close(r->go);
    r->go = -1;
    if (rc < 0) {
        fprintf(err, "domain %u: cannot start it: %s\n", r->domid, strerror(-rc));
        return -1;
    }
    xenon_domain_let_go(p, r->domid);
    return 0;
}

void xenon_domain_receive_abort(const struct xenon_paths *p, struct xenon_received *r,
                                FILE *err)
{
    if (r->go >= 0)
        close(r->go);
    r->go = -1;
    if (r->domid)
        xenon_domain_destroy(p, r->domid, err);
}
