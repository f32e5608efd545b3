/* A small synchronous xenstore client for the toolstack: one unix-socket
 * connection to xenon-xenstored (as dom0), one request at a time unless
 * pipelining. Watch events are not used by the toolstack and are dropped
 * if they arrive.
 *
 * A connection that breaks (xenstored restarting) is opened again, trying
 * for up to XS_RECONNECT_MS (xs_set_reconnect), and the request re-sent:
 * the toolstack's requests all have the same outcome sent twice. Inside a
 * transaction the transaction is lost: its requests get -EAGAIN and its
 * commit -EAGAIN, as after a conflict (an abort succeeds). */
#ifndef XENON_XS_CLIENT_H
#define XENON_XS_CLIENT_H

#include <stddef.h>

struct xs_client;

/* The socket path: $XENSTORED_PATH, else /run/xenon/xenstored/socket. */
const char *xs_default_path(void);

#define XS_RECONNECT_MS 5000

/* NULL with errno set when the daemon cannot be reached. */
struct xs_client *xs_open(const char *path);
/* The same, waiting up to wait_ms while the socket is missing or refuses
 * (the daemon restarting). */
struct xs_client *xs_open_wait(const char *path, unsigned wait_ms);
/* How long a broken connection is re-tried (0: not at all). */
void xs_set_reconnect(struct xs_client *c, unsigned ms);
void xs_close(struct xs_client *c);

/* All return 0 or a negative errno (the daemon's error name mapped back,
 * -EIO on a broken connection). Strings returned are malloc'd. */
int xs_read(struct xs_client *c, const char *path, char **value);
/* Read n nodes at once (pipelined: one round trip per 32 KiB of requests).
 * values[i] gets the malloc'd value of paths[i], or NULL when that read
 * failed (no such node, no permission, path too long). 0, or -EIO /
 * -ENOMEM when the batch itself failed (values read so far are set). */
int xs_read_many(struct xs_client *c, const char *const *paths, int n, char **values);
int xs_write(struct xs_client *c, const char *path, const char *value);
int xs_mkdir(struct xs_client *c, const char *path);
/* A mkdir made outside the transaction under way (as if between begin and
 * end no transaction ran): pipelined with the transaction's requests, it
 * is made before them, in order, and shares their turn's journal sync. A
 * node the transaction first touches after it is not a conflict (a
 * transaction's base is taken at first access). */
int xs_mkdir_outside(struct xs_client *c, const char *path);
int xs_rm(struct xs_client *c, const char *path);
/* Children as a malloc'd array of malloc'd strings (free with xs_free_list). */
int xs_directory(struct xs_client *c, const char *path, char ***names, int *n);
void xs_free_list(char **names, int n);
/* perms: xenstore's text form, e.g. "n0\0r5\0" (nperms entries). */
int xs_set_perms(struct xs_client *c, const char *path, const char *perms,
                 size_t len);
/* A transaction: requests between begin and end run in it (each change
 * then costs the daemon no journal sync of its own). end(commit=false)
 * aborts; a conflicting commit returns -EAGAIN. */
int xs_transaction_begin(struct xs_client *c);
int xs_transaction_end(struct xs_client *c, int commit);
/* Pipelining: between begin and end, write, mkdir and set_perms are queued
 * (they return 0) and sent together, their replies read in order at the
 * next other request or at end; one round trip for many changes. end
 * returns the first error any queued request got (0 if none); the changes
 * before and after a failed one were still made, so pipeline inside a
 * transaction and abort it on error. */
void xs_pipeline_begin(struct xs_client *c);
int xs_pipeline_end(struct xs_client *c);
/* End the pipeline (see above) with the transaction's commit and
 * XS_INTRODUCE(domid) in the same batch: xenstored makes one turn's
 * changes durable with one journal sync, so the pair costs one sync and
 * one round trip, not two. On a conflict (or a daemon restart) -EAGAIN:
 * the introduce may have been made (it is idempotent) and the caller
 * does the transaction and this again. 0 or -errno. */
int xs_commit_introduce(struct xs_client *c, unsigned domid, unsigned long gfn,
                        unsigned port);
/* The same without the introduce: the queued changes and the commit in one
 * batch (one round trip, one journal sync). 0, -EAGAIN on a conflict or a
 * daemon restart (the caller does the transaction again), or -errno. */
int xs_pipeline_commit(struct xs_client *c);
int xs_introduce(struct xs_client *c, unsigned domid, unsigned long gfn,
                 unsigned port);
int xs_release(struct xs_client *c, unsigned domid);
/* Remove each of paths[0..n) (a missing one is no error) and then release
 * domid, as one pipelined batch: one round trip and one journal sync for
 * all of them, not one each (a destroy's teardown). Not inside a pipeline
 * or transaction. 0; or xs_release's result when the batch could not be
 * made whole and was done again one request at a time. */
int xs_rm_release(struct xs_client *c, const char *const *paths, int n, unsigned domid);

#endif
