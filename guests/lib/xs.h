/*
 * A minimal xenstore client over the domain's xenstore ring, for test
 * guests: synchronous requests, watch events queued while waiting for a
 * reply. Polls the ring (yielding between looks): test guests have no
 * interrupt handlers.
 */
#ifndef GUEST_XS_H
#define GUEST_XS_H

#include <stddef.h>
#include <stdint.h>

/* Find the ring and port (HVM params); 0 or -1. */
int xs_init(void);

/* One request with up to two arguments, each sent NUL-terminated except
 * the last when raw_last is set (XS_WRITE's value has no NUL). The reply
 * body lands NUL-terminated in reply; returns the reply's type. */
uint32_t xs_request(uint32_t type, uint32_t tx, const char *a, const char *b,
                    int raw_last, char *reply, size_t size);

/* Convenience wrappers: 0 on success, -1 on an XS_ERROR reply. */
int xs_write(const char *path, const char *value);
int xs_read(const char *path, char *value, size_t size);
int xs_watch(const char *path, const char *token);

/* Whether a watch event for path has arrived; wait_event waits for one
 * (at most `spins` looks at the ring). Consumed events are forgotten by
 * xs_forget_events(). */
int xs_has_event(const char *path);
void xs_wait_event(const char *path, unsigned long long spins);
void xs_forget_events(void);
/* Whether a watch event for path has arrived, reading what the ring holds
 * without waiting. */
int xs_poll_event(const char *path);

/* PV control, as Linux has it: when control/shutdown (watched by the
 * caller with xs_watch) has fired and says "suspend", acknowledge it
 * (write "") and call SCHEDOP_shutdown(suspend). The call's result: 0
 * resumed in a new domain (a restore, a migration), 1 resumed in place
 * (a checkpoint); -1 when no suspend was asked. */
long xs_suspend_if_asked(void);

/* For hostile tests: put raw bytes in the request ring (and notify), and
 * the ring's error field (XENSTORE_ERROR_*); xs_wait_ring sleeps until the
 * port is signalled or a second passes. */
void xs_send_raw(const void *data, size_t len);
uint32_t xs_ring_error(void);
void xs_wait_ring(void);

#endif
