/* The HTTP front: libmicrohttpd, one thread per connection (event.from
 * holds a call open for up to its timeout). POST /jsonrpc is JSON-RPC;
 * POST to any other path is XML-RPC, as XAPI. Bodies over RPC_MAX_BODY
 * get 413; at most HTTP_MAX_CONNECTIONS at once (HTTP_MAX_PER_IP from one
 * address); an idle connection is closed after HTTP_IDLE_S. */
#ifndef XAPI_HTTP_SERVER_H
#define XAPI_HTTP_SERVER_H

#include <stdint.h>

#define HTTP_MAX_CONNECTIONS 512
#define HTTP_MAX_PER_IP 128
#define HTTP_IDLE_S 120

/* Serve on addr:port (addr NULL or "" for all addresses); over TLS when
 * key and cert (PEM) are given. 0 or -1. */
int http_server_start(const char *addr, uint16_t port, const char *key, const char *cert);

#endif
