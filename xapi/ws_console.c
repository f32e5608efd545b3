/* The console WebSocket (ws_console.h): the handshake on libmicrohttpd's
 * upgrade API, then a thread per open console bridging the client's
 * socket and the domain's PV console socket. */
#include "ws_console.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "domain.h"
#include "http_server.h"
#include "log.h"
#include "model.h"
#include "session.h"
#include "vm_scan.h"
#include "ws_frame.h"

#define CHECK_MS 5000           /* how often an open console re-checks its session */
#define SEND_TIMEOUT_MS 30000   /* a client that takes no output for this long is dropped */

static _Atomic unsigned open_consoles;

struct bridge {
    char session[48];
    char vm[64];
    int console;            /* the domain's console socket */
    MHD_socket sock;        /* the client, after the upgrade */
    struct MHD_UpgradeResponseHandle *urh;
    uint8_t *extra;         /* bytes read past the handshake */
    size_t extra_n;
    struct ws_parser parser;
    bool closing;           /* our close frame went out */
};

bool ws_console_path(const char *url)
{
    return !strcmp(url, "/console");
}

static enum MHD_Result refuse(struct MHD_Connection *conn, unsigned status, const char *why)
{
    char *text = strdup(why);
    if (!text)
        return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text,
                                                             MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/plain");
    if (status == MHD_HTTP_UPGRADE_REQUIRED)
        MHD_add_response_header(r, "Sec-WebSocket-Version", "13");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Whether a comma-separated header value holds token (any case). */
static bool has_token(const char *value, const char *token)
{
    size_t n = strlen(token);
    for (const char *p = value; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - p) == n && !strncasecmp(p, token, n))
            return true;
        p = e;
    }
    return false;
}

/* The console record's VM's domid, or -1. */
static int console_domid(const char *ref, char *vm, size_t vm_n)
{
    int domid = -1;
    model_lock();
    json_object *c = model_get("console", ref), *f, *v;
    if (c && json_object_object_get_ex(c, "VM", &f)) {
        json_object *rec = model_get("VM", json_object_get_string(f));
        if (rec && json_object_object_get_ex(rec, "domid", &v))
            domid = json_object_get_int(v);
        if (rec && json_object_object_get_ex(rec, "name_label", &v))
            snprintf(vm, vm_n, "%s", json_object_get_string(v));
    }
    model_unlock();
    return domid;
}

/* A running domain's console socket path as libxenon reports it (what
 * `xl console` connects to): true and out, or false. No connection yet:
 * the console replays what no client has seen to its first client. */
static bool console_path(int domid, char *out, size_t n)
{
    struct xenon_dominfo *v;
    int nd;
    if (domid <= 0 || xenon_domain_list(&vm_paths, &v, &nd, NULL) < 0)
        return false;
    bool found = false;
    for (int i = 0; i < nd; i++)
        if ((int)v[i].domid == domid && v[i].running && v[i].console[0] &&
            strlen(v[i].console) < n) {
            snprintf(out, n, "%s", v[i].console);
            found = true;
        }
    free(v);
    return found;
}

static int console_connect(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path))
        return -1;
    strcpy(sa.sun_path, path);
    /* Non-blocking: a console that takes no input for SEND_TIMEOUT_MS ends
     * the bridge instead of holding its thread. */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Handshakes answered with 101 whose upgrade has not happened yet. MHD
 * calls the upgrade handler only once the 101 went out, and tells nobody
 * when the client left before: what such a handshake holds is a slot
 * here, taken back when older than any connection can idle, never a
 * file descriptor or memory. */
#define WS_MAX_PENDING 256
#define PENDING_STALE_NS (4ull * HTTP_IDLE_S * 1000000000ull)
static struct pending {
    bool used;
    uint64_t since;
    char session[48], vm[64], path[108];
} pending[WS_MAX_PENDING];
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;

static struct pending *pending_take(void)
{
    uint64_t now = model_now_ns();
    struct pending *got = NULL;
    pthread_mutex_lock(&pending_lock);
    for (unsigned i = 0; i < WS_MAX_PENDING && !got; i++)
        if (!pending[i].used || now - pending[i].since > PENDING_STALE_NS)
            got = &pending[i];
    if (got) {
        memset(got, 0, sizeof(*got));
        got->used = true;
        got->since = now;
    }
    pthread_mutex_unlock(&pending_lock);
    return got;
}

