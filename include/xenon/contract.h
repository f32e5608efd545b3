/*
 * The contract between xenon-vmm (layer 1) and the toolstack (libxenon,
 * layer 3): everything both sides must agree on, typed once, here.
 *
 * Self-contained (only <stdint.h>), so either side, a test or a fuzz
 * target includes it alone. XENON_CONTRACT_VERSION changes whenever a
 * value here changes meaning; a VMM and a toolstack of different
 * versions refuse to talk (the control channel carries the version).
 */
#ifndef XENON_CONTRACT_H
#define XENON_CONTRACT_H

#include <stdint.h>

#define XENON_CONTRACT_VERSION 2   /* 2: live save, rounds in the save result */

/* --- guest-physical layout ---------------------------------------------
 * Special pages (the PV console and xenstore rings) sit just below
 * XENON_SPECIAL_END, outside RAM, as Xen places an HVM/PVH domain's
 * special pages below its MMIO hole's end. The toolstack publishes their
 * frames in xenstore (console/ring-ref, store/ring-ref, INTRODUCE). */
#define XENON_PAGE_SIZE          4096ull
#define XENON_SPECIAL_END        0xff000000ull
#define XENON_NR_SPECIAL         4
#define XENON_SPECIAL_START      (XENON_SPECIAL_END - XENON_NR_SPECIAL * XENON_PAGE_SIZE)
#define XENON_SPECIAL_CONSOLE    0   /* index among the special pages */
#define XENON_SPECIAL_XENSTORE   1
#define XENON_SPECIAL_GFN(idx)   ((XENON_SPECIAL_START / XENON_PAGE_SIZE) + (idx))
#define XENON_CONSOLE_GFN        XENON_SPECIAL_GFN(XENON_SPECIAL_CONSOLE)
#define XENON_XENSTORE_GFN       XENON_SPECIAL_GFN(XENON_SPECIAL_XENSTORE)

/* --- event channels the VMM binds before the guest runs ----------------
 * Assigned explicitly, not by the order of initialisation: the toolstack
 * writes these numbers into xenstore (store/port, console/port) and
 * HVM_PARAM_{STORE,CONSOLE}_EVTCHN carries them to the guest. */
#define XENON_PORT_XENSTORE      1
#define XENON_PORT_CONSOLE       2

/* --- exit status of a xenon-vmm process --------------------------------- */
#define XENON_EXIT_ERROR          1   /* the domain could not be built */
#define XENON_EXIT_DESTROYED      2   /* ended by the toolstack (SIGTERM, destroy) */
#define XENON_EXIT_SHUTDOWN_BASE  100 /* + Xen's SHUTDOWN_* reason, 0..SHUTDOWN_MAX */
/* Shut down with a reason Xen does not define (above SHUTDOWN_MAX): Xen
 * accepts it and xl destroys such a domain; the number is in the VMM log. */
#define XENON_EXIT_SHUTDOWN_UNDEFINED 99

/* --- log caps (xenon-vmm --log-max-size, --log-files) --------------------
 * Each console and serial log of a domain holds at most SIZE bytes per file
 * in FILES files (the current one and FILE.1 .. FILE.(FILES-1)). */
#define XENON_LOG_MAX_SIZE_DEFAULT (1024 * 1024)
#define XENON_LOG_FILES_DEFAULT    4

/* --- a standby VMM (xenon-vmm --standby FD) -----------------------------
 * The host monitor keeps one VMM exec'd ahead of any domain, so that the
 * exec is off a launch's path. It waits on FD, a SOCK_SEQPACKET socket,
 * for one message: struct xenon_standby_hdr, then `nargs` NUL-terminated
 * strings (the options a VMM started for the domain would get, argv[0]
 * not among them), the whole at most XENON_STANDBY_MAX_MSG bytes; with
 * SCM_RIGHTS `nfds` descriptors: with XENON_STANDBY_LOG the first becomes
 * its stdout and stderr, each other one is a --control-fd. It then runs
 * as if started with its own options (those around --standby FD, which a
 * XENON_VMM wrapper may have added) followed by those. An argument of
 * spaces alone right after FD is room: the VMM writes the domain's command
 * line over its own (/proc/PID/cmdline, what ps shows), as much of it as
 * fits; XENON_STANDBY_ROOM is what the monitor leaves. End of file on FD
 * before the message, or a message that is not one of these, ends it with
 * status 0 and nothing done. */
