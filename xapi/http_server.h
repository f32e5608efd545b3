/* The HTTP front: libmicrohttpd on epoll with HTTP_IO_THREADS I/O
 * threads; each call runs on a thread of its own while its connection is
 * suspended (event.from holds a call open for up to its timeout), so idle
 * or slow connections cost a socket only. POST /jsonrpc is JSON-RPC; POST
 * to any other path is XML-RPC, as XAPI. Bodies over RPC_MAX_BODY get 413;
 * at most HTTP_MAX_CONNECTIONS at once (HTTP_MAX_PER_IP from one address);
 * a connection idle for HTTP_IDLE_S (a request trickling in counts as
 * idle between bytes) is closed. */
#ifndef XAPI_HTTP_SERVER_H
#define XAPI_HTTP_SERVER_H

#include <stdint.h>

#define HTTP_IO_THREADS 2
#define HTTP_MAX_BUFFERED (256u << 20)  /* large request bodies held at once: 503 above */
#define HTTP_SMALL_BODY (64u << 10)     /* what of each body the budget does not count */
#define HTTP_MAX_CONNECTIONS 16000
#define HTTP_MAX_PER_IP 8000
#define HTTP_IDLE_S 120

/* Serve on addr:port (addr NULL or "" for all addresses); over TLS when
 * key and cert (PEM) are given. 0 or -1. */
int http_server_start(const char *addr, uint16_t port, const char *key, const char *cert);

#endif
