/*
 * xenon-vmm: runs one domain. Everything about the domain comes from the
 * command line (the toolstack decides names, paths and devices); the
 * process ends when the domain does, with exit status 100 + Xen's
 * SHUTDOWN_* reason (poweroff 100, reboot 101, suspend 102, crash 103,
 * watchdog 104, soft_reset 105), 99 for a reason Xen does not define, 2
 * when destroyed by a signal, 1 when the domain could not be built.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <xen/sched.h>

#include "precopy_check.h"
#include "blkback.h"
#include "netback.h"
#include "boot.h"
#include "console.h"
#include "ctl_server.h"
#include "domain.h"
#include "host_mem.h"
#include "ioloop.h"
#include "hypercall.h"
#include "layout.h"
#include "loader.h"
#include "logfile.h"
#include "pause.h"
#include "serial.h"
#include "shinfo.h"
#include "standby.h"
#include "startup_pages.h"
#include "timer.h"
#include "uart.h"
#include "vcpu.h"
#include "vm.h"
#include "xenbus_be.h"
#include "xs_relay.h"

#include "log.h"
#include "util.h"

#define EXIT_DESTROYED 2
#define MAX_IMAGE (1ull << 30)

struct options {
    const char *kernel, *ramdisk, *cmdline, *name;
    uint8_t uuid[16];
    uint64_t memory_mib;
    unsigned vcpus, domid, max_grant_frames;
    struct console_opts console;
    const char *serial_log;
    bool serial_stdio;
    const char *xenstore_socket;
    const char *log_file;
    bool verbose, user_hypercalls, launch_trace, paused;
    struct control_opts control;
    unsigned test_precopy_ms;       /* --test-precopy MS:FILE */
    const char *test_precopy_file;
};

static void usage(FILE *f)
{
    fprintf(f,
"usage: xenon-vmm --kernel FILE [options]\n"
"  --kernel FILE          PVH ELF kernel or bzImage\n"
"  --ramdisk FILE         initrd (PVH module 0)\n"
"  --cmdline STRING       kernel command line\n"
"  --memory MIB           guest RAM (default 64)\n"
"  --vcpus N              vCPUs (default 1, max %d)\n"
"  --domid N              domain id (default 1)\n"
"  --name NAME            domain name (default domN)\n"
"  --uuid UUID            domain handle (xen_version guest_handle)\n"
"  --paused               start with the vCPUs paused, before any guest code\n"
"                         runs; UNPAUSE on the control channel runs them\n"
"  --max-grant-frames N   grant table frames (default %d)\n"
"  --console-log FILE     append PV console output to FILE\n"
"  --console-socket PATH  serve the PV console on a unix socket\n"
"  --console-stdio        PV console on stdin/stdout\n"
"  --serial-log FILE      append UART / debug port output to FILE\n"
"  --serial-stdio         UART / debug port output on stdout\n"
"  --xenstore-socket PATH relay the xenstore ring to this xenstored\n"
"  --log-file FILE        VMM log (default stderr)\n"
"  --log-max-size BYTES   cap of each console and serial log file; a full\n"
"                         one is rotated to FILE.1, FILE.2, ... (default %d)\n"
"  --log-files N          log files kept per log, the current one included\n"
"                         (default %d; at most N x BYTES per log)\n"
"  --bench-user-hypercalls  allow hypercalls from ring 3 (benchmarks only)\n"
"  --launch-trace         print launch milestones (CLOCK_MONOTONIC ns) on stderr\n"
"  --test-precopy MS:FILE (tests) MS ms after start, pre-copy guest memory\n"
"                         into FILE, pause, check it against memory, run on\n"
"  --control-socket PATH  serve the control channel on a unix socket (0600)\n"
"  --control-fd N         a connected control-channel socket (repeatable, up\n"
"                         to %d); it gets the BUILT notice once the domain is\n"
"                         built and its console served (end of file first:\n"
"                         the build failed)\n"
"  --hold                 once built, run no guest code until GO arrives on\n"
"                         the control channel; every --control-fd closed\n"
"                         before it destroys the domain unrun (status 2)\n"
"  --standby FD           wait on FD (from the host monitor) for the domain's\n"
"                         options and control connections, then run with\n"
"                         these options followed by those (contract.h)\n"
"  -v, --verbose\n"
"With no console or serial option, both go to stdout.\n",
            MAX_VCPUS, GNTTAB_DEFAULT_MAX_FRAMES, XENON_LOG_MAX_SIZE_DEFAULT,
            XENON_LOG_FILES_DEFAULT, CTL_MAX_HANDOVER);
}

