/* pid_map: open addressing, linear probing, backward-shift deletion (see
 * pid_map.h). */
#include "pid_map.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#define PID_MAP_MIN_CAP 64

/* Pids are handed out in sequence: a multiplicative hash spreads runs of
 * them over the table. */
static size_t slot_of(pid_t pid, size_t cap)
{
    return (size_t)(((uint32_t)pid * 2654435761u) & (uint32_t)(cap - 1));
}

/* The slot holding pid, or the empty slot where it would go. */
static size_t find(const struct pid_map *m, pid_t pid)
{
    size_t i = slot_of(pid, m->cap);
    while (m->slots[i].pid != 0 && m->slots[i].pid != pid)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static int grow(struct pid_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : PID_MAP_MIN_CAP;
    if (cap < m->cap)
        return -1;
    struct pid_map_slot *s = calloc(cap, sizeof(*s));
    if (!s)
        return -1;
    struct pid_map old = *m;
    m->slots = s;
    m->cap = cap;
    for (size_t i = 0; i < old.cap; i++)
        if (old.slots[i].pid != 0)
            m->slots[find(m, old.slots[i].pid)] = old.slots[i];
    free(old.slots);
    return 0;
}

int pid_map_put(struct pid_map *m, pid_t pid, unsigned value)
{
    if (pid <= 0) {
        errno = EINVAL;
        return -1;
    }
    if (m->cap) {
        size_t i = find(m, pid);
        if (m->slots[i].pid == pid) {
            m->slots[i].value = value;
            return 0;
        }
    }
    /* At most half full: probes stay short and an empty slot exists. */
    if ((m->count + 1) * 2 > m->cap && grow(m) < 0) {
        errno = ENOMEM;
        return -1;
    }
    size_t i = find(m, pid);
    m->slots[i].pid = pid;
    m->slots[i].value = value;
    m->count++;
    return 0;
}

bool pid_map_get(const struct pid_map *m, pid_t pid, unsigned *value)
{
    if (pid <= 0 || !m->cap)
        return false;
    size_t i = find(m, pid);
    if (m->slots[i].pid != pid)
        return false;
    *value = m->slots[i].value;
    return true;
}

bool pid_map_del(struct pid_map *m, pid_t pid, unsigned *value)
{
    if (pid <= 0 || !m->cap)
        return false;
    size_t mask = m->cap - 1, i = find(m, pid);
    if (m->slots[i].pid != pid)
        return false;
    if (value)
        *value = m->slots[i].value;
    /* Backward shift: move up each later entry of the run whose home slot
     * does not lie cyclically in (i, j], so no probe meets a hole early. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (m->slots[j].pid == 0)
            break;
        size_t home = slot_of(m->slots[j].pid, m->cap);
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].pid = 0;
    m->slots[i].value = 0;
    m->count--;
    return true;
}

void pid_map_clear(struct pid_map *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = 0;
    m->count = 0;
}