#define XENON_STANDBY_MAGIC      0x59425453u   /* "STBY" in memory */
#define XENON_STANDBY_MAX_MSG    65536u
#define XENON_STANDBY_MAX_FDS    3u
#define XENON_STANDBY_ROOM       4096u
#define XENON_STANDBY_LOG        1u
struct xenon_standby_hdr {
    uint32_t magic;
    uint32_t nargs;
    uint32_t nfds;
    uint32_t flags;
};

/* === control channel ====================================================
 * One unix stream socket per domain (RUN_DIR/control/DOMID.sock, mode
 * 0600), served by the VMM's I/O thread; connections handed over at start
 * (--control-fd) speak the same protocol. Both ends are on one host, so
 * integers are in host byte order. Every message is a header and `len`
 * payload bytes:
 *
 *   request  (toolstack -> VMM)  type = XENON_CTL_<REQUEST>
 *   reply    (VMM -> toolstack)  type = XENON_CTL_<REQUEST> | XENON_CTL_REPLY,
 *                                same id; payload: struct xenon_ctl_status,
 *                                then the request's reply body (only when
 *                                status is 0)
 *   notice   (VMM -> toolstack)  type = XENON_CTL_NOTICE_*, id 0, unasked
 *
 * A request whose header is wrong (magic, version, len above
 * XENON_CTL_MAX_PAYLOAD) gets an error reply and the connection is closed:
 * the stream cannot be trusted after it. A well-framed request with an
 * unknown type, a wrong payload size, a nonzero reserved field or a bad
 * value gets an error reply (-ENOSYS, -EINVAL, -EOPNOTSUPP...) and the
 * connection stays. Status values are negated Linux errno values.
 *
 * The VMM answers requests in order, one at a time (several clients may
 * be connected; their requests are serialised by the I/O thread). Nothing
 * depends on a client staying connected: a client may vanish at any
 * moment and a new one connect. */
#define XENON_CTL_MAGIC          0x4c54434eu   /* "NCTL" in memory */
#define XENON_CTL_MAX_PAYLOAD    4096u
#define XENON_CTL_MAX_VCPUS      64u           /* vCPUs an INFO reply lists */

struct xenon_ctl_hdr {
    uint32_t magic;          /* XENON_CTL_MAGIC */
    uint16_t version;        /* XENON_CONTRACT_VERSION */
    uint16_t type;           /* XENON_CTL_* */
    uint32_t id;             /* chosen by the client, echoed in the reply */
    uint32_t len;            /* payload bytes that follow */
};

#define XENON_CTL_REPLY          0x8000u

/* Requests. Payload sizes are exact; reserved fields must be 0. */
#define XENON_CTL_HELLO          1   /* struct xenon_ctl_hello -> xenon_ctl_hello_reply */
#define XENON_CTL_PAUSE          2   /* none; replies once no vCPU runs guest code */
#define XENON_CTL_UNPAUSE        3   /* none */
#define XENON_CTL_SHUTDOWN       4   /* struct xenon_ctl_shutdown; the VMM ends
                                      * with exit status 100 + reason */
#define XENON_CTL_INFO           5   /* none -> struct xenon_ctl_info + vCPUs */
#define XENON_CTL_GO             6   /* none; the create handshake: run a domain
                                      * held by --hold (stays paused if --paused) */
#define XENON_CTL_STATE_CHECK    7   /* none -> struct xenon_ctl_state_check: on
                                      * a paused domain, save its state, load it
                                      * back and save again; -EIO if a module's
                                      * record reads back different, -EBUSY
                                      * unless paused (a self-test of saved
                                      * state on real vCPUs) */
/* Save and restore (docs/savefile.md), each with one descriptor passed
 * in the request's sendmsg() (SCM_RIGHTS, as DEVICE_ATTACH): */
