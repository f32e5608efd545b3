/* xl.cfg parser: recursive descent over the grammar
 *
 *   file       := stmt* [assignment]
 *   stmt       := assignment end | end          end := NEWLINE | ';'
 *   assignment := IDENT ('=' | '+=') value
 *   value      := STRING | NUMBER | '[' nl* [value nl* (',' nl* value nl*)*
 *                 [',' nl*]] ']'
 *
 * Error handling reproduces what users of xl see (its parser is an LALR
 * machine with bison's recovery), so that messages, their lines and how many
 * are printed match:
 *  - an unexpected token at the start of a statement, after a key, after
 *    '='/'+=' or inside a list is reported with the tokens that were
 *    possible there; inside a list that is always ']';
 *  - then tokens are skipped up to the next NEWLINE (';' does not end the
 *    skip) and parsing goes on, but errors in the next two tokens after a
 *    recovery are not reported;
 *  - an unexpected token right after a complete value (where only a
 *    newline, ';' or the end could come) is reported as "expecting $end"
 *    and ends the parse;
 *  - the end of the input inside a recovery ends the parse;
 *  - xl's parser keeps at most 10000 states on its stack; nesting lists
 *    deeper than that fails with "memory exhausted" at the same token, so
 *    the depth that machine would have is tracked (`sp`) as we descend.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_internal.h"

enum { OK = 0, RECOVERED = 1, ABORT = 2 };

#define MAX_DEPTH 10000     /* states xl's parser stack can hold */

struct parser {
    struct cfg_ctx *ctx;
    struct tok look;
    bool have_look;
    int errstatus;      /* tokens to shift before errors are reported again */
};

static const char *tok_name(enum tok_kind k)
{
    switch (k) {
    case T_EOF: return "$end";
    case T_IDENT: return "IDENT";
    case T_STRING: return "STRING";
    case T_NUMBER: return "NUMBER";
    case T_NEWLINE: return "NEWLINE";
    case T_ADD: return "+=";
    case T_EQ: return "'='";
    case T_SEMI: return "';'";
    case T_LBRACK: return "'['";
    case T_RBRACK: return "']'";
    case T_COMMA: return "','";
    }
    return "$undefined";
}

static struct tok *peek(struct parser *p)
{
    if (!p->have_look) {
        cfg_lex(p->ctx, &p->look);
        p->have_look = true;
    }
    return &p->look;
}

/* Take the lookahead (a "shift"); returns its owned value, if any. */
static char *shift(struct parser *p)
{
    char *v = p->look.value;

    p->look.value = NULL;
    p->have_look = false;
    if (p->errstatus)
        p->errstatus--;
    return v;
}

static void discard(struct parser *p)
{
    free(p->look.value);
    p->look.value = NULL;
    p->have_look = false;
}

/* A state is placed at stack index `sp`; the machine gives up when that
 * would be its last slot. */
static int push_at(struct parser *p, int sp)
{
    if (sp < MAX_DEPTH - 1)
        return OK;
    cfg_error_at(p->ctx, p->ctx->last_line, "memory exhausted");
    return ABORT;
}

static void report_syntax(struct parser *p, const char *expecting)
{
    char msg[160];

    snprintf(msg, sizeof(msg), "syntax error, unexpected %s, expecting %s",
             tok_name(p->look.kind), expecting);
    cfg_error_at(p->ctx, p->look.line, msg);
}

/* A syntax error where statement-level recovery is possible. */
static int syntax_error(struct parser *p, const char *expecting)
{
    if (!p->errstatus)
        report_syntax(p, expecting);
    p->errstatus = 3;
    for (;;) {
        struct tok *t = peek(p);

        if (t->kind == T_NEWLINE) {
            shift(p);
            return RECOVERED;
        }
        if (t->kind == T_EOF)
            return ABORT;
        discard(p);
    }
}

static struct xcfg_value *value_new(struct cfg_ctx *ctx, enum xcfg_type type,
                                    int line)
{
    struct xcfg_value *v;

    if (ctx->err)
        return NULL;
    v = calloc(1, sizeof(*v));
    if (!v) {
        ctx->err = ENOMEM;
        return NULL;
    }
    v->type = type;
    v->line = line;
    return v;
}

void cfg_value_free(struct xcfg_value *v)
{
    if (!v)
        return;
    if (v->type == XCFG_STRING) {
        free(v->string);
    } else {
        for (int i = 0; i < v->nitems; i++)
            cfg_value_free(v->items[i]);
        free(v->items);
    }
    free(v);
}

