/* A VM's text console over a WebSocket (RFC 6455), at the location its
 * console record publishes: GET /console?ref=<console ref>, authorised by
 * a session given as the session_id query argument or the session_id
 * cookie (as XAPI takes it), of role vm-operator or above (XAPI's
 * http/connect_console). The console itself is the one `xl console`
 * reaches: the domain's PV console socket as libxenon reports it, so the
 * API keeps no copy of anything. Guest output goes out as binary frames;
 * text or binary frames from the client are typed into the console.
 *
 * Refusals are plain HTTP answers before any upgrade: 401 without a live
 * session, 403 below the role, 404 for no such console, 503 when the
 * domain is not running or WS_MAX_CONSOLES are open, 400 /
 * 426 for a request that is not a WebSocket handshake of version 13.
 * The console socket is connected only once the 101 is out (a client
 * that leaves during the handshake holds no descriptor); if it cannot be,
 * the client gets close 1013. An open console closes (1008) when its
 * session ends or expires, and (1001) when the domain goes away. */
#ifndef XAPI_WS_CONSOLE_H
#define XAPI_WS_CONSOLE_H

#include <microhttpd.h>
#include <stdbool.h>

#define WS_MAX_CONSOLES 64

bool ws_console_path(const char *url);

/* Answer a GET of ws_console_path: the upgrade or a refusal. Needs a
 * daemon started with MHD_ALLOW_UPGRADE. */
enum MHD_Result ws_console_request(struct MHD_Connection *conn);

#endif