static bool parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-' || v > max)
        return false;
    *out = v;
    return true;
}

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" into 16 bytes; 0 or -1. */
static int parse_uuid(const char *s, uint8_t out[16])
{
    static const int dash[] = { 8, 13, 18, 23 };
    if (strlen(s) != 36)
        return -1;
    for (unsigned i = 0, b = 0; i < 36; i++) {
        if (i == (unsigned)dash[0] || i == (unsigned)dash[1] ||
            i == (unsigned)dash[2] || i == (unsigned)dash[3]) {
            if (s[i] != '-')
                return -1;
            continue;
        }
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0)
            return -1;
        out[b / 2] = (uint8_t)(b % 2 ? out[b / 2] | v : v << 4);
        b++;
    }
    return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    enum { O_KERNEL = 256, O_RAMDISK, O_CMDLINE, O_MEMORY, O_VCPUS, O_DOMID,
           O_NAME, O_GNT, O_CLOG, O_CSOCK, O_CSTDIO, O_SLOG, O_SSTDIO, O_XS,
           O_LOG, O_UHC, O_TRACE, O_UUID, O_PAUSED, O_CTL_SOCK, O_CTL_FD, O_HOLD,
           O_LOGSIZE, O_LOGFILES, O_TEST_PRECOPY };
    static const struct option longopts[] = {
        { "kernel", required_argument, NULL, O_KERNEL },
        { "ramdisk", required_argument, NULL, O_RAMDISK },
        { "cmdline", required_argument, NULL, O_CMDLINE },
        { "memory", required_argument, NULL, O_MEMORY },
        { "vcpus", required_argument, NULL, O_VCPUS },
        { "domid", required_argument, NULL, O_DOMID },
        { "name", required_argument, NULL, O_NAME },
        { "uuid", required_argument, NULL, O_UUID },
        { "paused", no_argument, NULL, O_PAUSED },
        { "max-grant-frames", required_argument, NULL, O_GNT },
        { "console-log", required_argument, NULL, O_CLOG },
        { "console-socket", required_argument, NULL, O_CSOCK },
        { "console-stdio", no_argument, NULL, O_CSTDIO },
        { "serial-log", required_argument, NULL, O_SLOG },
        { "serial-stdio", no_argument, NULL, O_SSTDIO },
        { "xenstore-socket", required_argument, NULL, O_XS },
        { "log-file", required_argument, NULL, O_LOG },
        { "log-max-size", required_argument, NULL, O_LOGSIZE },
        { "log-files", required_argument, NULL, O_LOGFILES },
        { "bench-user-hypercalls", no_argument, NULL, O_UHC },
        { "launch-trace", no_argument, NULL, O_TRACE },
        { "test-precopy", required_argument, NULL, O_TEST_PRECOPY },
        { "control-socket", required_argument, NULL, O_CTL_SOCK },
        { "control-fd", required_argument, NULL, O_CTL_FD },
        { "hold", no_argument, NULL, O_HOLD },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    *o = (struct options){ .memory_mib = 64, .vcpus = 1, .domid = 1,
                           .max_grant_frames = GNTTAB_DEFAULT_MAX_FRAMES };
    o->console.log_limits = (struct log_limits){ XENON_LOG_MAX_SIZE_DEFAULT,
                                                 XENON_LOG_FILES_DEFAULT };
    int c;
    uint64_t v;
    while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
        switch (c) {
        case O_KERNEL: o->kernel = optarg; break;
        case O_RAMDISK: o->ramdisk = optarg; break;
        case O_CMDLINE: o->cmdline = optarg; break;
        case O_NAME: o->name = optarg; break;
        case O_UUID:
            if (parse_uuid(optarg, o->uuid) < 0) {
                fprintf(stderr, "xenon-vmm: --uuid: '%s' is not a UUID "
                        "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)\n", optarg);
                return -1;
            }
            break;
        case O_MEMORY:
            if (!parse_uint(optarg, 1ull << 20, &v) || v < 2) {
                fprintf(stderr, "xenon-vmm: --memory: '%s' is not a size in MiB (2..1048576)\n", optarg);
                return -1;
            }
            o->memory_mib = v;
            break;
        case O_VCPUS:
            if (!parse_uint(optarg, MAX_VCPUS, &v) || v < 1) {
                fprintf(stderr, "xenon-vmm: --vcpus: '%s' is not 1..%d\n", optarg, MAX_VCPUS);
                return -1;
            }
            o->vcpus = (unsigned)v;
            break;
        case O_DOMID:
            if (!parse_uint(optarg, DOMID_FIRST_RESERVED - 1, &v) || v < 1) {
                fprintf(stderr, "xenon-vmm: --domid: '%s' is not 1..%d\n", optarg, DOMID_FIRST_RESERVED - 1);
                return -1;
            }
            o->domid = (unsigned)v;
            break;
        case O_GNT:
            if (!parse_uint(optarg, GNTTAB_DEFAULT_MAX_FRAMES, &v) || v < 1) {
                fprintf(stderr, "xenon-vmm: --max-grant-frames: '%s' is not 1..%d\n", optarg, GNTTAB_DEFAULT_MAX_FRAMES);
                return -1;
            }
            o->max_grant_frames = (unsigned)v;
            break;
        case O_CLOG: o->console.log_path = optarg; break;
        case O_CSOCK: o->console.socket_path = optarg; break;
        case O_CSTDIO: o->console.stdio = true; break;
        case O_SLOG: o->serial_log = optarg; break;
        case O_SSTDIO: o->serial_stdio = true; break;
        case O_XS: o->xenstore_socket = optarg; break;
        case O_LOG: o->log_file = optarg; break;
        case O_LOGSIZE:
            if (!parse_uint(optarg, 1ull << 40, &v) || v < LOGFILE_MIN_SIZE) {
                fprintf(stderr, "xenon-vmm: --log-max-size: '%s' is not %d..2^40 bytes\n",
                        optarg, LOGFILE_MIN_SIZE);
                return -1;
            }
            o->console.log_limits.max_size = v;
            break;
        case O_LOGFILES:
            if (!parse_uint(optarg, LOGFILE_MAX_FILES, &v) || v < 1) {
                fprintf(stderr, "xenon-vmm: --log-files: '%s' is not 1..%d\n", optarg,
                        LOGFILE_MAX_FILES);
                return -1;
            }
            o->console.log_limits.files = (unsigned)v;
            break;
        case O_UHC: o->user_hypercalls = true; break;
        case O_TRACE: o->launch_trace = true; break;
        case O_TEST_PRECOPY:
            if (precopy_check_parse(optarg, &o->test_precopy_ms,
                                    &o->test_precopy_file) < 0) {
                fprintf(stderr, "xenon-vmm: --test-precopy wants MS:FILE\n");
                return -1;
            }
            break;
        case O_PAUSED: o->paused = true; break;
        case O_CTL_SOCK: o->control.socket_path = optarg; break;
        case O_HOLD: o->control.hold = true; break;
        case O_CTL_FD: {
            int type = 0;
            socklen_t tl = sizeof(type);
            if (!parse_uint(optarg, INT_MAX, &v) ||
                getsockopt((int)v, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
                type != SOCK_STREAM) {
                fprintf(stderr, "xenon-vmm: --control-fd: '%s' is not a connected "
                        "stream socket\n", optarg);
                return -1;
            }
            if (o->control.nr_handover == CTL_MAX_HANDOVER) {
                fprintf(stderr, "xenon-vmm: --control-fd: at most %d\n", CTL_MAX_HANDOVER);
                return -1;
            }
            /* Not for anything the VMM might start later. */
            fcntl((int)v, F_SETFD, FD_CLOEXEC);
            o->control.handover[o->control.nr_handover++] = (int)v;
            break;
        }
        case 'v': o->verbose = true; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "xenon-vmm: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (o->control.hold && !o->control.nr_handover && !o->control.socket_path) {
        fprintf(stderr, "xenon-vmm: --hold needs --control-fd or --control-socket "
                "(the GO comes from there)\n");
        return -1;
    }
    if (!o->kernel) {
        fprintf(stderr, "xenon-vmm: --kernel is required\n");
        usage(stderr);
        return -1;
    }
    if (!o->console.log_path && !o->console.socket_path && !o->console.stdio &&
        !o->serial_log && !o->serial_stdio) {
        o->console.stdio = true;
        o->serial_stdio = true;
    }
    return 0;
}

/* Images are read only from regular files. O_NONBLOCK: opening a FIFO
 * (or a device) must not wait for a writer; fstat then refuses it. The
 * copy is private: a mapping of the file could change under the loader's
 * checks. It is read into the heap, whose pages the allocations after it
 * reuse (fresh pages cost a fault each on the way to the first guest
 * instruction); what stays free goes back with startup_pages_release(). */
static uint8_t *read_file(const char *path, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        log_err("%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > MAX_IMAGE) {
        log_err("%s: not a regular file of at most 1 GiB", path);
        close(fd);
        return NULL;
    }
    uint8_t *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!buf || read_full(fd, buf, (size_t)st.st_size) < 0) {
        log_err("%s: read failed", path);
        free(buf);
        close(fd);
        return NULL;
    }
    close(fd);
    *size = (size_t)st.st_size;
    return buf;
}

