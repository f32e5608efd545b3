/* xl.cfg lexer.
 *
 * Tokens (longest match, ties to the earlier rule):
 *   IDENT   [a-z][._0-9a-z]*          NUMBER  [0-9][0-9a-fx]*
 *   , [ ] = ; +=                       blanks: space and tab only
 *   NEWLINE a newline, or # comment up to and including a newline
 *   STRING  '...' or "..." on one line, backslash escapes any non-newline
 * Anything else starts a lexical error which swallows the following run of
 * non-blank characters (or one blank, or the newline, which still ends the
 * statement); one of "+,-.():" there suggests the file is Python. A bad
 * character right before the end of the input is dropped silently, like
 * xl does. Line numbers and message texts follow xl's (see docs/xl-cfg.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_internal.h"


void cfg_error_at(struct cfg_ctx *ctx, int line, const char *msg)
{
    const char *text = ctx->last_text;
    size_t len = ctx->last_len;
    const char *newline = "";

    if (line <= ctx->lexerr_line)
        return;
    if (len > 0 && text[len - 1] == '\n') {
        len--;
        line--;
        if (!len)
            newline = "<newline>";
    }
    while (len > 0 && (text[len - 1] == '\t' || text[len - 1] == ' '))
        len--;
    xcfg_report(ctx->cfg, "%s:%d: config parsing error near %s%.*s%s%s: %s\n",
                ctx->cfg->source, line, len ? "`" : "", (int)len, text,
                len ? "'" : "", newline, msg);
    if (!ctx->err)
        ctx->err = EINVAL;
}

void cfg_lexical_error(struct cfg_ctx *ctx, const char *msg)
{
    int line = ctx->lineno;

    cfg_error_at(ctx, line, msg);
    ctx->lexerr_line = line;
}

static int is_lower(char c) { return c >= 'a' && c <= 'z'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_blank(char c) { return c == ' ' || c == '\t'; }

static char *dup_text(struct cfg_ctx *ctx, const char *s, size_t n)
{
    char *r;

    if (ctx->err)
        return NULL;
    r = strndup(s, n);
    if (!r)
        ctx->err = ENOMEM;
    return r;
}

/* Turn a quoted token into its value. Escapes: \" \' \\ \a \b \f \n \r \t
 * \v. xl's numeric escapes are kept as it behaves: \x always fails; \ and
 * an octal digit needs at least two more characters that strtoul (base 10)
 * takes, and produces nothing. */
static char *dequote(struct cfg_ctx *ctx, const char *src, size_t len)
{
    const char *p = src + 1, *end = src + len - 1; /* end: closing quote */
    char *result, *q;

    if (ctx->err)
        return NULL;
    result = malloc(len - 1);
    if (!result) {
        ctx->err = ENOMEM;
        return NULL;
    }
    q = result;
    while (p < end) {
        char c = *p++, nc;

        if (c != '\\') {
            *q++ = c;
            continue;
        }
        nc = *p++;
        switch (nc) {
        case '"': case '\'': case '\\': *q++ = nc; break;
        case 'a': *q++ = '\a'; break;
        case 'b': *q++ = '\b'; break;
        case 'f': *q++ = '\f'; break;
        case 'n': *q++ = '\n'; break;
        case 'r': *q++ = '\r'; break;
        case 't': *q++ = '\t'; break;
        case 'v': *q++ = '\v'; break;
        case 'x':
            cfg_lexical_error(ctx, "invalid digit after backslash "
                              "hexnumerical character escape in quoted string");
            ctx->err = EINVAL;
            goto out;
        case '0': case '1': case '2': case '3':
        case '4': case '5': case '6': case '7': {
            char buf[4], *ep;
            size_t avail = (size_t)(end + 1 - p), n = avail < 3 ? avail : 3;

            memcpy(buf, p, n);
            buf[n] = 0;
            (void)strtoul(buf, &ep, 10);
            if (ep <= buf + 1) {
                cfg_lexical_error(ctx, "invalid digit after backslash "
                                  "octalnumerical character escape in "
                                  "quoted string");
                ctx->err = EINVAL;
                goto out;
            }
            p += ep - buf;
            break;
        }
        default:
            cfg_lexical_error(ctx, "invalid character after backlash in "
                              "quoted string");
            ctx->err = EINVAL;
            goto out;
        }
    }
out:
    *q = 0;
    return result;
}

/* Length of a quoted string starting at pos, or 0 if none matches. A NUL
 * inside quotes is refused (libxlutil would assert on it). */
static size_t scan_string(const struct cfg_ctx *ctx, size_t pos)
{
    char quote = ctx->data[pos];
    size_t i = pos + 1;

    while (i < ctx->len) {
        char c = ctx->data[i];

        if (c == quote)
            return i + 1 - pos;
        if (c == '\n' || c == 0)
            return 0;
        if (c == '\\') {
            if (i + 1 >= ctx->len || ctx->data[i + 1] == '\n' ||
                ctx->data[i + 1] == 0)
                return 0;
            i += 2;
        } else {
            i++;
        }
    }
    return 0;
}

