/*
 * The toolstack's side of a VMM's control channel (the messages are in
 * include/xenon/contract.h; the VMM's side is vmm/control/). Internal to
 * libxenon: domain.c uses it to pause, unpause, ask for a domain's state
 * and run the create handshake.
 *
 * Each call waits at most its timeout (a VMM stopped by a debugger or
 * SIGSTOP does not hang the toolstack) and checks every reply field
 * against the request it answers. Errors are -errno: the VMM's own status,
 * or -ETIMEDOUT, -EPIPE (the VMM closed the connection), -EPROTO (a reply
 * that does not fit the contract), or a socket error.
 */
#ifndef XENON_VMM_CONTROL_H
#define XENON_VMM_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "xenon/contract.h"

/* RUN_DIR/control/DOMID.sock. 0, or -ENAMETOOLONG. */
int vmmctl_socket_path(const char *run_dir, unsigned domid, char *out, size_t n);

/* Connect to the socket and say HELLO (the VMM's contract version must be
 * ours). A connected descriptor (close it when done), or -errno. *pid
 * (may be NULL) gets the VMM's process id from the hello. */
int vmmctl_open(const char *path, unsigned timeout_ms, int *pid);

/* One request and its reply (notices in between are skipped). The VMM's
 * status (0 or -errno) or a transport error; a reply body of at most
 * `cap` bytes goes to `body`, its size to *got (both may be NULL/0). */
int vmmctl_call(int fd, uint16_t type, const void *payload, size_t len,
                void *body, size_t cap, size_t *got, unsigned timeout_ms);

/* The same, passing descriptor pass_fd (>= 0) with the request's bytes
 * (SCM_RIGHTS; DEVICE_ATTACH). The caller keeps its own copy. */
int vmmctl_call_fd(int fd, uint16_t type, const void *payload, size_t len,
                   int pass_fd, void *body, size_t cap, size_t *got,
                   unsigned timeout_ms);

/* A request sent without waiting for its reply, and the reply read
 * later: requests pipelined on one connection are answered in order, so
 * their replies are read in the order sent (vmmctl_reply checks each
 * against its request). send: 0 with the request's id in *id, or -errno;
 * pass_fd as vmmctl_call_fd (-1: none). reply: as vmmctl_call. */
int vmmctl_send(int fd, uint16_t type, const void *payload, size_t len, int pass_fd,
                uint32_t *id);
int vmmctl_reply(int fd, uint16_t type, uint32_t id, void *body, size_t cap, size_t *got,
                 unsigned timeout_ms);

/* Send GO without waiting for the reply (create: the handed-over
 * connection is closed right after). 0 or -errno. */
int vmmctl_send_go(int fd);

/* Wait for the BUILT notice on a handed-over connection: 0, -EPIPE when
 * the VMM ended first (its build failed), -ETIMEDOUT. */
int vmmctl_wait_built(int fd, unsigned timeout_ms);

/* A domain's state as INFO reports it. */
struct vmmctl_info {
    uint32_t state;                 /* XENON_CTL_STATE_* */
    int32_t shutdown_reason;
    uint32_t flags;                 /* XENON_CTL_INFO_* */
    uint64_t memory_bytes, uptime_ns;
    unsigned nr_vcpus;
    struct xenon_ctl_vcpu vcpu[XENON_CTL_MAX_VCPUS];
};
int vmmctl_info(int fd, struct vmmctl_info *out, unsigned timeout_ms);

/* One request to domain `domid`'s VMM under run_dir: connect, the
 * request, close (one round trip). As vmmctl_call. */
int vmmctl_request(const char *run_dir, unsigned domid, uint16_t type,
                   const void *payload, size_t len, void *body, size_t cap,
                   size_t *got, unsigned timeout_ms);
/* INFO of domain `domid`, as vmmctl_request. */
int vmmctl_domain_info(const char *run_dir, unsigned domid, struct vmmctl_info *out,
                       unsigned timeout_ms);

/* INFO of many domains at once (xl list): up to VMMCTL_INFO_WINDOW
 * requests in flight, each VMM answering while the others are asked, so
 * the listing costs about one round trip per window rather than one per
 * domain. For each domids[i], cb(i, rc, info, opaque) once, in the order
 * the answers come: rc 0 with *info, or -errno (that VMM's own error,
 * -ETIMEDOUT when it did not answer within timeout_ms of its request). */
#define VMMCTL_INFO_WINDOW 64
typedef void vmmctl_info_cb(size_t i, int rc, const struct vmmctl_info *info, void *opaque);
void vmmctl_domain_info_many(const char *run_dir, const unsigned *domids, size_t n,
                             vmmctl_info_cb *cb, void *opaque, unsigned timeout_ms);

/* The codec underneath, for unit tests. */
size_t vmmctl_encode_request(uint8_t *out, size_t cap, uint16_t type, uint32_t id,
                             const void *payload, size_t len);
/* Check a whole reply message msg[0..len) to `type`/`id`: 0 with *status
 * and the body (within msg), or -EPROTO. */
int vmmctl_decode_reply(const uint8_t *msg, size_t len, uint16_t type, uint32_t id,
                        int32_t *status, const uint8_t **body, size_t *body_len);
/* An INFO reply body into *out: 0, or -EPROTO (sizes disagree, too many
 * vCPUs, an unknown state). */
int vmmctl_decode_info(const uint8_t *body, size_t len, struct vmmctl_info *out);

#endif
