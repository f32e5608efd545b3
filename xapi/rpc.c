/* Shared helpers of the two codecs. */
#include "rpc.h"

#include <stdarg.h>
#include <stdlib.h>

void rpc_request_free(struct rpc_request *r)
{
    free(r->method);
    json_object_put(r->params);
    json_object_put(r->id);
    r->method = NULL;
    r->params = r->id = NULL;
}

json_object *rpc_error(const char *code, ...)
{
    json_object *a = json_object_new_array();
    json_object_array_add(a, json_object_new_string(code));
    va_list ap;
    va_start(ap, code);
    for (const char *s; (s = va_arg(ap, const char *));)
        json_object_array_add(a, json_object_new_string(s));
    va_end(ap);
    return a;
}
