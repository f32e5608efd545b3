/* What both wire codecs produce and consume: one decoded call. Values are
 * json-c objects whatever the wire was (XML-RPC is mapped onto them:
 * struct -> object, array -> array, int/i4 -> int64, boolean, double,
 * everything else -> string). An error is an array [CODE, param...] of
 * strings, as XAPI's ErrorDescription. */
#ifndef XAPI_RPC_H
#define XAPI_RPC_H

#include <json-c/json.h>
#include <stddef.h>

/* Limits on what a client may send (the daemon answers 413 above the body
 * limit; deeper nesting is a parse error). */
#define RPC_MAX_BODY (4u << 20)
#define RPC_MAX_DEPTH 32

struct rpc_request {
    char *method;           /* malloc'd */
    json_object *params;    /* an array, owned */
    json_object *id;        /* JSON-RPC only: the request id (owned, may be NULL) */
    int jsonrpc_version;    /* 1 or 2; 0 for XML-RPC */
};

void rpc_request_free(struct rpc_request *r);

/* [code, params...] as a new json array of strings; the list ends with NULL. */
json_object *rpc_error(const char *code, ...) __attribute__((sentinel));

#endif
