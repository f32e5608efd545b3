/* A xenstore connection that only watches: it registers watches and
 * calls back on every event. The toolstack's client (libxenon's
 * xs_client.h) drops events, so the daemon keeps this second, raw one. */
#ifndef XAPI_XS_WATCH_H
#define XAPI_XS_WATCH_H

/* A thread that watches `paths` (NULL-terminated) on the xenstored at
 * socket and calls fn() on each event; it reconnects (and calls fn once)
 * when the daemon restarts. 0 or -1. */
int xs_watch_start(const char *socket, const char *const *paths, void (*fn)(void));

#endif
