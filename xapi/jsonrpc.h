/* JSON-RPC 1.0 and 2.0 as XAPI serves them at /jsonrpc. */
#ifndef XAPI_JSONRPC_H
#define XAPI_JSONRPC_H

#include "rpc.h"

/* Decode one request (no batches). 0, or -1 with a reason in err. The
 * request is filled only on success. */
int jsonrpc_parse(const char *body, size_t len, struct rpc_request *req,
                  char *err, size_t errlen);

/* The response text (malloc'd) for req (may be NULL when the request did
 * not parse: id null, version 2). Exactly one of result / error is used;
 * error is [CODE, params...] and becomes {code, message: CODE, data:
 * [params...]}. Neither is consumed. */
char *jsonrpc_format(const struct rpc_request *req, json_object *result,
                     json_object *error);

#endif
