/* RFC 6455 frames as a server reads and writes them: a streaming parser
 * for what a client sends (hostile input: every length, opcode, flag and
 * the masking are checked) and the header of what we send back.
 *
 * The parser takes bytes as they arrive, in any split, and hands out the
 * unmasked payload of data messages as it goes (no buffering of whole
 * messages), and each control frame whole. It enforces: RSV bits zero (no
 * extension is negotiated), client frames masked, known opcodes only,
 * control frames final and at most 125 bytes, continuation frames only
 * inside a fragmented message and data frames only outside one, minimal
 * length encodings, a data message of at most WS_MAX_MESSAGE bytes over
 * all its fragments, valid UTF-8 in text messages (checked across frame
 * and read boundaries) and in close reasons, and close codes RFC 6455
 * allows on the wire. A violation ends the parse with the close code to
 * send (1002 protocol error, 1007 bad UTF-8, 1009 too big); after it or a
 * close frame, ws_feed takes no more input. */
#ifndef XAPI_WS_FRAME_H
#define XAPI_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_MAX_MESSAGE (64u << 10)
#define WS_MAX_CONTROL 125

enum ws_opcode {
    WS_CONT = 0, WS_TEXT = 1, WS_BINARY = 2, WS_CLOSE = 8, WS_PING = 9, WS_PONG = 10,
};

enum ws_close_code {
    WS_CLOSE_NORMAL = 1000, WS_CLOSE_GOING_AWAY = 1001, WS_CLOSE_PROTOCOL = 1002,
    WS_CLOSE_BAD_DATA = 1007, WS_CLOSE_POLICY = 1008, WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_TRY_AGAIN = 1013,
    WS_CLOSE_NO_STATUS = 1005,  /* never on the wire: a close frame without a code */
};

/* What the parser hands out. WS_EV_DATA: a piece of a data message's
 * payload (len may be 0 for an empty message); WS_EV_PING / WS_EV_PONG:
 * the frame's payload; WS_EV_CLOSE: code (WS_CLOSE_NO_STATUS when none)
 * and the reason bytes in data/len. */
enum ws_event { WS_EV_DATA, WS_EV_PING, WS_EV_PONG, WS_EV_CLOSE };

/* Returns 0 to go on, or a close code to stop the parse with. */
typedef int (*ws_sink)(void *arg, enum ws_event ev, unsigned code,
                       const uint8_t *data, size_t len);

struct ws_parser {
    uint8_t hdr[14];
    size_t hlen;            /* header bytes gathered */
    uint64_t left;          /* payload bytes of the current frame still to come */
    uint8_t mask[4];
    unsigned mpos;
    uint8_t opcode;         /* of the current frame */
    bool in_header;
    bool fin;
    bool in_message;        /* a fragmented data message is open */
    bool text;              /* ... and it is text */
    uint64_t message_len;
    uint8_t ctl[WS_MAX_CONTROL];
    size_t ctl_len;
    /* UTF-8 across pieces: continuation bytes still due and the range
     * the next one must be in (overlongs and surrogates excluded). */
    unsigned u8_need;
    uint8_t u8_lo, u8_hi;
    int done;               /* 0 while parsing; else the close code it ended with */
};

void ws_parser_init(struct ws_parser *p);

/* Feed n bytes. 0 while more may come; else the code to close with
 * (after a valid close frame: the code the client sent, or
 * WS_CLOSE_NORMAL). The sink is called for each event in order. */
int ws_feed(struct ws_parser *p, const uint8_t *in, size_t n, ws_sink sink, void *arg);

/* The header of an unmasked server frame (FIN set) of len payload bytes
 * into out (>= 10 bytes); returns its size. */
size_t ws_frame_header(uint8_t out[10], enum ws_opcode op, uint64_t len);

/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key: 0 and out (29
 * bytes with the NUL), or -1 when the key is not 16 bytes of base64. */
int ws_accept_key(const char *key, char out[29]);

#endif