#define XENON_CTL_SAVE           16  /* struct xenon_ctl_save + fd ->
                                      * struct xenon_ctl_save_result: write
                                      * one part of the domain to fd. The
                                      * domain must be paused (PAUSE) or
                                      * suspended: -EBUSY otherwise */
#define XENON_CTL_RESTORE        17  /* struct xenon_ctl_save + fd: read one
                                      * part from fd; only while held (before
                                      * the first GO): -EBUSY otherwise. A
                                      * part refused leaves the domain unfit
                                      * to run: the toolstack destroys it */
#define XENON_CTL_RESUME         20  /* none: after a SAVE of a suspended
                                      * domain, run it again in place (xl
                                      * save -c): SCHEDOP_shutdown(suspend)
                                      * returns 1, "cancelled" */
/* Reserved for the next issues; today they get -EOPNOTSUPP. */
#define XENON_CTL_MIGRATE_SEND   18  /* live migration, sending side */
#define XENON_CTL_MIGRATE_RECV   19  /* live migration, receiving side */
#define XENON_CTL_RESERVED_FIRST 16  /* 16..63: reserved as above, except */
/* ... these, served: SAVE, RESTORE, RESUME and */
#define XENON_CTL_DEVICE_ATTACH  32  /* struct xenon_ctl_device_attach, plus one
                                      * descriptor (SCM_RIGHTS) unless
                                      * XENON_DEV_F_EMPTY: start a PV backend */
#define XENON_CTL_DEVICE_DETACH  33  /* struct xenon_ctl_device_detach: stop it */
#define XENON_CTL_RESERVED_LAST  63

/* Notices. */
#define XENON_CTL_NOTICE_BUILT   0x4001u   /* the domain is built and its console
                                            * served; sent to the --control-fd
                                            * connections (no payload) */

#define XENON_CTL_NOTICE_SUSPENDED 0x4002u /* the guest called SCHEDOP_shutdown
                                            * (SHUTDOWN_suspend): its vCPUs are
                                            * stopped, the VMM goes on serving
                                            * (to every connection; no payload) */

/* --- SAVE / RESTORE ------------------------------------------------------
 * A save file is xl's header, libxl's stream and, inside it, two parts the
 * VMM writes and reads itself on the descriptor passed:
 *   IMAGE    libxc's image (v3), from its image header up to and including
 *            its END record, right after libxl's LIBXC_CONTEXT.
 *   DEVICES  libxl's EMULATOR_CONTEXT record (emulator id 0, index 0)
 *            whose body is the VMM's own state records (vmm/state/state.h:
 *            event channels, grant table, shared info, timers, vCPUs).
 *            On SAVE the VMM writes the whole record, its libxl header
 *            included; on RESTORE the toolstack has read the record header
 *            and passes its length in `length`: the VMM reads that body
 *            and its padding, no more.
 * The VMM reads and writes exactly its part, so the toolstack goes on at
 * the descriptor's offset. */
#define XENON_SAVE_PART_IMAGE    1u
#define XENON_SAVE_PART_DEVICES  2u
/* XENON_SAVE_F_LIVE (SAVE IMAGE only): live migration's pre-copy. With
 * the domain running, the VMM starts dirty logging and writes the image's
 * start (headers, CPUID and MSR policies, STATIC_DATA_END) and PAGE_DATA
 * rounds (round 0 every page, then the pages dirtied meanwhile) while the
 * vCPUs run, until few pages are dirty or a round limit is hit, as libxc
 * does; it replies then, logging still on. The toolstack stops the domain
 * (suspend or PAUSE) and sends SAVE IMAGE without the flag: the VMM drains
 * its backends, writes the last dirty pages and the rest of the image
 * (TSC_INFO, HVM_CONTEXT, HVM_PARAMS, END) and stops logging. UNPAUSE,
 * RESUME or closing the connection in between abandon the live save. The
 * two replies together describe one libxc image; PFNs repeat across
 * rounds, as libxc v3 allows. */
#define XENON_SAVE_F_LIVE        0x1u
#define XENON_SAVE_ROUNDS_REPORTED 8u   /* rounds described in a result */
#define XENON_SAVE_MAX_DEVICES   (16u << 20)  /* EMULATOR_CONTEXT body */

