/* XML-RPC codec on libxml2's DOM parser: no network, no entity
 * substitution, no DTD accepted, our own depth bound on values. */
#include "xmlrpc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

void xmlrpc_init(void)
{
    xmlInitParser();
}

static bool is_el(xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

/* The first element child, skipping whitespace text. */
static xmlNode *first_el(xmlNode *n)
{
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return c;
    return NULL;
}

static xmlNode *next_el(xmlNode *n)
{
    for (n = n->next; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE)
            return n;
    return NULL;
}

static char *text_of(xmlNode *n)
{
    xmlChar *t = xmlNodeGetContent(n);
    char *s = strdup(t ? (const char *)t : "");
    xmlFree(t);
    return s;
}

static json_object *parse_value(xmlNode *v, int depth, const char **why);

static json_object *parse_struct(xmlNode *s, int depth, const char **why)
{
    json_object *o = json_object_new_object();
    for (xmlNode *m = first_el(s); m; m = next_el(m)) {
        xmlNode *name = NULL, *val = NULL;
        for (xmlNode *c = first_el(m); c; c = next_el(c)) {
            if (is_el(c, "name"))
                name = c;
            else if (is_el(c, "value"))
                val = c;
        }
        if (!is_el(m, "member") || !name || !val) {
            *why = "malformed struct member";
            json_object_put(o);
            return NULL;
        }
        json_object *x = parse_value(val, depth + 1, why);
        if (!x && *why) {
            json_object_put(o);
            return NULL;
        }
        char *k = text_of(name);
        json_object_object_add(o, k, x);
        free(k);
    }
    return o;
}

static json_object *parse_array(xmlNode *a, int depth, const char **why)
{
    xmlNode *data = first_el(a);
    if (!is_el(data, "data")) {
        *why = "array without data";
        return NULL;
    }
    json_object *o = json_object_new_array();
    for (xmlNode *v = first_el(data); v; v = next_el(v)) {
        if (!is_el(v, "value")) {
            *why = "array item is not a value";
            json_object_put(o);
            return NULL;
        }
        json_object *x = parse_value(v, depth + 1, why);
        if (!x && *why) {
            json_object_put(o);
            return NULL;
        }
        json_object_array_add(o, x);
    }
    return o;
}

/* NULL with *why set on error (a NULL with *why unset never happens: every
 * value is something). */
static json_object *parse_value(xmlNode *v, int depth, const char **why)
{
    if (depth > RPC_MAX_DEPTH) {
        *why = "values nested too deeply";
        return NULL;
    }
    xmlNode *t = first_el(v);
    if (!t) {                       /* <value>text</value> is a string */
        char *s = text_of(v);
        json_object *o = json_object_new_string(s);
        free(s);
        return o;
    }
    const char *name = (const char *)t->name;
    if (!strcmp(name, "struct"))
        return parse_struct(t, depth, why);
    if (!strcmp(name, "array"))
        return parse_array(t, depth, why);
    char *s = text_of(t);
    json_object *o = NULL;
    if (!strcmp(name, "int") || !strcmp(name, "i4") || !strcmp(name, "i8")) {
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (errno || end == s || *end)
            *why = "bad integer";
        else
            o = json_object_new_int64(x);
    } else if (!strcmp(name, "boolean")) {
        if (strcmp(s, "0") && strcmp(s, "1"))
            *why = "bad boolean";
        else
            o = json_object_new_boolean(s[0] == '1');
    } else if (!strcmp(name, "double")) {
        char *end;
        double d = strtod(s, &end);
        if (end == s || *end)
            *why = "bad double";
        else
            o = json_object_new_double(d);
    } else if (!strcmp(name, "string") || !strcmp(name, "dateTime.iso8601") ||
               !strcmp(name, "base64") || !strcmp(name, "nil")) {
        o = json_object_new_string(s);
    } else {
        *why = "unknown value type";
    }
    free(s);
    return o;
}

int xmlrpc_parse(const char *body, size_t len, struct rpc_request *req,
                 char *err, size_t errlen)
{
    memset(req, 0, sizeof(*req));
    if (len > RPC_MAX_BODY || len > INT32_MAX) {
        snprintf(err, errlen, "request too large");
        return -1;
    }
    xmlDoc *doc = xmlReadMemory(body, (int)len, "request.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR |
                                XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
    if (!doc) {
        snprintf(err, errlen, "malformed XML");
        return -1;
    }
    const char *why = NULL;
    xmlNode *root = xmlDocGetRootElement(doc), *mn = NULL, *ps = NULL;
    if (doc->intSubset || doc->extSubset)
        why = "a DTD is not accepted";
    else if (!is_el(root, "methodCall"))
        why = "not a methodCall";
    if (!why) {
        for (xmlNode *c = first_el(root); c; c = next_el(c)) {
            if (is_el(c, "methodName"))
                mn = c;
            else if (is_el(c, "params"))
                ps = c;
        }
        if (!mn)
            why = "no methodName";
    }
    json_object *params = why ? NULL : json_object_new_array();
    for (xmlNode *p = ps ? first_el(ps) : NULL; p && !why; p = next_el(p)) {
        xmlNode *v = first_el(p);
        if (!is_el(p, "param") || !is_el(v, "value")) {
            why = "malformed param";
            break;
        }
        json_object *x = parse_value(v, 1, &why);
        if (x)
            json_object_array_add(params, x);
    }
    if (why) {
        snprintf(err, errlen, "%s", why);
        json_object_put(params);
        xmlFreeDoc(doc);
        return -1;
    }
    req->method = text_of(mn);
    req->params = params;
    xmlFreeDoc(doc);
    return 0;
}

/* --- output: a growing buffer --- */

struct buf { char *p; size_t n, cap; bool oom; };

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 256);
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_escaped(struct buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': puts_(b, "&lt;"); break;
        case '>': puts_(b, "&gt;"); break;
        case '&': puts_(b, "&amp;"); break;
        case '"': puts_(b, "&quot;"); break;
        default: put(b, s, 1);
        }
    }
}