static struct domain dom;
static struct io_watch timer_watch[MAX_VCPUS * 2];
static struct io_watch signal_watch, wake_watch;

static void on_timer(struct io_watch *w, uint32_t events)
{
    struct vcpu *v = w->opaque;
    pthread_mutex_lock(&v->d->lock);
    timer_expired(v, w->fd);
    pthread_mutex_unlock(&v->d->lock);
}

static void on_signal(struct io_watch *w, uint32_t events)
{
    struct signalfd_siginfo si;
    if (read(w->fd, &si, sizeof(si)) != sizeof(si))
        return;
    log_info("dom%u: destroyed by signal %u", dom.domid, si.ssi_signo);
    atomic_store(&dom.stopping, true);
}

/* Start-up's pages go back (startup_pages.h) once the launch is over:
 * released while vCPU 0 makes its first exits, they would be faulted
 * back in on the way to the guest's first output. */
#define STARTUP_RELEASE_DELAY_NS (100 * 1000 * 1000)

static struct io_watch release_watch = { .fd = -1 };

static void on_release(struct io_watch *w, uint32_t events)
{
    ioloop_del(w);
    close(w->fd);
    w->fd = -1;
    startup_pages_release();
}

static void release_startup_later(void)
{
    struct itimerspec its = { .it_value = { 0, STARTUP_RELEASE_DELAY_NS } };
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (fd < 0 || timerfd_settime(fd, 0, &its, NULL) < 0) {
        if (fd >= 0)
            close(fd);
        startup_pages_release();    /* now, then */
        return;
    }
    release_watch = (struct io_watch){ fd, on_release, NULL };
    if (ioloop_add(&release_watch, EPOLLIN) < 0)
        on_release(&release_watch, 0);
}