struct xenon_ctl_save {
    uint32_t part;           /* XENON_SAVE_PART_* */
    uint32_t flags;          /* XENON_SAVE_F_* */
    uint64_t length;         /* RESTORE DEVICES: the record's body length;
                              * otherwise 0 */
};

struct xenon_ctl_save_result {
    uint64_t bytes;          /* written or read */
    uint64_t pages_data;     /* IMAGE: pages carried with their data */
    uint64_t pages_zero;     /* IMAGE: pages carried as zero (no data) */
    uint64_t stopped_ns;     /* SAVE: since the vCPUs stopped; 0 unknown */
    uint32_t suspended;      /* SAVE: 1 if the guest had suspended itself
                              * (cooperative), 0 if it was paused */
    uint32_t rounds;         /* SAVE IMAGE: PAGE_DATA rounds this request
                              * wrote (live: round 0 and the live ones;
                              * the final request: 1) */
    uint64_t round_pages[XENON_SAVE_ROUNDS_REPORTED];  /* pages sent in */
    uint64_t round_us[XENON_SAVE_ROUNDS_REPORTED];     /* and wall time of
                              * each of the first rounds */
};

struct xenon_ctl_status {
    int32_t status;          /* 0 or -errno */
    uint32_t reserved;
};

struct xenon_ctl_hello {
    uint32_t version;        /* XENON_CONTRACT_VERSION of the client */
    uint32_t reserved;
};

struct xenon_ctl_hello_reply {
    uint32_t version;        /* XENON_CONTRACT_VERSION of the VMM */
    uint32_t domid;
    uint32_t nr_vcpus;
    uint32_t pid;            /* the VMM's process id */
};

struct xenon_ctl_state_check {
    uint32_t bytes;          /* size of the saved stream */
    uint32_t reserved;
};

struct xenon_ctl_shutdown {
    uint32_t reason;         /* Xen's SHUTDOWN_* (0..5); others: -EINVAL */
    uint32_t reserved;
};

#define XENON_CTL_STATE_HELD      0   /* built, waiting for GO */
#define XENON_CTL_STATE_RUNNING   1
#define XENON_CTL_STATE_PAUSED    2   /* every vCPU stopped; backends serve */
#define XENON_CTL_STATE_SHUTDOWN  3   /* shutting down (reason known) */

#define XENON_CTL_VCPU_RUNNING    0   /* may run guest code */
#define XENON_CTL_VCPU_BLOCKED    1   /* in SCHEDOP_block / poll */
#define XENON_CTL_VCPU_PAUSED     2   /* stopped by pause (or held) */
#define XENON_CTL_VCPU_DOWN       3   /* VCPUOP_down, or its thread ended */

struct xenon_ctl_info {
    uint32_t state;          /* XENON_CTL_STATE_* */
    int32_t shutdown_reason; /* SHUTDOWN_*, -1 while none */
    uint32_t nr_vcpus;       /* entries that follow (<= XENON_CTL_MAX_VCPUS) */
    uint32_t flags;          /* XENON_CTL_INFO_* */
    uint64_t memory_bytes;   /* guest RAM */
    uint64_t uptime_ns;      /* Xen system time: since the domain was built */
    /* struct xenon_ctl_vcpu vcpu[nr_vcpus]; */
};

/* The guest set HVM_PARAM_CALLBACK_IRQ: its PV drivers are up (libxl's
 * test of whether an HVM domain has PV control). */
#define XENON_CTL_INFO_PV_CALLBACK 1u
/* The guest suspended itself (SCHEDOP_shutdown(SHUTDOWN_suspend)): its
 * vCPUs are stopped, waiting for SAVE and then RESUME or the end. */
#define XENON_CTL_INFO_SUSPENDED   2u

struct xenon_ctl_vcpu {
    uint64_t cpu_time_ns;    /* CPU time of the vCPU's thread */
    uint32_t state;          /* XENON_CTL_VCPU_* */
    int32_t host_cpu;        /* host CPU it last ran on, -1 unknown */
};

