/*
 * xl's migration handshake, byte for byte as Xen's xl speaks it over the
 * channel `xl migrate` opens to `xl migrate-receive` (an ssh command's
 * stdin and stdout; tools/xl/xl_migrate.c and xl.h in Xen's tree), so
 * that either end may be Xen's own xl:
 *
 *   receiver -> sender  the banner, "xl migration receiver ready, send
 *                       binary domain data.\n" (no NUL)
 *   sender -> receiver  the save file as `xl save` writes it: xl's header
 *                       with the domain config (a 32-bit length, then
 *                       the config, as optional data), libxl's stream
 *                       with libxc's image inside (savefile.h; the
 *                       receiver reads the config from its savefile_info
 *                       at LIBXC_CONTEXT, before the image, and creates
 *                       the domain there)
 *   receiver -> sender  "domain received, ready to unpause" and its NUL
 *   sender -> receiver  "domain is yours, you are cleared to unpause"
 *                       and its NUL (the sender has renamed its copy
 *                       NAME--migratedaway first: the point of no return)
 *   receiver -> sender  "my copy unpause results are as follows" and its
 *                       NUL, then one status byte: 0 the domain runs at
 *                       the receiver, otherwise libxl's error code negated
 *                       (xl sends -rc as a char); then, on a failure, the
 *                       "cleared to unpause" message again once the
 *                       receiver has destroyed its copy: the sender may
 *                       resume its own.
 *
 * Every message is fixed: a reader takes exactly its length and refuses
 * anything else with a message naming what it expected (as xl: "...
 * contained unexpected data instead of banner"), or says the stream ended
 * first. They read and write over the stream_io sources and sinks, so one
 * descriptor carries the handshake and the stream between its steps.
 */
#ifndef XENON_MIGRATE_PROTO_H
#define XENON_MIGRATE_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "stream_io.h"

/* The messages as xl.h spells them; lengths as sent (the banner without
 * its NUL, the others with it). */
extern const char migrate_banner[];
extern const char migrate_ready[];
extern const char migrate_go[];
extern const char migrate_report_msg[];
size_t migrate_msg_len(const char *msg);

/* libxl's ERROR_FAIL negated, as a receiver reports a generic failure. */
#define MIGRATE_STATUS_FAIL 3

/* ---- the receiver (`xl migrate-receive`) ---- */
int migrate_send_banner(struct stream_sink *to_sender);
int migrate_send_ready(struct stream_sink *to_sender);
/* 0 once the sender's go came; -EPROTO (wrong bytes) or -ENODATA (the
 * stream ended first) with err set, or the source's errno. */
int migrate_recv_go(struct stream_source *from_sender, char *err,
                    size_t errlen);
/* The report and its status byte: 0 for success, otherwise a libxl error
 * code (negative, as libxl returns it: -3 is sent as 3) or a positive
 * code already negated; -EINVAL for one that does not fit a byte. */
int migrate_send_report(struct stream_sink *to_sender, int libxl_rc);
/* After a failure report, the sender's permission to resume its copy. */
int migrate_send_resume(struct stream_sink *to_sender);

/* ---- the sender (`xl migrate`) ---- */
int migrate_recv_banner(struct stream_source *from_receiver, char *err,
                        size_t errlen);
int migrate_recv_ready(struct stream_source *from_receiver, char *err,
                       size_t errlen);
int migrate_send_go(struct stream_sink *to_receiver);
/* The report: *status is its byte (0: the receiver runs the domain). */
int migrate_recv_report(struct stream_source *from_receiver, uint8_t *status,
                        char *err, size_t errlen);
int migrate_recv_resume(struct stream_source *from_receiver, char *err,
                        size_t errlen);

#endif