static void on_wake(struct io_watch *w, uint32_t events)
{
    uint64_t n;
    if (read(w->fd, &n, sizeof(n)) < 0) {
        /* spurious */
    }
    control_check_suspended(w->opaque);
}


/* Build the domain up to the point where its vCPUs can run. */
static int build(struct domain *d, const struct options *o)
{
    char err[256] = "";
    size_t ksize = 0, rsize = 0;
    uint8_t *kernel = read_file(o->kernel, &ksize);
    uint8_t *ramdisk = o->ramdisk ? read_file(o->ramdisk, &rsize) : NULL;
    if (!kernel || (o->ramdisk && !ramdisk))
        goto fail;

    struct host_meminfo mi;
    if (host_meminfo_read(&mi) < 0) {
        log_err("cannot read /proc/meminfo to check the guest's memory");
        goto fail;
    }
    if (host_mem_check(&mi, o->memory_mib << 20, err, sizeof(err)) < 0) {
        log_err("--memory %llu: %s", (unsigned long long)o->memory_mib, err);
        goto fail;
    }
    if (gmem_init(&d->mem, o->memory_mib << 20, LAYOUT_NR_SPECIAL) < 0) {
        log_err("cannot allocate %llu MiB of guest memory",
                (unsigned long long)o->memory_mib);
        goto fail;
    }
    memmap_init(d);
    struct loaded_kernel k;
    if (load_kernel(&d->mem, kernel, ksize, &k, err, sizeof(err)) < 0) {
        log_err("%s: %s", o->kernel, err);
        goto fail;
    }
    struct boot_opts bo = { .cmdline = o->cmdline, .initrd = ramdisk,
                            .initrd_size = rsize, .e820 = d->e820,
                            .nr_e820 = d->nr_e820 };
    struct boot_entry be;
    if (boot_setup(&d->mem, &k, &bo, &be, err, sizeof(err)) < 0) {
        log_err("%s: %s", o->kernel, err);
        goto fail;
    }
    free(kernel);
    free(ramdisk);
    kernel = ramdisk = NULL;

    /* The modules that handle port and MSR exits claim them before the VM
     * exists: the platform takes the claimed MSRs from KVM. */
    if (hypercall_register_exits(d) < 0 || uart_register_exits(d) < 0)
        goto fail;
    if (vm_create(d) < 0 || vm_create_vcpus(d) < 0)
        goto fail;
    if (time_init(d) < 0) {
        log_err("cannot read the TSC frequency");
        goto fail;
    }
    if (vm_set_cpuid_all(d) < 0)
        goto fail;
    for (unsigned i = 0; i < d->nr_vcpus; i++) {
        struct vcpu *v = &d->vcpu[i];
        if (timer_init(v) < 0)
            goto fail;
        timer_watch[2 * i] = (struct io_watch){ v->oneshot_fd, on_timer, v };
        timer_watch[2 * i + 1] = (struct io_watch){ v->periodic_fd, on_timer, v };
        ioloop_add(&timer_watch[2 * i], EPOLLIN);
        ioloop_add(&timer_watch[2 * i + 1], EPOLLIN);
    }
    gnttab_init(d, o->max_grant_frames);
    /* Their ports are fixed by the contract (XENON_PORT_*), not by this
     * order. */
    if (xs_relay_init(d, o->xenstore_socket) < 0 ||
        xenbus_be_init(d, o->xenstore_socket) < 0 ||
        console_init(d, &o->console) < 0 ||
        serial_init(d, o->serial_log, o->serial_stdio, &o->console.log_limits) < 0)
        goto fail;

    int rc = vcpu_set_pvh_entry(&d->vcpu[0], (uint32_t)be.rip, (uint32_t)be.rbx);
    if (rc < 0) {
        log_err("cannot set the boot registers: %s", strerror(-rc));
        goto fail;
    }
    if (k.patched_hypercalls)
        log_info("dom%u: rerouted %u direct vmcall/vmmcall hypercall stub(s)",
                 d->domid, k.patched_hypercalls);
    log_info("dom%u (%s): %s kernel %s, entry %#llx, %llu MiB, %u vCPU(s)",
             d->domid, d->name, "PVH",
             o->kernel, (unsigned long long)k.entry,
             (unsigned long long)o->memory_mib, d->nr_vcpus);
    return 0;
fail:
    free(kernel);
    free(ramdisk);
    return -1;
}

