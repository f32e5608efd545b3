/*
 * The VMM's own xenstore connection as domain 0 (the backends' side of
 * xenbus), on the I/O loop and never blocking it: requests are queued and
 * answered through callbacks, watch events dispatched by token.
 *
 * Written for the VMM rather than reusing libxenon/xs_client.c, which is
 * synchronous (it waits for each reply) and drops watch events: neither
 * fits a loop that also runs the console and the guest's rings.
 *
 * The contract:
 * - A request's callback runs once, on the I/O thread, with the reply's
 *   type (XS_ERROR: body is the error name, e.g. "ENOENT") and body
 *   (NUL-terminated for convenience; len excludes that NUL). A NULL
 *   callback ignores the reply (errors are logged at debug level).
 * - Every request and watch names an owner (any pointer); xs_conn_forget()
 *   drops the callbacks of that owner's outstanding requests and its
 *   watches (unwatching them), so an owner can be freed at once.
 * - Replies come in request order (xenstored answers in order); the
 *   daemon's reply is checked against the request it answers (req_id,
 *   a sane length); a broken stream closes the connection and every
 *   pending callback then gets XS_ERROR "EIO".
 * - Nothing here allocates without bound: at most XS_CONN_MAX_QUEUED
 *   bytes of unsent requests (further requests fail with -ENOBUFS).
 */
#ifndef XENON_XS_CONN_H
#define XENON_XS_CONN_H

#include <stddef.h>
#include <stdint.h>

#define XS_CONN_MAX_QUEUED (1u << 20)

struct xs_conn;

typedef void xs_reply_fn(void *opaque, uint32_t type, const char *body,
                         uint32_t len);
/* A watch fired on `path` (the node that changed). */
typedef void xs_watch_fn(void *opaque, const char *path);

/* Connect to xenstored's socket (a domain-0 connection) and put the
 * connection on the I/O loop. NULL with errno set. */
struct xs_conn *xs_conn_open(const char *socket_path);
void xs_conn_close(struct xs_conn *c);

/* Queue a request whose payload is `n` NUL-terminated strings, the last
 * sent without its NUL when raw_last is set (XS_WRITE's value). 0 or
 * -errno (-ENOBUFS, -EPIPE once the connection is gone, -E2BIG). */
int xs_conn_request(struct xs_conn *c, uint32_t type, const char *const *args,
                    unsigned n, int raw_last, const void *owner,
                    xs_reply_fn *fn, void *opaque);

/* Shorthands. */
int xs_conn_read(struct xs_conn *c, const char *path, const void *owner,
                 xs_reply_fn *fn, void *opaque);
int xs_conn_write(struct xs_conn *c, const char *path, const char *value,
                  const void *owner, xs_reply_fn *fn, void *opaque);
int xs_conn_printf(struct xs_conn *c, const char *path, const void *owner,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int xs_conn_rm(struct xs_conn *c, const char *path, const void *owner);

/* Watch path: fn runs for each event (the first one at once, as xenstored
 * fires a new watch). 0 or -errno. */
int xs_conn_watch(struct xs_conn *c, const char *path, const void *owner,
                  xs_watch_fn *fn, void *opaque);

/* Forget owner's callbacks and watches (see above). */
void xs_conn_forget(struct xs_conn *c, const void *owner);

#endif