static void list_append(struct cfg_ctx *ctx, struct xcfg_value *list,
                        struct xcfg_value *v)
{
    if (ctx->err || !list || !v) {
        cfg_value_free(v);
        return;
    }
    if (list->nitems == list->aitems) {
        int na = list->aitems ? list->aitems * 4 : 1;
        struct xcfg_value **n;

        if (list->aitems > 0x7fffffff / 100) {
            ctx->err = ERANGE;
            cfg_value_free(v);
            return;
        }
        n = realloc(list->items, sizeof(*n) * (size_t)na);
        if (!n) {
            ctx->err = ENOMEM;
            cfg_value_free(v);
            return;
        }
        list->items = n;
        list->aitems = na;
    }
    list->items[list->nitems++] = v;
}

static int parse_value(struct parser *p, struct xcfg_value **out,
                       bool in_list, int sp);

/* Newlines allowed in a list: each is shifted at index sp. */
static int skip_newlines(struct parser *p, int sp)
{
    while (peek(p)->kind == T_NEWLINE) {
        shift(p);
        if (push_at(p, sp))
            return ABORT;
    }
    return OK;
}

/* After '[' (at index sp - 1, its empty newline run at sp): elements up to
 * and including ']'. */
static int parse_list(struct parser *p, struct xcfg_value **out, int sp)
{
    struct cfg_ctx *ctx = p->ctx;
    struct xcfg_value *list = NULL;
    bool first = true;
    int r;

    if (skip_newlines(p, sp + 1))
        return ABORT;
    for (;;) {
        struct tok *t = peek(p);
        struct xcfg_value *v = NULL;
        int at = first ? sp + 1 : sp + 4;   /* where this element goes */

        if (t->kind == T_RBRACK) {
            if (first) {
                list = value_new(ctx, XCFG_LIST, t->line);
                if (push_at(p, sp + 1)) {   /* the empty list */
                    cfg_value_free(list);
                    return ABORT;
                }
            }
            shift(p);
            if (push_at(p, sp + 2)) {
                cfg_value_free(list);
                return ABORT;
            }
            *out = list;
            return OK;
        }
        if (t->kind != T_STRING && t->kind != T_NUMBER &&
            t->kind != T_LBRACK) {
            cfg_value_free(list);
            return syntax_error(p, "']'");
        }
        r = parse_value(p, &v, true, at);
        if (r) {
            cfg_value_free(list);
            return r;
        }
        if (first) {
            list = value_new(ctx, XCFG_LIST, v ? v->line : t->line);
            first = false;
        }
        list_append(ctx, list, v);
        if (push_at(p, at + 1) || skip_newlines(p, at + 2)) {
            cfg_value_free(list);
            return ABORT;
        }
        t = peek(p);
        if (t->kind == T_COMMA) {
            shift(p);
            if (push_at(p, sp + 2) || push_at(p, sp + 3) ||
                skip_newlines(p, sp + 4)) {
                cfg_value_free(list);
                return ABORT;
            }
        } else if (t->kind != T_RBRACK) {
            cfg_value_free(list);
            return syntax_error(p, "']'");
        }
    }
}

/* A value whose first symbol goes at stack index sp. */
static int parse_value(struct parser *p, struct xcfg_value **out,
                       bool in_list, int sp)
{
    struct tok *t = peek(p);
    int line = t->line;

    *out = NULL;
    if (t->kind == T_STRING || t->kind == T_NUMBER) {
        char *s = shift(p);
        struct xcfg_value *v = NULL;

        if (push_at(p, sp)) {
            free(s);
            return ABORT;
        }
        if (s)
            v = value_new(p->ctx, XCFG_STRING, line);
        if (v)
            v->string = s;
        else
            free(s);
        *out = v;
        return OK;
    }
    if (t->kind == T_LBRACK) {
        shift(p);
        if (push_at(p, sp) || push_at(p, sp + 1))
            return ABORT;
        return parse_list(p, out, sp + 1);
    }
    return syntax_error(p, in_list ? "']'" : "STRING or NUMBER or '['");
}