static const char *reason_name(int r)
{
    static const char *const names[] = { "poweroff", "reboot", "suspend",
                                         "crash", "watchdog", "soft_reset" };
    return r >= 0 && r < 6 ? names[r] : "unknown";
}

int main(int argc, char **argv)
{
    struct options o;
    /* One malloc arena for every thread: a vCPU thread that allocates
     * (grant mappings, a memory map) would otherwise get an arena of its
     * own, pages kept for the domain's lifetime. Nothing here allocates
     * often enough to contend for it. */
    mallopt(M_ARENA_MAX, 1);
    /* A standby (the monitor's, started before its domain): what needs no
     * domain is done while it waits for the domain's options. */
    int standby = standby_index(argc, argv);
    if (standby) {
        vm_prefetch_host_cpuid();
        vm_prepare();
        if (standby_wait(standby, &argc, &argv) < 0)
            return 0;
    }
    if (parse_options(argc, argv, &o) < 0)
        return VMM_EXIT_ERROR;
    /* Off the critical path: it runs while the kernel loads. */
    vm_prefetch_host_cpuid();
    FILE *logf = NULL;
    if (o.log_file) {
        /* Created 0640; an existing path (/dev/null) keeps its mode. */
        int fd = logfile_open_append(o.log_file);
        if (fd < 0 || !(logf = fdopen(fd, "ae"))) {
            fprintf(stderr, "xenon-vmm: %s: %s\n", o.log_file,
                    strerror(fd < 0 ? -fd : errno));
            if (fd >= 0)
                close(fd);
            return VMM_EXIT_ERROR;
        }
    }
    log_init("xenon-vmm", logf, o.verbose ? LOG_DEBUG : LOG_INFO);

    /* Signals are read from a signalfd; vCPU threads inherit the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct domain *d = &dom;
    domain_init(d, o.domid, o.vcpus);
    d->user_hypercalls = o.user_hypercalls;
    memcpy(d->uuid, o.uuid, sizeof(d->uuid));
    d->launch_trace = o.launch_trace;
    if (standby && d->launch_trace)
        fprintf(stderr, "launch: standby-received %llu\n",
                (unsigned long long)standby_received_ns);
    domain_trace_launch(d, "main");     /* after exec and the dynamic loader */
    snprintf(d->name, sizeof(d->name), "%s", o.name ? o.name : "");
    if (!o.name)
        snprintf(d->name, sizeof(d->name), "dom%u", o.domid);

    if (ioloop_init() < 0)
        return VMM_EXIT_ERROR;
    d->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    wake_watch = (struct io_watch){ d->wake_fd, on_wake, d };
    signal_watch = (struct io_watch){ signalfd(-1, &sigs, SFD_CLOEXEC), on_signal, d };
    if (d->wake_fd < 0 || signal_watch.fd < 0 ||
        ioloop_add(&wake_watch, EPOLLIN) < 0 || ioloop_add(&signal_watch, EPOLLIN) < 0)
        return VMM_EXIT_ERROR;

    blkback_register();
    netback_register();
    pause_init(d, o.control.hold, o.paused);
    /* Without a control channel nobody can save a suspended domain: it
     * ends with the suspend reason, as before. */
    d->suspend_ends = !o.control.nr_handover && !o.control.socket_path;
    if (control_init(d, &o.control) < 0)
        return VMM_EXIT_ERROR;
    if (build(d, &o) < 0)
        return VMM_EXIT_ERROR;
    domain_trace_launch(d, "built");
    /* Held (--hold) or paused (--paused), the vCPUs park before any guest
     * code; the I/O loop serves the control channel meanwhile. */
    control_notify_built(d);
    if (vcpus_start(d) < 0)
        return VMM_EXIT_ERROR;
    if (o.test_precopy_file &&
        precopy_check_start(d, o.test_precopy_ms, o.test_precopy_file) < 0)
        return VMM_EXIT_ERROR;
    release_startup_later();
    ioloop_run(&d->stopping);
    vcpus_stop(d);
    xenbus_be_fini(d);
    control_fini(d);
    console_fini(d);
    serial_fini(d);
    xs_relay_fini(d);

    int reason = atomic_load(&d->shutdown_reason);
    if (reason < 0 && o.verbose)    /* where was a destroyed (perhaps hung) guest? */
        for (unsigned i = 0; i < d->nr_vcpus; i++)
            vcpu_dump_registers(&d->vcpu[i], "destroyed");
    /* The VM goes before the process does, and with it KVM's per-VM
     * kernel worker, which runs as a task of this process: LeakSanitizer's
     * exit check (sanitizer builds) cannot stop that task, and waited for
     * it forever. */
    vm_destroy(d);
    if (reason < 0)
        return EXIT_DESTROYED;
    if (reason > SHUTDOWN_MAX) {
        /* No guest value may pass for another status (100 + 156 is 0). */
        log_info("dom%u (%s): shutdown with reason %d, which Xen does not define",
                 d->domid, d->name, reason);
        return XENON_EXIT_SHUTDOWN_UNDEFINED;
    }
    log_info("dom%u (%s): shutdown: %s", d->domid, d->name, reason_name(reason));
    return VMM_EXIT_SHUTDOWN_BASE + reason;
}