/* --- PV devices (DEVICE_ATTACH / DETACH) ---------------------------------
 * The VMM runs the backend of a device as domain 0 would: it serves the
 * xenbus protocol in the backend directory `backend` (written beforehand
 * by the toolstack, as libxl writes it) against the frontend directory
 * /local/domain/<domid>/device/<kind>/<devid>. The toolstack opens what the
 * backend works on (the disk image or block device for a vbd, the tap for
 * a vif) and passes the descriptor in the same sendmsg() as the request's
 * bytes (one SCM_RIGHTS descriptor). A descriptor received goes to the
 * next DEVICE_ATTACH the VMM handles on that connection; a second one
 * arriving before the first was taken, or more than one in a message,
 * closes the connection (the descriptors with it).
 * Replies: 0; -EEXIST (that kind and devid already attached), -EBADF (a
 * descriptor missing, or one sent with an EMPTY device), -EOPNOTSUPP (a
 * kind this VMM has no backend for), -EINVAL (bad fields), -ENOENT
 * (DETACH of nothing). DETACH stops the backend at once (the toolstack
 * first closes the device through xenstore, as libxl does) and closes
 * the descriptor; the VMM never removes xenstore nodes it did not write. */
#define XENON_DEV_VBD            1
#define XENON_DEV_VIF            2
#define XENON_DEV_F_READONLY     0x1u  /* refuse writes (vbd: access=ro) */
#define XENON_DEV_F_CDROM        0x2u  /* vbd: device-type cdrom */
#define XENON_DEV_F_EMPTY        0x4u  /* no medium, no descriptor (cdrom) */
#define XENON_DEV_F_NO_DISCARD   0x8u  /* vbd: discard-enable=0, offer no discard */
#define XENON_DEV_F_NBD          0x10u /* vbd: the descriptor is a socket connected
                                        * to the domain's NBD server (a qcow2, vhd,
                                        * ... image exported by qemu-nbd), not the
                                        * image itself */
#define XENON_DEV_F_ALL          0x1fu
#define XENON_DEV_PATH_MAX       128   /* with its NUL */

struct xenon_ctl_device_attach {
    uint32_t kind;           /* XENON_DEV_VBD, XENON_DEV_VIF */
    uint32_t devid;          /* vbd: libxl's disk number; vif: its index */
    uint32_t flags;          /* XENON_DEV_F_* */
    uint32_t reserved;
    char backend[XENON_DEV_PATH_MAX];  /* NUL-terminated, NUL-padded:
                                        * /local/domain/0/backend/<kind>/<domid>/<devid> */
};

struct xenon_ctl_device_detach {
    uint32_t kind;
    uint32_t devid;
};

_Static_assert(sizeof(struct xenon_ctl_device_attach) == 16 + XENON_DEV_PATH_MAX,
               "device attach layout");
_Static_assert(sizeof(struct xenon_ctl_device_detach) == 8, "device detach layout");

_Static_assert(sizeof(struct xenon_ctl_save) == 16, "save layout");
_Static_assert(sizeof(struct xenon_ctl_save_result) == 40 + 16 * XENON_SAVE_ROUNDS_REPORTED, "save result layout");
_Static_assert(sizeof(struct xenon_ctl_hdr) == 16, "control header layout");
_Static_assert(sizeof(struct xenon_ctl_status) == 8, "control status layout");
_Static_assert(sizeof(struct xenon_ctl_hello) == 8, "hello layout");
_Static_assert(sizeof(struct xenon_ctl_hello_reply) == 16, "hello reply layout");
_Static_assert(sizeof(struct xenon_ctl_shutdown) == 8, "shutdown layout");
_Static_assert(sizeof(struct xenon_ctl_info) == 32, "info layout");
_Static_assert(sizeof(struct xenon_ctl_vcpu) == 16, "vcpu info layout");
_Static_assert(sizeof(struct xenon_ctl_status) + sizeof(struct xenon_ctl_info) +
               XENON_CTL_MAX_VCPUS * sizeof(struct xenon_ctl_vcpu) <= XENON_CTL_MAX_PAYLOAD,
               "the largest reply fits the payload limit");
/* === end of the control channel ========================================= */

#endif