static int concat(struct cfg_ctx *ctx, struct xcfg_value *prev,
                  struct xcfg_value *add)
{
    if (prev->type != add->type) {
        cfg_lexical_error(ctx, "can't add [list] to \"string\" or vice versa");
        return EINVAL;
    }
    if (add->type == XCFG_STRING) {
        size_t a = strlen(prev->string), b = strlen(add->string);
        char *s = malloc(a + b + 1);

        if (!s)
            return ENOMEM;
        memcpy(s, prev->string, a);
        memcpy(s + a, add->string, b + 1);
        free(add->string);
        add->string = s;
        return 0;
    }
    if (prev->nitems > 0) {
        int n = prev->nitems + add->nitems;
        struct xcfg_value **items = malloc(sizeof(*items) * (size_t)n);

        if (!items)
            return ENOMEM;
        memcpy(items, prev->items, sizeof(*items) * (size_t)prev->nitems);
        if (add->nitems)
            memcpy(items + prev->nitems, add->items,
                   sizeof(*items) * (size_t)add->nitems);
        free(add->items);
        add->items = items;
        add->nitems = add->aitems = n;
        prev->nitems = 0;   /* the items moved to the new value */
    }
    return 0;
}

static void store(struct cfg_ctx *ctx, char *name, enum xcfg_op op,
                  struct xcfg_value *v, int line)
{
    struct xcfg_setting *set;

    if (ctx->err || !name || !v)
        goto drop;
    if (op == XCFG_OP_ADD) {
        struct xcfg_setting *prev =
            (struct xcfg_setting *)xcfg_find(ctx->cfg, name);

        if (prev) {
            int r = concat(ctx, prev->value, v);

            if (r) {
                ctx->err = r;
                goto drop;
            }
        }
    }
    set = malloc(sizeof(*set));
    if (!set) {
        ctx->err = ENOMEM;
        goto drop;
    }
    set->name = name;
    set->value = v;
    set->op = op;
    set->line = line;
    set->next = ctx->cfg->settings;
    ctx->cfg->settings = set;
    return;
drop:
    free(name);
    cfg_value_free(v);
}

static int parse_file(struct parser *p)
{
    for (;;) {
        struct tok *t = peek(p);
        enum xcfg_op op;
        struct xcfg_value *v;
        char *name;
        int r, line;

        switch (t->kind) {
        case T_EOF:
            return OK;
        case T_NEWLINE:
        case T_SEMI:
            shift(p);
            continue;
        case T_IDENT:
            break;
        default:
            r = syntax_error(p, "$end or IDENT or NEWLINE or ';'");
            if (r == ABORT)
                return r;
            continue;
        }
        name = shift(p);
        t = peek(p);
        if (t->kind != T_EQ && t->kind != T_ADD) {
            free(name);
            r = syntax_error(p, "+= or '='");
            if (r == ABORT)
                return r;
            continue;
        }
        op = t->kind == T_ADD ? XCFG_OP_ADD : XCFG_OP_ASSIGN;
        shift(p);
        line = peek(p)->line;
        r = parse_value(p, &v, false, 4);   /* after state0 stmts IDENT = */
        if (r) {
            free(name);
            if (r == ABORT)
                return r;
            continue;
        }
        /* stored before the next token is read, as xl does */
        store(p->ctx, name, op, v, line);
        t = peek(p);
        if (t->kind == T_EOF)
            return OK;
        if (t->kind == T_NEWLINE || t->kind == T_SEMI) {
            shift(p);
            continue;
        }
        if (!p->errstatus)
            report_syntax(p, "$end");
        return ABORT;
    }
}

int xcfg_read_data(struct xcfg *cfg, const char *data, size_t len)
{
    struct cfg_ctx ctx = {
        .cfg = cfg, .data = data, .len = len, .lineno = 1,
        .lexerr_line = -1, .last_line = 1, .last_text = "", .last_len = 0,
    };
    struct parser p = { .ctx = &ctx };

    if (len > (size_t)0x7fffffff) {
        xcfg_report(cfg, "%s: configuration too large\n", cfg->source);
        return EFBIG;
    }
    if (parse_file(&p) != OK && !ctx.err)
        ctx.err = EINVAL;
    if (p.have_look)
        discard(&p);
    if (ctx.err && ctx.likely_python)
        xcfg_report(cfg, "%s",
            "warning: Config file looks like it contains Python code.\n"
            "warning:  Arbitrary Python is no longer supported.\n"
            "warning:  See https://wiki.xen.org/wiki/PythonInXlConfig\n");
    return ctx.err;
}
