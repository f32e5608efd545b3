/* libmicrohttpd glue (http_server.h): gather the body, decode, dispatch,
 * encode. Nothing here knows a method. */
#include "rrd.h"
#include "http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "jsonrpc.h"
#include "log.h"
#include "web_static.h"
#include "ws_console.h"
#include "xmlrpc.h"

/* One request: its body while it comes, then the call, run on a thread
 * of its own while the connection is suspended (MHD_suspend_connection):
 * idle and slow connections cost a socket, not a thread, and a call that
 * blocks (event.from, clean_shutdown) holds no I/O thread. */
struct upload {
    char *body;
    size_t n, cap;
    bool too_big;
    bool busy;              /* the daemon-wide body budget was spent */
    enum { READING, RUNNING, ANSWERED } state;
    bool json;
    char url[16];
    char peer[64];
    struct MHD_Connection *conn;
    char *answer;           /* the response text, once ANSWERED */
    unsigned status;
};

/* Bytes held in request bodies across all connections: many slow
 * clients each sending a large body must not add up to all memory. */
static _Atomic size_t buffered;

static size_t big_part(size_t cap)
{
    return cap > HTTP_SMALL_BODY ? cap - HTTP_SMALL_BODY : 0;
}

/* Threads for calls get a small stack (virtual memory only). */
#define CALL_STACK (1u << 20)

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
                             const char *type, char *text)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text,
                                                             MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static void peer_of(struct MHD_Connection *conn, char *out, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, n, "?");
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                      (socklen_t)n);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                      (socklen_t)n);
    }
}

/* Decode, dispatch, encode: the answer text (malloc'd) or NULL. */
static char *answer_of(const char *peer, bool json, const char *body, size_t len)
{
    struct rpc_request req;
    char why[128];
    int rc = json ? jsonrpc_parse(body, len, &req, why, sizeof(why))
                  : xmlrpc_parse(body, len, &req, why, sizeof(why));
    json_object *err = NULL, *res = NULL;
    if (rc < 0)
        err = rpc_error(json ? "JSONRPC_UNMARSHAL_FAILURE" : "XMLRPC_UNMARSHAL_FAILURE", why, NULL);
    else
        res = dispatch_call_ex(req.method, req.params, peer, json ? DISPATCH_JSON : 0, &err);
    char *text = json ? jsonrpc_format(rc < 0 ? NULL : &req, res, err) : xmlrpc_format(res, err);
    json_object_put(res);
    json_object_put(err);
    if (rc == 0)
        rpc_request_free(&req);
    return text;
}

static void *call_thread(void *arg)
{
    struct upload *u = arg;
    u->answer = answer_of(u->peer, u->json, u->body ? u->body : "", u->n);
    u->status = MHD_HTTP_OK;
    u->state = ANSWERED;
    /* From here on u is MHD's again (on_request, then on_done). */
    MHD_resume_connection(u->conn);
    return NULL;
}

/* Start the call of a complete request; the answer is queued when MHD
 * calls on_request again after the resume. */
