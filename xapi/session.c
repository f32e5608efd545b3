/* The session table (session.h). */
#include "session.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "model.h"
#include "pam_auth.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* Held through a failed login's delay: failures are answered one at a
 * time, so many connections guess no faster than one. Good logins do not
 * wait for it. */
static pthread_mutex_t failing = PTHREAD_MUTEX_INITIALIZER;
static struct session_info table[SESSION_MAX];
static unsigned idle_limit = 24 * 3600, fail_delay_ms = 2000;

void sessions_config(unsigned idle_s, unsigned delay_ms)
{
    idle_limit = idle_s;
    fail_delay_ms = delay_ms;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool expired(const struct session_info *s, double t)
{
    return s->ref[0] && t - s->last_active > idle_limit;
}

/* A client's string fit for one log line: control bytes shown as '?'. */
static void printable(const char *s, char *out, size_t n)
{
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++)
        out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    out[i] = 0;
}

int session_login(const char *user, const char *password, const char *originator,
                  const char *peer, char ref[48])
{
    enum role role = rbac_role_of(user);
    if (strlen(user) >= sizeof(table[0].user) || pam_auth_check(user, password) < 0 ||
        role == ROLE_NONE) {
        char shown[65];
        printable(user, shown, sizeof(shown));
        log_limited(LOG_WARN, "login of user '%s' from %s failed", shown, peer);
        pthread_mutex_lock(&failing);
        usleep(fail_delay_ms * 1000u);
        pthread_mutex_unlock(&failing);
        return -1;
    }
    pthread_mutex_lock(&lock);
    double t = now();
    int slot = -1;
    for (int i = 0; i < SESSION_MAX; i++) {
        if (!table[i].ref[0] || expired(&table[i], t)) {
            slot = i;
            break;
        }
        if (slot < 0 || table[i].last_active < table[slot].last_active)
            slot = i;
    }
    struct session_info *s = &table[slot];
    memset(s, 0, sizeof(*s));
    model_new_ref(s->ref);
    model_new_uuid(s->uuid);
    snprintf(s->user, sizeof(s->user), "%s", user);
    snprintf(s->originator, sizeof(s->originator), "%s", originator ? originator : "");
    s->role = role;
    s->last_active = t;
    memcpy(ref, s->ref, 48);
    pthread_mutex_unlock(&lock);
    log_msg(LOG_INFO, "user %s (%s) logged in from %s", user, role_name(role), peer);
    return 0;
}

static struct session_info *find(const char *ref, double t)
{
    if (strncmp(ref, "OpaqueRef:", 10))
        return NULL;
    for (int i = 0; i < SESSION_MAX; i++) {
        if (table[i].ref[0] && !strcmp(table[i].ref, ref)) {
            if (expired(&table[i], t)) {
                memset(&table[i], 0, sizeof(table[i]));
                return NULL;
            }
            return &table[i];
        }
    }
    return NULL;
}

int session_lookup(const char *ref, struct session_info *out)
{
    pthread_mutex_lock(&lock);
    double t = now();
    struct session_info *s = find(ref, t);
    if (s) {
        s->last_active = t;
        *out = *s;
    }
    pthread_mutex_unlock(&lock);
    return s ? 0 : -1;
}

int session_logout(const char *ref)
{
    pthread_mutex_lock(&lock);
    struct session_info *s = find(ref, now());
    if (s)
        memset(s, 0, sizeof(*s));
    pthread_mutex_unlock(&lock);
    return s ? 0 : -1;
}