static void set_tok(struct cfg_ctx *ctx, struct tok *t, enum tok_kind k,
                    size_t start, size_t len, int line)
{
    t->kind = k;
    t->text = ctx->data + start;
    t->len = len;
    t->line = line;
    t->value = NULL;
    ctx->last_text = t->text;
    ctx->last_len = len;
    ctx->last_line = line;
}

void cfg_lex(struct cfg_ctx *ctx, struct tok *t)
{
    const char *d = ctx->data;

    for (;;) {
        size_t start = ctx->pos, n;
        char c;

        if (start >= ctx->len) {
            /* xl names the end "`'", or "`X'" after a dropped bad X */
            t->kind = T_EOF;
            if (!ctx->dropped_len)
                ctx->eof_text[0] = 0;
            ctx->eof_text[1] = 0;
            t->text = ctx->eof_text;
            t->len = ctx->dropped_len + 1;
            t->line = ctx->last_line;
            t->value = NULL;
            ctx->last_text = t->text;
            ctx->last_len = t->len;
            return;
        }
        c = d[start];
        if (is_lower(c)) {
            n = 1;
            while (start + n < ctx->len &&
                   (is_lower(d[start + n]) || is_digit(d[start + n]) ||
                    d[start + n] == '.' || d[start + n] == '_'))
                n++;
            ctx->pos += n;
            set_tok(ctx, t, T_IDENT, start, n, ctx->lineno);
            t->value = dup_text(ctx, d + start, n);
            return;
        }
        if (is_digit(c)) {
            n = 1;
            while (start + n < ctx->len &&
                   (is_digit(d[start + n]) ||
                    (d[start + n] >= 'a' && d[start + n] <= 'f') ||
                    d[start + n] == 'x'))
                n++;
            ctx->pos += n;
            set_tok(ctx, t, T_NUMBER, start, n, ctx->lineno);
            t->value = dup_text(ctx, d + start, n);
            return;
        }
        if (is_blank(c)) {
            ctx->pos++;
            continue;
        }
        switch (c) {
        case ',': ctx->pos++; set_tok(ctx, t, T_COMMA, start, 1, ctx->lineno); return;
        case '[': ctx->pos++; set_tok(ctx, t, T_LBRACK, start, 1, ctx->lineno); return;
        case ']': ctx->pos++; set_tok(ctx, t, T_RBRACK, start, 1, ctx->lineno); return;
        case '=': ctx->pos++; set_tok(ctx, t, T_EQ, start, 1, ctx->lineno); return;
        case ';': ctx->pos++; set_tok(ctx, t, T_SEMI, start, 1, ctx->lineno); return;
        case '\n':
            ctx->pos++;
            set_tok(ctx, t, T_NEWLINE, start, 1, ctx->lineno);
            ctx->lineno++;
            return;
        default:
            break;
        }
        if (c == '+' && start + 1 < ctx->len && d[start + 1] == '=') {
            ctx->pos += 2;
            set_tok(ctx, t, T_ADD, start, 2, ctx->lineno);
            return;
        }
        if (c == '#') {
            const char *nl = memchr(d + start, '\n', ctx->len - start);

            if (nl) {
                n = (size_t)(nl - (d + start)) + 1;
                ctx->pos += n;
                set_tok(ctx, t, T_NEWLINE, start, n, ctx->lineno);
                ctx->lineno++;
                return;
            }
            /* a comment without a newline is a lexical error, as in xl */
        }
        if (c == '"' || c == '\'') {
            n = scan_string(ctx, start);
            if (n) {
                ctx->pos += n;
                set_tok(ctx, t, T_STRING, start, n, ctx->lineno);
                t->value = dequote(ctx, d + start, n);
                return;
            }
        }
        /* lexical error: the bad character and what follows it */
        if (c == '+' || c == '-' || c == '.' || c == '(' || c == ')' ||
            c == ':')
            ctx->likely_python = 1;
        ctx->pos++;
        if (ctx->pos >= ctx->len) {  /* dropped at the end of input */
            ctx->eof_text[0] = c;
            ctx->dropped_len = 1;
            continue;
        }
        if (d[ctx->pos] == '\n') {
            ctx->pos++;
            ctx->lineno++;
            ctx->last_text = d + start;
            ctx->last_len = ctx->pos - start;
            cfg_lexical_error(ctx, "lexical error");
            set_tok(ctx, t, T_NEWLINE, start, ctx->pos - start, ctx->lineno);
            return;
        }
        if (is_blank(d[ctx->pos]))
            ctx->pos++;
        else
            while (ctx->pos < ctx->len && !is_blank(d[ctx->pos]) &&
                   d[ctx->pos] != '\n')
                ctx->pos++;
        ctx->last_text = d + start;
        ctx->last_len = ctx->pos - start;
        cfg_lexical_error(ctx, "lexical error");
    }
}
