/* XML-RPC as XAPI serves it at / and /RPC2 (and any other POST path). */
#ifndef XAPI_XMLRPC_H
#define XAPI_XMLRPC_H

#include "rpc.h"

#include <stdbool.h>

/* One-time libxml2 set-up (call before threads start). */
void xmlrpc_init(void);

/* Decode a <methodCall>. Documents with a DTD are refused (no entities),
 * nesting deeper than RPC_MAX_DEPTH too. 0, or -1 with a reason in err. */
int xmlrpc_parse(const char *body, size_t len, struct rpc_request *req,
                 char *err, size_t errlen);

/* A <methodResponse> (malloc'd) carrying XAPI's envelope: {Status:
 * "Success", Value: result} or {Status: "Failure", ErrorDescription:
 * error}. Arguments are not consumed. */
char *xmlrpc_format(json_object *result, json_object *error);

/* One <value>...</value> (malloc'd): what a task's result field holds.
 * Integers go out as strings, as XAPI sends its int64s. */
char *xmlrpc_value(json_object *v);

#endif