static void pending_give(struct pending *p)
{
    pthread_mutex_lock(&pending_lock);
    p->used = false;
    pthread_mutex_unlock(&pending_lock);
}

/* Write all of buf to a (possibly non-blocking) socket, waiting at most
 * SEND_TIMEOUT_MS for room each time. 0 or -1. */
static int send_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pf = { fd, POLLOUT, 0 };
            if (poll(&pf, 1, SEND_TIMEOUT_MS) > 0)
                continue;
        }
        return -1;
    }
    return 0;
}

static int send_frame(struct bridge *b, enum ws_opcode op, const void *data, size_t n)
{
    uint8_t h[10];
    size_t hn = ws_frame_header(h, op, n);
    if (send_all(b->sock, h, hn) < 0)
        return -1;
    return n ? send_all(b->sock, data, n) : 0;
}

static void send_close(struct bridge *b, unsigned code, const char *why)
{
    if (b->closing)
        return;
    b->closing = true;
    uint8_t f[2 + 64];
    size_t n = 0;
    if (code != WS_CLOSE_NO_STATUS) {
        f[0] = (uint8_t)(code >> 8);
        f[1] = (uint8_t)code;
        n = strlen(why) > 64 ? 64 : strlen(why);
        memcpy(f + 2, why, n);
        n += 2;
    }
    send_frame(b, WS_CLOSE, f, n);
}

/* What the client sends: data is typed into the console. */
static int on_frame(void *arg, enum ws_event ev, unsigned code, const uint8_t *data, size_t len)
{
    struct bridge *b = arg;
    switch (ev) {
    case WS_EV_DATA:
        if (len && send_all(b->console, data, len) < 0)
            return WS_CLOSE_GOING_AWAY;
        return 0;
    case WS_EV_PING:
        return send_frame(b, WS_PONG, data, len) < 0 ? WS_CLOSE_GOING_AWAY : 0;
    case WS_EV_PONG:
        return 0;
    case WS_EV_CLOSE:
        send_close(b, code, "");
        return 0;
    }
    return 0;
}

/* Feed client bytes; false when the connection is to end. */
static bool from_client(struct bridge *b, const uint8_t *buf, size_t n)
{
    int rc = ws_feed(&b->parser, buf, n, on_frame, b);
    if (!rc)
        return true;
    send_close(b, (unsigned)rc, rc == WS_CLOSE_TOO_BIG ? "message too big"
                                : rc == WS_CLOSE_BAD_DATA ? "invalid UTF-8"
                                : rc == WS_CLOSE_PROTOCOL ? "protocol error" : "");
    return false;
}

