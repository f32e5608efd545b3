/* JSON-RPC codec. json-c's tokener bounds nesting (RPC_MAX_DEPTH) and
 * rejects trailing garbage only if we check what it consumed. */
#include "jsonrpc.h"

#include <stdio.h>
#include <string.h>

int jsonrpc_parse(const char *body, size_t len, struct rpc_request *req,
                  char *err, size_t errlen)
{
    memset(req, 0, sizeof(*req));
    if (len > RPC_MAX_BODY) {
        snprintf(err, errlen, "request too large");
        return -1;
    }
    json_tokener *tok = json_tokener_new_ex(RPC_MAX_DEPTH);
    if (!tok) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *o = json_tokener_parse_ex(tok, body, (int)len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!o || e != json_tokener_success) {
        snprintf(err, errlen, "%s", e == json_tokener_continue ? "unexpected end of input"
                                                                 : json_tokener_error_desc(e));
        json_object_put(o);
        return -1;
    }
    for (; used < len; used++) {
        if (!strchr(" \t\r\n", body[used])) {
            snprintf(err, errlen, "trailing data after the request");
            json_object_put(o);
            return -1;
        }
    }
    json_object *m, *p, *id, *v;
    if (!json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, "method", &m) ||
        !json_object_is_type(m, json_type_string)) {
        snprintf(err, errlen, "not a JSON-RPC request (no method)");
        json_object_put(o);
        return -1;
    }
    req->jsonrpc_version = 1;
    if (json_object_object_get_ex(o, "jsonrpc", &v)) {
        if (!json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), "2.0")) {
            snprintf(err, errlen, "unsupported jsonrpc version");
            json_object_put(o);
            return -1;
        }
        req->jsonrpc_version = 2;
    }
    if (json_object_object_get_ex(o, "params", &p)) {
        if (!json_object_is_type(p, json_type_array)) {
            snprintf(err, errlen, "params must be an array");
            json_object_put(o);
            return -1;
        }
        req->params = json_object_get(p);
    } else {
        req->params = json_object_new_array();
    }
    if (json_object_object_get_ex(o, "id", &id))
        req->id = json_object_get(id);
    req->method = strdup(json_object_get_string(m));
    json_object_put(o);
    return 0;
}

char *jsonrpc_format(const struct rpc_request *req, json_object *result,
                     json_object *error)
{
    int version = req ? req->jsonrpc_version : 2;
    json_object *o = json_object_new_object();
    if (version == 2)
        json_object_object_add(o, "jsonrpc", json_object_new_string("2.0"));
    if (error) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "code", json_object_new_int(1));
        json_object *code = json_object_array_get_idx(error, 0);
        json_object_object_add(e, "message", json_object_get(code));
        json_object *data = json_object_new_array();
        for (size_t i = 1; i < json_object_array_length(error); i++)
            json_object_array_add(data, json_object_get(json_object_array_get_idx(error, i)));
        json_object_object_add(e, "data", data);
        if (version == 1)
            json_object_object_add(o, "result", NULL);
        json_object_object_add(o, "error", e);
    } else {
        json_object_object_add(o, "result", json_object_get(result));
        if (version == 1)
            json_object_object_add(o, "error", NULL);
    }
    json_object_object_add(o, "id", req && req->id ? json_object_get(req->id) : NULL);
    char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return s;
}
