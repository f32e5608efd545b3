/* libFuzzer: the XML-RPC request parser, and the response writer on what
 * it decoded (what a client POSTs to xenon-xapi at / and /RPC2). */
#include <stdint.h>
#include <stdlib.h>

#include "xmlrpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        xmlrpc_init();
        ready = 1;
    }
    struct rpc_request r;
    char err[128];
    if (xmlrpc_parse((const char *)data, size, &r, err, sizeof(err)) == 0) {
        free(xmlrpc_format(r.params, NULL));
        rpc_request_free(&r);
    }
    return 0;
}
