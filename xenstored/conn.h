/* conn: the unix socket server and the epoll event loop.
 *
 * One turn of the loop: read what is readable and handle every complete
 * message (a bounded number per connection per turn, for fairness), then
 * make the turn's journal records durable with one journal_sync(), and
 * only then write queued replies and watch events to the sockets. A
 * client whose queued output exceeds the hard limit is dropped; while its
 * queue is above a soft limit (or, for a domain, while it has "outstanding"
 * unread replies) its further requests wait.
 */
#ifndef XENSTORED_CONN_H
#define XENSTORED_CONN_H

#include <signal.h>

/* Bind and listen on path (replacing a stale socket). 0 or -1. */
int conn_listen(const char *path);
/* Run until *stop becomes non-zero. 0, or -1 on a fatal error. */
int conn_run(volatile sig_atomic_t *stop);
void conn_shutdown(void);

#endif
