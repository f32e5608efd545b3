/* Sessions: made by session.login_with_password (PAM), referenced by an
 * unguessable OpaqueRef:<random uuid>, ended by logout or after
 * `idle` seconds without a call. At most SESSION_MAX live at once; a new
 * login past that evicts the one idle longest, as XAPI does. */
#ifndef XAPI_SESSION_H
#define XAPI_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "rbac.h"

#define SESSION_MAX 1024

struct session_info {
    char ref[48], uuid[40];
    char user[64], originator[64];
    enum role role;
    double last_active;     /* unix time */
};

/* idle_s: expiry; delay_ms: how long a failed login waits before it
 * answers (so passwords cannot be tried fast). */
void sessions_config(unsigned idle_s, unsigned delay_ms);

/* 0 and the new session's ref, or -1 (wrong user/password, or a user with
 * no role): logged (rate-limited), and answered only after the delay;
 * failures wait in turn, so parallel guesses are no faster. */
int session_login(const char *user, const char *password, const char *originator,
                  const char *peer, char ref[48]);

/* 0 and *out (the session is used: its idle clock restarts), or -1 when
 * there is no such live session. */
int session_lookup(const char *ref, struct session_info *out);

/* 0, or -1 when there was no such session. */
int session_logout(const char *ref);

#endif