static void put_value(struct buf *b, json_object *v)
{
    char num[64];
    puts_(b, "<value>");
    switch (json_object_get_type(v)) {
    case json_type_null:
        puts_(b, "<string></string>");
        break;
    case json_type_boolean:
        puts_(b, json_object_get_boolean(v) ? "<boolean>1</boolean>" : "<boolean>0</boolean>");
        break;
    case json_type_int:
        snprintf(num, sizeof(num), "<string>%" PRId64 "</string>", json_object_get_int64(v));
        puts_(b, num);
        break;
    case json_type_double:
        snprintf(num, sizeof(num), "<double>%.17g</double>", json_object_get_double(v));
        puts_(b, num);
        break;
    case json_type_string:
        puts_(b, "<string>");
        put_escaped(b, json_object_get_string(v));
        puts_(b, "</string>");
        break;
    case json_type_array:
        puts_(b, "<array><data>");
        for (size_t i = 0; i < json_object_array_length(v); i++)
            put_value(b, json_object_array_get_idx(v, i));
        puts_(b, "</data></array>");
        break;
    case json_type_object:
        puts_(b, "<struct>");
        json_object_object_foreach(v, k, x) {
            puts_(b, "<member><name>");
            put_escaped(b, k);
            puts_(b, "</name>");
            put_value(b, x);
            puts_(b, "</member>");
        }
        puts_(b, "</struct>");
        break;
    }
    puts_(b, "</value>");
}

char *xmlrpc_value(json_object *v)
{
    struct buf b = { 0 };
    put_value(&b, v);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

char *xmlrpc_format(json_object *result, json_object *error)
{
    json_object *env = json_object_new_object();
    if (error) {
        json_object_object_add(env, "Status", json_object_new_string("Failure"));
        json_object_object_add(env, "ErrorDescription", json_object_get(error));
    } else {
        json_object_object_add(env, "Status", json_object_new_string("Success"));
        json_object_object_add(env, "Value", result ? json_object_get(result)
                                                    : json_object_new_string(""));
    }
    struct buf b = { 0 };
    puts_(&b, "<?xml version=\"1.0\"?><methodResponse><params><param>");
    put_value(&b, env);
    puts_(&b, "</param></params></methodResponse>");
    json_object_put(env);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
