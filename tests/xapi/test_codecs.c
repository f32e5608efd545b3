/* The JSON-RPC and XML-RPC codecs on their own: what they decode, what
 * they refuse, and XAPI's envelopes they write. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"
#include "xmlrpc.h"

static int failures;

#define CHECK(what, cond)                                                  \
    do {                                                                   \
        bool ok_ = (cond);                                                 \
        printf("%s %s\n", ok_ ? "ok  " : "FAIL", what);                    \
        if (!ok_)                                                          \
            failures++;                                                    \
    } while (0)

static int jparse(const char *s, struct rpc_request *r)
{
    char err[128];
    return jsonrpc_parse(s, strlen(s), r, err, sizeof(err));
}

static int xparse(const char *s, struct rpc_request *r)
{
    char err[128];
    return xmlrpc_parse(s, strlen(s), r, err, sizeof(err));
}

int main(void)
{
    xmlrpc_init();
    struct rpc_request r;
    CHECK("JSON-RPC 2.0 request", jparse("{\"jsonrpc\":\"2.0\",\"method\":\"VM.get_all\","
                                         "\"params\":[\"s\"],\"id\":7}", &r) == 0 &&
          !strcmp(r.method, "VM.get_all") && r.jsonrpc_version == 2 &&
          json_object_array_length(r.params) == 1 && json_object_get_int(r.id) == 7);
    json_object *res = json_object_new_string("x");
    char *out = jsonrpc_format(&r, res, NULL);
    CHECK("2.0 result", !strcmp(out, "{\"jsonrpc\":\"2.0\",\"result\":\"x\",\"id\":7}"));
    free(out);
    json_object *err = rpc_error("SESSION_INVALID", "OpaqueRef:x", NULL);
    out = jsonrpc_format(&r, NULL, err);
    CHECK("2.0 error {code, message, data}",
          !strcmp(out, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":\"SESSION_INVALID\","
                       "\"data\":[\"OpaqueRef:x\"]},\"id\":7}"));
    free(out);
    rpc_request_free(&r);
    CHECK("JSON-RPC 1.0 request", jparse("{\"method\":\"m\",\"params\":[],\"id\":\"a\"}", &r) == 0 &&
          r.jsonrpc_version == 1);
    out = jsonrpc_format(&r, res, NULL);
    CHECK("1.0 result has error null", !strcmp(out, "{\"result\":\"x\",\"error\":null,\"id\":\"a\"}"));
    free(out);
    rpc_request_free(&r);
    CHECK("refuses a bad version", jparse("{\"jsonrpc\":\"3\",\"method\":\"m\"}", &r) < 0);
    CHECK("refuses params that are not an array", jparse("{\"method\":\"m\",\"params\":{}}", &r) < 0);
    CHECK("refuses a truncated body", jparse("{\"method\":\"m\",", &r) < 0);
    char deep[200];
    memset(deep, '[', sizeof(deep) - 1);
    deep[sizeof(deep) - 1] = 0;
    CHECK("refuses deep nesting", jparse(deep, &r) < 0);

    CHECK("XML-RPC call with typed values",
          xparse("<?xml version=\"1.0\"?><methodCall><methodName>event.from</methodName><params>"
                 "<param><value>s</value></param>"
                 "<param><value><array><data><value><string>VM</string></value></data></array></value></param>"
                 "<param><value><string></string></value></param>"
                 "<param><value><double>60.1</double></value></param>"
                 "<param><value><struct><member><name>k</name><value><i4>-3</i4></value></member>"
                 "<member><name>b</name><value><boolean>1</boolean></value></member></struct></value></param>"
                 "</params></methodCall>", &r) == 0 &&
          !strcmp(r.method, "event.from") && json_object_array_length(r.params) == 5 &&
          json_object_get_double(json_object_array_get_idx(r.params, 3)) == 60.1 &&
          json_object_get_int(json_object_object_get(json_object_array_get_idx(r.params, 4), "k")) == -3);
    rpc_request_free(&r);
    CHECK("XML-RPC refuses a DTD",
          xparse("<!DOCTYPE x [<!ENTITY a \"b\">]><methodCall><methodName>&a;</methodName></methodCall>", &r) < 0);
    CHECK("XML-RPC refuses a bad boolean",
          xparse("<methodCall><methodName>m</methodName><params><param><value><boolean>2</boolean>"
                 "</value></param></params></methodCall>", &r) < 0);
    out = xmlrpc_format(res, NULL);
    CHECK("XML-RPC success envelope",
          strstr(out, "<member><name>Status</name><value><string>Success</string></value></member>"
                      "<member><name>Value</name><value><string>x</string></value></member>") != NULL);
    free(out);
    out = xmlrpc_format(NULL, err);
    CHECK("XML-RPC failure envelope",
          strstr(out, "<name>ErrorDescription</name><value><array><data><value><string>SESSION_INVALID"
                      "</string></value><value><string>OpaqueRef:x</string></value></data></array>") != NULL);
    free(out);
    json_object *n = json_object_new_int64(1LL << 40);
    out = xmlrpc_value(n);
    CHECK("int64 goes out as a string, as XAPI", !strcmp(out, "<value><string>1099511627776</string></value>"));
    free(out);
    json_object *s = json_object_new_string("<&>");
    out = xmlrpc_value(s);
    CHECK("strings are escaped", !strcmp(out, "<value><string>&lt;&amp;&gt;</string></value>"));
    free(out);
    json_object_put(s);
    json_object_put(n);
    json_object_put(res);
    json_object_put(err);
    printf("%s\n", failures ? "FAILED" : "all passed");
    return failures ? 1 : 0;
}
