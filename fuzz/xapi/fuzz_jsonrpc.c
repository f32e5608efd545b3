/* libFuzzer: the JSON-RPC request parser, and the response writer on what
 * it decoded (what a client hands xenon-xapi at /jsonrpc). */
#include <stdint.h>
#include <stdlib.h>

#include "jsonrpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rpc_request r;
    char err[128];
    if (jsonrpc_parse((const char *)data, size, &r, err, sizeof(err)) == 0) {
        json_object *e = rpc_error("X", r.method, NULL);
        free(jsonrpc_format(&r, r.params, NULL));
        free(jsonrpc_format(&r, NULL, e));
        json_object_put(e);
        rpc_request_free(&r);
    }
    return 0;
}
