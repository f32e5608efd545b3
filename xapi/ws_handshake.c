/* Sec-WebSocket-Accept (RFC 6455 4.2.2): base64(SHA-1(key + GUID)). */
#include <gnutls/crypto.h>
#include <string.h>

#include "ws_frame.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* A client's key is 16 random bytes in base64: 22 characters and "==". */
static bool key_ok(const char *key)
{
    if (strlen(key) != 24 || strcmp(key + 22, "=="))
        return false;
    for (int i = 0; i < 22; i++)
        if (!strchr(b64, key[i]) || !key[i])
            return false;
    return true;
}

int ws_accept_key(const char *key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    if (!key || !key_ok(key))
        return -1;
    char in[24 + sizeof(guid)];
    memcpy(in, key, 24);
    memcpy(in + 24, guid, sizeof(guid) - 1);
    uint8_t d[21] = { 0 };      /* 20 bytes of SHA-1, a zero to make 7 groups of 3 */
    if (gnutls_hash_fast(GNUTLS_DIG_SHA1, in, 24 + sizeof(guid) - 1, d) < 0)
        return -1;
    for (int i = 0; i < 7; i++) {
        uint32_t v = (uint32_t)d[3 * i] << 16 | (uint32_t)d[3 * i + 1] << 8 | d[3 * i + 2];
        for (int j = 0; j < 4; j++)
            out[4 * i + j] = b64[(v >> (18 - 6 * j)) & 63];
    }
    out[27] = '=';              /* 20 bytes: the last group has 2 */
    out[28] = 0;
    return 0;
}