static enum MHD_Result start_call(struct MHD_Connection *conn, struct upload *u, const char *url)
{
    u->json = !strcmp(url, "/jsonrpc");
    u->conn = conn;
    peer_of(conn, u->peer, sizeof(u->peer));
    u->state = RUNNING;
    MHD_suspend_connection(conn);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, CALL_STACK);
    pthread_t t;
    int rc = pthread_create(&t, &a, call_thread, u);
    pthread_attr_destroy(&a);
    if (rc) {
        u->answer = strdup("too many calls in progress\n");
        u->status = MHD_HTTP_SERVICE_UNAVAILABLE;
        u->state = ANSWERED;
        MHD_resume_connection(conn);
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *data, size_t *size, void **state)
{
    struct upload *u = *state;
    if (strcmp(method, "POST")) {
        if (!strcmp(method, "GET") && ws_console_path(url))
            return ws_console_request(conn);
        if (!strcmp(method, "GET") && web_static_path(url))
            return web_static_request(conn, url);
        if (!strcmp(method, "GET") && !strcmp(url, "/rrd_updates"))
            return (enum MHD_Result)rrd_http(conn);
        if (!strcmp(method, "GET") && !strcmp(url, "/"))
            return reply(conn, MHD_HTTP_OK, "text/plain", strdup("Xenon XenAPI server\n"));
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
                     strdup("POST XML-RPC to / or JSON-RPC to /jsonrpc\n"));
    }
    if (!u) {
        u = calloc(1, sizeof(*u));
        if (!u)
            return MHD_NO;
        *state = u;
        return MHD_YES;
    }
    if (*size) {
        if (u->too_big || u->busy || u->n + *size > RPC_MAX_BODY) {
            u->too_big = !u->busy;      /* read and dropped; answered at the end */
        } else {
            if (u->n + *size + 1 > u->cap) {
                size_t cap = u->cap ? u->cap : 4096;
                while (cap < u->n + *size + 1)
                    cap *= 2;
                /* Only what is above HTTP_SMALL_BODY counts: small calls
                 * (all a client like Xen Orchestra sends) always get
                 * through, however many large ones hold the budget. */
                size_t more = big_part(cap) - big_part(u->cap);
                if (more && buffered + more > HTTP_MAX_BUFFERED) {
                    u->busy = true;
                    *size = 0;
                    return MHD_YES;
                }
                char *b = realloc(u->body, cap);
                if (!b)
                    return MHD_NO;
                buffered += more;
                u->body = b;
                u->cap = cap;
            }
            memcpy(u->body + u->n, data, *size);
            u->n += *size;
            u->body[u->n] = 0;
        }
        *size = 0;
        return MHD_YES;
    }
    if (u->state == ANSWERED) {
        char *text = u->answer;
        u->answer = NULL;
        if (!text)
            return MHD_NO;
        return reply(conn, u->status,
                     u->status != MHD_HTTP_OK ? "text/plain"
                     : u->json ? "application/json" : "text/xml", text);
    }
    if (u->state == RUNNING)
        return MHD_YES;
    if (u->too_big)
        return reply(conn, MHD_HTTP_CONTENT_TOO_LARGE, "text/plain",
                     strdup("request body too large\n"));
    if (u->busy)
        return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
                     strdup("too many large requests at once; try again\n"));
    return start_call(conn, u, url);
}

static void on_done(void *cls, struct MHD_Connection *conn, void **state,
                    enum MHD_RequestTerminationCode why)
{
    struct upload *u = *state;
    if (u) {
        buffered -= big_part(u->cap);
        free(u->answer);
        free(u->body);
        free(u);
        *state = NULL;
    }
}

int http_server_start(const char *addr, uint16_t port, const char *key, const char *cert)
{
    struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
    struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };
    struct sockaddr *sa = (struct sockaddr *)&a6;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG;
    if (addr && *addr) {
        if (inet_pton(AF_INET, addr, &a4.sin_addr) == 1) {
            sa = (struct sockaddr *)&a4;
        } else if (inet_pton(AF_INET6, addr, &a6.sin6_addr) == 1) {
            flags |= MHD_USE_IPv6;
        } else {
            log_msg(LOG_ERR, "--listen %s: not an IP address", addr);
            return -1;
        }
    } else {
        flags |= MHD_USE_DUAL_STACK;
    }
    if (key)
        flags |= MHD_USE_TLS;
    const char *proto = key ? "HTTPS" : "HTTP";
    /* The TLS options are ignored (MHD_OPTION_ARRAY entries skipped) for
     * plain HTTP: MHD refuses them without MHD_USE_TLS. */
    struct MHD_OptionItem tls[] = {
        { key ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, (void *)key },
        { MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cert },
        { MHD_OPTION_END, 0, NULL },
    };
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, port, NULL, NULL, on_request, NULL,
        MHD_OPTION_ARRAY, tls,
        MHD_OPTION_SOCK_ADDR, sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_IO_THREADS,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_MAX_PER_IP,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_S,
        MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
        MHD_OPTION_END);
    if (!d) {
        log_msg(LOG_ERR, "cannot serve %s on %s:%u", proto, addr && *addr ? addr : "*", port);
        return -1;
    }
    log_msg(LOG_INFO, "serving XenAPI over %s on %s:%u", proto, addr && *addr ? addr : "*", port);
    return 0;
}
