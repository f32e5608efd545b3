/*
 * A bounded queue of bytes (a ring of fixed capacity). Not locked: its
 * owner says which lock guards it. Two ways to meet a full queue:
 * byteq_push() keeps the oldest bytes and refuses the rest (output that
 * must stay in order, e.g. towards a slow sink), byteq_push_latest() drops
 * the oldest (a replay buffer: the latest output matters most).
 */
#ifndef XENON_BYTEQ_H
#define XENON_BYTEQ_H

#include <stddef.h>
#include <stdint.h>

struct byteq {
    uint8_t *buf;
    size_t cap, head, len;      /* bytes at head .. head+len (mod cap) */
};

int byteq_init(struct byteq *q, size_t cap);    /* 0 or -ENOMEM */
void byteq_fini(struct byteq *q);
/* Append what fits; returns how many bytes were taken. */
size_t byteq_push(struct byteq *q, const void *data, size_t n);
/* Append all of data (its last cap bytes), dropping the oldest bytes. */
void byteq_push_latest(struct byteq *q, const void *data, size_t n);
/* Copy out and remove up to n bytes from the front; returns the count. */
size_t byteq_pop(struct byteq *q, void *out, size_t n);

#endif
