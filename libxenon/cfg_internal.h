/* Internal to the xl.cfg parser: the lexer/parser shared context. */
#ifndef XENON_CFG_INTERNAL_H
#define XENON_CFG_INTERNAL_H

#include <stddef.h>

#include "cfg.h"

enum tok_kind {
    T_EOF, T_IDENT, T_STRING, T_NUMBER, T_NEWLINE, T_ADD, T_EQ, T_SEMI,
    T_LBRACK, T_RBRACK, T_COMMA,
};

struct tok {
    enum tok_kind kind;
    int line;          /* the line xl attributes the token to */
    const char *text;  /* raw text, for messages */
    size_t len;
    char *value;       /* IDENT/NUMBER/STRING: owned copy (NULL once the
                          parse has failed, as libxlutil stops building) */
};

struct cfg_ctx {
    struct xcfg *cfg;
    const char *data;
    size_t len, pos;
    int lineno;        /* current line of the lexer */
    int err;           /* errno value once something failed */
    int lexerr_line;   /* messages on lines <= this are suppressed */
    int likely_python;
    int last_line;     /* line of the last token returned (EOF reuses it) */
    const char *last_text; /* text of the last token lexed, for messages */
    size_t last_len;
    char eof_text[2];  /* what xl shows for the end of the input */
    size_t dropped_len;
};

/* Lex the next token; lexical errors are reported and skipped. */
void cfg_lex(struct cfg_ctx *ctx, struct tok *t);
/* Report `msg` near the last token text, attributed to `line`, following
 * libxlutil's rules (newline handling, suppression after a lexical error). */
void cfg_error_at(struct cfg_ctx *ctx, int line, const char *msg);
/* A lexical error: attributed to the lexer's current line. */
void cfg_lexical_error(struct cfg_ctx *ctx, const char *msg);

void cfg_value_free(struct xcfg_value *v);

#endif