static void *bridge_thread(void *arg)
{
    struct bridge *b = arg;
    log_info("console of %s opened", b->vm);
    uint8_t buf[4096];
    bool up = !b->extra_n || from_client(b, b->extra, b->extra_n);
    uint64_t checked = model_now_ns();
    while (up) {
        struct pollfd pf[2] = { { b->sock, POLLIN, 0 }, { b->console, POLLIN, 0 } };
        /* The session is checked every CHECK_MS, not at every wake-up (a
         * busy console wakes the thread for each read). */
        const uint64_t every = CHECK_MS * 1000000ull;
        uint64_t since = model_now_ns() - checked;
        int r = poll(pf, 2, since >= every ? 0 : (int)((every - since + 999999) / 1000000));
        if (r < 0 && errno != EINTR)
            break;
        uint64_t now = model_now_ns();
        if (now - checked >= every) {
            checked = now;
            struct session_info si;
            if (session_lookup(b->session, &si) < 0) {
                send_close(b, WS_CLOSE_POLICY, "session ended");
                break;
            }
        }
        if (r <= 0)
            continue;
        if (pf[0].revents) {
            ssize_t k = recv(b->sock, buf, sizeof(buf), 0);
            if (k < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (k <= 0 || !from_client(b, buf, (size_t)k))
                break;
        }
        if (pf[1].revents) {
            ssize_t k = read(b->console, buf, sizeof(buf));
            if (k < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (k <= 0) {
                send_close(b, WS_CLOSE_GOING_AWAY, "the domain is gone");
                break;
            }
            if (send_frame(b, WS_BINARY, buf, (size_t)k) < 0)
                break;
        }
    }
    log_info("console of %s closed", b->vm);
    close(b->console);
    MHD_upgrade_action(b->urh, MHD_UPGRADE_ACTION_CLOSE);
    free(b->extra);
    free(b);
    open_consoles--;
    return NULL;
}

/* The 101 went out: the socket is ours. The console is connected now,
 * and a bridge thread started; if either fails the client gets a close
 * frame saying so. */
static void on_upgrade(void *cls, struct MHD_Connection *conn, void *state,
                       const char *extra_in, size_t extra_n, MHD_socket sock,
                       struct MHD_UpgradeResponseHandle *urh)
{
    struct pending *p = cls;
    struct bridge *b = calloc(1, sizeof(*b));
    if (b) {
        snprintf(b->session, sizeof(b->session), "%s", p->session);
        snprintf(b->vm, sizeof(b->vm), "%s", p->vm);
    }
    char path[sizeof(p->path)];
    snprintf(path, sizeof(path), "%s", p->path);
    pending_give(p);
    if (!b) {
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        return;
    }
    b->sock = sock;
    b->urh = urh;
    b->console = -1;
    ws_parser_init(&b->parser);
    const char *why = "too many open consoles";
    bool ok = ++open_consoles <= WS_MAX_CONSOLES;
    if (ok) {
        b->console = console_connect(path);
        ok = b->console >= 0;
        why = "the VM's console cannot be reached";
    }
    if (ok && extra_n) {
        b->extra = malloc(extra_n);
        ok = b->extra != NULL;
        if (ok) {
            memcpy(b->extra, extra_in, extra_n);
            b->extra_n = extra_n;
        }
        why = "out of memory";
    }
    if (ok) {
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&a, 256u << 10);
        pthread_t t;
        ok = pthread_create(&t, &a, bridge_thread, b) == 0;
        pthread_attr_destroy(&a);
        why = "too many threads";
    }
    if (!ok) {
        send_close(b, WS_CLOSE_TRY_AGAIN, why);
        if (b->console >= 0)
            close(b->console);
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        free(b->extra);
        free(b);
        open_consoles--;
    }
}

enum MHD_Result ws_console_request(struct MHD_Connection *conn)
{
    const char *sid = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "session_id");
    if (!sid)
        sid = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "session_id");
    struct session_info si;
    if (!sid || strlen(sid) >= sizeof(si.ref) || session_lookup(sid, &si) < 0)
        return refuse(conn, MHD_HTTP_UNAUTHORIZED, "no valid session\n");
    if (!role_allows(si.role, ROLE_VM_OPERATOR))
        return refuse(conn, MHD_HTTP_FORBIDDEN, "RBAC_PERMISSION_DENIED http/connect_console\n");

    const char *up = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Upgrade");
    const char *co = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Connection");
    const char *ver = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Version");
    const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
    char accept[29];
    if (!up || !has_token(up, "websocket") || !co || !has_token(co, "upgrade"))
        return refuse(conn, MHD_HTTP_BAD_REQUEST, "the console is a WebSocket\n");
    if (!ver || strcmp(ver, "13"))
        return refuse(conn, MHD_HTTP_UPGRADE_REQUIRED, "WebSocket version 13 only\n");
    if (ws_accept_key(key, accept) < 0)
        return refuse(conn, MHD_HTTP_BAD_REQUEST, "bad Sec-WebSocket-Key\n");

    const char *ref = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "ref");
    char vm[64] = "?";
    int domid = ref ? console_domid(ref, vm, sizeof(vm)) : -1;
    if (domid < 0)
        return refuse(conn, MHD_HTTP_NOT_FOUND, "HANDLE_INVALID console\n");
    char path[sizeof(((struct pending *)0)->path)];
    if (!console_path(domid, path, sizeof(path)))
        return refuse(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "the VM's console cannot be reached\n");
    if (open_consoles >= WS_MAX_CONSOLES)
        return refuse(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "too many open consoles\n");
    struct pending *p = pending_take();
    if (!p)
        return refuse(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "too many console handshakes\n");
    snprintf(p->session, sizeof(p->session), "%s", si.ref);
    snprintf(p->vm, sizeof(p->vm), "%s", vm);
    snprintf(p->path, sizeof(p->path), "%s", path);
    struct MHD_Response *r = MHD_create_response_for_upgrade(on_upgrade, p);
    if (!r) {
        pending_give(p);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "websocket");
    MHD_add_response_header(r, "Sec-WebSocket-Accept", accept);
    /* A browser that offers subprotocols gets none: vt100 bytes need none. */
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, r);
    MHD_destroy_response(r);
    if (ret != MHD_YES)
        pending_give(p);
    return ret;
}
